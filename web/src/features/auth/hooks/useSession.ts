import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../../../lib/api";
import { createUser, deleteMe, fetchMe, type Session } from "../api/auth";
import { TOKEN_KEY, clearSession, loadSession, loadToken, storeSession } from "../api/storage";

export type SessionState =
  | { status: "checking" }
  | { status: "anonymous"; notice?: string; nickname?: string }
  | { status: "authenticated"; session: Session };

export const NOTICE_ENDED = "Your session has ended. Enter a nickname to join again.";
export const NOTICE_LOGGED_OUT = "You have been logged out.";

/** How long someone was away, in words: seconds up to two minutes, then minutes. */
function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min`;
}

/**
 * Why a session the server refused has ended. Refused after the
 * connection had been down for awayMs: the user was away longer than the
 * server keeps a session for someone offline (its grace period).
 */
export function sessionEndedNotice(awayMs: number | null | undefined): string {
  if (awayMs == null) return NOTICE_ENDED;
  return `You were away for ${duration(awayMs)}, longer than the server keeps a session, so yours has ended. Enter a nickname to join again.`;
}

function initialState(): SessionState {
  return loadToken() ? { status: "checking" } : { status: "anonymous" };
}

export interface SessionControls {
  state: SessionState;
  /** Takes the nickname; rejects with the server's ApiError. */
  login(username: string): Promise<void>;
  /** Logs out everywhere (DELETE /api/users/me), then forgets the token. */
  logout(): Promise<void>;
  /** Forgets the token after the server ended the session; the login page offers the nickname again. */
  end(notice?: string, nickname?: string): void;
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
          const nickname = loadSession()?.user.name;
          clearSession();
          setState({ status: "anonymous", notice: NOTICE_ENDED, ...(nickname ? { nickname } : {}) });
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

  const end = useCallback((notice: string = NOTICE_ENDED, nickname?: string) => {
    clearSession();
    setState({ status: "anonymous", notice, ...(nickname ? { nickname } : {}) });
  }, []);

  return { state, login, logout, end };
}
