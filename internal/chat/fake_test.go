package chat_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/chat/chattest"
)

// The tests in the files fake_*_test.go run the chat rules on the
// in-memory stores of package chattest and its fake clock: no NATS, and
// time moves only when a test moves it.

// fakeNode is one service on a chattest.Env.
type fakeNode struct {
	t      *testing.T
	env    *chattest.Env
	svc    *chat.Service
	rec    *chattest.Recorder
	ctx    context.Context
	cancel context.CancelFunc
}

// stop stops the service (as a crash: nothing is written) and waits for
// its loop to end.
func (n *fakeNode) stop() {
	n.t.Helper()
	before := n.env.Clock.Tickers()
	n.cancel()
	eventually(n.t, "the service's loop to end", func() bool { return n.env.Clock.Tickers() <= before-2 })
}

// startFake starts a service called nodeID on env; cfg (if not nil) may
// change its configuration. It stops at the test's end (or stop).
// Nodes must be started one at a time.
func startFake(t *testing.T, env *chattest.Env, nodeID string, cfg func(*chat.Config)) *fakeNode {
	t.Helper()
	n, err := tryStartFake(t, env, nodeID, cfg)
	if err != nil {
		t.Fatalf("start %s: %v", nodeID, err)
	}
	return n
}

func tryStartFake(t *testing.T, env *chattest.Env, nodeID string, cfg func(*chat.Config)) (*fakeNode, error) {
	t.Helper()
	c := chat.Config{NodeID: nodeID, Clock: env.Clock, Files: env.Files, Logger: slog.New(slog.DiscardHandler)}
	if cfg != nil {
		cfg(&c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	n := &fakeNode{t: t, env: env, svc: chat.New(c, env.Stores(), env.Log, env.Signals), rec: &chattest.Recorder{}, ctx: ctx, cancel: cancel}
	tickers := env.Clock.Tickers()
	if err := n.svc.Start(ctx, n.rec); err != nil {
		cancel()
		return nil, err
	}
	// The heartbeat and sweep tickers start on the loop's goroutine.
	eventually(t, "the service's tickers", func() bool { return env.Clock.Tickers() >= tickers+2 })
	return n, nil
}

// eventually polls cond (real time) for up to 5 s: what the watches and
// the service's loop do happens on their goroutines.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// tickUntil moves the clock on by a second (a sweep) at a time until
// cond holds, for up to 5 s of real time: for what the sweep does once
// the watches have brought the state it acts on.
func (n *fakeNode) tickUntil(what string, cond func() bool) {
	n.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: not within 5 s", what)
		}
		n.env.Clock.Advance(time.Second)
		time.Sleep(time.Millisecond)
	}
}

// register registers name and fails the test on error.
func (n *fakeNode) register(name string) (chat.User, string) {
	n.t.Helper()
	u, token, err := n.svc.Register(n.ctx, name)
	if err != nil {
		n.t.Fatalf("register %q: %v", name, err)
	}
	return u, token
}

// createRoom creates a room as user and fails the test on error.
func (n *fakeNode) createRoom(userID, name string) chat.Room {
	n.t.Helper()
	r, err := n.svc.CreateRoom(n.ctx, userID, name, "")
	if err != nil {
		n.t.Fatalf("create room %q: %v", name, err)
	}
	return r
}

// user returns the listed user id (cached view), or false.
func (n *fakeNode) user(id string) (chat.User, bool) {
	for _, u := range n.svc.Users() {
		if u.ID == id {
			return u, true
		}
	}
	return chat.User{}, false
}

// inRoom reports whether the cached view has user id in room.
func (n *fakeNode) inRoom(id, room string) bool {
	u, ok := n.user(id)
	return ok && u.CurrentRoom != nil && u.CurrentRoom.ID == room
}

// members is the cached member count of room (-1: no such room).
func (n *fakeNode) members(room string) int {
	r, ok := n.svc.CachedRoom(room)
	if !ok {
		return -1
	}
	return r.MemberCount
}

// notices returns the types and user ids of room's stored events, as
// "joined:<id>", "left:<id>" or "text:<content>".
func (n *fakeNode) notices(room string) []string {
	var out []string
	for _, e := range n.env.Log.Events(room) {
		switch {
		case strings.Contains(string(e.Data), `"type":1`):
			out = append(out, "joined")
		case strings.Contains(string(e.Data), `"type":2`):
			out = append(out, "left")
		default:
			out = append(out, "text")
		}
	}
	return out
}

// code is the client-visible code of err ("" for nil).
func code(err error) string {
	if err == nil {
		return ""
	}
	return apierr.AsError(err).Code
}

// unavailable fails a store call as an outage would.
func unavailable(string, string) error { return apierr.ErrUnavailable }

// failOp fails op (on any key) as an outage would.
func failOp(op string) func(string, string) error {
	return func(o, _ string) error {
		if o == op {
			return apierr.ErrUnavailable
		}
		return nil
	}
}

func TestFakeStartAndLists(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	if got := n.svc.NodeID(); got != "a-n00000001" {
		t.Fatalf("NodeID %q", got)
	}
	if n.svc.DefaultRoomID() != "_default" {
		t.Fatalf("default room %q", n.svc.DefaultRoomID())
	}
	if n.svc.LiveNodes() != 1 {
		t.Fatalf("%d live nodes", n.svc.LiveNodes())
	}
	n.svc.Probe()
	bob, _ := n.register("bob")
	env.Clock.Advance(time.Millisecond)
	anna, _ := n.register("anna")
	env.Clock.Advance(time.Millisecond)
	r2 := n.createRoom(bob.ID, "Zeta")
	env.Clock.Advance(time.Millisecond)
	r1 := n.createRoom(anna.ID, "Alpha")
	eventually(t, "the lists", func() bool { return len(n.svc.Users()) == 2 && len(n.svc.Rooms()) == 4 })
	var names []string
	for _, u := range n.svc.Users() {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"anna", "bob"}) {
		t.Fatalf("users %v, want by name", names)
	}
	var ids []string
	for _, r := range n.svc.Rooms() {
		ids = append(ids, r.ID)
	}
	if want := []string{"_default", "_test", r2.ID, r1.ID}; !slices.Equal(ids, want) {
		t.Fatalf("rooms %v, want %v (persistent first, then by age)", ids, want)
	}
	if r, err := n.svc.Room(n.ctx, r1.ID); err != nil || r.Name != "Alpha" || r.MemberCount != 1 || r.AvatarURL != chat.RoomAvatarURL(r1.ID) {
		t.Fatalf("room %+v, %v", r, err)
	}
	for _, id := range []string{"nope", "bad id!", ""} {
		if _, err := n.svc.Room(n.ctx, id); code(err) != apierr.CodeRoomNotFound {
			t.Errorf("Room(%q): %v, want room_not_found", id, err)
		}
	}
	if _, ok := n.svc.CachedRoom("nope"); ok {
		t.Error("CachedRoom of an unknown room")
	}
	us, rs := n.rec.Changes()
	if us == 0 || rs == 0 {
		t.Errorf("listener told of %d user and %d room changes", us, rs)
	}
}

func TestFakeStartErrors(t *testing.T) {
	tests := []struct {
		name  string
		node  string
		cfg   func(*chat.Config)
		setup func(env *chattest.Env)
	}{
		{name: "empty node id", node: ""},
		{name: "invalid node id", node: "a b"},
		{name: "invalid persistent room id", node: "a-n1", cfg: func(c *chat.Config) { c.PersistentRooms = []chat.RoomSpec{{ID: "a b", Name: "A"}} }},
		{name: "invalid persistent room name", node: "a-n1", cfg: func(c *chat.Config) { c.PersistentRooms = []chat.RoomSpec{{ID: "a", Name: ""}} }},
		{name: "invalid persistent room description", node: "a-n1", cfg: func(c *chat.Config) {
			c.PersistentRooms = []chat.RoomSpec{{ID: "a", Name: "A", Description: "x\ny"}}
		}},
		{name: "rooms unavailable", node: "a-n1", setup: func(env *chattest.Env) { env.Rooms.FailWith(unavailable) }},
		{name: "nodes unavailable", node: "a-n1", setup: func(env *chattest.Env) { env.Nodes.FailWith(failOp("create")) }},
		{name: "users watch fails", node: "a-n1", setup: func(env *chattest.Env) { env.Users.FailWith(failOp("watch")) }},
		{name: "log unavailable", node: "a-n1", setup: func(env *chattest.Env) { env.Log.FailWith(unavailable) }},
		{name: "signals unavailable", node: "a-n1", setup: func(env *chattest.Env) { env.Signals.FailWith(unavailable) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := chattest.NewEnv()
			if tt.setup != nil {
				tt.setup(env)
			}
			if _, err := tryStartFake(t, env, tt.node, tt.cfg); err == nil {
				t.Fatal("started")
			}
		})
	}
}

// A persistent room changed in the configuration (or left with a member
// list by an earlier version) is put right at start; its name claim
// follows a rename.
func TestFakePersistentRoomsUpdated(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, _ := n.register("anna")
	n.stop()
	n2 := startFake(t, env, "a-n00000002", func(c *chat.Config) {
		c.PersistentRooms = []chat.RoomSpec{{ID: "_default", Name: "Lobby", Description: "new"}}
	})
	r, err := n2.svc.Room(n2.ctx, "_default")
	if err != nil || r.Name != "Lobby" || r.Description != "new" || !r.Persistent {
		t.Fatalf("room %+v, %v", r, err)
	}
	if _, err := n2.svc.CreateRoom(n2.ctx, u.ID, "Default Room", ""); err != nil {
		t.Fatalf("the old name is still claimed: %v", err)
	}
	if _, err := n2.svc.CreateRoom(n2.ctx, u.ID, "lobby", ""); code(err) != apierr.CodeRoomNameTaken {
		t.Fatalf("the new name is not claimed: %v", err)
	}
}

func TestParseRoomSpecs(t *testing.T) {
	tests := []struct {
		name, json string
		wantIDs    []string
	}{
		{"two rooms", `[{"id":"a","name":"A"},{"id":"b","name":"B","description":"b room"}]`, []string{"a", "b"}},
		{"not json", `{`, nil},
		{"empty list", `[]`, nil},
		{"invalid id", `[{"id":"a b","name":"A"}]`, nil},
		{"invalid name", `[{"id":"a","name":""}]`, nil},
		{"invalid description", `[{"id":"a","name":"A","description":"` + strings.Repeat("x", chat.RoomDescriptionMaxLen+1) + `"}]`, nil},
		{"duplicate id", `[{"id":"a","name":"A"},{"id":"a","name":"B"}]`, nil},
		{"look-alike names", `[{"id":"a","name":"Room"},{"id":"b","name":"ROOM"}]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := chat.ParseRoomSpecs([]byte(tt.json))
			if (err == nil) != (tt.wantIDs != nil) {
				t.Fatalf("err %v", err)
			}
			var ids []string
			for _, s := range specs {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, tt.wantIDs) {
				t.Fatalf("ids %v, want %v", ids, tt.wantIDs)
			}
		})
	}
}
