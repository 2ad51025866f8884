package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

// gatedKV is a KV whose watch can be held back (a watch lagging behind
// the store) and whose reads are counted.
type gatedKV struct {
	chat.KV
	gets atomic.Int64

	mu     sync.Mutex
	paused bool
	queued []func()
}

func (k *gatedKV) Get(ctx context.Context, key string) (chat.Entry, error) {
	k.gets.Add(1)
	return k.KV.Get(ctx, key)
}

func (k *gatedKV) Watch(ctx context.Context, fn func(chat.Entry), onReady func()) error {
	return k.KV.Watch(ctx, func(e chat.Entry) {
		k.mu.Lock()
		if k.paused {
			k.queued = append(k.queued, func() { fn(e) })
			k.mu.Unlock()
			return
		}
		k.mu.Unlock()
		fn(e)
	}, onReady)
}

func (k *gatedKV) pause() {
	k.mu.Lock()
	k.paused = true
	k.mu.Unlock()
}

// resume passes on what was held, in order, then lets the watch through.
func (k *gatedKV) resume() {
	k.mu.Lock()
	q := k.queued
	k.queued, k.paused = nil, false
	k.mu.Unlock()
	for _, f := range q {
		f()
	}
}

// startGated starts a service whose user bucket is a gatedKV.
func startGated(t *testing.T, ctx context.Context) (*cluster.Cluster, *chat.Service, *gatedKV) {
	t.Helper()
	cl := natstest.Start(t)
	users := &gatedKV{KV: cl.Users()}
	svc := startWith(t, ctx, cl, "a-n00000001", nil, func(st *chat.Stores, _ *chat.Log) { st.Users = users })
	return cl, svc, users
}

// A message goes to the room its sender is in, as this node last wrote
// it, even while the watch that keeps the cache is behind; once the cache
// has caught up, sending reads nothing from the store.
func TestSendReadsItsOwnWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, svc, users := startGated(t, ctx)
	u, _, err := svc.Register(ctx, "anna")
	if err != nil {
		t.Fatal(err)
	}
	inCache := func(room string) bool {
		for _, v := range svc.Users() {
			if v.ID == u.ID && v.CurrentRoom != nil && v.CurrentRoom.ID == room {
				return true
			}
		}
		return false
	}
	waitFor(t, func() bool { return inCache(svc.DefaultRoomID()) })

	send := func(want string) {
		t.Helper()
		m, err := svc.SendMessage(ctx, u.ID, chat.MessageInput{Content: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		if m.RoomID != want {
			t.Fatalf("sent to %q, want %q", m.RoomID, want)
		}
	}
	users.pause()
	r, err := svc.CreateRoom(ctx, u.ID, "Elsewhere", "")
	if err != nil {
		t.Fatal(err)
	}
	send(r.ID)
	if _, err := svc.SwitchRoom(ctx, u.ID, svc.DefaultRoomID()); err != nil {
		t.Fatal(err)
	}
	send(svc.DefaultRoomID())

	users.resume() // delivers what was held before it returns
	waitFor(t, func() bool {
		_, ok := svc.CachedRoom(r.ID)
		return !ok && inCache(svc.DefaultRoomID()) // the room went with its last member
	})
	// The cache holds this node's writes now: sending reads nothing.
	before := users.gets.Load()
	for range 10 {
		send(svc.DefaultRoomID())
	}
	if n := users.gets.Load() - before; n != 0 {
		t.Fatalf("10 sends read the user record %d times", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Writes to a user record start from the cached record (no read) and
// still compose with writes the cache has not seen: the compare-and-set
// catches a stale cache and the write is made again on a fresh read.
func TestUserWritesFromTheCache(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, svc, users := startGated(t, ctx)
	u, _, err := svc.Register(ctx, "anna")
	if err != nil {
		t.Fatal(err)
	}
	before := users.gets.Load()
	if err := svc.Connected(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.Disconnected(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if n := users.gets.Load() - before; n != 0 {
		t.Fatalf("connect and disconnect read the user record %d times", n)
	}

	// Another node counts a session of its own; this node has not seen it.
	users.pause()
	e, err := cl.Users().Get(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		t.Fatal(err)
	}
	rec["sessions"] = map[string]int{"b-n00000002": 1}
	b, _ := json.Marshal(rec)
	if _, err := cl.Users().Update(ctx, u.ID, b, e.Revision); err != nil {
		t.Fatal(err)
	}
	if err := svc.Connected(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	users.resume()
	e, err = cl.Users().Get(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got storedPresence
	if err := json.Unmarshal(e.Value, &got); err != nil {
		t.Fatal(err)
	}
	if got.Sessions["b-n00000002"] != 1 || got.Sessions["a-n00000001"] != 1 {
		t.Fatalf("sessions %v: a write from a stale cache lost the other node's", got.Sessions)
	}
}

// Many users switching into one room at once all get in: the room's
// member list is one record written by compare-and-set, and the writers
// that lose a round spread out before the next instead of colliding
// again until they give up ("too much contention").
func TestManySwitchIntoOneRoom(t *testing.T) {
	cl := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	svc := startService(t, ctx, cl, "a-n00000001", nil)
	owner, _, err := svc.Register(ctx, "owner")
	if err != nil {
		t.Fatal(err)
	}
	room, err := svc.CreateRoom(ctx, owner.ID, "Crowded", "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 256
	ids := make([]string, n)
	for i := range ids {
		u, _, err := svc.Register(ctx, fmt.Sprintf("user%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, id := range ids {
		wg.Go(func() {
			if _, err := svc.SwitchRoom(ctx, id, room.ID); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r, err := svc.Room(ctx, room.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.MemberCount != n+1 {
		t.Fatalf("%d members, want %d", r.MemberCount, n+1)
	}
}

// slowKV holds every Update while it is held.
type slowKV struct {
	chat.KV
	mu      sync.Mutex
	release chan struct{} // closed: not held
}

func (k *slowKV) Update(ctx context.Context, key string, v []byte, rev uint64) (uint64, error) {
	k.mu.Lock()
	gate := k.release
	k.mu.Unlock()
	<-gate
	return k.KV.Update(ctx, key, v, rev)
}

func (k *slowKV) hold() {
	k.mu.Lock()
	k.release = make(chan struct{})
	k.mu.Unlock()
}

func (k *slowKV) let() {
	k.mu.Lock()
	close(k.release)
	k.mu.Unlock()
}

// A switch that gives up while its join is being written (its call timed
// out) takes the join back once written: the room keeps no member who
// never entered, and goes when its real members leave.
func TestGivenUpJoinTakenBack(t *testing.T) {
	cl := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rooms := &slowKV{KV: cl.Rooms(), release: make(chan struct{})}
	rooms.let() // the setup goes through
	svc := startWith(t, ctx, cl, "a-n00000001", nil, func(st *chat.Stores, _ *chat.Log) { st.Rooms = rooms })
	owner, _, err := svc.Register(ctx, "owner")
	if err != nil {
		t.Fatal(err)
	}
	room, err := svc.CreateRoom(ctx, owner.ID, "Busy", "")
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := svc.Register(ctx, "anna")
	if err != nil {
		t.Fatal(err)
	}
	rooms.hold() // the join's write waits
	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = svc.SwitchRoom(short, u.ID, room.ID)
	stop()
	if err == nil {
		t.Fatal("the switch succeeded with its write held")
	}
	rooms.let()
	// The join is written, then taken back: one member, the owner.
	waitFor(t, func() bool {
		r, err := svc.Room(ctx, room.ID)
		return err == nil && r.MemberCount == 1
	})
	if _, err := svc.SwitchRoom(ctx, owner.ID, svc.DefaultRoomID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := svc.Room(ctx, room.ID)
		return apierr.AsError(err).Code == apierr.CodeRoomNotFound
	})
}

// A room this node creates is in its room list at once, even while the
// watch that keeps the cache is behind; the watch catching up later
// (its create, join and delete) leaves the cache as the store is.
func TestRoomListReadsItsOwnWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := natstest.Start(t)
	rooms := &gatedKV{KV: cl.Rooms()}
	svc := startWith(t, ctx, cl, "a-n00000001", nil, func(st *chat.Stores, _ *chat.Log) { st.Rooms = rooms })
	u, _, err := svc.Register(ctx, "anna")
	if err != nil {
		t.Fatal(err)
	}
	listed := func(id string) (chat.Room, bool) {
		for _, r := range svc.Rooms() {
			if r.ID == id {
				return r, true
			}
		}
		return chat.Room{}, false
	}
	rooms.pause()
	r, err := svc.CreateRoom(ctx, u.ID, "Elsewhere", "")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := listed(r.ID)
	if !ok || got.Name != "Elsewhere" || got.MemberCount != 1 {
		t.Fatalf("right after its creation the room is listed %v as %+v, want Elsewhere with its one member", ok, got)
	}
	if _, err := svc.SwitchRoom(ctx, u.ID, svc.DefaultRoomID()); err != nil {
		t.Fatal(err)
	}
	rooms.resume()
	waitFor(t, func() bool { _, ok := listed(r.ID); return !ok }) // gone with its last member
}
