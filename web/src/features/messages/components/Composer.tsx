import {
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  type ClipboardEvent,
  type FormEvent,
  type KeyboardEvent,
} from "react";
import { useClientConfig } from "../../../lib/config";
import { AttachButton } from "../../attachments/components/AttachButton";
import { AttachmentDraftView } from "../../attachments/components/AttachmentDraftView";
import { pickFile } from "../../attachments/files";
import type { AttachmentDraftControls, ReadyAttachment } from "../../attachments/hooks/useAttachmentDraft";

export interface ComposerProps {
  /** The text (trimmed; may be empty when an image goes with it) and the image. */
  onSend(content: string, attachment?: ReadyAttachment): void;
  /** The image of the next message (owned by the conversation, which also takes drops). */
  attachment: AttachmentDraftControls;
  /** The text being written, owned by the conversation (kept across reloads). */
  draft: string;
  /** Every change of the draft. */
  onDraftChange(draft: string): void;
  disabled?: boolean;
  /** Set by chat-ui-kit's ChatContainer, which places us as its MessageInput. */
  as?: unknown;
}

const MAX_HEIGHT_PX = 160;
/** The counter shows from this share of the server's limit on (1,800 of 2,000 characters). */
const COUNTER_FROM = 0.9;

/** Characters as the server counts them (code points of the trimmed text). */
export const countChars = (text: string) => [...text.trim()].length;
const chars = (n: number) => `${n.toLocaleString("en")} ${n === 1 ? "character" : "characters"}`;

/**
 * A plain textarea, so what is sent is exactly the text typed: Enter sends,
 * Shift+Enter adds a line, and an IME composition is never cut short. The
 * paperclip or a pasted image attaches an image; a message may be only that.
 */
export function Composer({ onSend, attachment, draft, onDraftChange, disabled = false }: ComposerProps) {
  const textarea = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  const maxChars = useClientConfig().maxMessageChars;

  // Ready to type on a desktop; a phone's keyboard opens only when asked for.
  useEffect(() => {
    if (typeof window.matchMedia === "function" && window.matchMedia("(pointer: fine)").matches) {
      textarea.current?.focus();
    }
  }, []);

  // Grow with the text up to a limit, then scroll.
  useLayoutEffect(() => {
    const el = textarea.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT_PX)}px`;
  }, [draft]);

  const change = (value: string) => onDraftChange(value);
  const length = countChars(draft);
  const tooLong = length > maxChars;

  const image = attachment.draft.status;
  // Wait for an upload under way: the message goes with its image or not at all.
  const canSend = !disabled && image !== "uploading" && !tooLong && (draft.trim() !== "" || image === "ready");

  const send = () => {
    if (!canSend) return;
    const content = draft.trim();
    const ready = attachment.take();
    if (ready) onSend(content, ready);
    else onSend(content);
    change("");
    textarea.current?.focus();
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const file = pickFile(event.clipboardData);
    if (!file || disabled) return;
    event.preventDefault();
    attachment.add(file);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    send();
  };

  return (
    <form className="cs-message-input composer" onSubmit={onSubmit}>
      <AttachmentDraftView controls={attachment} />
      <div className="composer__row">
        <div className="cs-message-input__tools composer__tools">
          <AttachButton onFile={attachment.add} disabled={disabled} />
        </div>
        <label htmlFor={id} className="visually-hidden">
          Message
        </label>
        <div className="cs-message-input__content-editor-wrapper composer__field">
          <textarea
            ref={textarea}
            id={id}
            className="composer__textarea"
            rows={1}
            placeholder={image === "ready" ? "Add a message (optional)…" : "Type a message…"}
            value={draft}
            disabled={disabled}
            onChange={(e) => change(e.target.value)}
            onKeyDown={onKeyDown}
            onPaste={onPaste}
          />
        </div>
        {length >= Math.floor(COUNTER_FROM * maxChars) ? (
          <span className={`composer__counter${tooLong ? " composer__counter--over" : ""}`} aria-live="polite">
            {tooLong ? `${chars(length - maxChars)} over the limit` : `${chars(maxChars - length)} left`}
          </span>
        ) : null}
        <div className="cs-message-input__tools">
          <button
            type="submit"
            className="cs-button cs-button--send composer__send"
            disabled={!canSend}
            aria-label="Send"
            title="Send (Enter)"
          >
            <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22">
              <path d="M2.5 20.5 22 12 2.5 3.5 2.5 10l13 2-13 2z" />
            </svg>
          </button>
        </div>
      </div>
    </form>
  );
}
