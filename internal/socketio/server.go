package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/siocodec"
)

// Config configures a Server. Zero fields take the defaults shown.
type Config struct {
	EngineIO engineio.Config
	// ConnectTimeout closes an Engine.IO session that has not joined any
	// namespace in time (default 45s, as the reference server).
	ConnectTimeout time.Duration
	// AckTimeout is the default wait for a client's ack (default 10s).
	AckTimeout time.Duration
	// MaxPendingAcks caps the acks a socket may await at once (default 256).
	MaxPendingAcks int
	// MaxNamespaces caps the namespaces one connection may join (default 8).
	MaxNamespaces int
	// Decoder limits inbound packets (attachments per packet, JSON depth).
	Decoder siocodec.DecoderOptions
	Logger  *slog.Logger // default slog.Default()
}

func (c *Config) setDefaults() {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 45 * time.Second
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 10 * time.Second
	}
	if c.MaxPendingAcks <= 0 {
		c.MaxPendingAcks = 256
	}
	if c.MaxNamespaces <= 0 {
		c.MaxNamespaces = 8
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.EngineIO.Logger == nil {
		c.EngineIO.Logger = c.Logger
	}
}

// Server is a Socket.IO server. Register namespaces with Of before serving;
// after that it is safe for concurrent use.
type Server struct {
	cfg  Config
	log  *slog.Logger
	eio  *engineio.Server
	mu   sync.RWMutex
	nsps map[string]*Namespace
	// Packets received and queued (a broadcast counts one a recipient);
	// see Stats.
	packetsIn, packetsOut atomic.Uint64
}

// Stats are a Server's running totals of Socket.IO packets.
type Stats struct {
	PacketsIn, PacketsOut uint64
}

// Stats returns the packets received from and queued to clients since
// the start (a broadcast counts one a recipient). Safe for concurrent use.
func (s *Server) Stats() Stats {
	return Stats{PacketsIn: s.packetsIn.Load(), PacketsOut: s.packetsOut.Load()}
}

// NewServer returns a Server with no namespace.
func NewServer(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, nsps: make(map[string]*Namespace)}
	s.eio = engineio.NewServer(cfg.EngineIO, (*eioHandler)(s))
	return s
}

// Of returns the namespace called name ("/" or "/x"), creating it.
func (s *Server) Of(name string) *Namespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nsps[name]; ok {
		return n
	}
	n := newNamespace(s, name)
	s.nsps[name] = n
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// EngineIO returns the underlying Engine.IO server.
func (s *Server) EngineIO() *engineio.Server { return s.eio }

// ServeHTTP serves the Socket.IO endpoint; mount it on "/socket.io/".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eio.ServeHTTP(w, r) }

// Shutdown closes every connection (clients will reconnect elsewhere or
// later) and waits, bounded by ctx, for their handlers to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.eio.Shutdown(ctx); err != nil {
		return fmt.Errorf("socket.io shutdown: %w", err)
	}
	return nil
}

// conn is the Socket.IO state of one Engine.IO session.
type conn struct {
	srv     *Server
	sess    *engineio.Session
	dec     *siocodec.Decoder // used only by the session's message goroutine
	mu      sync.Mutex
	timer   *time.Timer // the connect timeout; nil once a socket connected
	sockets []*Socket   // at most Config.MaxNamespaces, one per namespace
	closed  bool
}

// socket returns the connection's socket in namespace nsp, or nil; c.mu is
// held. A slice, not a map: a connection has one or a few sockets, and an
// idle connection should hold as little as it can.
func (c *conn) socket(nsp string) *Socket {
	for _, s := range c.sockets {
		if s.nsp.name == nsp {
			return s
		}
	}
	return nil
}

// eioHandler adapts Server to engineio.Handler.
type eioHandler Server

func (h *eioHandler) OnOpen(sess *engineio.Session) {
	s := (*Server)(h)
	c := &conn{srv: s, sess: sess, dec: siocodec.NewDecoder(s.cfg.Decoder)}
	c.timer = time.AfterFunc(s.cfg.ConnectTimeout, func() {
		c.mu.Lock()
		idle := len(c.sockets) == 0
		c.mu.Unlock()
		if idle {
			sess.CloseWithReason(ErrConnectTimeout)
		}
	})
	sess.SetValue(c)
}

func (h *eioHandler) OnMessage(sess *engineio.Session, data []byte, binary bool) {
	c, _ := sess.Value().(*conn)
	if c == nil {
		return
	}
	p, err := c.dec.Add(data, binary)
	if err != nil {
		c.srv.log.Debug("socket.io bad packet", "sid", sess.ID(), "err", err)
		sess.CloseWithReason(engineio.ErrParse)
		return
	}
	if p != nil {
		c.dispatch(p)
	}
}

func (h *eioHandler) OnClose(sess *engineio.Session, reason error) {
	c, _ := sess.Value().(*conn)
	if c == nil {
		return
	}
	c.mu.Lock()
	c.closed = true
	socks := c.sockets
	c.sockets = nil
	t := c.timer
	c.timer = nil
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	r := closeReason(reason)
	for _, sock := range socks {
		sock.nsp.remove(sock, r)
	}
}

// closeReason maps an Engine.IO close reason to the reference server's
// disconnect reason strings.
func closeReason(err error) string {
	switch {
	case errors.Is(err, engineio.ErrClientClose):
		return ReasonTransportClose
	case errors.Is(err, engineio.ErrPingTimeout):
		return ReasonPingTimeout
	case errors.Is(err, engineio.ErrServerShutdown):
		return ReasonServerShutdown
	case errors.Is(err, engineio.ErrBackendUnavailable):
		return ReasonBackendUnavailable
	case errors.Is(err, engineio.ErrParse), errors.Is(err, engineio.ErrTooLarge):
		return ReasonParseError
	case errors.Is(err, engineio.ErrSlowConsumer):
		return ReasonSlowConsumer
	case errors.Is(err, ErrForcedClose), errors.Is(err, engineio.ErrClosedByServer):
		return ReasonForcedClose
	}
	return ReasonTransportError
}

// Disconnect reasons passed to disconnect handlers.
const (
	ReasonTransportClose     = "transport close"
	ReasonTransportError     = "transport error"
	ReasonPingTimeout        = "ping timeout"
	ReasonParseError         = "parse error"
	ReasonServerShutdown     = "server shutting down"
	ReasonBackendUnavailable = "backend unavailable"
	ReasonSlowConsumer       = "slow consumer"
	ReasonForcedClose        = "forced close"
	ReasonClientNamespace    = "client namespace disconnect"
	ReasonServerNamespace    = "server namespace disconnect"
	ReasonForcedServerNsp    = "forced server close"
	reasonConnectionFailed   = "connect refused"
)

// dispatch handles one complete packet on the session's message goroutine.
func (c *conn) dispatch(p *siocodec.Packet) {
	c.srv.packetsIn.Add(1)
	c.mu.Lock()
	sock := c.socket(p.Namespace)
	c.mu.Unlock()
	switch p.Type {
	case siocodec.Connect:
		if sock != nil {
			c.srv.log.Debug("socket.io duplicate connect", "sid", c.sess.ID(), "nsp", p.Namespace)
			return
		}
		c.connect(p)
	case siocodec.Disconnect:
		if sock != nil {
			c.detach(sock)
			sock.nsp.remove(sock, ReasonClientNamespace)
		}
	case siocodec.Event, siocodec.BinaryEvent:
		if sock == nil {
			c.sess.CloseWithReason(ErrForcedClose)
			return
		}
		sock.onEvent(p)
	case siocodec.Ack, siocodec.BinaryAck:
		if sock == nil {
			c.sess.CloseWithReason(ErrForcedClose)
			return
		}
		sock.onAck(p)
	default: // CONNECT_ERROR is server→client only
		c.sess.CloseWithReason(engineio.ErrParse)
	}
}

func (c *conn) connect(p *siocodec.Packet) {
	nsp := c.srv.namespace(p.Namespace)
	if nsp == nil {
		c.sendConnectError(p.Namespace, &ConnectRefusal{Message: "Invalid namespace"})
		return
	}
	c.mu.Lock()
	full := len(c.sockets) >= c.srv.cfg.MaxNamespaces
	c.mu.Unlock()
	if full {
		c.sendConnectError(p.Namespace, &ConnectRefusal{Message: "Too many namespaces"})
		return
	}
	auth := p.Data
	if len(auth) == 0 {
		auth = json.RawMessage("{}")
	}
	sock := newSocket(nsp, c) // auth goes to the handler only: a socket keeps none of its CONNECT
	if h := nsp.onConnect; h != nil {
		// The handler's context is its own, ended when it returns: the
		// socket's (Context) is made only if something asks for it. The
		// session's close (a ping timeout, a shutdown) ends it at once;
		// Handler.OnClose itself waits for this handler to return.
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := c.sess.AfterClose(func(reason error) {
			cancel(fmt.Errorf("%w: %s", ErrSocketClosed, closeReason(reason)))
		})
		err := h(ctx, sock, auth)
		stop()
		cancel(errConnectReturned)
		if err != nil {
			sock.end(err)
			var ce *ConnectRefusal
			if !errors.As(err, &ce) {
				c.srv.log.Warn("socket.io connect handler failed", "nsp", nsp.name, "err", err)
				ce = &ConnectRefusal{Message: "internal_error"}
			}
			c.sendConnectError(p.Namespace, ce)
			return
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		// The connect handler accepted it (it may have joined rooms and
		// counted it): undo that as for any disconnection.
		nsp.remove(sock, ReasonTransportClose)
		return
	}
	c.sockets = append(c.sockets, sock)
	t := c.timer
	c.timer = nil
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	nsp.add(sock)
	data, _ := json.Marshal(struct {
		SID string `json:"sid"`
	}{sock.id})
	if c.sess.SendAnswer(packetFrames(&siocodec.Packet{Type: siocodec.Connect, Namespace: nsp.name, ID: siocodec.NoID, Data: data})...) == nil {
		c.srv.packetsOut.Add(1)
	}
	// Whatever reached the socket before (rooms joined in the connect
	// handler receive broadcasts) follows the CONNECT reply.
	sock.release()
	if h := nsp.onConnection; h != nil {
		h(sock)
	}
}

// detach forgets sock on this connection.
func (c *conn) detach(sock *Socket) {
	c.mu.Lock()
	for i, s := range c.sockets {
		if s == sock {
			c.sockets = slices.Delete(c.sockets, i, i+1)
			break
		}
	}
	c.mu.Unlock()
}

func (c *conn) sendConnectError(nsp string, ce *ConnectRefusal) {
	data, err := json.Marshal(ce)
	if err != nil {
		data = []byte(`{"message":"internal_error"}`)
	}
	if c.sess.SendAnswer(packetFrames(&siocodec.Packet{Type: siocodec.ConnectError, Namespace: nsp, ID: siocodec.NoID, Data: data})...) == nil {
		c.srv.packetsOut.Add(1)
	}
}

// ConnectRefusal refuses a connection to a namespace: the client receives a
// CONNECT_ERROR packet (connect_error event) with this message and data.
type ConnectRefusal struct {
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *ConnectRefusal) Error() string { return "socket.io connect refused: " + e.Message }
