package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/clientaddr"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/config"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/httpx"
	"github.com/chatrooms/chatrooms/internal/metrics"
	"github.com/chatrooms/chatrooms/internal/socketio"
	"github.com/chatrooms/chatrooms/internal/watchdog"
)

// watchMetrics registers what the scrape reads from the running parts
// (no-op without metrics).
func watchMetrics(m *metrics.Metrics, sio *socketio.Server, cl *cluster.Cluster, svc *chat.Service, wd *watchdog.Watchdog) {
	if m == nil {
		return
	}
	eio := sio.EngineIO()
	m.Watch(metrics.Sources{
		Sessions: func() (int, int) {
			st := eio.Stats()
			return st.Polling, st.WebSocket
		},
		SessionsOpened: func() uint64 { opened, _ := eio.Totals(); return opened },
		SessionsClosed: func() []uint64 {
			_, closed := eio.Totals()
			return closed[:]
		},
		CloseReasons: engineio.CloseReasons[:],
		Packets: func() (uint64, uint64) {
			st := sio.Stats()
			return st.PacketsIn, st.PacketsOut
		},
		NATSConnected:     func() bool { return cl.Conn().IsConnected() },
		NATSReconnects:    func() uint64 { return cl.Conn().Stats().Reconnects },
		Users:             svc.UserCounts,
		Rooms:             svc.RoomCount,
		WatchdogRoundTrip: wd.RoundTrip,
	})
}

// timedLog is the room log with its appends counted and timed (publish
// to JetStream's ack).
type timedLog struct {
	chat.Log
	m *metrics.Metrics
}

// logWithMetrics is l, timed when there are metrics.
func logWithMetrics(l chat.Log, m *metrics.Metrics) chat.Log {
	if m == nil {
		return l
	}
	return timedLog{Log: l, m: m}
}

func (l timedLog) Append(ctx context.Context, room string, data []byte) (uint64, error) {
	start := time.Now()
	seq, err := l.Log.Append(ctx, room, data)
	if err == nil {
		l.m.Published(time.Since(start))
		l.m.RoomEventPublished()
	}
	return seq, err
}

func (l timedLog) AppendOnce(ctx context.Context, room, id string, data []byte) (uint64, *chat.LogEntry, error) {
	start := time.Now()
	seq, dup, err := l.Log.AppendOnce(ctx, room, id, data)
	if err == nil && dup == nil {
		l.m.Published(time.Since(start))
		l.m.RoomEventPublished()
	}
	return seq, dup, err
}

// accessLogged wraps h with the access log (one line per request, logger
// component "access") and the HTTP metrics; the client address is
// resolved as the limits resolve it (--trusted-proxies).
func accessLogged(cfg *config.Config, log *slog.Logger, m *metrics.Metrics, h http.Handler) http.Handler {
	addrs := clientaddr.New(cfg.TrustedProxies, cfg.ClientAddrHeader)
	ac := httpx.AccessConfig{
		Log:        log.With("component", "access"),
		ClientAddr: func(r *http.Request) string { return addrs.ClientAddr(r).String() },
	}
	if m != nil {
		ac.Observer = m
	}
	return httpx.Access(ac, h)
}
