import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { createPortal } from "react-dom";
import { ApiError } from "../../../lib/api";
import type { Room } from "../../../types/events";

export interface AddRoomDialogProps {
  createRoom(name: string, description: string): Promise<Room>;
  /** Called after a room was created and on Cancel/Escape. */
  onClose(): void;
}

function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return "Something went wrong. Please try again.";
}

const FOCUSABLE = 'input, textarea, button, [href], [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog: focus moves in and stays in, Escape cancels. The server
 * moves the creator into the new room (current_room_changed follows).
 */
export function AddRoomDialog({ createRoom, onClose }: AddRoomDialogProps) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const dialogRef = useRef<HTMLDivElement>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const titleId = useId();
  const nameId = useId();
  const descriptionId = useId();

  useEffect(() => {
    nameRef.current?.focus();
  }, []);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await createRoom(name, description);
      onClose();
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
      nameRef.current?.focus();
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      onClose();
      return;
    }
    if (event.key !== "Tab" || !dialogRef.current) return;
    const focusable = [...dialogRef.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
      (el) => !el.hasAttribute("disabled"),
    );
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return createPortal(
    <div
      className="dialog-backdrop"
      onMouseDown={(event) => {
        if (event.target === event.currentTarget) onClose();
      }}
    >
      <div
        ref={dialogRef}
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        onKeyDown={onKeyDown}
      >
        <h2 id={titleId} className="dialog__title">
          Add new room
        </h2>
        <form onSubmit={submit} noValidate>
          <label htmlFor={nameId} className="field__label">
            Room name
          </label>
          <input
            ref={nameRef}
            id={nameId}
            className="field__input"
            type="text"
            autoComplete="off"
            maxLength={80}
            value={name}
            aria-invalid={error ? true : undefined}
            onChange={(e) => setName(e.target.value)}
          />
          <label htmlFor={descriptionId} className="field__label">
            Description
          </label>
          <textarea
            id={descriptionId}
            className="field__input field__input--area"
            rows={3}
            maxLength={400}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
          {error ? (
            <p className="dialog__error" role="alert">
              {error}
            </p>
          ) : null}
          <div className="dialog__actions">
            <button type="button" className="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="button button--primary" disabled={busy}>
              Create
            </button>
          </div>
        </form>
      </div>
    </div>,
    document.body,
  );
}
