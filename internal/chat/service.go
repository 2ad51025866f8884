package chat

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatrooms/chatrooms/internal/ratelimit"
)

// Config configures a Service. Zero fields take the defaults shown.
type Config struct {
	// NodeID identifies this process among the nodes sharing the state;
	// a new one for every start. Required.
	NodeID string
	// Grace is how long a user whose connections all dropped keeps their
	// nickname and room (default 60s).
	Grace time.Duration
	// PersistentRooms are never deleted (default DefaultRooms); the first
	// is the room new users start in.
	PersistentRooms []RoomSpec
	// TypingTTL ends a typing indicator that was not refreshed (default
	// DefaultTypingTTL, 5s).
	TypingTTL time.Duration
	// Predecessor reports whether a node id is an earlier life of this
	// node (the same stable node name, or any other node on an embedded
	// NATS server, which no other process shares). Start retires those
	// before serving: their liveness entries go and the sessions they
	// held are forgotten (the users' grace periods start), so a node
	// restarted after a crash does not list its users online until the
	// dead entry expires. Nil: none is.
	Predecessor func(nodeID string) bool
	// Heartbeat is how often this node renews its liveness entry (default
	// 2s); the nodes bucket's TTL decides when a silent node counts as dead.
	Heartbeat time.Duration
	// SweepInterval is how often expired users and dead nodes' sessions
	// are cleaned up (default 1s).
	SweepInterval time.Duration
	// OutageHold: while this node's own heartbeat fails, and for this long
	// after it succeeds again (default 5 × Heartbeat), the sweep neither
	// forgets other nodes' sessions nor removes expired users. A failed
	// beat means the store was out for this node too, and every node's
	// entry may have lapsed meanwhile: the others need a beat, and a sweep
	// that puts their users' sessions back, before their silence means
	// anything. Without it, a NATS outage longer than the grace period
	// removed users who were connected all along.
	OutageHold time.Duration
	// MessageLimit limits each user's messages on this node (default
	// 5/1s:20: five a second, twenty at once).
	MessageLimit ratelimit.Limit
	// TypingFanout is the least time between two typing starts of one
	// user passed on to the room (default DefaultTypingFanout, 3s):
	// starts in between are accepted and renew the indicator but are not
	// re-sent. A stop always goes out when a start did.
	TypingFanout time.Duration
	// Files looks up the files that messages may carry (nil: messages
	// carry no attachments); *attachments.Service is the one in use.
	Files  Files
	Logger *slog.Logger
	// Clock runs the typing expiry, the heartbeat and the sweep, and
	// gives the time where Now is nil (default: real time).
	Clock Clock
	// Now is the current time (default: Clock.Now).
	Now func() time.Time
}

// The defaults of the typing indicator (Config.TypingTTL and
// Config.TypingFanout).
const (
	DefaultTypingTTL    = 5 * time.Second
	DefaultTypingFanout = 3 * time.Second
)

func (c *Config) setDefaults() {
	if c.Grace <= 0 {
		c.Grace = 60 * time.Second
	}
	if len(c.PersistentRooms) == 0 {
		c.PersistentRooms = DefaultRooms
	}
	if c.TypingTTL <= 0 {
		c.TypingTTL = DefaultTypingTTL
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 2 * time.Second
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.OutageHold <= 0 {
		c.OutageHold = 5 * c.Heartbeat
	}
	if c.MessageLimit.IsZero() {
		c.MessageLimit = ratelimit.Limit{Events: 5, Per: time.Second, Burst: 20}
	}
	if c.TypingFanout <= 0 {
		c.TypingFanout = DefaultTypingFanout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Now == nil {
		c.Now = c.Clock.Now
	}
}

// Stores are the key-value buckets the service keeps its state in.
type Stores struct {
	Users     KV // user id → user record
	Nicks     KV // nickname key → user id
	Tokens    KV // token hash → user id
	Rooms     KV // room id → room record
	RoomNames KV // room name key → room id
	Nodes     KV // node id → liveness (entries expire)
}

// Listener receives what a transport must pass on to its clients. Calls
// come from the service's goroutines; RoomEvent calls arrive in log order,
// one at a time. Implementations must not block for long.
type Listener interface {
	// RoomEvent is a new message or join/leave notice in a room.
	RoomEvent(m *Message)
	// UsersChanged and RoomsChanged say a list changed (not coalesced).
	UsersChanged()
	RoomsChanged()
	// UserRemoved: the user logged out or expired; close their sockets.
	UserRemoved(userID string)
	// Typing: user started or stopped typing in room.
	Typing(room string, user User, typing bool)
}

// Service implements the chat rules on top of the stores. Safe for
// concurrent use; Start it before use.
type Service struct {
	cfg       Config
	log       *slog.Logger
	users     jsonKV[userRecord, *userRecord]
	rooms     jsonKV[roomRecord, *roomRecord]
	nicks     KV
	tokens    KV
	roomNames KV
	nodes     KV
	events    Log
	sig       Signals
	files     Files // nil: attachments are not accepted
	listener  Listener

	mu        sync.RWMutex
	userCache map[string]*userRecord
	// userRevs is the revision of each cached user record; userMinRev the
	// revision this node last wrote (or deleted) a user record at, until
	// the watch brings the cache there: a cached record older than that
	// is not read (see freshUser).
	userRevs   map[string]uint64
	userMinRev map[string]uint64
	roomCache  map[string]*roomRecord
	// roomCounts is how many cached users are in each room; roomRevs the
	// revision of each cached room record.
	roomCounts map[string]int
	roomRevs   map[string]uint64
	// roomWatchRev is the latest revision the room watch delivered (the
	// bucket's revisions are one sequence): see wroteRoom.
	roomWatchRev uint64
	liveNodes    map[string]bool
	// beatDown: this node's last heartbeat failed; holdUntil (ms): the
	// sweep holds back until then after it succeeded again (OutageHold).
	beatDown  atomic.Bool
	holdUntil atomic.Int64

	local localSessions // connections on this node, to reconcile the store with

	joins         *writeBatches[string, joinResult] // by room id: joins being written (joins.go)
	sessionWrites *writeBatches[struct{}, error]    // by user id: session counts being written (presence.go)

	typingMu sync.Mutex
	typing   map[string]*typingState // by user id, users typing via this node
	limits   *ratelimit.Keyed        // messages per user
}

type typingState struct {
	room  string
	timer Timer
	sent  time.Time // when a start was last passed on
}

// New returns a Service over st, the room log and the signals bus.
func New(cfg Config, st Stores, events Log, sig Signals) *Service {
	cfg.setDefaults()
	s := &Service{
		cfg:        cfg,
		log:        cfg.Logger,
		files:      cfg.Files,
		users:      newJSONKV[userRecord](st.Users, "user"),
		rooms:      newJSONKV[roomRecord](st.Rooms, "room"),
		nicks:      st.Nicks,
		tokens:     st.Tokens,
		roomNames:  st.RoomNames,
		nodes:      st.Nodes,
		events:     events,
		sig:        sig,
		userCache:  make(map[string]*userRecord),
		userRevs:   make(map[string]uint64),
		userMinRev: make(map[string]uint64),
		roomCounts: make(map[string]int),
		roomRevs:   make(map[string]uint64),
		roomCache:  make(map[string]*roomRecord),
		liveNodes:  make(map[string]bool),
		typing:     make(map[string]*typingState),
		limits:     ratelimit.New(ratelimit.Config{Limit: cfg.MessageLimit, Now: cfg.Now}),
	}
	s.joins = newWriteBatches(joinBatchTimeout, s.writeJoins)
	s.sessionWrites = newWriteBatches(sessionWriteTimeout, s.writeSessionCount)
	return s
}

// Config returns the configuration in force: New's, defaults applied.
func (s *Service) Config() Config { return s.cfg }

// DefaultRoomID is where new users start.
func (s *Service) DefaultRoomID() string { return s.cfg.PersistentRooms[0].ID }

// LiveNodes is how many nodes are alive (this one included, at least 1):
// a limit that all nodes enforce together gives each this share.
func (s *Service) LiveNodes() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return max(1, len(s.liveNodes))
}

// NodeID is this node's identity.
func (s *Service) NodeID() string { return s.cfg.NodeID }

func (s *Service) now() int64 { return s.cfg.Now().UnixMilli() }

// Start makes sure the persistent rooms exist, announces this node, loads
// the user and room lists, and starts following room events, typing
// signals and the periodic cleanup, until ctx ends. Events go to l.
func (s *Service) Start(ctx context.Context, l Listener) error {
	if s.cfg.NodeID == "" || !ValidID(s.cfg.NodeID) {
		return fmt.Errorf("start chat: invalid node id %q", s.cfg.NodeID)
	}
	s.listener = l
	for _, spec := range s.cfg.PersistentRooms {
		if err := s.ensureRoom(ctx, spec); err != nil {
			return fmt.Errorf("start chat: persistent room %q: %w", spec.ID, err)
		}
	}
	if err := s.beat(ctx); err != nil {
		return fmt.Errorf("start chat: node heartbeat: %w", err)
	}
	for _, w := range []struct {
		kv KV
		fn func(Entry)
	}{{s.nodes, s.onNodeEntry}, {s.rooms.kv, s.onRoomEntry}, {s.users.kv, s.onUserEntry}} {
		ready := make(chan struct{})
		if err := w.kv.Watch(ctx, w.fn, func() { close(ready) }); err != nil {
			return fmt.Errorf("start chat: watch: %w", err)
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.retirePredecessors(ctx)
	if err := s.migrateNameKeys(ctx); err != nil {
		return fmt.Errorf("start chat: re-key names: %w", err)
	}
	if err := s.events.Follow(ctx, s.onLogEntry); err != nil {
		return fmt.Errorf("start chat: follow room events: %w", err)
	}
	if err := s.sig.Subscribe(ctx, "typing.*", s.onTypingSignal); err != nil {
		return fmt.Errorf("start chat: typing: %w", err)
	}
	go s.loop(ctx)
	return nil
}

// Probe takes and releases the service's locks (the caches, typing): it
// returns once each was free. For a readiness watchdog; it blocks while
// a lock is held.
func (s *Service) Probe() {
	s.mu.Lock()
	_ = len(s.userCache) // a critical section: staticcheck SA2001
	s.mu.Unlock()
	s.typingMu.Lock()
	_ = len(s.typing)
	s.typingMu.Unlock()
}
