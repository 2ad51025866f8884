package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthcheck(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /unready", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: NATS unavailable\nsecond line\n")
	})
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(mux)
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name    string
		args    []string
		wantErr []string // substrings of the one-line error; nil: success
	}{
		{name: "ready", args: []string{"--url", srv.URL + "/readyz"}},
		{name: "unready says why", args: []string{"--url", srv.URL + "/unready"},
			wantErr: []string{"503 Service Unavailable", "not ready: NATS unavailable"}},
		{name: "status without body", args: []string{"--url", srv.URL + "/empty"},
			wantErr: []string{"500 Internal Server Error"}},
		{name: "not found", args: []string{"--url", srv.URL + "/nope"},
			wantErr: []string{"404 Not Found"}},
		{name: "nothing listening", args: []string{"--url", closedURL + "/readyz"},
			wantErr: []string{"connection refused"}},
		{name: "timeout", args: []string{"--url", srv.URL + "/slow", "--timeout", "100ms"},
			wantErr: []string{"no answer within 100ms"}},
		{name: "not a URL", args: []string{"--url", "127.0.0.1:8080/readyz"},
			wantErr: []string{"not an http(s) URL"}},
		{name: "stray argument", args: []string{"extra"},
			wantErr: []string{`unexpected argument "extra"`}},
		{name: "bad flag", args: []string{"--nope"},
			wantErr: []string{"flag provided but not defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Through run, as the binary is called.
			err := run(context.Background(), append([]string{"healthcheck"}, tt.args...), func(string) string { return "" }, io.Discard)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("healthcheck %v: %v, want success", tt.args, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("healthcheck %v succeeded, want an error", tt.args)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is more than one line: %q", msg)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
		})
	}
}
