package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/ratelimit"
	"github.com/chatrooms/chatrooms/internal/socketio"
)

// Namespace is the Socket.IO namespace of the chat.
const Namespace = "/chat"

// Service is what the gateway needs of the chat service.
type Service interface {
	Authenticate(ctx context.Context, token string) (chat.User, error)
	Connected(ctx context.Context, userID string) error
	Disconnected(ctx context.Context, userID string) error
	SendMessage(ctx context.Context, userID string, in chat.MessageInput) (chat.Message, error)
	SwitchRoom(ctx context.Context, userID, roomID string) (chat.Room, error)
	Typing(ctx context.Context, userID string, typing bool) error
	Room(ctx context.Context, id string) (chat.Room, error)
	// CachedRoom reads the watched room cache: no store request.
	CachedRoom(id string) (chat.Room, bool)
	// Replay returns the room events a resuming user missed, or a
	// *chat.ResumeRefused.
	Replay(ctx context.Context, userID, roomID string, after uint64) ([]chat.Message, error)
	Users() []chat.User
	Rooms() []chat.Room
}

// Config configures a Gateway.
type Config struct {
	// ListInterval is the least time between two list broadcasts
	// (default 250ms): bursts of changes are coalesced. Whole lists wait
	// longer when they are big (see ListBudget).
	ListInterval time.Duration
	// CallTimeout bounds one service call made for a client (default 10s).
	CallTimeout time.Duration
	// TypingLimit and SwitchLimit bound each user's typing starts and
	// switch_room events on this node (zero: no limit); over them the ack
	// is rate_limited with retry_after_ms. Typing stops are never limited.
	TypingLimit ratelimit.Limit
	SwitchLimit ratelimit.Limit
	// GetListsLimit bounds each user's get_lists on this node (default
	// 1/1s:5).
	GetListsLimit ratelimit.Limit
	// Admit, if set, is asked before each CONNECT to the namespace; an
	// error refuses it with connect_error (message: its code, data: the
	// error object), e.g. apierr.RateLimited.
	Admit func(s *socketio.Socket) *apierr.Error
	// Metrics, if set, is told about deliveries, send_message outcomes
	// and refusals by the gateway's own limits.
	Metrics Metrics
	Logger  *slog.Logger
}

// Metrics receives what the gateway counts (package metrics implements
// it). Its methods must be cheap and safe for concurrent use.
type Metrics interface {
	// Delivered: a room event queued to n sockets.
	Delivered(n int)
	// SendOutcome: a send_message answered ok, duplicate or an error code.
	SendOutcome(outcome string)
	// RateLimited: a client event refused by the limit of kind.
	RateLimited(kind string)
	// Disconnected: a chat socket ended, for reason (disconnectReason's
	// bounded set).
	Disconnected(reason string)
	// EventHandled: a client event (a handler's name: a bounded set) took
	// d in its handler, until its ack was queued.
	EventHandled(event string, d time.Duration)
}

// disconnectReason maps a Socket.IO disconnect reason to the bounded set
// counted by Metrics.Disconnected: client, transport, ping_timeout,
// slow_consumer, server_shutdown, backend_unavailable, protocol_error,
// kicked (the server ended the socket: the user was logged out or
// removed, or broke the protocol's state).
func disconnectReason(reason string) string {
	switch reason {
	case socketio.ReasonClientNamespace, socketio.ReasonTransportClose: // the client closed it
		return "client"
	case socketio.ReasonTransportError: // the connection was lost
		return "transport"
	case socketio.ReasonPingTimeout:
		return "ping_timeout"
	case socketio.ReasonSlowConsumer:
		return "slow_consumer"
	case socketio.ReasonServerShutdown:
		return "server_shutdown"
	case socketio.ReasonBackendUnavailable:
		return "backend_unavailable"
	case socketio.ReasonParseError:
		return "protocol_error"
	case socketio.ReasonServerNamespace, socketio.ReasonForcedClose, socketio.ReasonForcedServerNsp:
		return "kicked"
	}
	return "other"
}

// noMetrics is Metrics when none is configured.
type noMetrics struct{}

func (noMetrics) Delivered(int)       {}
func (noMetrics) SendOutcome(string)  {}
func (noMetrics) RateLimited(string)  {}
func (noMetrics) Disconnected(string) {}

func (noMetrics) EventHandled(string, time.Duration) {}

// Gateway serves the chat namespace. It implements chat.Listener. Safe
// for concurrent use.
type Gateway struct {
	cfg  Config
	svc  Service
	nsp  *socketio.Namespace
	log  *slog.Logger
	kick chan struct{}

	typingLimits *ratelimit.Keyed
	switchLimits *ratelimit.Keyed
	listsLimits  *ratelimit.Keyed

	listReqs chan listRequest // to Run: whole lists wanted

	usersDirty atomic.Bool
	roomsDirty atomic.Bool

	calls calls // client calls in flight, for Drain

	mu     sync.Mutex
	byUser map[string]map[*socketio.Socket]struct{}
	// held are sockets whose room events are held back: from the connect
	// handler until the initial events (and a resume's replay) are sent.
	held map[*socketio.Socket]*holdState
	// ahead are resumed sockets whose replay, read from the log, went
	// further than this node's room events had come (the node's event
	// consumer lagging, as while it is replaced after the stream's leader
	// was lost): RoomEvent leaves them out of their room's events up to
	// the last seq replayed, and forgets them once past it.
	ahead map[*socketio.Socket]replayed
	// delivered is the highest seq RoomEvent was given (room events come
	// in seq order, all rooms together).
	delivered uint64
	// delivering: RoomEvent is between choosing whom to skip and sending;
	// pendingJoins are the sockets released meanwhile, to put in their
	// rooms after it (see joinLocked).
	delivering   bool
	pendingJoins []pendingJoin
}

type pendingJoin struct {
	s   *socketio.Socket
	key string
}

// replayed is where a resumed socket's replay ended: its room key and
// the last seq it was given (or its after_seq, if higher).
type replayed struct {
	key string
	seq uint64
}

// holdState is a held socket's room and the room events held for it, in
// delivery order. Guarded by Gateway.mu.
type holdState struct {
	key   string // the socket's room key, as delivery moves it
	items []heldItem
	// room and joinSeq: the user's room at connect and the seq of the
	// join notice that began the membership. Without a replay, nothing of
	// that room up to joinSeq reaches the socket: the join happened
	// before the connection, and were this node's delivery behind it,
	// the join notice and earlier events would still come.
	room    string
	joinSeq uint64
	resume  *resumeRequest // nil: no resume asked
	bad     bool           // the resume payload was malformed
	// deltaLists: the client asked for list deltas (auth "lists": "delta").
	deltaLists bool
}

// heldItem is a chat_message held back, and the room to announce after it
// (a join that moved the socket).
type heldItem struct {
	m    *chat.Message
	room *chat.Room
}

// resumeRequest is the "resume" member of the auth payload.
type resumeRequest struct {
	RoomID   string `json:"room_id"`
	AfterSeq uint64 `json:"after_seq"`
}

var _ chat.Listener = (*Gateway)(nil)

// New installs the chat namespace on sio. Call Run to start list updates.
func New(cfg Config, svc Service, sio *socketio.Server) *Gateway {
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.ListInterval <= 0 {
		cfg.ListInterval = 250 * time.Millisecond
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	if cfg.GetListsLimit.IsZero() {
		cfg.GetListsLimit = ratelimit.Limit{Events: 1, Per: time.Second, Burst: 5}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Gateway{
		cfg:    cfg,
		svc:    svc,
		nsp:    sio.Of(Namespace),
		log:    cfg.Logger,
		kick:   make(chan struct{}, 1),
		byUser: make(map[string]map[*socketio.Socket]struct{}),
		held:   make(map[*socketio.Socket]*holdState),
		ahead:  make(map[*socketio.Socket]replayed),

		typingLimits: ratelimit.New(ratelimit.Config{Limit: cfg.TypingLimit}),
		switchLimits: ratelimit.New(ratelimit.Config{Limit: cfg.SwitchLimit}),
		listsLimits:  ratelimit.New(ratelimit.Config{Limit: cfg.GetListsLimit}),
		listReqs:     make(chan listRequest),
	}
	g.nsp.OnConnect(g.onConnect)
	g.nsp.OnConnection(g.onConnection)
	g.nsp.OnDisconnect(g.onDisconnect)
	g.nsp.On("send_message", g.tracked("send_message", g.onSendMessage))
	g.nsp.On("switch_room", g.tracked("switch_room", g.onSwitchRoom))
	g.nsp.On("typing", g.tracked("typing", g.onTyping))
	g.nsp.On("get_lists", g.tracked("get_lists", g.onGetLists))
	return g
}

// userOf returns the user id a socket authenticated as.
func userOf(s *socketio.Socket) string {
	id, _ := s.Value().(string)
	return id
}

// roomPrefix begins the Socket.IO room of each chat room.
const roomPrefix = "room:"

func roomKey(id string) string { return roomPrefix + id }

func (g *Gateway) onConnect(ctx context.Context, s *socketio.Socket, auth json.RawMessage) error {
	if g.cfg.Admit != nil {
		if ce := g.cfg.Admit(s); ce != nil {
			return &socketio.ConnectRefusal{Message: ce.Code, Data: ce}
		}
	}
	var a struct {
		Token  string          `json:"token"`
		Resume json.RawMessage `json:"resume"`
		Lists  json.RawMessage `json:"lists"`
	}
	if err := json.Unmarshal(auth, &a); err != nil || a.Token == "" {
		return invalidToken()
	}
	hold := &holdState{}
	switch string(a.Lists) {
	case "", "null", `"full"`:
	case `"delta"`:
		hold.deltaLists = true
	default:
		return &socketio.ConnectRefusal{Message: apierr.CodeInvalidRequest, Data: &apierr.Error{Code: apierr.CodeInvalidRequest, Message: `auth.lists must be "full" or "delta"`}}
	}
	if len(a.Resume) > 0 && string(a.Resume) != "null" {
		hold.resume = new(resumeRequest)
		if err := json.Unmarshal(a.Resume, hold.resume); err != nil {
			hold.bad = true
		}
	}
	// The store calls of a connect are short and bounded by CallTimeout;
	// they are not tied to the socket's context: a context derived from
	// it would leave it a map of children and a done channel for the
	// socket's whole life (about 300 bytes an idle connection). A socket
	// closed meanwhile is undone by socketio once this returns.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.CallTimeout)
	defer cancel()
	u, err := g.svc.Authenticate(ctx, a.Token)
	if err != nil {
		if ce := apierr.AsError(err); ce.Code != apierr.CodeUnauthorized {
			return &socketio.ConnectRefusal{Message: ce.Code, Data: ce}
		}
		return invalidToken()
	}
	if err := g.svc.Connected(ctx, u.ID); err != nil {
		ce := apierr.AsError(err)
		if ce.Code == apierr.CodeUnauthorized {
			return invalidToken()
		}
		return &socketio.ConnectRefusal{Message: ce.Code, Data: ce}
	}
	s.SetValue(u.ID)
	g.mu.Lock()
	set := g.byUser[u.ID]
	if set == nil {
		set = make(map[*socketio.Socket]struct{})
		g.byUser[u.ID] = set
	}
	set[s] = struct{}{}
	// Room events wait until onConnection has sent the initial events
	// (and a resume its replay).
	if u.CurrentRoom != nil {
		hold.key = roomKey(u.CurrentRoom.ID)
		hold.room, hold.joinSeq = u.CurrentRoom.ID, u.CurrentRoom.JoinSeq
	}
	// The socket joins its room when it is released (see release), not
	// now: a room event whose delivery is under way as it registers must
	// not reach it.
	g.held[s] = hold
	g.mu.Unlock()
	return nil
}

func invalidToken() error {
	return &socketio.ConnectRefusal{Message: apierr.CodeInvalidToken, Data: &apierr.Error{Code: apierr.CodeInvalidToken, Message: "the token is missing, invalid or expired"}}
}

// onConnection sends the initial state: rooms, users, then the room;
// then, if asked, the resume (off this goroutine); then the room events
// held meanwhile.
func (g *Gateway) onConnection(s *socketio.Socket) {
	// The audit line of the connection (no token, no content).
	g.log.Info("chat socket connected", "user", userOf(s), "sid", s.Session().ID(), "client", s.Session().RemoteAddr(),
		"transport", s.Session().Transport().String())
	// Not derived from s.Context(), as in onConnect.
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.CallTimeout)
	defer cancel()
	g.mu.Lock()
	st := g.held[s]
	g.mu.Unlock()
	if st == nil {
		return // disconnected meanwhile
	}
	g.sendInitialLists(ctx, s, st.deltaLists)
	g.mu.Lock()
	key := st.key // where room events have moved it meanwhile
	g.mu.Unlock()
	if id, ok := strings.CutPrefix(key, roomPrefix); ok {
		room, ok := g.svc.CachedRoom(id)
		if !ok {
			var err error
			room, err = g.svc.Room(ctx, id)
			ok = err == nil
		}
		if ok {
			_ = s.Emit("current_room_changed", room)
		}
	}
	switch {
	case st.resume == nil:
		g.releaseFromJoin(s, st)
	case st.bad:
		g.recovery(s, st.resume.RoomID, chat.ResumeInvalidSeq)
		g.releaseFromJoin(s, st)
	default:
		go g.resume(s, st)
	}
}

// resume replays what the socket's user missed in the resumed room, then
// releases the room events held meanwhile, dropping those replayed. It
// runs on a goroutine of its own: a slow replay holds up this socket only.
func (g *Gateway) resume(s *socketio.Socket, st *holdState) {
	req := st.resume
	ctx, cancel := context.WithTimeout(s.Context(), g.cfg.CallTimeout)
	msgs, err := g.svc.Replay(ctx, userOf(s), req.RoomID, req.AfterSeq)
	cancel()
	var refused *chat.ResumeRefused
	switch {
	case errors.As(err, &refused):
		g.recovery(s, req.RoomID, refused.Reason)
		g.releaseFromJoin(s, st)
	case err != nil:
		if s.Context().Err() != nil {
			return // gone; onDisconnect forgot the hold
		}
		// Neither replayed nor refused: the client reconnects and resumes
		// again, rather than be told a gap it may not have.
		g.log.Warn("resume", "user", userOf(s), "room", req.RoomID, "err", err)
		s.CloseConnection()
	default:
		_ = s.Emit("recovery", map[string]any{"room_id": req.RoomID, "recovered": true})
		last := req.AfterSeq
		for i := range msgs {
			if msgs[i].Seq <= last {
				g.log.Warn("resume: replay out of order", "user", userOf(s), "room", req.RoomID, "seq", msgs[i].Seq, "after", last)
				continue // never one twice, nor out of order
			}
			_ = s.Emit("chat_message", &msgs[i])
			last = msgs[i].Seq
		}
		g.release(s, st, req.RoomID, last)
	}
}

func (g *Gateway) recovery(s *socketio.Socket, roomID, reason string) {
	_ = s.Emit("recovery", map[string]any{"room_id": roomID, "recovered": false, "reason": reason})
}

// releaseFromJoin releases a socket that replays nothing: of its room,
// only events after the user's join notice, whatever this node's
// delivery had reached when the socket connected.
func (g *Gateway) releaseFromJoin(s *socketio.Socket, st *holdState) {
	if st.room == "" || st.joinSeq == 0 {
		g.release(s, st, "", 0)
		return
	}
	g.release(s, st, st.room, st.joinSeq)
}

// release sends the room events held for s, skipping those of room
// replayed up to seq last, then lets room events through (but for those
// of room up to last, should this node's delivery be behind the replay).
// Each round takes what is held under the lock and sends it after
// releasing it; the socket stops being held in the round that finds
// nothing.
func (g *Gateway) release(s *socketio.Socket, st *holdState, room string, last uint64) {
	for {
		g.mu.Lock()
		items := st.items
		st.items = nil
		if len(items) == 0 {
			if g.held[s] == st {
				delete(g.held, s)
				if room != "" && last > g.delivered {
					g.ahead[s] = replayed{key: roomKey(room), seq: last}
				}
				g.joinLocked(s, st.key)
			}
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		for _, it := range items {
			if it.m.RoomID == room && room != "" {
				if it.m.Seq <= last {
					continue // replayed
				}
				last = it.m.Seq
			}
			_ = s.Emit("chat_message", it.m)
			if it.room != nil {
				_ = s.Emit("current_room_changed", it.room)
			}
		}
	}
}

// joinLocked puts a released socket in its room: at once, or, if a room
// event's delivery is under way (its recipients may be collected already,
// without this socket), right after it, on the delivering goroutine, so
// that the socket gets every later event and none from before. Called
// with g.mu held; Socket.Join only updates the namespace's bookkeeping
// (it never calls back), so it may be called under g.mu.
func (g *Gateway) joinLocked(s *socketio.Socket, key string) {
	switch {
	case key == "":
	case g.delivering:
		g.pendingJoins = append(g.pendingJoins, pendingJoin{s, key})
	default:
		s.Join(key)
	}
}

// endDelivery ends a room event's delivery: the sockets released during
// it join their rooms now, before the next event's recipients are known.
func (g *Gateway) endDelivery() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.delivering = false
	for _, j := range g.pendingJoins {
		j.s.Join(j.key)
	}
	clear(g.pendingJoins)
	g.pendingJoins = g.pendingJoins[:0]
}

func (g *Gateway) onDisconnect(s *socketio.Socket, reason string) {
	id := userOf(s)
	if id == "" {
		return
	}
	g.cfg.Metrics.Disconnected(disconnectReason(reason))
	// The audit line of the connection (no token, no content).
	g.log.Info("chat socket disconnected", "user", id, "sid", s.Session().ID(), "reason", reason,
		"client", s.Session().RemoteAddr(), "duration", time.Since(s.Created()).Round(time.Millisecond))
	g.mu.Lock()
	if set := g.byUser[id]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(g.byUser, id)
		}
	}
	delete(g.held, s)
	delete(g.ahead, s)
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.CallTimeout)
	defer cancel()
	if err := g.svc.Disconnected(ctx, id); err != nil {
		g.log.Warn("record disconnection", "user", id, "reason", reason, "err", err)
	}
}

// Probe takes and releases the gateway's lock and then every lock of the
// chat namespace: it returns once each was free. For a readiness
// watchdog; it blocks while a lock is held.
func (g *Gateway) Probe() {
	g.mu.Lock()
	_ = len(g.byUser) // a critical section: staticcheck SA2001
	g.mu.Unlock()
	g.nsp.Probe()
}

// sockets returns the user's sockets on this node.
func (g *Gateway) sockets(userID string) []*socketio.Socket {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*socketio.Socket, 0, len(g.byUser[userID]))
	for s := range g.byUser[userID] {
		out = append(out, s)
	}
	return out
}

// reply acks e with {"ok":true, key: v} or the client form of err.
func (g *Gateway) reply(e *socketio.Incoming, key string, v any, err error) {
	if !e.WantsAck() {
		if err != nil {
			g.log.Debug("client call failed", "event", e.Name, "err", err)
		}
		return
	}
	if err != nil {
		ce := apierr.AsError(err)
		if ce.Code == apierr.CodeInternal || ce.Code == apierr.CodeUnavailable {
			g.log.Warn("client call failed", "event", e.Name, "err", err)
		}
		_ = e.Ack(ce)
		return
	}
	if key == "" {
		_ = e.Ack(map[string]any{"ok": true})
		return
	}
	_ = e.Ack(map[string]any{"ok": true, key: v})
}

// refuse answers e rate_limited (retry after wait) and counts the
// refusal by the limit of kind.
func (g *Gateway) refuse(e *socketio.Incoming, kind, message string, wait time.Duration) {
	g.cfg.Metrics.RateLimited(kind)
	g.reply(e, "", nil, apierr.RateLimited(message, wait))
}

// payload decodes the event's single object argument strictly.
func payload(e *socketio.Incoming, v any) error {
	if len(e.Args) != 1 {
		return &apierr.Error{Code: apierr.CodeInvalidRequest, Message: "expected one object argument"}
	}
	if err := strictUnmarshal(e.Args[0], v); err != nil {
		return &apierr.Error{Code: apierr.CodeInvalidRequest, Message: "malformed request: " + err.Error()}
	}
	return nil
}

func (g *Gateway) call(s *socketio.Socket) (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.Context(), g.cfg.CallTimeout)
}

func (g *Gateway) onSendMessage(s *socketio.Socket, e *socketio.Incoming) {
	var req struct {
		Content      string  `json:"content"`
		AttachmentID string  `json:"attachment_id"`
		Alt          string  `json:"alt"`
		ClientID     *string `json:"client_id"` // present and "" is invalid
	}
	if err := payload(e, &req); err != nil {
		g.reply(e, "", nil, err)
		return
	}
	ctx, cancel := g.call(s)
	defer cancel()
	m, err := g.svc.SendMessage(ctx, userOf(s), chat.MessageInput{Content: req.Content, AttachmentID: req.AttachmentID, Alt: req.Alt, ClientID: req.ClientID})
	if err == nil && m.Duplicate && e.WantsAck() {
		_ = e.Ack(map[string]any{"ok": true, "message": m, "duplicate": true})
		return
	}
	switch {
	case err != nil:
		code := apierr.AsError(err).Code
		g.cfg.Metrics.SendOutcome(code)
		if code == apierr.CodeRateLimited {
			g.cfg.Metrics.RateLimited("send_message")
		}
	case m.Duplicate:
		g.cfg.Metrics.SendOutcome("duplicate")
	default:
		g.cfg.Metrics.SendOutcome("ok")
	}
	g.reply(e, "message", m, err)
}

func (g *Gateway) onSwitchRoom(s *socketio.Socket, e *socketio.Incoming) {
	var req struct {
		RoomID string `json:"room_id"`
	}
	if err := payload(e, &req); err != nil {
		g.reply(e, "", nil, err)
		return
	}
	if ok, wait := g.switchLimits.Allow(userOf(s)); !ok {
		g.refuse(e, "switch_room", "you are switching rooms too fast", wait)
		return
	}
	ctx, cancel := g.call(s)
	defer cancel()
	room, err := g.svc.SwitchRoom(ctx, userOf(s), req.RoomID)
	g.reply(e, "room", room, err)
}

func (g *Gateway) onTyping(s *socketio.Socket, e *socketio.Incoming) {
	var req struct {
		Typing bool `json:"typing"`
	}
	if err := payload(e, &req); err != nil {
		g.reply(e, "", nil, err)
		return
	}
	// Only starts count: a stop ends what an accepted start began.
	if req.Typing {
		if ok, wait := g.typingLimits.Allow(userOf(s)); !ok {
			g.refuse(e, "typing", "you are sending typing events too fast", wait)
			return
		}
	}
	ctx, cancel := g.call(s)
	defer cancel()
	g.reply(e, "", nil, g.svc.Typing(ctx, userOf(s), req.Typing))
}

// RoomEvent passes a room event to the room's members on this node. A
// join moves the joiner's sockets into the room first (so they see their
// own join and everything after it, nothing before); a leave is delivered
// before the leaver's sockets leave. Held sockets (connecting, resuming)
// get the event later, from release. It runs on the one goroutine that
// delivers room events in order, so it makes no store request: the room
// announced after a join comes from the watched cache, or else from the
// notice itself.
func (g *Gateway) RoomEvent(m *chat.Message) {
	key := roomKey(m.RoomID)
	var moved []*socketio.Socket
	var room chat.Room
	if m.Type == chat.MessageJoined && m.User != nil {
		moved = g.sockets(m.User.ID)
		for _, s := range moved {
			for _, r := range s.Rooms() {
				if r != key && strings.HasPrefix(r, roomPrefix) {
					s.Leave(r)
				}
			}
			s.Join(key)
		}
		room = g.joinedRoom(m)
	}
	skip := g.hold(key, m, moved, &room)
	defer g.endDelivery()
	b := g.nsp.To(key)
	if len(skip) > 0 {
		b = b.Except(skip...)
	}
	data, err := json.Marshal(m)
	if err != nil {
		g.log.Error("broadcast message", "room", m.RoomID, "err", err)
	} else {
		// Stamped with the message's time, so that the writers can time
		// its fan-out to the socket write (engineio Config.FramesWritten).
		frames := g.nsp.EventFrames("chat_message", data)
		for _, f := range frames {
			f.SetOrigin(time.UnixMilli(m.Timestamp))
		}
		g.cfg.Metrics.Delivered(b.SendFrames(frames))
	}
	if m.Type == chat.MessageLeft && m.User != nil {
		for _, s := range g.sockets(m.User.ID) {
			s.Leave(key)
		}
	}
	for _, s := range moved {
		if !slices.Contains(skip, s) {
			_ = s.Emit("current_room_changed", room)
		}
	}
}

// joinedRoom is the room a join notice is about, from the watched cache,
// or else from the name the notice carries.
func (g *Gateway) joinedRoom(m *chat.Message) chat.Room {
	if r, ok := g.svc.CachedRoom(m.RoomID); ok {
		return r
	}
	r := chat.Room{ID: m.RoomID, AvatarURL: chat.RoomAvatarURL(m.RoomID)}
	if m.User != nil && m.User.CurrentRoom != nil && m.User.CurrentRoom.ID == m.RoomID {
		r.Name = m.User.CurrentRoom.Name
	}
	return r
}

// hold queues m for the held sockets in room key (moving the held ones
// among moved there first, with room to announce after m) and returns
// those sockets, which the broadcast must leave out, with the sockets
// whose replay already gave them m.
func (g *Gateway) hold(key string, m *chat.Message, moved []*socketio.Socket, room *chat.Room) []*socketio.Socket {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.delivering = true // until endDelivery
	g.delivered = max(g.delivered, m.Seq)
	var out []*socketio.Socket
	for s, r := range g.ahead {
		if r.key == key && m.Seq <= r.seq {
			out = append(out, s)
		}
		if m.Seq >= r.seq {
			delete(g.ahead, s)
		}
	}
	if len(g.held) == 0 {
		return out
	}
	for _, s := range moved {
		if st := g.held[s]; st != nil {
			st.key = key
		}
	}
	for s, st := range g.held {
		if st.key != key {
			continue
		}
		it := heldItem{m: m}
		if slices.Contains(moved, s) {
			it.room = room
		}
		st.items = append(st.items, it)
		out = append(out, s)
		if m.Type == chat.MessageLeft && m.User != nil && userOf(s) == m.User.ID {
			st.key = "" // it leaves the room after this event
		}
	}
	return out
}

// UsersChanged marks the user list for the next coalesced broadcast.
func (g *Gateway) UsersChanged() {
	g.usersDirty.Store(true)
	g.poke()
}

// RoomsChanged marks the room list for the next coalesced broadcast.
func (g *Gateway) RoomsChanged() {
	g.roomsDirty.Store(true)
	g.poke()
}

func (g *Gateway) poke() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// UserRemoved disconnects the user's sockets on this node.
func (g *Gateway) UserRemoved(userID string) {
	for _, s := range g.sockets(userID) {
		s.Disconnect()
	}
}

// Typing passes a typing change to the room's other members.
func (g *Gateway) Typing(room string, u chat.User, typing bool) {
	g.nsp.To(roomKey(room)).Except(g.sockets(u.ID)...).EmitRaw("typing", []json.RawMessage{mustJSON(map[string]any{"user": u, "typing": typing})}, nil)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data is passed
	}
	return b
}

// strictUnmarshal decodes one JSON object, refusing unknown fields and
// trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// calls counts the client calls in flight, so that a shutdown can let
// them finish (and their acks be sent) before the sockets close.
type calls struct {
	mu       sync.Mutex
	n        int
	draining bool
	idle     chan struct{} // closed when n drops to 0 during a drain
}

// begin counts a call in; false once draining.
func (c *calls) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return false
	}
	c.n++
	return true
}

func (c *calls) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n == 0 && c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
}

// drain refuses new calls and waits until none is in flight, or ctx ends.
func (c *calls) drain(ctx context.Context) error {
	c.mu.Lock()
	c.draining = true
	if c.n == 0 {
		c.mu.Unlock()
		return nil
	}
	if c.idle == nil {
		c.idle = make(chan struct{})
	}
	idle, n := c.idle, c.n
	c.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drain: %d client calls still in flight: %w", n, context.Cause(ctx))
	}
}

// tracked wraps the handler of event: the call counts as in flight until
// it returns (its ack is queued by then), and its duration is observed;
// once draining, the call is refused with unavailable, so the client
// retries it after reconnecting (with the same client_id for a message).
func (g *Gateway) tracked(event string, h func(*socketio.Socket, *socketio.Incoming)) func(*socketio.Socket, *socketio.Incoming) {
	return func(s *socketio.Socket, e *socketio.Incoming) {
		if !g.calls.begin() {
			g.reply(e, "", nil, &apierr.Error{Code: apierr.CodeUnavailable, Message: "the server is shutting down; reconnect and retry"})
			return
		}
		defer g.calls.end()
		start := time.Now()
		h(s, e)
		g.cfg.Metrics.EventHandled(event, time.Since(start))
	}
}

// Drain is the first step of a graceful shutdown: client calls from now
// on are refused (unavailable), and Drain returns once the calls in
// flight have finished and queued their acks, or ctx ends. The sockets
// stay open: closing them (the Socket.IO server's Shutdown) comes next,
// and lets the queued acks go out first.
func (g *Gateway) Drain(ctx context.Context) error {
	return g.calls.drain(ctx)
}
