import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../../../lib/api";
import { createUser, deleteMe, fetchMe, type Session } from "../api/auth";
import { TOKEN_KEY, clearSession, loadSession, loadToken, storeSession } from "../api/storage";

export type SessionState =
  | { status: "checking" }
  | { status: "anonymous"; notice?: string }
  | { status: "authenticated"; session: Session };

export const NOTICE_ENDED = "Your session has ended. Enter a nickname to join again.";
export const NOTICE_LOGGED_OUT = "You have been logged out.";

function initialState(): SessionState {
  return loadToken() ? { status: "checking" } : { status: "anonymous" };
}

export interface SessionControls {
  state: SessionState;
  /** Takes the nickname; rejects with the server's ApiError. */
  login(username: string): Promise<void>;
  /** Logs out everywhere (DELETE /api/users/me), then forgets the token. */
  logout(): Promise<void>;
  /** Forgets the token after the server ended the session. */
  end(notice?: string): void;
}

/**
 * The login state: the token in localStorage, checked against the server on
 * start, shared with the other tabs through storage events.
 */
export function useSession(): SessionControls {
  const [state, setState] = useState<SessionState>(initialState);
  const stateRef = useRef(state);
  useEffect(() => {
    stateRef.current = state;
  }, [state]);

  // On start, a stored token is checked: a refused one sends the user to
  // the login page; an unreachable server does not log anyone out.
  useEffect(() => {
    const token = loadToken();
    if (!token) return;
    const controller = new AbortController();
    fetchMe(token, controller.signal)
      .then((user) => {
        const session = { token, user };
        storeSession(session);
        setState({ status: "authenticated", session });
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted) return;
        if (err instanceof ApiError && err.status === 401) {
          clearSession();
          setState({ status: "anonymous", notice: NOTICE_ENDED });
          return;
        }
        const stored = loadSession();
        if (stored) {
          setState({ status: "authenticated", session: stored });
        } else {
          setState({
            status: "anonymous",
            notice: err instanceof Error ? err.message : "Cannot reach the server.",
          });
        }
      });
    return () => controller.abort();
  }, []);

  // Another tab logged in or out.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key !== TOKEN_KEY && event.key !== null) return;
      const stored = loadSession();
      const current = stateRef.current;
      if (!stored) {
        if (current.status !== "anonymous") setState({ status: "anonymous", notice: NOTICE_LOGGED_OUT });
      } else if (current.status !== "authenticated" || current.session.token !== stored.token) {
        setState({ status: "authenticated", session: stored });
      }
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, []);

  const login = useCallback(async (username: string) => {
    const session = await createUser(username);
    storeSession(session);
    setState({ status: "authenticated", session });
  }, []);

  const logout = useCallback(async () => {
    const current = stateRef.current;
    if (current.status === "authenticated") {
      try {
        await deleteMe(current.session.token);
      } catch {
        // Logged out here regardless; the server forgets us after the grace period.
      }
    }
    clearSession();
    setState({ status: "anonymous" });
  }, []);

  const end = useCallback((notice: string = NOTICE_ENDED) => {
    clearSession();
    setState({ status: "anonymous", notice });
  }, []);

  return { state, login, logout, end };
}
