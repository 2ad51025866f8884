import { useId, useState, type FormEvent } from "react";
import { ApiError } from "../../../lib/api";

export interface LoginPageProps {
  onLogin(username: string): Promise<void>;
  /** Why the user is here again (session ended, logged out elsewhere). */
  notice?: string | undefined;
  /** The nickname of the session that ended, filled in to join again. */
  nickname?: string | undefined;
}

/** The server's error in words. */
export function describeLoginError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.error === "username_taken") return "That nickname is taken";
    return err.message;
  }
  return "Something went wrong. Please try again.";
}

export function LoginPage({ onLogin, notice, nickname = "" }: LoginPageProps) {
  const [username, setUsername] = useState(nickname);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inputId = useId();
  const hintId = useId();

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await onLogin(username);
    } catch (err) {
      setError(describeLoginError(err));
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <main className="login__card" aria-labelledby={`${inputId}-title`}>
        <div className="login__logo" aria-hidden="true">
          <svg viewBox="0 0 64 64" width="56" height="56">
            <rect width="64" height="64" rx="16" className="login__logo-bg" />
            <path
              d="M14 18h36a4 4 0 0 1 4 4v18a4 4 0 0 1-4 4H30l-10 8v-8h-6a4 4 0 0 1-4-4V22a4 4 0 0 1 4-4z"
              className="login__logo-fg"
            />
          </svg>
        </div>
        <h1 id={`${inputId}-title`} className="login__title">
          ChatRooms
        </h1>
        <p className="login__tagline">Pick a nickname and start talking. No password, no sign-up.</p>
        {notice && !error ? (
          <p className="login__notice" role="status">
            {notice}
          </p>
        ) : null}
        <form className="login__form" onSubmit={submit} noValidate>
          <label htmlFor={inputId} className="login__label">
            Nickname
          </label>
          <input
            id={inputId}
            className="login__input"
            type="text"
            name="username"
            autoComplete="nickname"
            autoCapitalize="off"
            spellCheck={false}
            maxLength={64}
            autoFocus
            value={username}
            aria-describedby={hintId}
            aria-invalid={error ? true : undefined}
            onChange={(e) => setUsername(e.target.value)}
          />
          <p id={hintId} className="login__hint">
            3–24 letters, digits, spaces, _ - or .
          </p>
          {error ? (
            <p className="login__error" role="alert">
              {error}
            </p>
          ) : null}
          <button className="button button--primary login__submit" type="submit" disabled={busy}>
            Enter
          </button>
        </form>
      </main>
    </div>
  );
}
