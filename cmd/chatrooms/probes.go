package main

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/realtime"
	"github.com/chatrooms/chatrooms/internal/socketio"
	"github.com/chatrooms/chatrooms/internal/watchdog"
)

// nodeTTL is how long a node that stopped beating counts as alive; its
// users go offline within this time of its death.
const nodeTTL = 6 * time.Second

// watchdogTimeout is how long one round of the chat-path watchdog may
// take before the node reports unready; stuckUnhealthy is how long it may
// stay stuck before /healthz asks for a restart.
const (
	watchdogTimeout = 5 * time.Second
	stuckUnhealthy  = 30 * time.Second
)

// testHooks let tests of this package inject a stall into the real chat
// path and shorten the watchdog's bounds. Zero in production.
var testHooks struct {
	wrapListener    func(chat.Listener) chat.Listener
	watchdogTimeout time.Duration
	stuckUnhealthy  time.Duration
}

// startWatchdog runs the watchdog until ctx ends. It proves the chat
// path still turns: a marker through the room-event delivery loop, then
// a turn of every lock the path takes. It returns once the first round
// has ended, so that a node that just started is not reported unready
// for want of a round; a round that does not end within the timeout
// leaves the node serving, unready, with the stuck check logged.
func startWatchdog(ctx context.Context, log *slog.Logger, cl *cluster.Cluster, svc *chat.Service, gw *realtime.Gateway, sio *socketio.Server) *watchdog.Watchdog {
	timeout := cmp.Or(testHooks.watchdogTimeout, watchdogTimeout)
	wd := watchdog.New(watchdog.Config{
		Interval: time.Second,
		Timeout:  timeout,
		Checks: []watchdog.Check{
			{Name: "room event delivery loop", Run: cl.Log().Barrier},
			{Name: "chat service locks", Run: func(context.Context) error { svc.Probe(); return nil }},
			{Name: "chat namespace locks", Run: func(context.Context) error { gw.Probe(); return nil }},
			{Name: "engine.io session table", Run: func(context.Context) error { sio.EngineIO().Probe(); return nil }},
		},
		Logger: log.With("component", "watchdog"),
	})
	go wd.Run(ctx)
	select {
	case <-wd.FirstRound():
	case <-time.After(timeout):
	}
	return wd
}

// readyz answers GET /readyz: 503 while the node drains, while NATS is
// unreachable, or while the watchdog finds the chat path stuck.
func readyz(draining func() bool, cl *cluster.Cluster, wd *watchdog.Watchdog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if draining() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: shutting down\n")
			return
		}
		if err := cl.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: NATS unavailable\n")
			return
		}
		if err := wd.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+err.Error()+"\n") //nolint:gosec // G705: a text/plain probe answer, our own error text
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	}
}

// healthz answers GET /healthz, the liveness probe: a chat path stuck
// for stuckFor will not come back by itself; say so, so that a
// supervisor restarts the node. (NATS being away is a readiness matter:
// the node waits for it.)
func healthz(wd *watchdog.Watchdog, stuckFor time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if st := wd.Stuck(); st != nil && st.For >= stuckFor {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "unhealthy: "+st.Error()+"\n") //nolint:gosec // G705: a text/plain probe answer, our own error text
			return
		}
		_, _ = io.WriteString(w, "OK")
	}
}
