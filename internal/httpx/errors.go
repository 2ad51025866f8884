package httpx

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// WriteError writes ce with the status its code calls for and returns
// that status. A rate_limited error also gets a Retry-After header in
// whole seconds, rounded up, and retry_after_ms in the body (1000 when
// ce has none).
func WriteError(w http.ResponseWriter, ce *apierr.Error) int {
	status := apierr.Status(ce.Code)
	if ce.Code == apierr.CodeRateLimited {
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

// Fail answers r with the client-visible form of err (apierr.AsError):
// internal errors are logged to log with the request's method and path,
// never shown.
func Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ce := apierr.AsError(err)
	if apierr.Status(ce.Code) >= 500 {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteError(w, ce)
}
