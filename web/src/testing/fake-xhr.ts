// XMLHttpRequest for tests, strict like strict-fetch: every request is
// recorded and stays pending until the test answers it (respond, fail,
// time out) or the code aborts it. One left pending fails the test.
import { vi } from "vitest";

type Handler = ((event: ProgressEvent) => void) | null;

class FakeUpload extends EventTarget {
  onprogress: Handler = null;
  onload: Handler = null;
}

export class FakeXhr extends EventTarget {
  method = "";
  url = "";
  readonly headers: Record<string, string> = {};
  body: Document | XMLHttpRequestBodyInit | null = null;
  timeout = 0;
  status = 0;
  responseText = "";
  readyState = 0;
  /** "pending" from send() until the test (or an abort) settles it. */
  state: "new" | "pending" | "answered" | "failed" | "aborted" = "new";
  readonly upload = new FakeUpload();
  onload: Handler = null;
  onerror: Handler = null;
  onabort: Handler = null;
  ontimeout: Handler = null;
  private responseHeaders = new Headers();

  open(method: string, url: string) {
    this.method = method.toUpperCase();
    this.url = url;
    this.readyState = 1;
  }

  setRequestHeader(name: string, value: string) {
    this.headers[name.toLowerCase()] = value;
  }

  getResponseHeader(name: string): string | null {
    return this.responseHeaders.get(name);
  }

  send(body: Document | XMLHttpRequestBodyInit | null = null) {
    if (this.readyState !== 1) throw new Error("FakeXhr: send() before open()");
    this.body = body;
    this.state = "pending";
    sent.push(this);
  }

  abort() {
    if (this.state !== "pending") return;
    this.state = "aborted";
    this.readyState = 4;
    this.fire(this, "abort");
  }

  // --- the server's side ---

  /** The multipart field "file", as sent. */
  file(): File | null {
    const value = this.body instanceof FormData ? this.body.get("file") : null;
    return value instanceof File ? value : null;
  }

  /** Reports loaded of total bytes sent. */
  progress(loaded: number, total: number) {
    this.expectPending("progress");
    this.fire(this.upload, "progress", { lengthComputable: true, loaded, total });
  }

  /** Answers with a JSON body (or text), as the server would. */
  respond(status: number, body: unknown, headers: Record<string, string> = {}) {
    this.expectPending("respond");
    this.fire(this.upload, "load");
    this.status = status;
    this.responseText = typeof body === "string" ? body : JSON.stringify(body);
    this.responseHeaders = new Headers({ "Content-Type": "application/json", ...headers });
    this.readyState = 4;
    this.state = "answered";
    this.fire(this, "load");
  }

  /** No answer: the connection failed. */
  fail() {
    this.expectPending("fail");
    this.readyState = 4;
    this.state = "failed";
    this.fire(this, "error");
  }

  /** No answer within xhr.timeout. */
  timeOut() {
    this.expectPending("timeOut");
    this.readyState = 4;
    this.state = "failed";
    this.fire(this, "timeout");
  }

  private expectPending(what: string) {
    if (this.state !== "pending") throw new Error(`FakeXhr: ${what}() on a request that is ${this.state}`);
  }

  private fire(target: FakeXhr | FakeUpload, type: string, init: ProgressEventInit = {}) {
    const event = new ProgressEvent(type, init);
    const handler = (target as unknown as Record<string, Handler>)[`on${type}`];
    handler?.call(target, event);
    target.dispatchEvent(event);
  }
}

let sent: FakeXhr[] = [];

export function installFakeXhr(): void {
  sent = [];
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
}

/** Every request sent in this test, oldest first. */
export function xhrRequests(): FakeXhr[] {
  return sent;
}

/** The latest request sent; fails when there is none. */
export function lastXhr(): FakeXhr {
  const last = sent[sent.length - 1];
  if (!last) throw new Error("no XMLHttpRequest was sent");
  return last;
}

/** Requests nobody answered: the test did not expect them. */
export function pendingXhrs(): string[] {
  return sent.filter((x) => x.state === "pending").map((x) => `${x.method} ${x.url} (XMLHttpRequest, never answered)`);
}
