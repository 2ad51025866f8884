// POST /api/attachments with XMLHttpRequest, the one browser API that
// reports upload progress. The answer is a result, never a rejection: the
// Upload, or {error, message} with the message in words for people.
import { DEFAULT_CLIENT_CONFIG, type ClientConfig } from "../../../lib/config";
import type { ApiErrorBody, Upload } from "../../../types/events";

/** The server's limits an upload's words name (GET /api/config). */
export type UploadLimits = Pick<ClientConfig, "maxUploadBytes" | "maxImageSide">;

/** What the server accepts, by the file's bytes; the picker offers these. */
export const ACCEPTED_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"] as const;

/** Codes of failures that happen here rather than on the server. */
export const NETWORK_ERROR = "network_error";
export const ABORTED = "aborted";

/** How long an upload may take, start to answer. */
export const UPLOAD_TIMEOUT_MS = 120_000;

export type UploadResult =
  | { ok: true; upload: Upload }
  | ({
      ok: false;
      /** The HTTP status; 0 when no answer came (network, timeout, abort, refused before sending). */
      status: number;
    } & ApiErrorBody);

export type UploadFailure = Extract<UploadResult, { ok: false }>;

export interface UploadOptions {
  /** Called as the body goes out, with the fraction sent (0 to 1). */
  onProgress?(fraction: number): void;
  /** Aborts the upload; the result is then an "aborted" failure. */
  signal?: AbortSignal;
  /** The limits the error words name (default: those of a server with the default flags). */
  limits?: UploadLimits;
}

/** 10485760 → "10", 5767168 → "5.5". */
const megabytes = (bytes: number) => String(Number((bytes / (1024 * 1024)).toFixed(1)));

/** The words shown for each failure; the server's own message for the rest. */
export function uploadErrorText(
  code: string,
  serverMessage = "",
  retryAfterSeconds?: number,
  limits: UploadLimits = DEFAULT_CLIENT_CONFIG,
): string {
  switch (code) {
    case "too_large":
      return `That file is too large (max ${megabytes(limits.maxUploadBytes)} MB)`;
    case "unsupported_type":
      return "Only PNG, JPEG, GIF and WebP images can be sent";
    case "invalid_image":
      return `That image could not be read (it may be damaged, or over ${limits.maxImageSide.toLocaleString("en-US")} px a side)`;
    case "rate_limited":
      return retryAfterSeconds !== undefined && retryAfterSeconds > 0
        ? `Too many images at once: try again in ${retryAfterSeconds} s`
        : "Too many images at once: wait a moment and try again";
    case "unauthorized":
      return "Your session has ended";
    case "unavailable":
      return "Images cannot be stored right now: try again later";
    case NETWORK_ERROR:
      return "The upload failed: check your connection and try again";
    case ABORTED:
      return "The upload was cancelled";
    default:
      return serverMessage || "The image could not be uploaded";
  }
}

function failure(
  limits: UploadLimits | undefined,
  status: number,
  error: string,
  serverMessage = "",
  retryAfterSeconds?: number,
): UploadFailure {
  return { ok: false, status, error, message: uploadErrorText(error, serverMessage, retryAfterSeconds, limits) };
}

/**
 * A quick look before uploading, for a faster error: the type the browser
 * guessed (from the name) and the size. The server decides by the bytes;
 * a file without a guessed type goes up and is judged there.
 */
export function precheckFile(file: Blob, limits: UploadLimits = DEFAULT_CLIENT_CONFIG): UploadFailure | null {
  if (file.type !== "" && !(ACCEPTED_TYPES as readonly string[]).includes(file.type.toLowerCase())) {
    return failure(limits, 0, "unsupported_type");
  }
  if (file.size > limits.maxUploadBytes) return failure(limits, 0, "too_large");
  return null;
}

/** The code for an error answer that carries no {error, message} body (a proxy's page, say). */
function codeForStatus(status: number): string {
  switch (status) {
    case 401:
      return "unauthorized";
    case 413:
      return "too_large";
    case 415:
      return "unsupported_type";
    case 422:
      return "invalid_image";
    case 429:
      return "rate_limited";
    default:
      return status >= 500 ? "unavailable" : "invalid_request";
  }
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ApiErrorBody).error === "string" &&
    typeof (value as ApiErrorBody).message === "string"
  );
}

function isUpload(value: unknown): value is Upload {
  if (typeof value !== "object" || value === null) return false;
  const u = value as Record<string, unknown>;
  return (
    typeof u.id === "string" &&
    typeof u.url === "string" &&
    typeof u.thumbnail_url === "string" &&
    typeof u.content_type === "string" &&
    typeof u.width === "number" &&
    typeof u.height === "number" &&
    u.width > 0 &&
    u.height > 0
  );
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Uploads one image as multipart field "file" with the session's token.
 * Every outcome resolves: 201 gives the Upload; 401, 413, 415, 422, 429,
 * 5xx, no answer, a timeout and an abort give a failure with its code.
 */
export function uploadAttachment(token: string, file: Blob, options: UploadOptions = {}): Promise<UploadResult> {
  const { onProgress, signal, limits } = options;
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(failure(limits, 0, ABORTED));
      return;
    }
    const xhr = new XMLHttpRequest();
    let settled = false;
    const settle = (result: UploadResult) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = () => {
      xhr.abort();
      settle(failure(limits, 0, ABORTED));
    };

    xhr.open("POST", "/api/attachments");
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.timeout = UPLOAD_TIMEOUT_MS;
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress?.(Math.min(1, event.loaded / event.total));
    };
    xhr.onload = () => {
      const body = parse(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) {
        settle(isUpload(body) ? { ok: true, upload: body } : failure(limits, xhr.status, "unavailable"));
        return;
      }
      const retryAfter = Number.parseInt(xhr.getResponseHeader("Retry-After") ?? "", 10);
      const code = isErrorBody(body) ? body.error : codeForStatus(xhr.status);
      settle(
        failure(
          limits,
          xhr.status,
          code,
          isErrorBody(body) ? body.message : "",
          Number.isFinite(retryAfter) ? retryAfter : undefined,
        ),
      );
    };
    xhr.onerror = () => settle(failure(limits, 0, NETWORK_ERROR));
    xhr.ontimeout = () => settle(failure(limits, 0, NETWORK_ERROR));
    xhr.onabort = () => settle(failure(limits, 0, ABORTED));
    signal?.addEventListener("abort", onAbort);

    const form = new FormData();
    if (file instanceof File) form.append("file", file);
    else form.append("file", file, "image");
    xhr.send(form);
  });
}
