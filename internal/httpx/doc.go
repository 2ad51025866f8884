// Package httpx is the HTTP layer shared by the /api handlers
// (internal/httpapi, internal/attachments) and the Engine.IO polling
// transport: reading JSON requests, writing JSON answers and errors,
// parsing bearer tokens, and bounding how slowly a request body may
// arrive.
//
// Errors are apierr.Error values written as {"error": code, "message":
// text} with the status apierr.Status gives their code, and
// "retry_after_ms" and a Retry-After header (whole seconds, rounded up)
// when the code is rate_limited.
//
// ReadJSON accepts a body only with Content-Type application/json
// (parameters such as charset=utf-8 allowed; any other charset refused),
// else 415 unsupported_media_type; reads at most the given number of
// bytes through http.MaxBytesReader (else 413 too_large), growing its
// buffer with the bytes that actually arrive; and refuses unknown fields
// and anything after the JSON value (400 invalid_request).
//
// GuardBody makes a request body arrive at a minimum rate: within each
// window (default DefaultBodyWindow, 10 s) from the first read, at least
// MinRate × Window bytes (default DefaultBodyMinRate, 1 KiB/s, so 10 KiB)
// or the rest of the body must arrive, or the read fails with
// ErrBodyTimeout (408 request_timeout) and the connection is closed
// after the answer. A body of up to 10 KiB must thus arrive within 10 s
// of the first read, and no body can stall for more than a window. It
// works through http.ResponseController read deadlines, so a blocked
// read is interrupted; Body.Abort cuts it from another goroutine (the
// Engine.IO polling POST does when its session closes). No deadline is
// set before the first read, nor once the body was read to its end, so
// long-polling GETs and handlers working after the body are unaffected;
// a body left unread gets one more window for net/http to read its rest.
package httpx
