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
	"strings"
	"syscall"
	"time"

	"github.com/chatrooms/chatrooms/internal/config"
	"github.com/chatrooms/chatrooms/internal/gctune"
	"github.com/chatrooms/chatrooms/internal/metrics"
	"github.com/chatrooms/chatrooms/internal/testserver"
)

func main() {
	enoughProcs(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if code := exitCode(err); code != 0 {
		// One line on stderr, after the log lines on stdout: what went
		// wrong and what to do (startup.go).
		_, _ = fmt.Fprintln(os.Stderr, "chatrooms: "+oneLine(err.Error()))
		os.Exit(code)
	}
}

// minProcs is the fewest Ps the server runs with: one for the write
// pool's worker and two for the rest, whatever the CPUs.
const minProcs = 3

// enoughProcs raises GOMAXPROCS to minProcs on a machine or a cgroup with
// fewer CPUs (a one-core taskset), unless GOMAXPROCS is set. With one P
// the network poller is consulted only when that P has nothing else to
// run (or by sysmon, every 10 ms or more): replies from NATS then waited
// behind the connection writers, and a send's ack took 49 ms at the
// median instead of 11 (docs/measurements.md, "Where a message's time
// goes"). With two, the writer's thread and the thread running the
// handlers, NATS and the fan-out shared the core half and half, and a
// room switch's NATS round trips waited behind the writes; a third P
// gives the rest two threads to the writer's one (1,999 switches into
// one room of 2,000: 2.50 s on average over six runs instead of 2.85 s;
// docs/measurements.md, "Three Ps on one core").
func enoughProcs(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
}

// shutdowner is a component that closes its connections gracefully.
type shutdowner interface {
	Shutdown(ctx context.Context) error
}

// run starts the server and blocks until ctx ends, then shuts down
// gracefully within the configured grace period. `chatrooms healthcheck`
// instead asks a running server whether it is ready (healthcheck.go).
//
// Once serving, it logs "ChatRooms is ready: URL" as its last start-up
// line. A start-up failure is one *startupError, whose exit code tells
// a configuration error (2) from a runtime one (1); see startup.go.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], stdout)
	}
	fs := flag.NewFlagSet("chatrooms", flag.ContinueOnError)
	cfg, err := config.Load(fs, args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return configError(err)
	}
	log := newLogger(cfg, stdout)
	// Metrics are kept only where they can be read: on the private
	// diagnostics listener (--metrics-addr).
	var m *metrics.Metrics
	if cfg.MetricsAddr != "" {
		m = metrics.New()
	}

	// Listen first: a port in use is reported at once, before NATS
	// starts; connections wait in the backlog until Serve.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return listenError("addr", cfg.Addr, err)
	}
	mux := http.NewServeMux()
	var (
		components []shutdowner
		afterHTTP  []func(context.Context) error // run once HTTP is down
	)
	defer func() {
		if err == nil {
			return
		}
		// A start-up failure: stop what started (for run's callers in
		// tests; a process exits anyway).
		_ = ln.Close()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
		defer cancel()
		for _, c := range components {
			_ = c.Shutdown(sctx)
		}
		for _, f := range afterHTTP {
			_ = f(sctx)
		}
	}()
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
			return listenError("metrics-addr", cfg.MetricsAddr, err)
		}
		components = append(components, d)
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
	// GOGC follows the allocation rate between --gc-idle-percent and the
	// process's own GOGC (internal/gctune); put back before run returns.
	tuneCtx, stopTune := context.WithCancel(ctx)
	tuned := make(chan struct{})
	go func() {
		defer close(tuned)
		(&gctune.Tuner{Min: cfg.GCIdlePercent, Log: log}).Run(tuneCtx)
	}()
	defer func() { stopTune(); <-tuned }()
	log.Info("listening", "addr", ln.Addr().String())
	local, lan := readyURLs(cfg.Addr, ln.Addr())
	ready := "ChatRooms is ready: " + local
	if cfg.ProtocolTest {
		ready = "ChatRooms protocol test server is ready: " + local
	}
	if len(lan) > 0 {
		log.Info(ready, "lan", strings.Join(lan, " "))
	} else {
		log.Info(ready)
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), cfg.ShutdownGrace, errors.New("shutdown grace period expired"))
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

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
