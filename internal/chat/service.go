package chat

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/chatrooms/chatrooms/internal/ratelimit"
)

// RoomSpec describes a persistent room.
type RoomSpec struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// DefaultRooms are the persistent rooms when none are configured; the
// first one is where new users start.
var DefaultRooms = []RoomSpec{
	{ID: "_default", Name: "Default Room", Description: "You join here by default"},
	{ID: "_test", Name: "Testing", Description: "A room for trying things out"},
}

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
	// TypingTTL ends a typing indicator that was not refreshed (default 5s).
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
	// MessageLimit limits each user's messages on this node (default
	// 5/1s:20: five a second, twenty at once).
	MessageLimit ratelimit.Limit
	// TypingFanout is the least time between two typing starts of one
	// user passed on to the room (default 3s): starts in between are
	// accepted and renew the indicator but are not re-sent. A stop always
	// goes out when a start did.
	TypingFanout time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

func (c *Config) setDefaults() {
	if c.Grace <= 0 {
		c.Grace = 60 * time.Second
	}
	if len(c.PersistentRooms) == 0 {
		c.PersistentRooms = DefaultRooms
	}
	if c.TypingTTL <= 0 {
		c.TypingTTL = 5 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 2 * time.Second
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.MessageLimit.IsZero() {
		c.MessageLimit = ratelimit.Limit{Events: 5, Per: time.Second, Burst: 20}
	}
	if c.TypingFanout <= 0 {
		c.TypingFanout = 3 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
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
	users     jsonKV[userRecord]
	rooms     jsonKV[roomRecord]
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
	liveNodes  map[string]bool

	local localSessions // connections on this node, to reconcile the store with

	joinsMu sync.Mutex            // before any joinBatch.mu
	joins   map[string]*joinBatch // by room id: joins waiting to be written (joins.go)

	typingMu sync.Mutex
	typing   map[string]*typingState // by user id, users typing via this node
	limits   *ratelimit.Keyed        // messages per user
}

type typingState struct {
	room  string
	timer *time.Timer
	sent  time.Time // when a start was last passed on
}

// New returns a Service over st, the room log and the signals bus.
func New(cfg Config, st Stores, events Log, sig Signals) *Service {
	cfg.setDefaults()
	return &Service{
		cfg:        cfg,
		log:        cfg.Logger,
		users:      jsonKV[userRecord]{st.Users, "user"},
		rooms:      jsonKV[roomRecord]{st.Rooms, "room"},
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
		joins:      make(map[string]*joinBatch),
		limits:     ratelimit.New(ratelimit.Config{Limit: cfg.MessageLimit, Now: cfg.Now}),
	}
}

// UseFiles lets messages carry files known to f. Call before Start.
func (s *Service) UseFiles(f Files) { s.files = f }

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
	if s.cfg.NodeID == "" || !validID(s.cfg.NodeID) {
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

func (s *Service) ensureRoom(ctx context.Context, spec RoomSpec) error {
	name, err := NormalizeRoomName(spec.Name)
	if err != nil {
		return err
	}
	desc, err := NormalizeRoomDescription(spec.Description)
	if err != nil {
		return err
	}
	if !validID(spec.ID) {
		return fmt.Errorf("invalid room id %q", spec.ID)
	}
	key := RoomNameKey(name)
	rec := &roomRecord{ID: spec.ID, Name: name, NameKey: key, Description: desc, Persistent: true, CreatedAt: s.now(), Members: []string{}}
	if _, err := s.rooms.create(ctx, spec.ID, rec); err != nil && !errors.Is(err, ErrExists) {
		return err
	}
	r, _, err := s.rooms.modify(ctx, spec.ID, func(r *roomRecord) (op, error) {
		if r.Persistent && r.Name == name && r.Description == desc && len(r.Members) == 0 {
			return opKeep, nil
		}
		// A persistent room keeps no member list (see joinRoom): one
		// left by an earlier version goes.
		r.Persistent, r.Name, r.Description, r.Members = true, name, desc, []string{}
		return opWrite, nil
	})
	if err != nil {
		return err
	}
	// Claim the name's key, moving the claim of an older key (renamed
	// room, changed RoomNameKey) and taking it from a look-alike room.
	c := staleClaim{id: spec.ID, oldKey: r.NameKey, newKey: key}
	return s.moveClaim(ctx, s.roomNames, c, true, func(ctx context.Context) error {
		return s.setRoomNameKey(ctx, c)
	})
}

// loop runs the heartbeat and the cleanup until ctx ends.
func (s *Service) loop(ctx context.Context) {
	hb := time.NewTicker(s.cfg.Heartbeat)
	sweep := time.NewTicker(s.cfg.SweepInterval)
	defer hb.Stop()
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			if err := s.beat(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("node heartbeat failed", "node", s.cfg.NodeID, "err", err)
			}
		case <-sweep.C:
			s.sweep(ctx)
		}
	}
}

// beat renews this node's liveness entry.
func (s *Service) beat(ctx context.Context) error {
	v := []byte(fmt.Sprint(s.now()))
	e, err := s.nodes.Get(ctx, s.cfg.NodeID)
	switch {
	case errors.Is(err, ErrNotFound):
		_, err = s.nodes.Create(ctx, s.cfg.NodeID, v)
		if errors.Is(err, ErrExists) {
			return nil // a concurrent beat won
		}
	case err == nil:
		_, err = s.nodes.Update(ctx, s.cfg.NodeID, v, e.Revision)
		if errors.Is(err, ErrConflict) {
			return nil
		}
	}
	return err
}

// --- caches fed by watches ---

func (s *Service) onNodeEntry(e Entry) {
	s.mu.Lock()
	if e.Deleted {
		delete(s.liveNodes, e.Key)
	} else {
		s.liveNodes[e.Key] = true
	}
	s.mu.Unlock()
	s.listener.UsersChanged() // online flags depend on live nodes
}

func (s *Service) onRoomEntry(e Entry) {
	s.mu.Lock()
	if e.Deleted {
		delete(s.roomCache, e.Key)
		delete(s.roomRevs, e.Key)
	} else {
		var r roomRecord
		if err := json.Unmarshal(e.Value, &r); err != nil {
			s.mu.Unlock()
			s.log.Error("bad room record", "room", e.Key, "err", err)
			return
		}
		s.roomCache[e.Key] = &r
		s.roomRevs[e.Key] = e.Revision
	}
	s.mu.Unlock()
	s.listener.RoomsChanged()
	s.listener.UsersChanged() // users show their room's name
}

func (s *Service) onUserEntry(e Entry) {
	var u *userRecord
	if !e.Deleted {
		u = new(userRecord)
		if err := json.Unmarshal(e.Value, u); err != nil {
			s.log.Error("bad user record", "user", e.Key, "err", err)
			return
		}
	}
	s.mu.Lock()
	if min, ok := s.userMinRev[e.Key]; ok && e.Revision >= min {
		delete(s.userMinRev, e.Key)
	}
	_, had := s.userCache[e.Key]
	changed, moved := s.setUserLocked(e.Key, u, e.Revision)
	s.mu.Unlock()
	if e.Deleted && had {
		s.listener.UserRemoved(e.Key)
	}
	s.notifyUser(changed, moved)
}

// setUserLocked puts u (nil: deleted) at revision rev in the cache,
// unless the cache holds a later revision already (this node's own write,
// applied before the watch brought the earlier ones). It reports whether
// the cache changed, and whether the user's room did (member counts).
func (s *Service) setUserLocked(id string, u *userRecord, rev uint64) (changed, moved bool) {
	prev, had := s.userCache[id]
	if had && s.userRevs[id] >= rev {
		return false, false
	}
	if !had && u == nil {
		return false, false
	}
	moved = !had || u == nil || prev.Room != u.Room
	if had {
		if s.roomCounts[prev.Room]--; s.roomCounts[prev.Room] <= 0 {
			delete(s.roomCounts, prev.Room)
		}
	}
	if u == nil {
		delete(s.userCache, id)
		delete(s.userRevs, id)
	} else {
		s.userCache[id] = u
		s.userRevs[id] = rev
		s.roomCounts[u.Room]++
	}
	return true, moved
}

func (s *Service) notifyUser(changed, moved bool) {
	if changed {
		s.listener.UsersChanged()
	}
	if moved {
		s.listener.RoomsChanged() // member counts
	}
}

func (s *Service) onLogEntry(le LogEntry) {
	var ev logEvent
	if err := json.Unmarshal(le.Data, &ev); err != nil {
		s.log.Error("bad room event", "room", le.Room, "seq", le.Seq, "err", err)
		return
	}
	m := ev.message(le.Room, le.Seq)
	s.listener.RoomEvent(&m)
}

// --- views ---

// onlineLocked reports whether u has a session on a live node.
func (s *Service) onlineLocked(u *userRecord) bool {
	for n, c := range u.Sessions {
		if c > 0 && s.liveNodes[n] {
			return true
		}
	}
	return false
}

func (s *Service) userViewLocked(u *userRecord) User {
	v := User{ID: u.ID, Name: u.Name, AvatarURL: UserAvatarURL(u.ID), Online: s.onlineLocked(u), CreatedAt: u.CreatedAt}
	if r := s.roomCache[u.Room]; r != nil {
		v.CurrentRoom = &RoomRef{ID: r.ID, Name: r.Name}
	} else if u.Room != "" {
		v.CurrentRoom = &RoomRef{ID: u.Room}
	}
	return v
}

// roomViewLocked is the client view of a room. A persistent room keeps
// no member list (see joinRoom): its members are the users whose record
// points at it, counted in the watched cache.
func (s *Service) roomViewLocked(r *roomRecord) Room {
	n := len(r.Members)
	if r.Persistent {
		n = s.roomCounts[r.ID]
	}
	return Room{ID: r.ID, Name: r.Name, Description: r.Description, Persistent: r.Persistent, AvatarURL: RoomAvatarURL(r.ID), MemberCount: n}
}

func (s *Service) roomView(r *roomRecord) Room {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.roomViewLocked(r)
}

// Users lists everyone present, by name.
func (s *Service) Users() []User {
	s.mu.RLock()
	out := make([]User, 0, len(s.userCache))
	for _, u := range s.userCache {
		out = append(out, s.userViewLocked(u))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b User) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Rooms lists the rooms: persistent ones first, then by age.
func (s *Service) Rooms() []Room {
	s.mu.RLock()
	recs := make([]*roomRecord, 0, len(s.roomCache))
	views := make(map[*roomRecord]Room, len(s.roomCache))
	for _, r := range s.roomCache {
		recs = append(recs, r)
		views[r] = s.roomViewLocked(r)
	}
	s.mu.RUnlock()
	order := make(map[string]int, len(s.cfg.PersistentRooms))
	for i, p := range s.cfg.PersistentRooms {
		order[p.ID] = i - len(s.cfg.PersistentRooms)
	}
	slices.SortFunc(recs, func(a, b *roomRecord) int {
		if c := cmp.Compare(order[a.ID], order[b.ID]); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	out := make([]Room, len(recs))
	for i, r := range recs {
		out[i] = views[r]
	}
	return out
}

// Room returns one room, read from the store.
func (s *Service) Room(ctx context.Context, id string) (Room, error) {
	if !validID(id) {
		return Room{}, clientErr(CodeRoomNotFound, "no such room")
	}
	r, _, err := s.rooms.get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Room{}, clientErr(CodeRoomNotFound, "no such room")
	}
	if err != nil {
		return Room{}, fmt.Errorf("get room: %w", err)
	}
	return s.roomView(r), nil
}

// User returns the client view of a user record.
func (s *Service) userView(u *userRecord) User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userViewLocked(u)
}

// --- identity ---

// Session is an authenticated user.
type Session struct {
	UserID string
	Name   string
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Register claims a nickname and creates a user in the default room. It
// returns the user and their secret token (shown once, stored hashed).
func (s *Service) Register(ctx context.Context, raw string) (User, string, error) {
	name, err := NormalizeNickname(raw)
	if err != nil {
		return User{}, "", clientErr(CodeInvalidUsername, "%s", nicknameProblem(err))
	}
	key := NicknameKey(name)
	id := newID("u")
	var tb [32]byte
	_, _ = rand.Read(tb[:])
	token := base64.RawURLEncoding.EncodeToString(tb[:])
	th := hashToken(token)

	// The nickname's claim and the token go at once (the token is new and
	// random: nothing can contend for it); a taken nickname undoes both.
	tokenErr := make(chan error, 1)
	go func() {
		_, err := s.tokens.Create(ctx, th, []byte(id))
		tokenErr <- err
	}()
	_, nickErr := s.nicks.Create(ctx, key, []byte(id))
	terr := <-tokenErr
	undo := func() {
		// Best effort: a failure leaves a claim the sweeper cannot see,
		// so log it loudly.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if nickErr == nil {
			if err := s.nicks.Delete(uctx, key, 0); err != nil {
				s.log.Error("release nickname after failed registration", "user", id, "err", err)
			}
		}
		_ = s.tokens.Delete(uctx, th, 0)
	}
	// A store that is failing would hold the answer up for the undo's
	// own timeouts: then it runs behind the answer.
	rollback := func(err error) {
		if errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			go undo()
			return
		}
		undo()
	}
	switch {
	case errors.Is(nickErr, ErrExists):
		rollback(terr)
		return User{}, "", clientErr(CodeUsernameTaken, "the nickname %q is taken", name)
	case nickErr != nil:
		rollback(nickErr)
		return User{}, "", fmt.Errorf("claim nickname: %w", nickErr)
	case terr != nil:
		rollback(terr)
		return User{}, "", fmt.Errorf("store token: %w", terr)
	}
	// The join notice comes first, so that the record is written once,
	// with its room and the seq its membership begins at.
	now := s.now()
	rec := &userRecord{ID: id, Name: name, NameKey: key, TokenHash: th, CreatedAt: now, OfflineSince: now}
	room := s.DefaultRoomID()
	_, joinSeq, err := s.joinRoom(ctx, rec, room)
	if err != nil {
		rollback(err)
		return User{}, "", fmt.Errorf("enter default room: %w", err)
	}
	rec.Room, rec.JoinSeq = room, joinSeq
	rev, err := s.users.create(ctx, id, rec)
	if err != nil {
		rollback(err)
		leave := func() {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if lerr := s.leaveRoom(lctx, rec, room); lerr != nil {
				s.log.Warn("leave after failed registration", "user", id, "err", lerr)
			}
		}
		if errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			go leave()
		} else {
			leave()
		}
		return User{}, "", fmt.Errorf("create user: %w", err)
	}
	s.wroteUser(id, rec, rev, true)
	s.log.Info("user registered", "user", id)
	return s.userView(rec), token, nil
}

// nicknameProblem is the human part of a nickname validation error.
func nicknameProblem(err error) string {
	msg := err.Error()
	if i := len("invalid nickname: "); len(msg) > i && msg[:i] == "invalid nickname: " {
		return "the nickname " + msg[i:]
	}
	return "the nickname is not valid: " + msg
}

// Authenticate returns the user a token belongs to.
func (s *Service) Authenticate(ctx context.Context, token string) (User, error) {
	if token == "" || len(token) > 128 {
		return User{}, clientErr(CodeUnauthorized, "missing or invalid token")
	}
	e, err := s.tokens.Get(ctx, hashToken(token))
	if errors.Is(err, ErrNotFound) {
		return User{}, clientErr(CodeUnauthorized, "missing or invalid token")
	}
	if err != nil {
		return User{}, fmt.Errorf("look up token: %w", err)
	}
	u, err := s.freshUser(ctx, string(e.Value))
	if errors.Is(err, ErrNotFound) {
		return User{}, clientErr(CodeUnauthorized, "missing or invalid token")
	}
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	v := s.userView(u)
	if v.CurrentRoom != nil && v.CurrentRoom.ID == u.Room {
		v.CurrentRoom.JoinSeq = u.JoinSeq
	}
	return v, nil
}

// Logout removes the user everywhere: their room membership (with a leave
// notice), nickname and token; their sockets on every node are closed.
func (s *Service) Logout(ctx context.Context, userID string) error {
	if !s.removeUser(ctx, userID, false) {
		return clientErr(CodeUnauthorized, "not logged in")
	}
	return nil
}

// removeUser deletes the user record (the commit point; when onlyExpired,
// only if still offline past the grace period at that revision), then
// leaves their room and frees nickname and token. It reports whether this
// call removed the user.
func (s *Service) removeUser(ctx context.Context, userID string, onlyExpired bool) bool {
	var gone userRecord
	_, _, err := s.modifyUser(ctx, userID, func(u *userRecord) (op, error) {
		if onlyExpired && !s.expired(u) {
			return opKeep, errNotExpired
		}
		gone = *u
		return opDelete, nil
	})
	if err != nil {
		if !errors.Is(err, errNotExpired) && !errors.Is(err, ErrNotFound) {
			s.log.Warn("remove user", "user", userID, "err", err)
		}
		return false
	}
	// The nickname and token go first: once the user's room shows them
	// gone (a leave notice, the room deleted), their nickname is free.
	s.deleteIfOwned(ctx, s.nicks, gone.NameKey, userID)
	s.deleteIfOwned(ctx, s.tokens, gone.TokenHash, userID)
	if gone.Room != "" {
		if err := s.leaveRoom(ctx, &gone, gone.Room); err != nil {
			s.log.Warn("leave room on removal", "user", userID, "room", gone.Room, "err", err)
		}
	}
	s.limits.Forget(userID)
	s.log.Info("user removed", "user", userID, "expired", onlyExpired)
	return true
}

var errNotExpired = errors.New("user not expired")

// deleteIfOwned deletes key if it still maps to owner.
func (s *Service) deleteIfOwned(ctx context.Context, kv KV, key, owner string) {
	if key == "" {
		return
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return
	}
	if string(e.Value) == owner {
		if err := kv.Delete(ctx, key, e.Revision); err != nil && !errors.Is(err, ErrConflict) {
			s.log.Warn("release key", "owner", owner, "err", err)
		}
	}
}

// expired reports whether u has been offline for longer than the grace
// period (sessions on dead nodes do not count).
func (s *Service) expired(u *userRecord) bool {
	s.mu.RLock()
	online := s.onlineLocked(u)
	s.mu.RUnlock()
	return !online && u.OfflineSince > 0 && s.now()-u.OfflineSince >= s.cfg.Grace.Milliseconds()
}

// ParseRoomSpecs reads a persistent-room list: a JSON array of
// {"id","name","description"} with valid, unique ids and names. The first
// room is where new users start.
func ParseRoomSpecs(data []byte) ([]RoomSpec, error) {
	var specs []RoomSpec
	if err := json.Unmarshal(data, &specs); err != nil {
		return nil, fmt.Errorf("parse rooms: %w", err)
	}
	if len(specs) == 0 {
		return nil, errors.New("parse rooms: the list is empty")
	}
	ids, names := map[string]bool{}, map[string]bool{}
	for i, sp := range specs {
		if !validID(sp.ID) {
			return nil, fmt.Errorf("parse rooms: room %d: invalid id %q", i, sp.ID)
		}
		name, err := NormalizeRoomName(sp.Name)
		if err != nil {
			return nil, fmt.Errorf("parse rooms: room %q: %w", sp.ID, err)
		}
		if _, err := NormalizeRoomDescription(sp.Description); err != nil {
			return nil, fmt.Errorf("parse rooms: room %q: %w", sp.ID, err)
		}
		key := RoomNameKey(name)
		if ids[sp.ID] || names[key] {
			return nil, fmt.Errorf("parse rooms: room %q: duplicate id or name", sp.ID)
		}
		ids[sp.ID], names[key] = true, true
	}
	return specs, nil
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
