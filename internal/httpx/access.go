package httpx

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// RequestObserver is told about every request Access serves (package
// metrics implements it).
type RequestObserver interface {
	HTTPRequest(route string, status int, d time.Duration)
}

// AccessConfig configures Access. Zero fields are left out.
type AccessConfig struct {
	// Log receives one line per request: method, route (the ServeMux
	// pattern that served it, never the path, which may hold ids),
	// status, duration, bytes written and the client address. Nothing
	// else of the request is logged: no query, no header, no body, so no
	// token or message content.
	Log *slog.Logger
	// ClientAddr resolves the client address (the peer, or what a trusted
	// proxy forwarded); nil logs the peer address.
	ClientAddr func(*http.Request) string
	// Observer, if set, counts each request.
	Observer RequestObserver
}

// Access wraps next with the access log and request metrics. A request
// whose connection is hijacked (a WebSocket) counts as 101 and ends with
// the hijack.
func Access(cfg AccessConfig, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "other"
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		if cfg.Log != nil {
			addr := r.RemoteAddr
			if cfg.ClientAddr != nil {
				addr = cfg.ClientAddr(r)
			}
			cfg.Log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
				slog.Duration("duration", d), slog.Int64("bytes", sw.bytes), slog.String("client", addr))
		}
		if cfg.Observer != nil {
			cfg.Observer.HTTPRequest(route, status, d)
		}
	})
}

// statusWriter records the status and the bytes written. It passes
// Flush and Hijack through (the WebSocket upgrade and the long-poll need
// them) and unwraps for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	c, rw, err := hj.Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
