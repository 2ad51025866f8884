import type { Attachment } from "../../../types/events";

/** The longer side of a thumbnail in the conversation, in CSS pixels. */
export const THUMBNAIL_PX = 320;
/** The shorter side never drops below this (a 4000 × 10 strip stays clickable). */
const MIN_SIDE_PX = 32;

/**
 * The box a thumbnail takes before its image has loaded: the image's own
 * aspect ratio, scaled down (never up) to THUMBNAIL_PX on the longer side.
 */
export function thumbnailBox(width: number, height: number): { width: number; height: number; ratio: string } {
  const w = Math.max(1, width);
  const h = Math.max(1, height);
  const scale = Math.min(1, THUMBNAIL_PX / Math.max(w, h));
  const boxW = Math.max(Math.round(w * scale), Math.min(MIN_SIDE_PX, THUMBNAIL_PX));
  const boxH = Math.max(Math.round(h * scale), Math.min(MIN_SIDE_PX, THUMBNAIL_PX));
  // The real ratio unless a side was raised to the minimum.
  const raised = boxW !== Math.round(w * scale) || boxH !== Math.round(h * scale);
  return { width: boxW, height: boxH, ratio: raised ? `${boxW} / ${boxH}` : `${w} / ${h}` };
}

export interface AttachmentThumbnailProps {
  attachment: Attachment;
  senderName: string;
  onOpen(attachment: Attachment, button: HTMLButtonElement): void;
}

/** An image in a message: its thumbnail in a button that opens the full image. */
export function AttachmentThumbnail({ attachment, senderName, onOpen }: AttachmentThumbnailProps) {
  const box = thumbnailBox(attachment.width, attachment.height);
  return (
    <button
      type="button"
      className="thumbnail"
      aria-label={`Open image: ${attachment.alt || "image"}`}
      data-attachment-id={attachment.id}
      style={{ width: `${box.width}px`, aspectRatio: box.ratio }}
      onClick={(event) => onOpen(attachment, event.currentTarget)}
    >
      <img
        className="thumbnail__image"
        src={attachment.thumbnail_url}
        alt={attachment.alt || `Image from ${senderName}`}
        width={box.width}
        height={box.height}
        decoding="async"
      />
    </button>
  );
}
