// Package attachments accepts image uploads, makes them safe, stores
// them for a limited time and serves them.
//
// POST /api/attachments takes one multipart field "file" from an
// authenticated user (bearer token, scheme in any case; per-user rate
// limit). The body is read through http.MaxBytesReader with
// mime/multipart.Reader, streaming, at a minimum rate (httpx.GuardBody,
// Config.Body: else 408 request_timeout): only the first part named
// "file" is read, at most a few parts are looked at, the file name and
// declared type are ignored, and the buffer grows with the bytes that
// arrive, never to the declared Content-Length. The image
// is recognised by its leading bytes (PNG, JPEG, GIF, still WebP), its
// dimensions are checked from its header (image.DecodeConfig; a GIF's
// frames are counted by walking its blocks) before any pixel is decoded,
// and it is then decoded and re-encoded, so that no metadata (EXIF, GPS,
// comments, ICC, XMP) and no trailing bytes survive. Decoding waits for
// room in the node's pixel budget (Config.DecodePixels, width × height
// summed over the images being processed, first fit): small images go
// ahead while a large one decodes:
//
//   - PNG stays PNG and GIF stays GIF (every frame, delay, disposal and
//     the loop count kept);
//   - JPEG stays JPEG (quality 85) with its EXIF orientation applied to
//     the pixels first;
//   - WebP, which no Go package encodes, becomes JPEG when it was lossy
//     and is opaque, PNG otherwise; the content type says which.
//
// A thumbnail of at most ThumbnailSide pixels on its longer side (a box
// shrink by an integer factor for large reductions, then Catmull-Rom;
// never upscaled; a GIF's first frame) is stored as JPEG when opaque,
// PNG otherwise.
//
// The bytes go to a Blobs store (cluster.Objects: the JetStream object
// store "attachments") under "<id>.image" and "<id>.thumb"; the metadata
// (owner, types, sizes, digests, expiry) goes to a chat.KV under the id
// (cluster's "attachmeta" bucket). Both expire after Config.Retention;
// an attachment past its expiry is not found even if the store has not
// dropped it yet.
//
// GET /api/attachments/{id} and /api/attachments/{id}/thumbnail serve
// the bytes with http.ServeContent (Range, ETag from the content's
// SHA-256, conditional requests; an If-None-Match hit reads nothing),
// read whole from the store first (at most Config.ServeMemory bytes in
// flight, so a slow client never holds a NATS consumer), with the
// exact content type, nosniff, "Content-Security-Policy: default-src
// 'none'; sandbox", "Cross-Origin-Resource-Policy: same-origin", a
// generated file name, and "Cache-Control: private, max-age=<seconds
// left>, immutable". The ids are 128 random bits: knowing one is what
// lets a page show the image (an <img> sends no token).
//
// Errors are JSON {"error": code, "message": text} (internal/httpx):
// too_large 413, unsupported_type 415, invalid_image 422, unauthorized
// 401, rate_limited 429 (with Retry-After and retry_after_ms),
// attachment_not_found 404, invalid_request 400, request_timeout 408,
// unavailable 503.
package attachments
