import { useEffect, useId, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";

export interface ComposerProps {
  onSend(content: string): void;
  /** Every change of the draft (for the typing notice). */
  onDraftChange?(draft: string): void;
  disabled?: boolean;
  /** Set by chat-ui-kit's ChatContainer, which places us as its MessageInput. */
  as?: unknown;
}

const MAX_HEIGHT_PX = 160;

/**
 * A plain textarea, so what is sent is exactly the text typed: Enter sends,
 * Shift+Enter adds a line, and an IME composition is never cut short.
 */
export function Composer({ onSend, onDraftChange, disabled = false }: ComposerProps) {
  const [draft, setDraft] = useState("");
  const textarea = useRef<HTMLTextAreaElement>(null);
  const id = useId();

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

  const change = (value: string) => {
    setDraft(value);
    onDraftChange?.(value);
  };

  const send = () => {
    const content = draft.trim();
    if (content === "" || disabled) return;
    onSend(content);
    change("");
    textarea.current?.focus();
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
      <label htmlFor={id} className="visually-hidden">
        Message
      </label>
      <div className="cs-message-input__content-editor-wrapper composer__field">
        <textarea
          ref={textarea}
          id={id}
          className="composer__textarea"
          rows={1}
          placeholder="Type a message…"
          value={draft}
          disabled={disabled}
          onChange={(e) => change(e.target.value)}
          onKeyDown={onKeyDown}
        />
      </div>
      <div className="cs-message-input__tools">
        <button
          type="submit"
          className="cs-button cs-button--send composer__send"
          disabled={disabled || draft.trim() === ""}
          aria-label="Send"
          title="Send (Enter)"
        >
          <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22">
            <path d="M2.5 20.5 22 12 2.5 3.5 2.5 10l13 2-13 2z" />
          </svg>
        </button>
      </div>
    </form>
  );
}
