import { apiRequest } from "../../../lib/api";
import type { User } from "../../../types/events";

export interface Session {
  token: string;
  user: User;
}

/** POST /api/users: takes the nickname; the token is the session's secret. */
export function createUser(username: string): Promise<Session> {
  return apiRequest<Session>("/api/users", { method: "POST", body: { username } });
}

/** GET /api/users/me: who the token belongs to (401 when it is no longer valid). */
export function fetchMe(token: string, signal?: AbortSignal): Promise<User> {
  return apiRequest<User>("/api/users/me", { token, signal });
}

/** DELETE /api/users/me: logs out everywhere; the nickname becomes free. */
export function deleteMe(token: string): Promise<void> {
  return apiRequest<void>("/api/users/me", { method: "DELETE", token });
}
