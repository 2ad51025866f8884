// A fetch wrapper for the JSON API under /api: it sends the token, decodes
// the answer, and turns every failure into an ApiError carrying the server's
// {error, message} (or a local code when the server could not be reached).
import type { ApiErrorBody } from "../types/events";

export class ApiError extends Error implements ApiErrorBody {
  readonly error: ApiErrorBody["error"];
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.name = "ApiError";
    this.error = body.error;
    this.status = status;
  }
}

/** The code of an ApiError for a request that got no answer. */
export const NETWORK_ERROR = "network_error";

export interface RequestOptions {
  method?: "GET" | "POST" | "DELETE";
  token?: string | null;
  body?: unknown;
  signal?: AbortSignal;
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ApiErrorBody).error === "string" &&
    typeof (value as ApiErrorBody).message === "string"
  );
}

/** Calls the API; resolves with the decoded body (undefined for 204). */
export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }

  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? "GET",
      headers,
      body,
      signal: options.signal,
      credentials: "same-origin",
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, { error: NETWORK_ERROR, message: "Cannot reach the server. Check your connection." });
  }

  if (response.status === 204) return undefined as T;
  let payload: unknown;
  try {
    payload = await response.json();
  } catch {
    payload = undefined;
  }
  if (!response.ok) {
    if (isErrorBody(payload)) throw new ApiError(response.status, payload);
    throw new ApiError(response.status, {
      error: response.status >= 500 ? "unavailable" : "invalid_request",
      message: `The server answered ${response.status} ${response.statusText}`.trim(),
    });
  }
  return payload as T;
}
