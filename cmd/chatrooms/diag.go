package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/chatrooms/chatrooms/internal/metrics"
)

// diagServer serves the diagnostics listener (--metrics-addr): the
// Prometheus metrics at /metrics and the Go profiles of net/http/pprof.
type diagServer struct {
	srv *http.Server
}

// startDiag listens on addr and serves the diagnostics there until
// Shutdown. It turns on the mutex profile (1 event in 100) and the block
// profile (blocking of 10 µs or more, sampled).
func startDiag(addr string, log *slog.Logger, m *metrics.Metrics) (*diagServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on metrics-addr: %w", err)
	}
	runtime.SetMutexProfileFraction(100)
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	if m != nil {
		mux.Handle("GET /metrics", m.Handler())
	}
	d := &diagServer{srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	go func() {
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("diagnostics listener", "err", err)
		}
	}()
	log.Info("diagnostics", "url", "http://"+ln.Addr().String()+"/debug/pprof/", "metrics", "http://"+ln.Addr().String()+"/metrics")
	return d, nil
}

// Shutdown stops the listener; a profile being taken is cut.
func (d *diagServer) Shutdown(ctx context.Context) error {
	if err := d.srv.Shutdown(ctx); err != nil {
		_ = d.srv.Close()
	}
	return nil
}
