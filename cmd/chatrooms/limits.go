package main

import (
	"net/http"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/clientaddr"
	"github.com/chatrooms/chatrooms/internal/config"
	"github.com/chatrooms/chatrooms/internal/httpx"
	"github.com/chatrooms/chatrooms/internal/metrics"
	"github.com/chatrooms/chatrooms/internal/ratelimit"
	"github.com/chatrooms/chatrooms/internal/socketio"
)

// sessionRetry is the retry_after_ms of a handshake refused for holding
// too many sessions: there is no refill to wait for, only a session to
// end, so a few seconds.
const sessionRetry = 5 * time.Second

// limits are this node's own limits per client address, at the HTTP and
// Socket.IO edges: handshakes, open sessions, uploads. They need nothing
// but the configuration, so they exist before anything that uses them.
// Safe for concurrent use.
type limits struct {
	addrs      *clientaddr.Resolver
	handshakes *ratelimit.Keyed   // Engine.IO handshakes and /chat connects
	sessions   *ratelimit.Counter // open Engine.IO sessions
	uploads    *ratelimit.Keyed
	// metrics counts the refusals by kind (a nil *metrics.Metrics
	// counts nothing).
	metrics *metrics.Metrics
}

// newLimits builds this node's limits of cfg.
func newLimits(cfg *config.Config) *limits {
	return &limits{
		addrs:      clientaddr.New(cfg.TrustedProxies, cfg.ClientAddrHeader),
		handshakes: ratelimit.New(ratelimit.Config{Limit: cfg.LimitHandshakes}),
		sessions:   ratelimit.NewCounter(cfg.MaxSessionsPerAddr),
		uploads:    ratelimit.New(ratelimit.Config{Limit: cfg.LimitAddrUploads}),
	}
}

// sharedLimits are the limits that hold for all nodes together, each node
// enforcing its share of the live nodes (so they need the chat service,
// which knows them): new users per client address, rooms created per
// user. The HTTP API applies them. Safe for concurrent use.
type sharedLimits struct {
	addrs         *clientaddr.Resolver
	newUsers      *ratelimit.Keyed
	roomCreations *ratelimit.Keyed
	metrics       *metrics.Metrics
}

// shared builds the limits of cfg that hold across nodes; liveNodes is
// how many nodes share them.
func (l *limits) shared(cfg *config.Config, liveNodes func() int) *sharedLimits {
	return &sharedLimits{
		addrs:         l.addrs,
		metrics:       l.metrics,
		newUsers:      ratelimit.New(ratelimit.Config{Limit: cfg.LimitNewUsers, Share: liveNodes}),
		roomCreations: ratelimit.New(ratelimit.Config{Limit: cfg.LimitRoomCreations, Share: liveNodes}),
	}
}

// clientAddr is the address of the client behind r (see clientaddr).
func (l *limits) clientAddr(r *http.Request) string { return l.addrs.ClientAddr(r).String() }

// addrKey is the limit key of the client behind r.
func (l *limits) addrKey(r *http.Request) string { return clientaddr.Key(l.addrs.ClientAddr(r)) }

// allow takes a token of k for key, or returns the rate_limited error.
func allow(k *ratelimit.Keyed, key, message string) *apierr.Error {
	if ok, wait := k.Allow(key); !ok {
		return apierr.RateLimited(message, wait)
	}
	return nil
}

// admitHandshake is the Engine.IO Admit hook: a handshake rate and a
// cap on open sessions per client address, refused with 429.
func (l *limits) admitHandshake(w http.ResponseWriter, r *http.Request) (func(), bool) {
	key := l.addrKey(r)
	if ce := allow(l.handshakes, key, "too many connections from your address, try again later"); ce != nil {
		l.metrics.RateLimited("handshake")
		httpx.WriteError(w, ce)
		return nil, false
	}
	release, ok := l.sessions.Acquire(key)
	if !ok {
		l.metrics.RateLimited("sessions_per_address")
		httpx.WriteError(w, apierr.RateLimited("too many open connections from your address", sessionRetry))
		return nil, false
	}
	return release, true
}

// admitConnect is the /chat CONNECT hook: it takes from the same
// per-address allowance as Engine.IO handshakes, since a client can
// connect and disconnect the namespace over one session.
func (l *limits) admitConnect(s *socketio.Socket) *apierr.Error {
	ce := allow(l.handshakes, clientaddr.KeyOf(s.Session().RemoteAddr()), "too many connections from your address, try again later")
	if ce != nil {
		l.metrics.RateLimited("connect")
	}
	return ce
}

// admitNewUser is the HTTP API's registration hook: new users per client
// address, all nodes together; a registration that creates nobody gives
// its token back.
func (l *sharedLimits) admitNewUser(r *http.Request) (func(), error) {
	ok, wait, undo := l.newUsers.Take(clientaddr.Key(l.addrs.ClientAddr(r)))
	if !ok {
		l.metrics.RateLimited("new_user")
		return nil, apierr.RateLimited("too many new users from your address, try again later", wait)
	}
	return undo, nil
}

// admitRoomCreation is the HTTP API's room-creation hook: rooms created
// per user, all nodes together.
func (l *sharedLimits) admitRoomCreation(_ *http.Request, userID string) (func(), error) {
	ok, wait, undo := l.roomCreations.Take(userID)
	if !ok {
		l.metrics.RateLimited("room_creation")
		return nil, apierr.RateLimited("you are creating rooms too fast", wait)
	}
	return undo, nil
}

// admitUpload is the attachments' upload hook: uploads per client
// address, before the body is read or the token checked.
func (l *limits) admitUpload(r *http.Request) error {
	if ce := allow(l.uploads, l.addrKey(r), "too many uploads from your address, try again later"); ce != nil {
		return ce
	}
	return nil
}
