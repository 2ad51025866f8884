import { useEffect, useRef, type CSSProperties, type KeyboardEvent, type MouseEvent } from "react";
import { createPortal } from "react-dom";
import type { Attachment } from "../../../types/events";

export interface LightboxProps {
  attachment: Attachment;
  senderName: string;
  /** Escape, Close, or a click on the backdrop. The opener returns the focus. */
  onClose(): void;
}

/**
 * The full image over everything, in a modal dialog named "Image". Its box
 * is sized from the image's dimensions, so nothing moves as it loads.
 */
export function Lightbox({ attachment, senderName, onClose }: LightboxProps) {
  const closeButton = useRef<HTMLButtonElement>(null);
  const onCloseRef = useRef(onClose);
  useEffect(() => {
    onCloseRef.current = onClose;
  }, [onClose]);

  useEffect(() => {
    closeButton.current?.focus();
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.key === "Escape") {
        event.preventDefault();
        onCloseRef.current();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  // The only control is Close: Tab stays on it.
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === "Tab") {
      event.preventDefault();
      closeButton.current?.focus();
    }
  };

  const onBackdrop = (event: MouseEvent<HTMLDivElement>) => {
    if (event.target === event.currentTarget) onClose();
  };

  const size = { "--image-w": attachment.width, "--image-h": attachment.height } as CSSProperties;

  return createPortal(
    <div className="lightbox" onClick={onBackdrop} onKeyDown={onKeyDown}>
      <div role="dialog" aria-modal="true" aria-label="Image" className="lightbox__dialog">
        <img
          className="lightbox__image"
          src={attachment.url}
          alt={attachment.alt || `Image from ${senderName}`}
          width={attachment.width}
          height={attachment.height}
          style={size}
        />
        <div className="lightbox__bar">
          <span className="lightbox__caption">
            {attachment.alt ? `${attachment.alt} · ` : ""}
            {senderName} · {attachment.width} × {attachment.height}
          </span>
          <button ref={closeButton} type="button" className="button button--small lightbox__close" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>,
    document.body,
  );
}
