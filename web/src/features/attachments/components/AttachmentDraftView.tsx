import { useId } from "react";
import type { AttachmentDraftControls } from "../hooks/useAttachmentDraft";

/** The longest side of the composer's preview, in CSS pixels. */
const PREVIEW_PX = 72;

function RemoveButton({ onClick }: { onClick(): void }) {
  return (
    <button type="button" className="attachment-draft__remove" aria-label="Remove attachment" title="Remove attachment" onClick={onClick}>
      <svg aria-hidden="true" viewBox="0 0 24 24" width="16" height="16">
        <path d="M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7l-1.4-1.4L9.2 12 2.9 5.7l1.4-1.4 6.3 6.3 6.3-6.3z" />
      </svg>
    </button>
  );
}

/**
 * Above the composer's text: the upload's progress, then the image to
 * send (the server's thumbnail) with its description field, or the
 * refusal in words.
 */
export function AttachmentDraftView({ controls }: { controls: AttachmentDraftControls }) {
  const { draft, alt, setAlt, remove } = controls;
  const altId = useId();

  if (draft.status === "empty") return null;
  if (draft.status === "failed") {
    return (
      <div className="attachment-draft attachment-draft--failed">
        <p role="alert" className="attachment-draft__error">
          {draft.message}
        </p>
        <button type="button" className="link-button attachment-draft__dismiss" onClick={remove}>
          Dismiss
        </button>
      </div>
    );
  }

  let preview;
  if (draft.status === "uploading") {
    preview = (
      <div className="attachment-draft__media attachment-draft__media--uploading">
        <div
          role="progressbar"
          aria-label="Uploading image"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={draft.percent}
          className="progress"
        >
          <div className="progress__bar" style={{ width: `${draft.percent}%` }} />
        </div>
        <span className="attachment-draft__percent" aria-hidden="true">
          {draft.percent}%
        </span>
        <RemoveButton onClick={remove} />
      </div>
    );
  } else {
    const { width, height, thumbnail_url } = draft.upload;
    const scale = Math.min(1, PREVIEW_PX / Math.max(width, height));
    preview = (
      <div className="attachment-draft__media">
        <img
          className="attachment-draft__image"
          src={thumbnail_url}
          alt={alt.trim() || "Image to send"}
          width={Math.max(1, Math.round(width * scale))}
          height={Math.max(1, Math.round(height * scale))}
          style={{ aspectRatio: `${width} / ${height}` }}
        />
        <RemoveButton onClick={remove} />
      </div>
    );
  }

  return (
    <div className={`attachment-draft attachment-draft--${draft.status}`}>
      {preview}
      <div className="attachment-draft__details">
        <span className="attachment-draft__name">
          {draft.status === "uploading"
            ? `Uploading ${draft.name}…`
            : `${draft.name} · ${draft.upload.width} × ${draft.upload.height}`}
        </span>
        <label htmlFor={altId} className="visually-hidden">
          Image description
        </label>
        <input
          id={altId}
          className="attachment-draft__alt"
          type="text"
          maxLength={200}
          autoComplete="off"
          placeholder="Describe it (optional)"
          value={alt}
          onChange={(e) => setAlt(e.target.value)}
        />
      </div>
    </div>
  );
}
