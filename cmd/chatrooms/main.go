// Command chatrooms serves the ChatRooms chat service: the HTTP API, the
// Socket.IO endpoint and the embedded web client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/chatrooms/chatrooms/internal/config"
	"github.com/chatrooms/chatrooms/internal/metrics"
	"github.com/chatrooms/chatrooms/internal/testserver"
)

func main() {
	atLeastTwoProcs(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "chatrooms:", err) //nolint:forbidigo // last-resort error before logging exists
		os.Exit(1)
	}
}

// atLeastTwoProcs lets two goroutines run at once even on one CPU (a
// one-core cgroup or taskset), unless GOMAXPROCS is set. With one P the
// network poller is consulted only when that P has nothing else to run
// (or by sysmon, every 10 ms or more): replies from NATS then wait behind
// the connection writers, and a send's ack took 49 ms at the median
// instead of 11 (docs/measurements.md, "Where a message's time goes").
func atLeastTwoProcs(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
}

// shutdowner is a component that closes its connections gracefully.
type shutdowner interface {
	Shutdown(ctx context.Context) error
}

// run starts the server and blocks until ctx ends, then shuts down
// gracefully within the configured grace period. `chatrooms healthcheck`
// instead asks a running server whether it is ready (healthcheck.go).
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], stdout)
	}
	fs := flag.NewFlagSet("chatrooms", flag.ContinueOnError)
	cfg, err := config.Load(fs, args, getenv, stdout)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	// Metrics are kept only where they can be read: on the private
	// diagnostics listener (--metrics-addr).
	var m *metrics.Metrics
	if cfg.MetricsAddr != "" {
		m = metrics.New()
	}

	mux := http.NewServeMux()
	var (
		components []shutdowner
		afterHTTP  []func(context.Context) error // run once HTTP is down
	)
	if cfg.ProtocolTest {
		ts := testserver.New(testserver.Config{
			PingInterval: cfg.PingInterval,
			PingTimeout:  cfg.PingTimeout,
			MaxPayload:   cfg.MaxPayload,
			WriteQueue:   cfg.WriteQueueBytes,
			Logger:       log,
		})
		ts.Register(mux)
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "OK")
		})
		components = append(components, ts)
	} else {
		front, closeChat, err := startChat(ctx, cfg, log, mux, m)
		if err != nil {
			return err
		}
		components = append(components, front)
		afterHTTP = append(afterHTTP, closeChat)
	}
	if cfg.MetricsAddr != "" {
		d, err := startDiag(cfg.MetricsAddr, log, m)
		if err != nil {
			return err
		}
		components = append(components, d)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// No ReadTimeout or WriteTimeout: they would cut long-polls and
	// WebSockets. Request bodies are bounded where they are read
	// (httpx.GuardBody: a minimum rate per 10 s window).
	srv := &http.Server{
		Handler:           accessLogged(cfg, log, m, mux),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "url", "http://"+displayAddr(ln.Addr()), "protocol_test", cfg.ProtocolTest)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeoutCause(context.Background(), cfg.ShutdownGrace, errors.New("shutdown grace period expired"))
	defer cancel()
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Shutdown(sctx) }()
	var errs []error
	for _, c := range components {
		errs = append(errs, c.Shutdown(sctx))
	}
	errs = append(errs, <-httpDone)
	for _, f := range afterHTTP {
		errs = append(errs, f(sctx))
	}
	if err := errors.Join(errs...); err != nil {
		log.Warn("shutdown incomplete", "err", err)
		_ = srv.Close()
	}
	log.Info("stopped")
	return nil
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
