// fetch for tests, in the spirit of MSW's onUnhandledRequest: 'error': a
// test declares the requests it expects; any other request fails it.
import { vi } from "vitest";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

type Handler = (request: RecordedRequest) => Response | Promise<Response>;

let handlers = new Map<string, Handler[]>();
let unhandled: string[] = [];
let requests: RecordedRequest[] = [];

export function installStrictFetch(): void {
  handlers = new Map();
  unhandled = [];
  requests = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url, "http://localhost");
      const method = (init.method ?? "GET").toUpperCase();
      const body = typeof init.body === "string" ? (JSON.parse(init.body) as unknown) : undefined;
      const request: RecordedRequest = { method, path: url.pathname, headers: new Headers(init.headers), body };
      requests.push(request);
      const key = `${method} ${url.pathname}`;
      const queue = handlers.get(key);
      const handler = queue && (queue.length > 1 ? queue.shift() : queue[0]);
      if (!handler) {
        unhandled.push(key);
        throw new TypeError(`no handler for ${key}`);
      }
      return handler(request);
    }),
  );
}

/**
 * Answers `METHOD /path`. Several handlers for one route answer in turn;
 * the last one keeps answering.
 */
export function onRequest(route: string, handler: Handler): void {
  const queue = handlers.get(route) ?? [];
  queue.push(handler);
  handlers.set(route, queue);
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

export function noContent(): Response {
  return new Response(null, { status: 204 });
}

export function recordedRequests(): RecordedRequest[] {
  return requests;
}

export function unhandledRequests(): string[] {
  return unhandled;
}
