package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chatrooms/chatrooms/internal/attachments"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/config"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/httpapi"
	"github.com/chatrooms/chatrooms/internal/metrics"
	"github.com/chatrooms/chatrooms/internal/readiness"
	"github.com/chatrooms/chatrooms/internal/realtime"
	"github.com/chatrooms/chatrooms/internal/socketio"
	"github.com/chatrooms/chatrooms/internal/webui"
	"github.com/chatrooms/chatrooms/web"
)

// natsLossGrace is how long a node may be cut off from NATS (e.g. while
// failing over to another server) before it closes its clients.
const natsLossGrace = 3 * time.Second

// startChat wires the chat service: NATS (embedded or external), the
// service, the Socket.IO gateway and the HTTP API on mux. The returned
// function stops the service and closes NATS; call it after the HTTP
// server and the Socket.IO sessions are down.
//
// The parts are built in dependency order, each given what it uses
// already built: the Socket.IO server and the NATS-loss guard over it
// before NATS (whose connection callback is the guard's), the
// attachments before the chat service that looks them up.
func startChat(ctx context.Context, cfg *config.Config, log *slog.Logger, mux *http.ServeMux, m *metrics.Metrics) (*chatFront, func(context.Context) error, error) {
	rooms, err := persistentRooms(cfg.RoomsFile)
	if err != nil {
		return nil, nil, roomsFileError(cfg.RoomsFile, err)
	}
	unlock := func() {}
	if cfg.NATSURL == "" {
		if unlock, err = prepareDataDir(cfg.DataDir); err != nil {
			return nil, nil, err
		}
	}
	name := cmp.Or(cfg.NodeName, newNodeName())
	// The presence identity is new on every start, so a restarted node
	// never claims the sessions its previous life left behind.
	nodeID := name + "-" + newNodeName()
	log = log.With("node", nodeID)

	lim := newLimits(cfg)
	lim.metrics = m
	scfg := socketioConfig(cfg, name, lim, log)
	if m != nil {
		scfg.EngineIO.FramesWritten = m.FramesWritten
	}
	sio := socketio.NewServer(scfg)
	// A failover to another NATS server takes a moment and is harmless;
	// a node still cut off after natsLossGrace closes every client
	// connection, so clients reconnect through the load balancer to a
	// node that reaches NATS (readyz says unready meanwhile).
	guard := readiness.NewGuard(readiness.GuardConfig{
		Grace:  natsLossGrace,
		Reason: engineio.ErrBackendUnavailable,
		Logger: log.With("component", "nats"),
	}, sio.EngineIO())
	cl, err := cluster.Start(ctx, clusterOptions(cfg, nodeID, guard.Connected, log))
	if err != nil {
		guard.Stop()
		unlock()
		if errors.Is(err, cluster.ErrUnreachable) {
			return nil, nil, natsUnreachableError(cfg, err)
		}
		return nil, nil, fmt.Errorf("start nats: %w", err)
	}
	acfg := attachmentsConfig(cfg, lim, log)
	if m != nil {
		acfg.Metrics = m
	}
	files := attachments.New(acfg, cl.Attachments(), cl.AttachMeta())
	svc := chat.New(chat.Config{
		NodeID:          nodeID,
		Predecessor:     predecessor(cfg.NATSURL == "", cfg.NodeName),
		Grace:           cfg.Grace,
		PersistentRooms: rooms,
		MessageLimit:    cfg.LimitMessages,
		TypingFanout:    cfg.TypingFanout,
		Files:           files,
		Logger:          log.With("component", "chat"),
	}, chatStores(cl), logWithMetrics(cl.Log(), m), cl.Signals())
	rcfg := realtime.Config{
		TypingLimit: cfg.LimitTyping,
		SwitchLimit: cfg.LimitRoomSwitches,
		Admit:       lim.admitConnect,
		Logger:      log.With("component", "realtime"),
	}
	if m != nil {
		rcfg.Metrics = m
	}
	gw := realtime.New(rcfg, svc, sio)

	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	listener := chat.Listener(gw)
	if testHooks.wrapListener != nil {
		listener = testHooks.wrapListener(gw)
	}
	if err := svc.Start(svcCtx, listener); err != nil {
		stopSvc()
		guard.Stop()
		_ = cl.Close(context.WithoutCancel(ctx))
		unlock()
		return nil, nil, err
	}
	go gw.Run(svcCtx)
	wd := startWatchdog(svcCtx, log, cl, svc, gw, sio)
	watchMetrics(m, sio, cl, svc, wd)
	front := &chatFront{sio: sio, gw: gw, guard: guard, log: log}

	shared := lim.shared(cfg, svc.LiveNodes)
	httpapi.New(httpapi.Config{
		AdmitNewUser:      shared.admitNewUser,
		AdmitRoomCreation: shared.admitRoomCreation,
		Client:            httpapi.NewClientConfig(svc.Config(), files.Config()),
		Logger:            log.With("component", "http"),
	}, svc).Register(mux)
	files.Register(mux, svc)
	mux.Handle("/socket.io/", sio)
	mux.Handle("GET /readyz", readyz(front.draining.Load, cl, wd))
	mux.Handle("GET /healthz", healthz(wd, cmp.Or(testHooks.stuckUnhealthy, stuckUnhealthy)))
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
		guard.Stop()
		err := cl.Close(ctx)
		unlock() // the embedded server is down (or Close gave up on it)
		if err != nil {
			return fmt.Errorf("close nats: %w", err)
		}
		return nil
	}
	return front, closeChat, nil
}

// persistentRooms returns the rooms of the rooms file, or
// chat.DefaultRooms without one.
func persistentRooms(file string) ([]chat.RoomSpec, error) {
	if file == "" {
		return chat.DefaultRooms, nil
	}
	data, err := os.ReadFile(file) //nolint:gosec // G304: the operator's --rooms-file
	if err != nil {
		return nil, err
	}
	rooms, err := chat.ParseRoomSpecs(data)
	if err != nil {
		return nil, err
	}
	return rooms, nil
}

// socketioConfig is the Socket.IO (and Engine.IO) configuration of cfg
// for the node called name, with the per-address handshake limits of lim.
func socketioConfig(cfg *config.Config, name string, lim *limits, log *slog.Logger) socketio.Config {
	return socketio.Config{
		EngineIO: engineio.Config{
			PingInterval:   cfg.PingInterval,
			PingTimeout:    cfg.PingTimeout,
			MaxPayload:     cfg.MaxPayload,
			WriteQueue:     cfg.WriteQueueBytes,
			WriteInterval:  cfg.WriteInterval,
			AllowedOrigins: cfg.AllowedOrigins,
			SIDPrefix:      name + ".",
			ClientAddr:     lim.clientAddr,
			Admit:          lim.admitHandshake,
			Logger:         log.With("component", "engineio"),
		},
		Logger: log.With("component", "socketio"),
	}
}

// chatStores are the chat service's buckets on cl.
func chatStores(cl *cluster.Cluster) chat.Stores {
	return chat.Stores{
		Users:     cl.Users(),
		Nicks:     cl.Nicks(),
		Tokens:    cl.Tokens(),
		Rooms:     cl.Rooms(),
		RoomNames: cl.RoomNames(),
		Nodes:     cl.Nodes(),
	}
}

// clusterOptions are the NATS options of cfg for node nodeID;
// onConnection is told when the connection is lost and back.
func clusterOptions(cfg *config.Config, nodeID string, onConnection func(bool), log *slog.Logger) cluster.Options {
	return cluster.Options{
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
		OnConnection:    onConnection,
		Logger:          log.With("component", "nats"),
		NodeTTL:         nodeTTL,
		StartTimeout:    cfg.NATSStartTimeout,

		AttachmentRetention: cfg.AttachmentRetention,
	}
}

// attachmentsConfig is the attachments' configuration of cfg, with the
// per-address upload limit of lim.
func attachmentsConfig(cfg *config.Config, lim *limits, log *slog.Logger) attachments.Config {
	uploadsPerMinute, uploadBurst := math.Inf(1), 1
	if !cfg.LimitUploads.Off {
		uploadsPerMinute, uploadBurst = float64(cfg.LimitUploads.Rate())*60, cfg.LimitUploads.Burst
	}
	return attachments.Config{
		Retention:        cfg.AttachmentRetention,
		MaxSize:          cfg.AttachmentMaxSize,
		UploadsPerMinute: uploadsPerMinute,
		UploadBurst:      uploadBurst,
		AdmitUpload:      lim.admitUpload,
		Logger:           log.With("component", "attachments"),
	}
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
	guard    *readiness.Guard
	log      *slog.Logger
	draining atomic.Bool
}

// Shutdown drains, then closes every session; both within ctx.
func (f *chatFront) Shutdown(ctx context.Context) error {
	f.draining.Store(true)
	f.guard.Stop() // NATS coming back must not let clients in again
	f.sio.EngineIO().SetAvailable(false)
	began := time.Now()
	err := f.gw.Drain(ctx)
	f.log.Info("client calls drained", "took", time.Since(began).Round(time.Millisecond), "err", err)
	return errors.Join(err, f.sio.Shutdown(ctx))
}

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
