package httpx

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/chatrooms/chatrooms/internal/chat"
)

// Client error codes of the HTTP layer, besides chat's.
const (
	// CodeUnsupportedMediaType (415): a JSON request without
	// Content-Type application/json.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeTooLarge (413): the request body is over its limit.
	CodeTooLarge = "too_large"
	// CodeRequestTimeout (408): the request body arrived too slowly
	// (see GuardBody).
	CodeRequestTimeout = "request_timeout"
	// CodeNotFound (404): no such endpoint or resource.
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed (405).
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeUnsupportedType (415): an upload that is not an accepted image
	// type (internal/attachments).
	CodeUnsupportedType = "unsupported_type"
	// CodeInvalidImage (422): an undecodable or oversized image
	// (internal/attachments).
	CodeInvalidImage = "invalid_image"
)

// statuses maps client error codes to HTTP statuses.
var statuses = map[string]int{
	chat.CodeInvalidUsername:    http.StatusBadRequest,
	chat.CodeUsernameTaken:      http.StatusConflict,
	chat.CodeInvalidRoom:        http.StatusBadRequest,
	chat.CodeRoomNameTaken:      http.StatusConflict,
	chat.CodeRoomNotFound:       http.StatusNotFound,
	chat.CodeAttachmentNotFound: http.StatusNotFound,
	chat.CodeInvalidMessage:     http.StatusBadRequest,
	chat.CodeUnauthorized:       http.StatusUnauthorized,
	chat.CodeInvalidToken:       http.StatusUnauthorized,
	chat.CodeRateLimited:        http.StatusTooManyRequests,
	chat.CodeUnavailable:        http.StatusServiceUnavailable,
	chat.CodeInvalidRequest:     http.StatusBadRequest,
	chat.CodeInternal:           http.StatusInternalServerError,
	CodeUnsupportedMediaType:    http.StatusUnsupportedMediaType,
	CodeTooLarge:                http.StatusRequestEntityTooLarge,
	CodeRequestTimeout:          http.StatusRequestTimeout,
	CodeNotFound:                http.StatusNotFound,
	CodeMethodNotAllowed:        http.StatusMethodNotAllowed,
	CodeUnsupportedType:         http.StatusUnsupportedMediaType,
	CodeInvalidImage:            http.StatusUnprocessableEntity,
}

// Status returns the HTTP status of a client error code; an unknown code
// is 500 Internal Server Error.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// WriteError writes ce with the status its code calls for and returns
// that status. A rate_limited error also gets a Retry-After header in
// whole seconds, rounded up, and retry_after_ms in the body (1000 when
// ce has none).
func WriteError(w http.ResponseWriter, ce *chat.Error) int {
	status := Status(ce.Code)
	if ce.Code == chat.CodeRateLimited {
		e := *ce
		if e.RetryAfterMS <= 0 {
			e.RetryAfterMS = 1000
		}
		w.Header().Set("Retry-After", strconv.FormatInt((e.RetryAfterMS+999)/1000, 10))
		ce = &e
	}
	WriteJSON(w, status, ce)
	return status
}

// Fail answers r with the client-visible form of err (chat.AsError):
// internal errors are logged to log with the request's method and path,
// never shown.
func Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ce := chat.AsError(err)
	if Status(ce.Code) >= 500 {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteError(w, ce)
}
