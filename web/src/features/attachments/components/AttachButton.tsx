import { useRef, type ChangeEvent } from "react";
import { ACCEPTED_TYPES } from "../api/upload";

export interface AttachButtonProps {
  onFile(file: File): void;
  disabled?: boolean;
}

/** The paperclip: a button that opens the file picker of a hidden input. */
export function AttachButton({ onFile, disabled = false }: AttachButtonProps) {
  const input = useRef<HTMLInputElement>(null);

  const onChange = (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    // Choosing the same file again must fire change again.
    event.target.value = "";
    if (file) onFile(file);
  };

  return (
    <>
      <button
        type="button"
        className="icon-button composer__attach"
        aria-label="Attach image"
        title="Attach image"
        disabled={disabled}
        onClick={() => input.current?.click()}
      >
        <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22">
          <path d="M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z" />
        </svg>
      </button>
      <input
        ref={input}
        type="file"
        accept={ACCEPTED_TYPES.join(",")}
        aria-label="Attach image"
        tabIndex={-1}
        hidden
        disabled={disabled}
        onChange={onChange}
      />
    </>
  );
}
