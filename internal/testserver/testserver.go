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
	return &Server{eio: engineio.NewServer(ecfg, echo{}), sio: sio}
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

// echo sends every Engine.IO message back as it came.
type echo struct{}

func (echo) OnOpen(*engineio.Session) {}

func (echo) OnMessage(s *engineio.Session, data []byte, binary bool) {
	if binary {
		_ = s.Send(eiocodec.NewBinaryFrame(data))
		return
	}
	_ = s.Send(eiocodec.NewMessageFrame(data))
}

func (echo) OnClose(*engineio.Session, error) {}
