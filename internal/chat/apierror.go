package chat

import (
	"errors"
	"fmt"
	"time"
)

// Error is a client-visible error: a stable code and a human message.
// Transports map codes to HTTP statuses or Socket.IO ack errors; the
// message never contains internal details.
type Error struct {
	Code    string `json:"error"`
	Message string `json:"message"`
	// RetryAfterMS, set with CodeRateLimited, is how long to wait before
	// the same call can succeed, in milliseconds (HTTP adds Retry-After).
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Client error codes.
const (
	CodeInvalidUsername    = "invalid_username"
	CodeUsernameTaken      = "username_taken"
	CodeInvalidRoom        = "invalid_room"
	CodeRoomNameTaken      = "room_name_taken"
	CodeRoomNotFound       = "room_not_found"
	CodeAttachmentNotFound = "attachment_not_found"
	CodeInvalidMessage     = "invalid_message"
	CodeUnauthorized       = "unauthorized"
	CodeInvalidToken       = "invalid_token"
	CodeRateLimited        = "rate_limited"
	CodeUnavailable        = "unavailable"
	CodeInvalidRequest     = "invalid_request"
	CodeInternal           = "internal_error"
)

// RateLimited is the rate_limited error for a wait of retryAfter (at
// least one millisecond).
func RateLimited(message string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: message, RetryAfterMS: max(1, retryAfter.Milliseconds())}
}

func clientErr(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the client-visible form of err: itself if it is an
// *Error, "unavailable" for storage outages, otherwise "internal_error".
func AsError(err error) *Error {
	var ce *Error
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, ErrUnavailable):
		return clientErr(CodeUnavailable, "the service is temporarily unavailable, try again")
	default:
		return clientErr(CodeInternal, "something went wrong")
	}
}
