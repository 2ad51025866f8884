package httpx

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type seenRequest struct {
	route  string
	status int
}

type recordObserver struct{ seen chan seenRequest }

func (o *recordObserver) HTTPRequest(route string, status int, _ time.Duration) {
	o.seen <- seenRequest{route, status}
}

// TestAccess: one log line and one observation per request, with the
// route pattern (never the path or query) and the status.
func TestAccess(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/rooms/{id}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "room") })
	mux.HandleFunc("POST /api/users", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("GET /hijack", func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack through the access writer: %v", err)
			return
		}
		_ = c.Close()
	})
	tests := []struct {
		method, path string
		route        string
		status       int
	}{
		{"GET", "/api/rooms/r123?token=secret", "GET /api/rooms/{id}", 200},
		{"POST", "/api/users", "POST /api/users", 201},
		{"GET", "/nowhere", "other", 404},
		{"GET", "/hijack", "GET /hijack", 101},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var logs bytes.Buffer
			obs := &recordObserver{seen: make(chan seenRequest, 2)}
			h := Access(AccessConfig{
				Log:        slog.New(slog.NewTextHandler(&logs, nil)),
				ClientAddr: func(*http.Request) string { return "203.0.113.7" },
				Observer:   obs,
			}, mux)
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
			// The observation comes after the log line: once it is
			// here, so is the line (a hijacked request's handler may
			// still run when the client has its answer).
			select {
			case got := <-obs.seen:
				if got != (seenRequest{tt.route, tt.status}) {
					t.Fatalf("observed %+v, want %q %d", got, tt.route, tt.status)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no observation")
			}
			srv.Close()
			if len(obs.seen) != 0 {
				t.Fatalf("more than one observation: %+v", <-obs.seen)
			}
			line := logs.String()
			if strings.Count(line, "\n") != 1 || !strings.Contains(line, "client=203.0.113.7") {
				t.Fatalf("log %q: want one line with the client", line)
			}
			if strings.Contains(line, "secret") || strings.Contains(line, "r123") {
				t.Fatalf("log %q holds the path or query", line)
			}
		})
	}
}
