// The session kept in localStorage, so that a reload or a new tab stays
// logged in. The user is kept beside the token only to draw the screen
// before the server answers; the token alone authenticates.
import type { User } from "../../../types/events";
import type { Session } from "./auth";

export const TOKEN_KEY = "chatrooms.token";
export const USER_KEY = "chatrooms.user";

function isUser(value: unknown): value is User {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as User).id === "string" &&
    typeof (value as User).name === "string"
  );
}

export function loadToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function loadSession(): Session | null {
  const token = loadToken();
  if (!token) return null;
  try {
    const user: unknown = JSON.parse(localStorage.getItem(USER_KEY) ?? "null");
    return isUser(user) ? { token, user } : null;
  } catch {
    return null;
  }
}

export function storeSession(session: Session): void {
  try {
    localStorage.setItem(TOKEN_KEY, session.token);
    localStorage.setItem(USER_KEY, JSON.stringify(session.user));
  } catch {
    // Private mode or a full quota: the session lasts as long as the tab.
  }
}

export function clearSession(): void {
  try {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  } catch {
    // Nothing stored, nothing to clear.
  }
}
