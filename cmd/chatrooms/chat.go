package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatrooms/chatrooms/internal/attachments"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/config"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/httpapi"
	"github.com/chatrooms/chatrooms/internal/realtime"
	"github.com/chatrooms/chatrooms/internal/socketio"
	"github.com/chatrooms/chatrooms/internal/watchdog"
	"github.com/chatrooms/chatrooms/internal/webui"
	"github.com/chatrooms/chatrooms/web"
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

// natsLossGrace is how long a node may be cut off from NATS (e.g. while
// failing over to another server) before it closes its clients.
const natsLossGrace = 3 * time.Second

// startChat wires the chat service: NATS (embedded or external), the
// service, the Socket.IO gateway and the HTTP API on mux. The returned
// function stops the service and closes NATS; call it after the HTTP
// server and the Socket.IO sessions are down.
func startChat(ctx context.Context, cfg *config.Config, log *slog.Logger, mux *http.ServeMux) (*chatFront, func(context.Context) error, error) {
	rooms := chat.DefaultRooms
	if cfg.RoomsFile != "" {
		data, err := os.ReadFile(cfg.RoomsFile)
		if err != nil {
			return nil, nil, fmt.Errorf("rooms file: %w", err)
		}
		if rooms, err = chat.ParseRoomSpecs(data); err != nil {
			return nil, nil, fmt.Errorf("rooms file %s: %w", cfg.RoomsFile, err)
		}
	}
	name := cfg.NodeName
	if name == "" {
		name = newNodeName()
	}
	// The presence identity is new on every start, so a restarted node
	// never claims the sessions its previous life left behind.
	nodeID := name + "-" + newNodeName()
	log = log.With("node", nodeID)
	var (
		sio       *socketio.Server // set below; NATS callbacks may come first
		sioReady  = make(chan struct{})
		lossMu    sync.Mutex
		lossTimer *time.Timer
	)
	cl, err := cluster.Start(ctx, cluster.Options{
		DataDir:    cfg.DataDir,
		NATSURL:    cfg.NATSURL,
		ListenAddr: cfg.NATSListen,
		Name:       nodeID,
		Replicas:   cfg.NATSReplicas,
		// Zero with --nats-url (config refuses --nats-sync there).
		SyncInterval: cfg.NATSSync.Interval,
		SyncAlways:   cfg.NATSSync.Always,

		CredentialsFile: cfg.NATSCreds,
		RootCAFile:      cfg.NATSCA,
		OnConnection: func(connected bool) {
			// A failover to another NATS server takes a moment and is
			// harmless; a node still cut off after natsLossGrace closes
			// every client connection, so clients reconnect through the
			// load balancer to a node that reaches NATS (readyz says
			// unready meanwhile).
			select {
			case <-sioReady:
			default:
				return
			}
			lossMu.Lock()
			if lossTimer != nil {
				lossTimer.Stop()
				lossTimer = nil
			}
			if !connected {
				lossTimer = time.AfterFunc(natsLossGrace, func() {
					log.Warn("NATS unreachable: refusing and closing client connections", "after", natsLossGrace)
					sio.EngineIO().SetAvailable(false)
					sio.EngineIO().CloseAll(engineio.ErrBackendUnavailable)
				})
			}
			lossMu.Unlock()
			if connected {
				sio.EngineIO().SetAvailable(true)
			}
		},
		Logger:  log.With("component", "nats"),
		NodeTTL: nodeTTL,

		AttachmentRetention: cfg.AttachmentRetention,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start nats: %w", err)
	}
	svc := chat.New(chat.Config{
		NodeID:          nodeID,
		Predecessor:     predecessor(cfg.NATSURL == "", cfg.NodeName),
		Grace:           cfg.Grace,
		PersistentRooms: rooms,
		MessageLimit:    cfg.LimitMessages,
		TypingFanout:    cfg.TypingFanout,
		Logger:          log.With("component", "chat"),
	}, chat.Stores{
		Users:     cl.Users(),
		Nicks:     cl.Nicks(),
		Tokens:    cl.Tokens(),
		Rooms:     cl.Rooms(),
		RoomNames: cl.RoomNames(),
		Nodes:     cl.Nodes(),
	}, cl.Log(), cl.Signals())

	lim := newLimits(cfg, svc.LiveNodes)
	uploadsPerMinute, uploadBurst := math.Inf(1), 1
	if !cfg.LimitUploads.Off {
		uploadsPerMinute, uploadBurst = float64(cfg.LimitUploads.Rate())*60, cfg.LimitUploads.Burst
	}
	files := attachments.New(attachments.Config{
		Retention:        cfg.AttachmentRetention,
		MaxSize:          cfg.AttachmentMaxSize,
		UploadsPerMinute: uploadsPerMinute,
		UploadBurst:      uploadBurst,
		AdmitUpload:      lim.admitUpload,
		Logger:           log.With("component", "attachments"),
	}, cl.Attachments(), cl.AttachMeta(), svc)
	svc.UseFiles(fileLookup{files})

	sio = socketio.NewServer(socketio.Config{
		EngineIO: engineio.Config{
			PingInterval:   cfg.PingInterval,
			PingTimeout:    cfg.PingTimeout,
			MaxPayload:     cfg.MaxPayload,
			WriteQueue:     cfg.WriteQueueBytes,
			AllowedOrigins: cfg.AllowedOrigins,
			SIDPrefix:      name + ".",
			ClientAddr:     lim.clientAddr,
			Admit:          lim.admitHandshake,
			Logger:         log.With("component", "engineio"),
		},
		Logger: log.With("component", "socketio"),
	})
	close(sioReady)
	gw := realtime.New(realtime.Config{
		TypingLimit: cfg.LimitTyping,
		SwitchLimit: cfg.LimitRoomSwitches,
		Admit:       lim.admitConnect,
		Logger:      log.With("component", "realtime"),
	}, svc, sio)

	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	listener := chat.Listener(gw)
	if testHooks.wrapListener != nil {
		listener = testHooks.wrapListener(gw)
	}
	if err := svc.Start(svcCtx, listener); err != nil {
		stopSvc()
		_ = cl.Close(context.Background())
		return nil, nil, err
	}
	go gw.Run(svcCtx)

	// The watchdog proves the chat path still turns: a marker through the
	// room-event delivery loop, then a turn of every lock the path takes.
	wd := watchdog.New(watchdog.Config{
		Interval: time.Second,
		Timeout:  cmp.Or(testHooks.watchdogTimeout, watchdogTimeout),
		Checks: []watchdog.Check{
			{Name: "room event delivery loop", Run: cl.Log().Barrier},
			{Name: "chat service locks", Run: func(context.Context) error { svc.Probe(); return nil }},
			{Name: "chat namespace locks", Run: func(context.Context) error { gw.Probe(); return nil }},
			{Name: "engine.io session table", Run: func(context.Context) error { sio.EngineIO().Probe(); return nil }},
		},
		Logger: log.With("component", "watchdog"),
	})
	go wd.Run(svcCtx)
	// Serve once the first round has ended, so that a node that just
	// started is not reported unready for want of a round; a round that
	// does not end within the timeout leaves the node serving, unready,
	// with the stuck check logged.
	select {
	case <-wd.FirstRound():
	case <-time.After(cmp.Or(testHooks.watchdogTimeout, watchdogTimeout)):
	}
	stuckUnhealthy := cmp.Or(testHooks.stuckUnhealthy, stuckUnhealthy)
	front := &chatFront{sio: sio, gw: gw, log: log}

	httpapi.New(httpapi.Config{
		AdmitNewUser:      lim.admitNewUser,
		AdmitRoomCreation: lim.admitRoomCreation,
		Logger:            log.With("component", "http"),
	}, svc).Register(mux)
	files.Register(mux)
	mux.Handle("/socket.io/", sio)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if front.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: shutting down\n")
			return
		}
		if err := cl.Ready(rctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: NATS unavailable\n")
			return
		}
		if err := wd.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+err.Error()+"\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	// Liveness: a chat path stuck for stuckUnhealthy will not come back by
	// itself; say so, so that a supervisor restarts the node. (NATS being
	// away is a readiness matter: the node waits for it.)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if st := wd.Stuck(); st != nil && st.For >= stuckUnhealthy {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "unhealthy: "+st.Error()+"\n")
			return
		}
		_, _ = io.WriteString(w, "OK")
	})
	// The web client takes every path the routes above do not claim: the
	// mux prefers the longer patterns, so /api/, /socket.io/, /healthz and
	// /readyz keep their handlers.
	ui := webui.New(webui.Config{FS: web.Dist(), Logger: log.With("component", "webui")})
	if !ui.Built() {
		log.Warn("the web client was not built; / explains how (make web, then rebuild)")
	}
	mux.Handle("/", ui)
	closeChat := func(ctx context.Context) error {
		stopSvc()
		if err := cl.Close(ctx); err != nil {
			return fmt.Errorf("close nats: %w", err)
		}
		return nil
	}
	return front, closeChat, nil
}

// chatFront is the chat's client side, shut down in order: a drain (the
// node turns unready and refuses new sessions, client calls in flight
// finish and queue their acks, new calls are refused with unavailable),
// then the sessions close, their queued frames sent first; clients see a
// transport close, not a Socket.IO disconnect, so they reconnect (through
// a load balancer, to another node) and resume there.
type chatFront struct {
	sio      *socketio.Server
	gw       *realtime.Gateway
	log      *slog.Logger
	draining atomic.Bool
}

// Shutdown drains, then closes every session; both within ctx.
func (f *chatFront) Shutdown(ctx context.Context) error {
	f.draining.Store(true)
	f.sio.EngineIO().SetAvailable(false)
	began := time.Now()
	err := f.gw.Drain(ctx)
	f.log.Info("client calls drained", "took", time.Since(began).Round(time.Millisecond), "err", err)
	return errors.Join(err, f.sio.Shutdown(ctx))
}

// fileLookup shows the attachments service to the chat service.
type fileLookup struct{ s *attachments.Service }

func (f fileLookup) Lookup(ctx context.Context, id string) (chat.FileInfo, error) {
	in, err := f.s.Lookup(ctx, id)
	if err != nil {
		return chat.FileInfo{}, err // wraps chat.ErrNotFound when unknown or expired
	}
	return chat.FileInfo{ID: in.ID, Owner: in.Owner, URL: in.URL, ThumbnailURL: in.ThumbnailURL,
		ContentType: in.ContentType, Width: in.Width, Height: in.Height, ExpiresAt: in.ExpiresAt}, nil
}

var _ chat.Files = fileLookup{}

// newNodeName returns a random name for a node started without one.
func newNodeName() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "n" + hex.EncodeToString(b[:])
}

// predecessor tells the earlier lives of this node among the node ids
// in the shared state (see chat.Config.Predecessor): on an embedded NATS
// server every other node id is one (no other process reaches it); on a
// shared NATS, those of the same --node-name (unique within a cluster, as
// a load balancer routes sessions by it); without one, none can be told.
func predecessor(embedded bool, name string) func(string) bool {
	switch {
	case embedded:
		return func(string) bool { return true }
	case name != "":
		return func(id string) bool {
			life, ok := strings.CutPrefix(id, name+"-")
			return ok && !strings.Contains(life, "-")
		}
	}
	return nil
}
