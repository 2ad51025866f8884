// Package apierr is the error vocabulary shared across the server: the
// storage outcomes every store returns and the chat rules check
// (ErrNotFound, ErrExists, ErrConflict, ErrUnavailable), and the
// client-visible errors (Error: a stable code and a message for people)
// with the HTTP status of each code (Status). It imports nothing of the
// server's, so the HTTP layer, the stores and the chat rules can all
// share it without depending on each other.
//
// A client never sees an internal error's text: AsError turns any error
// into a client-visible one, keeping an *Error as it is, answering
// ErrUnavailable with unavailable and anything else with internal_error.
// docs/protocol.md lists every code with its status; a test keeps the
// two in step.
package apierr
