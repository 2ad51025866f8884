package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/chat/chattest"
)

func (n *fakeNode) online(id string) bool { u, ok := n.user(id); return ok && u.Online }

func (n *fakeNode) connect(id string) {
	n.t.Helper()
	if err := n.svc.Connected(n.ctx, id); err != nil {
		n.t.Fatalf("connect %s: %v", id, err)
	}
}

func (n *fakeNode) disconnect(id string) {
	n.t.Helper()
	if err := n.svc.Disconnected(n.ctx, id); err != nil {
		n.t.Fatalf("disconnect %s: %v", id, err)
	}
}

// A user whose connections all dropped keeps nickname and room for the
// grace period, then is removed (room left, nickname freed, sockets
// closed); coming back within it keeps everything.
func TestFakePresenceGrace(t *testing.T) {
	const grace = time.Minute
	tests := []struct {
		name string
		// steps after registration: "c" connect, "d" disconnect, or a
		// duration to advance the clock by
		steps       []any
		wantRemoved bool
	}{
		{"never connected, within grace", []any{58 * time.Second}, false},
		{"never connected, past grace", []any{61 * time.Second}, true},
		{"connected, long", []any{"c", 5 * time.Minute}, false},
		{"disconnected, within grace", []any{"c", "d", 58 * time.Second}, false},
		{"disconnected, past grace", []any{"c", "d", 61 * time.Second}, true},
		{"back within grace", []any{"c", "d", 50 * time.Second, "c", 50 * time.Second}, false},
		{"two connections, one dropped", []any{"c", "c", "d", 2 * time.Minute}, false},
		{"two connections, both dropped", []any{"c", "c", "d", "d", 61 * time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := chattest.NewEnv()
			n := startFake(t, env, "a-n00000001", func(c *chat.Config) { c.Grace = grace })
			keeper, _ := n.register("keeper") // keeps the room alive
			n.connect(keeper.ID)
			u, _ := n.register("anna")
			room := n.createRoom(u.ID, "Garden")
			if _, err := n.svc.SwitchRoom(n.ctx, keeper.ID, room.ID); err != nil {
				t.Fatal(err)
			}
			for _, st := range tt.steps {
				switch st := st.(type) {
				case string:
					if st == "c" {
						n.connect(u.ID)
					} else {
						n.disconnect(u.ID)
					}
				case time.Duration:
					env.Clock.Advance(st)
				}
			}
			if tt.wantRemoved {
				eventually(t, "the removal", func() bool { return slices.Contains(n.rec.Removed(), u.ID) })
				if _, ok := n.user(u.ID); ok {
					t.Fatal("still listed")
				}
				if got := n.notices(room.ID); got[len(got)-1] != "left" {
					t.Fatalf("room events %v: no leave notice", got)
				}
				n.register("anna") // the nickname is free
				return
			}
			// One more sweep has run by the time the clock moves on.
			env.Clock.Advance(time.Second)
			if _, ok := n.user(u.ID); !ok || slices.Contains(n.rec.Removed(), u.ID) {
				t.Fatal("removed within the grace period")
			}
		})
	}
}

// The online flag follows the connections.
func TestFakeOnline(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, _ := n.register("anna")
	if n.online(u.ID) {
		t.Fatal("online before connecting")
	}
	n.connect(u.ID)
	n.connect(u.ID)
	eventually(t, "online", func() bool { return n.online(u.ID) })
	n.disconnect(u.ID)
	if !n.online(u.ID) {
		t.Fatal("offline with a connection left")
	}
	n.disconnect(u.ID)
	eventually(t, "offline", func() bool { return !n.online(u.ID) })
	n.disconnect(u.ID) // one too many: nothing happens
	if err := n.svc.Connected(n.ctx, "u-nobody"); code(err) != apierr.CodeUnauthorized {
		t.Fatalf("connect of an unknown user: %v", err)
	}
	if err := n.svc.Disconnected(n.ctx, "u-nobody"); err != nil {
		t.Fatalf("disconnect of an unknown user: %v", err)
	}
	env.Users.FailWith(unavailable)
	if err := n.svc.Connected(n.ctx, u.ID); code(err) != apierr.CodeUnavailable {
		t.Fatalf("connect, store down: %v", err)
	}
	if err := n.svc.Disconnected(n.ctx, u.ID); code(err) != apierr.CodeUnavailable {
		t.Fatalf("disconnect, store down: %v", err)
	}
}

// A node that stops beating is dead once its liveness entry expires:
// the other nodes forget its sessions, its users go offline and, after
// the grace period, are removed. A node that lost a heartbeat goes on.
func TestFakeDeadNode(t *testing.T) {
	env := chattest.NewEnv()
	a := startFake(t, env, "a-n00000001", nil)
	b := startFake(t, env, "b-n00000001", nil)
	u, _ := b.register("anna")
	b.connect(u.ID)
	v, _ := a.register("bob")
	a.connect(v.ID)
	eventually(t, "both nodes live", func() bool { return a.svc.LiveNodes() == 2 })
	eventually(t, "anna online on a", func() bool { return a.online(u.ID) })
	b.stop() // a crash: the store still counts her session on b
	env.Clock.Advance(chattest.NodeTTL - time.Second)
	if !a.online(u.ID) {
		t.Fatal("offline before b's entry expired")
	}
	env.Clock.Advance(2 * time.Second)
	eventually(t, "b dead", func() bool { return a.svc.LiveNodes() == 1 })
	eventually(t, "anna offline", func() bool { return !a.online(u.ID) })
	a.tickUntil("her dead session dropped", func() bool {
		return !strings.Contains(storedUser(t, env, u.ID), "b-n00000001")
	})
	env.Clock.Advance(61 * time.Second)
	eventually(t, "anna removed", func() bool { _, ok := a.user(u.ID); return !ok })
	if !a.online(v.ID) {
		t.Fatal("bob, connected to a live node, went offline")
	}
	// a's heartbeat fails for a while (shorter than the TTL): a stays.
	env.Nodes.FailWith(failOp("update"))
	env.Clock.Advance(4 * time.Second)
	env.Nodes.FailWith(nil)
	env.Clock.Advance(chattest.NodeTTL)
	if a.svc.LiveNodes() != 1 || !a.online(v.ID) {
		t.Fatal("a node whose heartbeat failed briefly is taken for dead")
	}
}

// An outage of the store longer than the nodes' TTL and the grace period
// lets every node's entry lapse: no node takes the others for dead or
// removes their users for it, since its own heartbeat failed too
// (Config.OutageHold). Anna, connected all along, stays.
func TestFakeOutageRemovesNobody(t *testing.T) {
	env := chattest.NewEnv()
	a := startFake(t, env, "a-n00000001", nil)
	b := startFake(t, env, "b-n00000001", nil)
	u, _ := a.register("anna")
	a.connect(u.ID)
	eventually(t, "both nodes live", func() bool { return b.svc.LiveNodes() == 2 })
	eventually(t, "anna online on b", func() bool { return b.online(u.ID) })

	env.Nodes.FailWith(func(string, string) error { return apierr.ErrUnavailable })
	for range chattest.NodeTTL/time.Second + 70 { // the TTL, then the default grace (60 s) and more
		env.Clock.Advance(time.Second)
		time.Sleep(time.Millisecond) // the loops' beats and sweeps
	}
	eventually(t, "a's entry lapsed", func() bool { return b.svc.LiveNodes() == 1 && !b.online(u.ID) })
	if _, ok := b.user(u.ID); !ok {
		t.Fatal("anna removed during the outage")
	}
	if !strings.Contains(storedUser(t, env, u.ID), "a-n00000001") {
		t.Fatalf("anna's session on a forgotten during the outage: %s", storedUser(t, env, u.ID))
	}

	env.Nodes.FailWith(nil)
	b.tickUntil("anna online again", func() bool { return b.svc.LiveNodes() == 2 && b.online(u.ID) })
	for range 70 {
		env.Clock.Advance(time.Second)
		time.Sleep(time.Millisecond)
	}
	if !b.online(u.ID) || !a.online(u.ID) {
		t.Fatal("anna offline after the outage")
	}
}

func storedUser(t *testing.T, env *chattest.Env, id string) string {
	t.Helper()
	e, err := env.Users.Get(t.Context(), id)
	if err != nil {
		return ""
	}
	return string(e.Value)
}

// A node restarted after a crash retires its earlier life at start: that
// life's users are offline at once, other nodes' users stay online.
func TestFakeRetirePredecessor(t *testing.T) {
	env := chattest.NewEnv()
	old := startFake(t, env, "c-n00000001", nil)
	other := startFake(t, env, "d-n00000001", nil)
	u, _ := old.register("anna")
	old.connect(u.ID)
	v, _ := other.register("bob")
	other.connect(v.ID)
	old.stop()
	next := startFake(t, env, "c-n00000002", func(c *chat.Config) {
		c.Predecessor = func(id string) bool { return strings.HasPrefix(id, "c-") }
	})
	if next.online(u.ID) {
		t.Fatal("the earlier life's user is online after the restart")
	}
	if !next.online(v.ID) {
		t.Fatal("another node's user is offline after the restart")
	}
	if next.svc.LiveNodes() != 2 {
		t.Fatalf("%d live nodes, want 2", next.svc.LiveNodes())
	}
}

// The store's count of a user's sessions on this node is put right by
// the sweep when it drifts from what the node holds.
func TestFakeSessionsReconciled(t *testing.T) {
	const node = "a-n00000001"
	tests := []struct {
		name        string
		connected   int
		sessions    map[string]int
		offline     int64
		wantOffline bool
	}{
		{"taken for dead", 1, map[string]int{}, 1, false},
		{"two connections, the store counts one", 2, map[string]int{node: 1}, 0, false},
		{"a disconnection the store never heard of", 0, map[string]int{node: 1}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := chattest.NewEnv()
			n := startFake(t, env, node, nil)
			u, _ := n.register("anna")
			for range tt.connected {
				n.connect(u.ID)
			}
			e, err := env.Users.Get(n.ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			var rec map[string]any
			if err := json.Unmarshal(e.Value, &rec); err != nil {
				t.Fatal(err)
			}
			rec["sessions"], rec["offline_since"] = tt.sessions, tt.offline
			b, _ := json.Marshal(rec)
			if _, err := env.Users.Update(n.ctx, u.ID, b, e.Revision); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the drift cached", func() bool { return n.online(u.ID) == (tt.sessions[node] > 0) })
			n.tickUntil("reconciled", func() bool {
				var p storedPresence
				_ = json.Unmarshal([]byte(storedUser(t, env, u.ID)), &p)
				return p.Sessions[node] == tt.connected && (p.OfflineSince > 0) == tt.wantOffline && n.online(u.ID) == !tt.wantOffline
			})
		})
	}
}

// Connections of one user counted at once on several nodes all count:
// each node's write of its count is retried on a fresh read until the
// store holds what the node holds.
func TestFakeConcurrentConnections(t *testing.T) {
	env := chattest.NewEnv()
	a := startFake(t, env, "a-n00000001", nil)
	b := startFake(t, env, "b-n00000001", nil)
	u, _ := a.register("anna")
	const each = 25
	errs := make(chan error, 2*each)
	for range each {
		for _, n := range []*fakeNode{a, b} {
			go func() { errs <- n.svc.Connected(n.ctx, u.ID) }()
		}
	}
	for range 2 * each {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	p := readPresence(t, t.Context(), env.Users, u.ID)
	if p.Sessions["a-n00000001"] != each || p.Sessions["b-n00000001"] != each {
		t.Fatalf("sessions %v, want %d on each node", p.Sessions, each)
	}
	t.Logf("%d user writes tried for %d connections", env.Users.Calls("update"), 2*each)
}

// Disconnections of one user at once (every tab closed, a node draining)
// converge on one count, in two writes. Each write sets the count this
// node holds when it is made, and a node makes one at a time for a user:
// the callers that arrive meanwhile wait for the next, which covers them
// all. With a write each, every one of them was a compare-and-set of the
// one record, all but one losing and reading again.
func TestFakeManyDisconnectionsAtOnce(t *testing.T) {
	env := chattest.NewEnv()
	a := startFake(t, env, "a-n00000001", nil)
	b := startFake(t, env, "b-n00000001", nil)
	u, _ := a.register("anna")
	const n = 50
	for range n {
		a.connect(u.ID)
	}
	b.connect(u.ID)
	revision := func() uint64 {
		e, err := env.Users.Get(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return e.Revision
	}
	release := env.Users.Hold("update")
	before, tries := revision(), env.Users.Calls("update")
	errs := make(chan error, n)
	for range n {
		go func() { errs <- a.svc.Disconnected(a.ctx, u.ID) }()
	}
	// The first write (for the first disconnections) waits in the store;
	// the others wait for the write after it.
	eventually(t, "one write held and every disconnection waiting", func() bool {
		return env.Users.Held() == 1 && a.svc.SessionWriteCallers(u.ID) == n
	})
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	p := readPresence(t, t.Context(), env.Users, u.ID)
	if _, ok := p.Sessions["a-n00000001"]; ok || p.Sessions["b-n00000001"] != 1 || p.OfflineSince != 0 {
		t.Fatalf("stored %+v, want only b's session and online", p)
	}
	// Only this record is written meanwhile: the held write and the one
	// for everybody who waited (a write each would be n).
	if got := env.Users.Calls("update") - tries; got > 2 {
		t.Fatalf("%d writes of the user tried for %d disconnections at once, want at most 2", got, n)
	}
	if got := revision() - before; got > 2 {
		t.Fatalf("%d writes of the user for %d disconnections at once, want at most 2", got, n)
	}
	if w := a.svc.SessionWriteCallers(u.ID); w != 0 {
		t.Fatalf("%d callers still waiting", w)
	}
	b.disconnect(u.ID)
	if last := readPresence(t, t.Context(), env.Users, u.ID); len(last.Sessions) != 0 || last.OfflineSince == 0 {
		t.Fatalf("stored %+v after the last disconnection, want none and offline", last)
	}
}

// A caller that gives up on the write of its session count (its
// context ended) gets its context's error at once; the write goes on for
// the others and the store ends with the node's count.
func TestFakeSessionWriteOutlivesCaller(t *testing.T) {
	env := chattest.NewEnv()
	a := startFake(t, env, "a-n00000001", nil)
	u, _ := a.register("anna")
	a.connect(u.ID)
	a.connect(u.ID)
	release := env.Users.Hold("update")
	ctx, cancel := context.WithCancel(a.ctx)
	errs := make(chan error, 1)
	go func() { errs <- a.svc.Disconnected(ctx, u.ID) }()
	eventually(t, "the write held", func() bool { return env.Users.Held() == 1 })
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("Disconnected with its context cancelled: %v, want context.Canceled", err)
	}
	release()
	eventually(t, "the count written", func() bool {
		return readPresence(t, t.Context(), env.Users, u.ID).Sessions["a-n00000001"] == 1
	})
}
