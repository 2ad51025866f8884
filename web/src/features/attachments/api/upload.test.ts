import { DEFAULT_CLIENT_CONFIG } from "../../../lib/config";
import { describe, expect, it, vi } from "vitest";
import { lastXhr, pendingXhrs, xhrRequests } from "../../../testing/fake-xhr";
import type { Upload } from "../../../types/events";
import { precheckFile, uploadAttachment, UPLOAD_TIMEOUT_MS } from "./upload";

const upload: Upload = {
  id: "a1",
  url: "/api/attachments/a1",
  thumbnail_url: "/api/attachments/a1/thumbnail",
  content_type: "image/png",
  width: 1600,
  height: 1200,
  size: 183_422,
  expires_at: 1_732_523_200_000,
};

const png = () => new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], "cat.png", { type: "image/png" });

describe("uploadAttachment", () => {
  it("posts the file as multipart field \"file\" with the token, reports progress, resolves with the Upload", async () => {
    const progress = vi.fn();
    const file = png();
    const result = uploadAttachment("tok", file, { onProgress: progress });
    const xhr = lastXhr();
    expect(xhr.method).toBe("POST");
    expect(xhr.url).toBe("/api/attachments");
    expect(xhr.headers.authorization).toBe("Bearer tok");
    expect(xhr.body).toBeInstanceOf(FormData);
    expect(xhr.file()?.name).toBe("cat.png");
    expect(xhr.timeout).toBe(UPLOAD_TIMEOUT_MS);

    xhr.progress(25, 100);
    xhr.progress(100, 100);
    expect(progress.mock.calls).toEqual([[0.25], [1]]);
    xhr.respond(201, upload);
    await expect(result).resolves.toEqual({ ok: true, upload });
    expect(xhrRequests()).toHaveLength(1);
  });

  it("ignores progress of unknown length", async () => {
    const progress = vi.fn();
    const result = uploadAttachment("tok", png(), { onProgress: progress });
    const xhr = lastXhr();
    xhr.upload.onprogress?.(new ProgressEvent("progress", { lengthComputable: false, loaded: 10 }));
    expect(progress).not.toHaveBeenCalled();
    xhr.respond(201, upload);
    await result;
  });

  it.each([
    [413, "too_large", "the file is larger than 10485760 bytes", "That file is too large (max 10 MB)"],
    [415, "unsupported_type", "not an image", "Only PNG, JPEG, GIF and WebP images can be sent"],
    [422, "invalid_image", "truncated", "That image could not be read (it may be damaged, or over 8,000 px a side)"],
    [401, "unauthorized", "missing or invalid token", "Your session has ended"],
    [503, "unavailable", "storage unreachable", "Images cannot be stored right now: try again later"],
    [404, "not_found", "no such endpoint", "no such endpoint"],
  ])("maps %i %s to words", async (status, error, serverMessage, words) => {
    const result = uploadAttachment("tok", png());
    lastXhr().respond(status, { error, message: serverMessage });
    await expect(result).resolves.toEqual({ ok: false, status, error, message: words });
  });

  it("says when to try again after 429 rate_limited", async () => {
    const result = uploadAttachment("tok", png());
    lastXhr().respond(429, { error: "rate_limited", message: "too many uploads, try again later" }, { "Retry-After": "7" });
    await expect(result).resolves.toEqual({
      ok: false,
      status: 429,
      error: "rate_limited",
      message: "Too many images at once: try again in 7 s",
    });
  });

  it.each([
    [413, "too_large"],
    [415, "unsupported_type"],
    [422, "invalid_image"],
    [429, "rate_limited"],
    [401, "unauthorized"],
    [502, "unavailable"],
  ])("gives an answer %i without an error body (a proxy's page) the code %s", async (status, error) => {
    const result = uploadAttachment("tok", png());
    lastXhr().respond(status, "<html>nope</html>", { "Content-Type": "text/html" });
    await expect(result).resolves.toMatchObject({ ok: false, status, error });
  });

  it("treats a 201 without an Upload in it as a failure", async () => {
    const result = uploadAttachment("tok", png());
    lastXhr().respond(201, { id: "a1" });
    await expect(result).resolves.toMatchObject({ ok: false, status: 201, error: "unavailable" });
  });

  it("turns no answer and a timeout into network_error", async () => {
    const failed = uploadAttachment("tok", png());
    lastXhr().fail();
    await expect(failed).resolves.toEqual({
      ok: false,
      status: 0,
      error: "network_error",
      message: "The upload failed: check your connection and try again",
    });
    const timedOut = uploadAttachment("tok", png());
    lastXhr().timeOut();
    await expect(timedOut).resolves.toMatchObject({ ok: false, status: 0, error: "network_error" });
  });

  it("aborts the request when the signal fires, and sends nothing for an aborted signal", async () => {
    const controller = new AbortController();
    const result = uploadAttachment("tok", png(), { signal: controller.signal });
    controller.abort();
    await expect(result).resolves.toMatchObject({ ok: false, status: 0, error: "aborted" });
    expect(lastXhr().state).toBe("aborted");

    await expect(uploadAttachment("tok", png(), { signal: controller.signal })).resolves.toMatchObject({
      error: "aborted",
    });
    expect(xhrRequests()).toHaveLength(1);
  });
});

describe("the fake XMLHttpRequest", () => {
  it("reports a request nobody answered (the setup fails such a test)", async () => {
    const result = uploadAttachment("tok", png());
    expect(pendingXhrs()).toEqual(["POST /api/attachments (XMLHttpRequest, never answered)"]);
    lastXhr().respond(201, upload);
    await result;
    expect(pendingXhrs()).toEqual([]);
  });
});

describe("precheckFile", () => {
  it("lets the four image types and files without a guessed type through", () => {
    for (const type of ["image/png", "image/jpeg", "image/gif", "image/webp", ""]) {
      expect(precheckFile(new File(["x"], "f", { type }))).toBeNull();
    }
  });

  it("refuses other types and files over 10 MiB, in words", () => {
    expect(precheckFile(new File(["<svg/>"], "a.svg", { type: "image/svg+xml" }))).toEqual({
      ok: false,
      status: 0,
      error: "unsupported_type",
      message: "Only PNG, JPEG, GIF and WebP images can be sent",
    });
    const big = new File(["x"], "big.png", { type: "image/png" });
    Object.defineProperty(big, "size", { value: DEFAULT_CLIENT_CONFIG.maxUploadBytes + 1 });
    expect(precheckFile(big)).toMatchObject({ error: "too_large", message: "That file is too large (max 10 MB)" });
    const limit = new File(["x"], "limit.png", { type: "image/png" });
    Object.defineProperty(limit, "size", { value: DEFAULT_CLIENT_CONFIG.maxUploadBytes });
    expect(precheckFile(limit)).toBeNull();
  });
});
