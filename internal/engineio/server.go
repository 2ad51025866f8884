package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"hash/maphash"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Handler receives the events of every session of a Server. OnOpen runs
// once, before any OnMessage of that session; OnMessage calls of one session
// never overlap and arrive in order; OnClose runs once, after the last
// OnMessage, on a goroutine of its own (never the caller of Send, Close or
// any other Session method, whatever locks that caller holds). Calls for
// different sessions run concurrently.
type Handler interface {
	OnOpen(s *Session)
	// OnMessage receives one message packet; data is owned by the callee.
	OnMessage(s *Session, data []byte, binary bool)
	OnClose(s *Session, reason error)
}

// Config configures a Server. Zero fields take the defaults shown.
type Config struct {
	PingInterval time.Duration // default 25s
	PingTimeout  time.Duration // default 20s
	MaxPayload   int64         // largest message or polling body; default 1,000,000
	MaxSessions  int           // open sessions at once; default 100,000
	MaxPackets   int           // packets in one polling body; default 4,096
	WriteQueue   int64         // bytes queued per session before it is dropped as slow; default 4 MiB
	WriteTimeout time.Duration // one vectored write; default 10s
	// WriteInterval, if positive, paces the write pool (writepool.go):
	// its workers go round the WebSocket sessions with frames to send at
	// most once an interval, so a session that is sent to again and again
	// gets one write an interval with all that was queued meanwhile. A
	// frame to a session when no write is under way goes at once. It
	// trades at most an interval of latency, under load only, for fewer
	// system calls and packets per delivery. 0: no pacing.
	WriteInterval time.Duration
	// FramesWritten, if set, is called after each write to a client's
	// socket or long-poll answer that carried frames stamped with an
	// origin (Frame.SetOrigin), with the time since the origin of each
	// (in one call, or several for a long batch). It must be cheap and
	// safe for concurrent use, and must not keep the slice.
	FramesWritten  func(sinceOrigin []time.Duration)
	UpgradeTimeout time.Duration // polling→websocket probe; default 10s
	// AllowedOrigins lists the Origin values accepted besides same-origin
	// requests and requests without Origin; "*" accepts every origin.
	// Allowed cross origins get CORS headers.
	AllowedOrigins []string
	// DisablePolling and DisableWebSocket turn a transport off.
	DisablePolling   bool
	DisableWebSocket bool
	// SIDPrefix is prepended to every session id (e.g. a node id that a
	// load balancer can route on). Must be URL-safe.
	SIDPrefix string
	// ClientAddr, if set, returns the address of the client behind a
	// request (e.g. resolved through trusted proxies); Session.RemoteAddr
	// reports it. Default: the request's RemoteAddr.
	ClientAddr func(r *http.Request) string
	// Admit, if set, is asked before every handshake (a request without
	// sid that would open a session). It returns false after writing the
	// refusal itself (e.g. 429 with Retry-After); otherwise release, if
	// not nil, is called once when the session it admitted ends, or at
	// once if none was opened. It must not block for long; it runs on the
	// request's goroutine with no lock held.
	Admit  func(w http.ResponseWriter, r *http.Request) (release func(), ok bool)
	Logger *slog.Logger // default slog.Default()
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PingInterval, 25*time.Second)
	def(&c.PingTimeout, 20*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.UpgradeTimeout, 10*time.Second)
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1_000_000
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 100_000
	}
	if c.MaxPackets <= 0 {
		c.MaxPackets = 4096
	}
	if c.WriteQueue <= 0 {
		c.WriteQueue = 4 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

const numShards = 64

type shard struct {
	mu sync.RWMutex
	m  map[string]*Session
	// released are the Admit releases of the shard's sessions.
	released map[*Session]func()
}

// Server is an Engine.IO v4 server; mount it as an http.Handler on its path
// (e.g. "/engine.io/"). It is safe for concurrent use.
type Server struct {
	cfg      Config
	h        Handler
	log      *slog.Logger
	seed     maphash.Seed
	shards   [numShards]shard
	sessions atomic.Int64
	counters counters
	closing  atomic.Bool
	// unavailable refuses new sessions (503) while the application cannot
	// serve them (see SetAvailable).
	unavailable atomic.Bool
	wg          sync.WaitGroup // sessions not yet finalized and their goroutines
	writers     *writePool     // writes the WebSocket sessions' queues
}

// NewServer returns a Server that passes sessions to h.
func NewServer(cfg Config, h Handler) *Server {
	cfg.setDefaults()
	s := &Server{cfg: cfg, h: h, log: cfg.Logger, seed: maphash.MakeSeed()}
	s.writers = newWritePool(s)
	for i := range s.shards {
		s.shards[i].m = make(map[string]*Session)
		s.shards[i].released = make(map[*Session]func())
	}
	return s
}

// written reports the stamped frames among frames as written now, in
// calls of at most cap(scratch) ages (scratch is the caller's, so that
// the pool's writes allocate nothing for it: an array of written's own
// would move to the heap, since fw may keep it for all the compiler
// knows).
func (srv *Server) written(frames []*Frame, scratch []time.Duration) {
	fw := srv.cfg.FramesWritten
	if fw == nil {
		return
	}
	now := time.Now().UnixNano()
	ages := scratch[:0]
	for _, f := range frames {
		o := f.Origin()
		if o == 0 {
			continue
		}
		if len(ages) > 0 && len(ages) == cap(ages) {
			fw(ages)
			ages = ages[:0]
		}
		ages = append(ages, time.Duration(now-o))
	}
	if len(ages) > 0 {
		fw(ages)
	}
}

// framesWrittenChunk is the size of the writers' scratch for written.
const framesWrittenChunk = 64

// Config returns the effective configuration, defaults applied.
func (srv *Server) Config() Config { return srv.cfg }

// SessionCount is the number of open sessions.
func (srv *Server) SessionCount() int { return int(srv.sessions.Load()) }

func (srv *Server) shard(sid string) *shard {
	return &srv.shards[maphash.String(srv.seed, sid)%numShards]
}

func (srv *Server) lookup(sid string) *Session {
	sh := srv.shard(sid)
	sh.mu.RLock()
	s := sh.m[sid]
	sh.mu.RUnlock()
	return s
}

func (srv *Server) remove(s *Session) {
	sh := srv.shard(s.id)
	sh.mu.Lock()
	if sh.m[s.id] == s {
		delete(sh.m, s.id)
		srv.sessions.Add(-1)
	}
	release := sh.released[s]
	delete(sh.released, s)
	sh.mu.Unlock()
	if release != nil {
		release()
	}
}

// admission follows one admitted handshake to the session it opens.
type admission struct{ s *Session }

type admissionKey struct{}

// attachRelease hands release to the session the handshake opened: it
// runs when that session is removed, or now if there is none (refused,
// failed, or already gone).
func (srv *Server) attachRelease(a *admission, release func()) {
	if a.s != nil {
		sh := srv.shard(a.s.id)
		sh.mu.Lock()
		if sh.m[a.s.id] == a.s {
			sh.released[a.s] = release
			release = nil
		}
		sh.mu.Unlock()
	}
	if release != nil {
		release()
	}
}

// register adds s unless the server is closing or full.
func (srv *Server) register(s *Session) bool {
	if srv.closing.Load() || srv.sessions.Add(1) > int64(srv.cfg.MaxSessions) {
		if !srv.closing.Load() {
			srv.sessions.Add(-1)
		}
		return false
	}
	sh := srv.shard(s.id)
	sh.mu.Lock()
	sh.m[s.id] = s
	sh.mu.Unlock()
	srv.wg.Add(1) // released by finalize
	srv.counters.opened.Add(1)
	return true
}

func newSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

type handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

func (srv *Server) openPacket(sid string, canUpgrade bool) []byte {
	hs := handshake{
		SID:          sid,
		Upgrades:     []string{},
		PingInterval: srv.cfg.PingInterval.Milliseconds(),
		PingTimeout:  srv.cfg.PingTimeout.Milliseconds(),
		MaxPayload:   srv.cfg.MaxPayload,
	}
	if canUpgrade && !srv.cfg.DisableWebSocket {
		hs.Upgrades = []string{"websocket"}
	}
	b, _ := json.Marshal(hs) // cannot fail
	return b
}

// ServeHTTP implements the Engine.IO endpoint.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !srv.originAllowed(r) {
		writeError(w, http.StatusForbidden, codeForbidden)
		return
	}
	srv.setCORS(w, r)
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		writeError(w, http.StatusBadRequest, codeUnsupportedVersion)
		return
	}
	transport := q.Get("transport")
	switch {
	case transport == "polling" && !srv.cfg.DisablePolling:
	case transport == "websocket" && !srv.cfg.DisableWebSocket:
	default:
		writeError(w, http.StatusBadRequest, codeUnknownTransport)
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusBadRequest, codeBadHandshakeMethod)
			return
		}
		if srv.closing.Load() || srv.unavailable.Load() {
			// 503 lets a load balancer try another node.
			writeError(w, http.StatusServiceUnavailable, codeBadRequest)
			return
		}
		if srv.cfg.Admit != nil {
			release, ok := srv.cfg.Admit(w, r)
			if !ok {
				return
			}
			if release != nil {
				a := &admission{}
				r = r.WithContext(context.WithValue(r.Context(), admissionKey{}, a))
				defer func() { srv.attachRelease(a, release) }()
			}
		}
		if transport == "websocket" {
			srv.openWebSocket(w, r)
		} else {
			srv.openPolling(w, r)
		}
		return
	}
	s := srv.lookup(sid)
	if s == nil {
		writeError(w, http.StatusBadRequest, codeUnknownSID)
		return
	}
	if transport == "websocket" {
		srv.upgradeWebSocket(w, r, s)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.servePoll(w, r)
	case http.MethodPost:
		s.servePost(w, r)
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest)
	}
}

func (srv *Server) newSession(r *http.Request, transport Transport) *Session {
	addr := r.RemoteAddr
	if srv.cfg.ClientAddr != nil {
		addr = srv.cfg.ClientAddr(r)
	}
	s := &Session{
		srv:        srv,
		id:         newSID(srv.cfg.SIDPrefix),
		transport:  transport,
		remoteAddr: addr,
	}
	if a, ok := r.Context().Value(admissionKey{}).(*admission); ok {
		a.s = s
	}
	return s
}

func (srv *Server) openPolling(w http.ResponseWriter, r *http.Request) {
	s := srv.newSession(r, Polling)
	if !srv.register(s) {
		writeError(w, http.StatusServiceUnavailable, codeBadRequest)
		return
	}
	body := append([]byte{'0'}, srv.openPacket(s.id, true)...)
	s.startHeartbeat()
	srv.h.OnOpen(s)
	writePayload(w, body)
}

// originAllowed reports whether r's Origin may use this server: requests
// without Origin (non-browser clients), same-origin requests and the
// configured origins.
func (srv *Server) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	for _, a := range srv.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(a, o) {
			return true
		}
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func (srv *Server) setCORS(w http.ResponseWriter, r *http.Request) {
	o := r.Header.Get("Origin")
	if o == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", o)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
}

func writeError(w http.ResponseWriter, status, code int) {
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, codeMessages[code]})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writePayload answers a poll with body and reports whether it was
// written.
func writePayload(w http.ResponseWriter, body []byte) bool {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	_, err := w.Write(body) //nolint:gosec // G705: an Engine.IO payload, served as text/plain (the protocol's type), never as HTML
	return err == nil
}

// SetAvailable says whether new sessions may be opened: while false,
// handshakes get 503 (a load balancer then tries another node); sessions
// already open are not affected.
func (srv *Server) SetAvailable(ok bool) { srv.unavailable.Store(!ok) }

// CloseAll closes every open session with reason, letting queued frames
// drain; new sessions are still accepted.
func (srv *Server) CloseAll(reason error) {
	srv.each(func(s *Session) { s.close(reason, true) })
}

// Shutdown closes every session with ErrServerShutdown, refuses new ones,
// and waits until all sessions are closed and their goroutines have ended,
// or ctx ends; then the remaining connections are closed at once and
// Shutdown returns ctx's error. It is safe to call more than once.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.closing.Store(true)
	srv.each(func(s *Session) { s.close(ErrServerShutdown, true) })
	srv.writers.kick() // a worker pausing between rounds stops pausing
	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		srv.each(func(s *Session) { s.close(ErrServerShutdown, false) })
		s := srv.SessionCount()
		srv.log.WarnContext(ctx, "engine.io shutdown grace expired", "sessions", s)
		return context.Cause(ctx)
	}
}

func (srv *Server) each(fn func(*Session)) {
	var list []*Session
	for i := range srv.shards {
		sh := &srv.shards[i]
		sh.mu.RLock()
		for _, s := range sh.m {
			list = append(list, s)
		}
		sh.mu.RUnlock()
	}
	for _, s := range list {
		fn(s)
	}
}

// Probe takes and releases, in turn, every lock of the session table and
// the write pool's: it returns once each was free. For a readiness
// watchdog; it blocks while a lock is held.
func (srv *Server) Probe() {
	for i := range srv.shards {
		sh := &srv.shards[i]
		sh.mu.Lock()
		_ = len(sh.m) // a critical section: staticcheck SA2001
		sh.mu.Unlock()
	}
	srv.writers.mu.Lock()
	_ = srv.writers.ready.len()
	srv.writers.mu.Unlock()
}
