package testserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/socketio"
)

// Config configures the test-mode server.
type Config struct {
	PingInterval time.Duration
	PingTimeout  time.Duration
	MaxPayload   int64
	WriteQueue   int64
	Logger       *slog.Logger
}

// Server is the test-mode server. Safe for concurrent use.
type Server struct {
	eio *engineio.Server
	sio *socketio.Server
}

// New returns a test-mode server.
func New(cfg Config) *Server {
	ecfg := engineio.Config{
		PingInterval:   cfg.PingInterval,
		PingTimeout:    cfg.PingTimeout,
		MaxPayload:     cfg.MaxPayload,
		WriteQueue:     cfg.WriteQueue,
		AllowedOrigins: []string{"*"},
		Logger:         cfg.Logger,
	}
	sio := socketio.NewServer(socketio.Config{
		EngineIO:       ecfg,
		ConnectTimeout: time.Second, // the suites need > ~950 ms
		Logger:         cfg.Logger,
	})
	setupNamespaces(sio)
	return &Server{eio: engineio.NewServer(ecfg, Echo{}), sio: sio}
}

// Register mounts the endpoints on mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("/engine.io/", s.eio)
	mux.Handle("/socket.io/", s.sio)
}

// Shutdown closes every session.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.eio.Shutdown(ctx), s.sio.Shutdown(ctx))
}

// Echo is the engineio.Handler of the /engine.io/ endpoint: it sends every
// Engine.IO message back as it came. Tests that build an engineio.Server
// of their own use it too.
type Echo struct{}

// OnOpen does nothing.
func (Echo) OnOpen(*engineio.Session) {}

// OnMessage sends the message back, text as text and binary as binary.
func (Echo) OnMessage(s *engineio.Session, data []byte, binary bool) {
	if binary {
		_ = s.Send(eiocodec.NewBinaryFrame(data))
		return
	}
	_ = s.Send(eiocodec.NewMessageFrame(data))
}

// OnClose does nothing.
func (Echo) OnClose(*engineio.Session, error) {}
