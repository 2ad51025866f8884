package apierr

import (
	"errors"
	"fmt"
	"time"
)

// Storage outcomes, returned (wrapped) by stores (chat.KV, chat.Log,
// attachments.Blobs) and checked with errors.Is.
var (
	// ErrNotFound: no such key or object.
	ErrNotFound = errors.New("not found")
	// ErrExists: Create of a key that exists.
	ErrExists = errors.New("already exists")
	// ErrConflict: the key changed since the revision given.
	ErrConflict = errors.New("revision conflict")
	// ErrUnavailable: the store cannot be reached or did not answer in
	// time; nothing was decided. Clients see it as unavailable (AsError).
	ErrUnavailable = errors.New("storage unavailable")
)

// Error is a client-visible error: a stable code and a human message.
// Transports map codes to HTTP statuses (Status) or Socket.IO ack errors;
// the message never contains internal details. An *Error is immutable
// once made, so it may be shared between goroutines.
type Error struct {
	Code    string `json:"error"`
	Message string `json:"message"`
	// RetryAfterMS, set with CodeRateLimited, is how long to wait before
	// the same call can succeed, in milliseconds (HTTP adds Retry-After).
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns the client error code with a message made as fmt.Sprintf
// makes it.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// RateLimited is the rate_limited error for a wait of retryAfter (at
// least one millisecond).
func RateLimited(message string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: message, RetryAfterMS: max(1, retryAfter.Milliseconds())}
}

// AsError returns the client-visible form of err: itself if it is an
// *Error, unavailable for ErrUnavailable, otherwise internal_error.
func AsError(err error) *Error {
	if ce, ok := errors.AsType[*Error](err); ok {
		return ce
	}
	if errors.Is(err, ErrUnavailable) {
		return New(CodeUnavailable, "the service is temporarily unavailable, try again")
	}
	return New(CodeInternal, "something went wrong")
}
