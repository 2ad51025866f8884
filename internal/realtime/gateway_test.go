package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/realtime"
	"github.com/chatrooms/chatrooms/internal/sioclient"
	"github.com/chatrooms/chatrooms/internal/socketio"
)

// fakeService knows two users, each with a token, in rooms of a map.
type fakeService struct {
	mu           sync.Mutex
	rooms        map[string]string // user id → room id
	connected    map[string]int
	sendErr      error
	lastSwitched string
	// roomBlock, if set, makes Room wait for it (a stuck store read).
	roomBlock chan struct{}
	// replay answers Replay; replayGate, if set, is waited for first.
	replay     func(userID, roomID string, after uint64) ([]chat.Message, error)
	replayGate chan struct{}
	entered    chan struct{} // if set, gets a value as Replay starts
	// sendGate, if set, makes SendMessage wait for it (after a value on
	// sendEntered, if set).
	sendGate    chan struct{}
	sendEntered chan struct{}
	// joinSeq is where users' memberships began (0: unknown).
	joinSeq map[string]uint64
	// users and roomList, if set, are the lists (else two users, one room).
	users    []chat.User
	roomList []chat.Room
}

func newFake() *fakeService {
	return &fakeService{rooms: map[string]string{"ua": "_default", "ub": "_default"}, connected: map[string]int{}}
}

var tokens = map[string]string{"tok-a": "ua", "tok-b": "ub"}

func (f *fakeService) Authenticate(_ context.Context, token string) (chat.User, error) {
	id, ok := tokens[token]
	if !ok {
		return chat.User{}, &apierr.Error{Code: apierr.CodeUnauthorized, Message: "no"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return chat.User{ID: id, Name: id, CurrentRoom: &chat.RoomRef{ID: f.rooms[id], JoinSeq: f.joinSeq[id]}}, nil
}

func (f *fakeService) Connected(_ context.Context, id string) error {
	f.mu.Lock()
	f.connected[id]++
	f.mu.Unlock()
	return nil
}

func (f *fakeService) Disconnected(_ context.Context, id string) error {
	f.mu.Lock()
	f.connected[id]--
	f.mu.Unlock()
	return nil
}

func (f *fakeService) SendMessage(_ context.Context, id string, in chat.MessageInput) (chat.Message, error) {
	if f.sendEntered != nil {
		f.sendEntered <- struct{}{}
	}
	if f.sendGate != nil {
		<-f.sendGate
	}
	if f.sendErr != nil {
		return chat.Message{}, f.sendErr
	}
	return chat.Message{ID: "m1", RoomID: "_default", Seq: 7, Content: in.Content, Sender: &chat.User{ID: id}}, nil
}

func (f *fakeService) SwitchRoom(_ context.Context, id, room string) (chat.Room, error) {
	if room == "nope" {
		return chat.Room{}, &apierr.Error{Code: apierr.CodeRoomNotFound, Message: "no such room"}
	}
	f.mu.Lock()
	f.lastSwitched = room
	f.mu.Unlock()
	return chat.Room{ID: room}, nil
}

func (f *fakeService) Typing(context.Context, string, bool) error { return nil }
func (f *fakeService) Room(ctx context.Context, id string) (chat.Room, error) {
	f.mu.Lock()
	block := f.roomBlock
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return chat.Room{}, ctx.Err()
		}
	}
	return chat.Room{ID: id, Name: "Room " + id}, nil
}
func (f *fakeService) CachedRoom(string) (chat.Room, bool) { return chat.Room{}, false }
func (f *fakeService) Replay(ctx context.Context, userID, roomID string, after uint64) ([]chat.Message, error) {
	f.mu.Lock()
	gate, fn, entered := f.replayGate, f.replay, f.entered
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fn == nil {
		return nil, &chat.ResumeRefused{Reason: chat.ResumeWindowPassed}
	}
	return fn(userID, roomID, after)
}
func (f *fakeService) Users() []chat.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users != nil {
		return slices.Clone(f.users)
	}
	return []chat.User{{ID: "ua"}, {ID: "ub"}}
}

func (f *fakeService) Rooms() []chat.Room {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.roomList != nil {
		return slices.Clone(f.roomList)
	}
	return []chat.Room{{ID: "_default"}}
}

// setLists replaces what Users and Rooms return (nil: keep).
func (f *fakeService) setLists(users []chat.User, rooms []chat.Room) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if users != nil {
		f.users = users
	}
	if rooms != nil {
		f.roomList = rooms
	}
}

func start(t *testing.T, svc *fakeService) (*realtime.Gateway, string) {
	t.Helper()
	sio := socketio.NewServer(socketio.Config{EngineIO: engineio.Config{PingInterval: time.Minute, PingTimeout: time.Minute}})
	gw := realtime.New(realtime.Config{ListInterval: 200 * time.Millisecond}, svc, sio)
	ctx, cancel := context.WithCancel(context.Background())
	go gw.Run(ctx)
	hs := httptest.NewServer(sio)
	t.Cleanup(func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = sio.Shutdown(sctx)
		hs.Close()
	})
	return gw, hs.URL
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, url, token string) *sioclient.Client {
	t.Helper()
	c, err := sioclient.Dial(ctxT(t), url, sioclient.Options{Namespace: "/chat", Auth: map[string]string{"token": token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	for _, ev := range []string{"room_list_changed", "user_list_changed", "current_room_changed"} {
		if _, err := c.Next(ctxT(t), ev); err != nil {
			t.Fatalf("waiting for %s: %v", ev, err)
		}
	}
	return c
}

func TestConnectRefusesBadToken(t *testing.T) {
	_, url := start(t, newFake())
	for _, auth := range []any{nil, map[string]string{"token": "nope"}, map[string]int{"token": 1}} {
		_, err := sioclient.Dial(ctxT(t), url, sioclient.Options{Namespace: "/chat", Auth: auth})
		var ce *sioclient.ConnectError
		if !errors.As(err, &ce) || ce.Message != "invalid_token" {
			t.Fatalf("auth %v: %v", auth, err)
		}
	}
}

func TestPresenceFollowsSockets(t *testing.T) {
	svc := newFake()
	_, url := start(t, svc)
	c := dial(t, url, "tok-a")
	svc.mu.Lock()
	n := svc.connected["ua"]
	svc.mu.Unlock()
	if n != 1 {
		t.Fatalf("connected = %d", n)
	}
	_ = c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		svc.mu.Lock()
		n = svc.connected["ua"]
		svc.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("disconnection not recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAcks(t *testing.T) {
	svc := newFake()
	_, url := start(t, svc)
	c := dial(t, url, "tok-a")
	// "message" is the Message on success and the error text on failure.
	type ack struct {
		OK      bool            `json:"ok"`
		Error   string          `json:"error"`
		Raw     json.RawMessage `json:"message"`
		Message chat.Message    `json:"-"`
		Room    chat.Room       `json:"room"`
	}
	call := func(event string, payload any) ack {
		t.Helper()
		a, err := c.EmitWithAck(ctxT(t), event, payload)
		if err != nil {
			t.Fatal(err)
		}
		var out ack
		if err := a.Arg(0, &out); err != nil {
			t.Fatal(err)
		}
		if out.OK && len(out.Raw) > 0 {
			if err := json.Unmarshal(out.Raw, &out.Message); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	if got := call("send_message", map[string]string{"content": "hi"}); !got.OK || got.Message.Seq != 7 || got.Message.Content != "hi" {
		t.Fatalf("send = %+v", got)
	}
	for _, bad := range []any{"hi", []int{1}, map[string]any{"content": 1}, map[string]any{"content": "x", "more": true}} {
		if got := call("send_message", bad); got.Error != "invalid_request" {
			t.Fatalf("send %v = %+v", bad, got)
		}
	}
	if got := call("switch_room", map[string]string{"room_id": "nope"}); got.Error != "room_not_found" {
		t.Fatalf("switch = %+v", got)
	}
	if got := call("switch_room", map[string]string{"room_id": "r1"}); !got.OK || got.Room.ID != "r1" {
		t.Fatalf("switch = %+v", got)
	}
	svc.sendErr = apierr.ErrUnavailable
	if got := call("send_message", map[string]string{"content": "hi"}); got.Error != "unavailable" {
		t.Fatalf("send while down = %+v", got)
	}
	svc.sendErr = errors.New("secret detail")
	if got := call("send_message", map[string]string{"content": "hi"}); got.Error != "internal_error" {
		t.Fatalf("send internal = %+v", got)
	}
}

func TestRoomEventsFollowMembership(t *testing.T) {
	gw, url := start(t, newFake())
	a := dial(t, url, "tok-a")
	b := dial(t, url, "tok-b")
	// Both are in _default: a message reaches both.
	gw.RoomEvent(&chat.Message{ID: "m1", RoomID: "_default", Type: chat.MessageText, Content: "x"})
	for _, c := range []*sioclient.Client{a, b} {
		if _, err := c.Next(ctxT(t), "chat_message"); err != nil {
			t.Fatal(err)
		}
	}
	// A's join of r1 moves A's sockets there and tells A.
	gw.RoomEvent(&chat.Message{ID: "m2", RoomID: "r1", Type: chat.MessageJoined, User: &chat.User{ID: "ua"}})
	ev, err := a.Next(ctxT(t), "current_room_changed")
	if err != nil {
		t.Fatal(err)
	}
	var room chat.Room
	if err := ev.Arg(0, &room); err != nil || room.ID != "r1" {
		t.Fatalf("current room = %+v %v", room, err)
	}
	if ev, err := a.Next(ctxT(t), "chat_message"); err != nil {
		t.Fatal(err)
	} else {
		var m chat.Message
		if err := ev.Arg(0, &m); err != nil || m.ID != "m2" {
			t.Fatalf("a got %+v %v, want its own join", m, err)
		}
	}
	// _default now reaches B only; r1 reaches A only.
	gw.RoomEvent(&chat.Message{ID: "m3", RoomID: "_default", Type: chat.MessageText})
	gw.RoomEvent(&chat.Message{ID: "m4", RoomID: "r1", Type: chat.MessageText})
	want := map[*sioclient.Client]string{a: "m4", b: "m3"}
	for c, id := range want {
		ev, err := c.Next(ctxT(t), "chat_message")
		if err != nil {
			t.Fatal(err)
		}
		var m chat.Message
		if err := ev.Arg(0, &m); err != nil || m.ID != id {
			t.Fatalf("got %+v, want %s", m, id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := b.Next(ctx, "chat_message"); err == nil {
		t.Fatal("b received a message of a room it is not in")
	}
}

func TestTypingSkipsTheTypist(t *testing.T) {
	gw, url := start(t, newFake())
	a := dial(t, url, "tok-a")
	b := dial(t, url, "tok-b")
	gw.Typing("_default", chat.User{ID: "ua"}, true)
	if _, err := b.Next(ctxT(t), "typing"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := a.Next(ctx, "typing"); err == nil {
		t.Fatal("the typist got its own typing event")
	}
}

func TestListsCoalesced(t *testing.T) {
	svc := newFake()
	gw, url := start(t, svc)
	a := dial(t, url, "tok-a")
	for i := range 50 {
		svc.setLists([]chat.User{{ID: "ua", Online: i%2 == 1}, {ID: "ub"}}, nil) // ends changed
		gw.UsersChanged()
	}
	if _, err := a.Next(ctxT(t), "user_list_changed"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	n := 0
	for {
		if _, err := a.Next(ctx, "user_list_changed"); err != nil {
			break
		}
		n++
	}
	if n > 1 {
		t.Fatalf("50 changes gave %d extra lists", n)
	}
}

func TestUserRemovedDisconnects(t *testing.T) {
	gw, url := start(t, newFake())
	a := dial(t, url, "tok-a")
	gw.UserRemoved("ua")
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("socket of removed user still connected")
	}
}

// TestRoomEventNeverWaitsOnTheStore: with every store read of a room
// stuck, a join is still delivered (and announced, from the notice) and
// the delivery goroutine goes on.
func TestRoomEventNeverWaitsOnTheStore(t *testing.T) {
	svc := newFake()
	gw, url := start(t, svc)
	a := dial(t, url, "tok-a")
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	svc.mu.Lock()
	svc.roomBlock = block
	svc.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		gw.RoomEvent(&chat.Message{ID: "m1", RoomID: "r1", Seq: 1, Type: chat.MessageJoined,
			User: &chat.User{ID: "ua", CurrentRoom: &chat.RoomRef{ID: "r1", Name: "One"}}})
		gw.RoomEvent(&chat.Message{ID: "m2", RoomID: "r1", Seq: 2, Type: chat.MessageText})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RoomEvent waited on a store read")
	}
	ev, err := a.Next(ctxT(t), "current_room_changed")
	if err != nil {
		t.Fatal(err)
	}
	var room chat.Room
	if err := ev.Arg(0, &room); err != nil || room.ID != "r1" || room.Name != "One" {
		t.Fatalf("current room = %+v %v", room, err)
	}
	for _, id := range []string{"m1", "m2"} {
		if m := nextMessage(t, a); m.ID != id {
			t.Fatalf("got %s, want %s", m.ID, id)
		}
	}
}

// nextInOrder is the next event, which must be a chat_message (lists
// aside).
func nextInOrder(t *testing.T, c *sioclient.Client) chat.Message {
	t.Helper()
	for {
		ev, err := c.Next(ctxT(t), "")
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name == "user_list_changed" || ev.Name == "room_list_changed" {
			continue
		}
		if ev.Name != "chat_message" {
			t.Fatalf("got %s, want chat_message", ev.Name)
		}
		var m chat.Message
		if err := ev.Arg(0, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
}

func nextMessage(t *testing.T, c *sioclient.Client) chat.Message {
	t.Helper()
	ev, err := c.Next(ctxT(t), "chat_message")
	if err != nil {
		t.Fatal(err)
	}
	var m chat.Message
	if err := ev.Arg(0, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type recovery struct {
	RoomID    string `json:"room_id"`
	Recovered bool   `json:"recovered"`
	Reason    string `json:"reason"`
}

func dialResume(t *testing.T, url, token string, resume any) (*sioclient.Client, recovery) {
	t.Helper()
	c, err := sioclient.Dial(ctxT(t), url, sioclient.Options{Namespace: "/chat", Auth: map[string]any{"token": token, "resume": resume}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// The initial events come first, in order, then recovery.
	want := []string{"room_list_changed", "user_list_changed", "current_room_changed", "recovery"}
	var rec recovery
	for i, name := range want {
		ev, err := c.Next(ctxT(t), "")
		if err != nil {
			t.Fatalf("waiting for %s: %v", name, err)
		}
		if ev.Name != name {
			t.Fatalf("event %d: %s, want %s", i, ev.Name, name)
		}
		if name == "recovery" {
			if err := ev.Arg(0, &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c, rec
}

// TestResumeHoldsLiveEvents: live events that arrive while a replay runs
// reach the resumer after it, once each and in seq order; a slow replay
// holds up no other socket.
func TestResumeHoldsLiveEvents(t *testing.T) {
	svc := newFake()
	gate := make(chan struct{})
	svc.replayGate = gate
	svc.entered = make(chan struct{}, 1)
	svc.replay = func(_, room string, after uint64) ([]chat.Message, error) {
		if room != "_default" || after != 2 {
			t.Errorf("replay %s after %d", room, after)
		}
		return []chat.Message{{ID: "m3", RoomID: room, Seq: 3}, {ID: "m4", RoomID: room, Seq: 4}, {ID: "m5", RoomID: room, Seq: 5}}, nil
	}
	gw, url := start(t, svc)
	b := dial(t, url, "tok-b")
	type result struct {
		c   *sioclient.Client
		rec recovery
	}
	got := make(chan result, 1)
	go func() {
		c, rec := dialResume(t, url, "tok-a", map[string]any{"room_id": "_default", "after_seq": 2})
		got <- result{c, rec}
	}()
	// While A's replay is stuck, B gets live events at once; seq 5 is in
	// A's replay too, seq 6 is not.
	select { // A is held from its CONNECT on; its replay is now stuck
	case <-svc.entered:
	case <-ctxT(t).Done():
		t.Fatal("no replay")
	}
	gw.RoomEvent(&chat.Message{ID: "m5", RoomID: "_default", Seq: 5})
	gw.RoomEvent(&chat.Message{ID: "m6", RoomID: "_default", Seq: 6})
	for _, id := range []string{"m5", "m6"} {
		if m := nextMessage(t, b); m.ID != id {
			t.Fatalf("b got %s, want %s", m.ID, id)
		}
	}
	close(gate)
	r := <-got
	if !r.rec.Recovered || r.rec.RoomID != "_default" {
		t.Fatalf("recovery = %+v", r.rec)
	}
	gw.RoomEvent(&chat.Message{ID: "m7", RoomID: "_default", Seq: 7})
	for _, id := range []string{"m3", "m4", "m5", "m6", "m7"} {
		if m := nextInOrder(t, r.c); m.ID != id {
			t.Fatalf("a got %s, want %s", m.ID, id)
		}
	}
}

// TestResumeAheadOfLiveDelivery: a replay read from the log can go
// further than this node's live room events have come (its event
// consumer lags, as after losing the ROOMS stream's leader, when it is
// replaced and catches up); the events the replay gave are not sent
// again when they arrive live, also those up to after_seq, and the
// events after them are.
func TestResumeAheadOfLiveDelivery(t *testing.T) {
	svc := newFake()
	svc.replay = func(_, room string, after uint64) ([]chat.Message, error) {
		return []chat.Message{{ID: "m3", RoomID: room, Seq: 3}, {ID: "m4", RoomID: room, Seq: 4}}, nil
	}
	gw, url := start(t, svc)
	b := dial(t, url, "tok-b")
	a, rec := dialResume(t, url, "tok-a", map[string]any{"room_id": "_default", "after_seq": 2})
	if !rec.Recovered {
		t.Fatalf("recovery = %+v", rec)
	}
	for _, id := range []string{"m3", "m4"} {
		if m := nextInOrder(t, a); m.ID != id {
			t.Fatalf("a got %s, want %s", m.ID, id)
		}
	}
	// The node's delivery catches up: seq 2 (A had it before), 3 and 4
	// (replayed), then 5, another room's 6 and 7.
	for _, m := range []chat.Message{{ID: "m2", Seq: 2}, {ID: "m3", Seq: 3}, {ID: "m4", Seq: 4}, {ID: "m5", Seq: 5}, {ID: "x6", RoomID: "other", Seq: 6}, {ID: "m7", Seq: 7}} {
		if m.RoomID == "" {
			m.RoomID = "_default"
		}
		gw.RoomEvent(&m)
	}
	for _, id := range []string{"m2", "m3", "m4", "m5", "m7"} {
		if m := nextMessage(t, b); m.ID != id {
			t.Fatalf("b got %s, want %s", m.ID, id)
		}
	}
	for _, id := range []string{"m5", "m7"} {
		if m := nextInOrder(t, a); m.ID != id {
			t.Fatalf("a got %s (seq %d), want %s: a replayed event again", m.ID, m.Seq, id)
		}
	}
}

func TestResumeRefusedAndMalformed(t *testing.T) {
	svc := newFake()
	svc.replay = func(string, string, uint64) ([]chat.Message, error) {
		return nil, &chat.ResumeRefused{Reason: chat.ResumeRoomChanged}
	}
	gw, url := start(t, svc)
	c, rec := dialResume(t, url, "tok-a", map[string]any{"room_id": "old", "after_seq": 9})
	if rec != (recovery{RoomID: "old", Reason: "room_changed"}) {
		t.Fatalf("recovery = %+v", rec)
	}
	gw.RoomEvent(&chat.Message{ID: "m1", RoomID: "_default", Seq: 10})
	if m := nextMessage(t, c); m.ID != "m1" {
		t.Fatalf("got %s", m.ID)
	}
	_, rec = dialResume(t, url, "tok-b", map[string]any{"room_id": "_default", "after_seq": -1})
	if rec != (recovery{RoomID: "_default", Reason: "invalid_seq"}) {
		t.Fatalf("malformed: recovery = %+v", rec)
	}
}

// Drain lets a call in flight finish and send its ack, refuses calls made
// after it began with unavailable, and returns once none is in flight.
func TestDrainFinishesCallsInFlight(t *testing.T) {
	svc := newFake()
	entered, release := make(chan struct{}), make(chan struct{})
	svc.sendGate, svc.sendEntered = release, entered
	gw, url := start(t, svc)
	a := dial(t, url, "tok-a")
	b := dial(t, url, "tok-b")
	acked := make(chan error, 1)
	go func() {
		ack, err := a.EmitWithAck(ctxT(t), "send_message", map[string]string{"content": "in flight"})
		var res struct {
			OK bool `json:"ok"`
		}
		if err == nil && (ack.Arg(0, &res) != nil || !res.OK) {
			err = fmt.Errorf("ack %s", ack.Args)
		}
		acked <- err
	}()
	<-entered // the call is in the service
	drained := make(chan error, 1)
	go func() { drained <- gw.Drain(ctxT(t)) }()
	// Drain waits for the call; a new call is refused meanwhile.
	waitRefused := func() {
		for {
			ack, err := b.EmitWithAck(ctxT(t), "switch_room", map[string]string{"room_id": "r1"})
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Error string `json:"error"`
			}
			_ = ack.Arg(0, &res)
			if res.Error == "unavailable" {
				return
			}
			// The drain had not begun yet: the switch went through.
			select {
			case <-ctxT(t).Done():
				t.Fatal("calls never refused after Drain began")
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	waitRefused()
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) while a call was in flight", err)
	default:
	}
	close(release)
	if err := <-acked; err != nil {
		t.Fatalf("the call in flight: %v", err)
	}
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
}

// TestConnectBehindTheJoin: a socket connecting without a resume, on a
// node whose room-event delivery is behind the user's join (the join was
// made through another node, or just before, and this node's consumer
// lags), gets the room's events after the join notice, never the notice
// or those before it. (Seen as a flake of TestTabsShareOnePresence: a
// tab got its user's own join notice from registration.)
func TestConnectBehindTheJoin(t *testing.T) {
	tests := []struct {
		name   string
		resume map[string]any // nil: a plain connect
	}{
		{"plain connect", nil},
		{"resume refused", map[string]any{"room_id": "elsewhere", "after_seq": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newFake()
			svc.joinSeq = map[string]uint64{"ua": 5}
			svc.replay = func(_, _ string, _ uint64) ([]chat.Message, error) {
				return nil, &chat.ResumeRefused{Reason: chat.ResumeRoomChanged}
			}
			gw, url := start(t, svc)
			var a *sioclient.Client
			if tt.resume == nil {
				a = dial(t, url, "tok-a")
			} else {
				var rec recovery
				a, rec = dialResume(t, url, "tok-a", tt.resume)
				if rec.Recovered {
					t.Fatalf("recovery = %+v", rec)
				}
			}
			// This node's delivery catches up: 3 and 4 (before the join),
			// the join notice 5 (made before the connection), then 6 and 7.
			for _, m := range []chat.Message{{ID: "m3", Seq: 3}, {ID: "m4", Seq: 4}, {ID: "m5", Seq: 5}, {ID: "m6", Seq: 6}, {ID: "m7", Seq: 7}} {
				m.RoomID = "_default"
				gw.RoomEvent(&m)
			}
			for _, id := range []string{"m6", "m7"} {
				if m := nextInOrder(t, a); m.ID != id {
					t.Fatalf("a got %s (seq %d), want %s: an event from before the connection (the join notice is seq 5)", m.ID, m.Seq, id)
				}
			}
		})
	}
}
