package chat_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

// tally counts the store requests made through the wrappers below.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (t *tally) add(op string) {
	t.mu.Lock()
	t.n[op]++
	t.mu.Unlock()
}

// take returns the counts since the last take, as "op×n" sorted, and the
// total.
func (t *tally) take() (string, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ops []string
	total := 0
	for op, n := range t.n {
		ops = append(ops, fmt.Sprintf("%s×%d", op, n))
		total += n
	}
	sort.Strings(ops)
	t.n = map[string]int{}
	return strings.Join(ops, " "), total
}

type countingKV struct {
	chat.KV
	name string
	t    *tally
}

func (k countingKV) Get(ctx context.Context, key string) (chat.Entry, error) {
	k.t.add(k.name + ".get")
	return k.KV.Get(ctx, key)
}

func (k countingKV) Create(ctx context.Context, key string, v []byte) (uint64, error) {
	k.t.add(k.name + ".create")
	return k.KV.Create(ctx, key, v)
}

func (k countingKV) Update(ctx context.Context, key string, v []byte, rev uint64) (uint64, error) {
	k.t.add(k.name + ".update")
	return k.KV.Update(ctx, key, v, rev)
}

func (k countingKV) Delete(ctx context.Context, key string, rev uint64) error {
	k.t.add(k.name + ".delete")
	return k.KV.Delete(ctx, key, rev)
}

type countingLog struct {
	chat.Log
	t *tally
}

func (l countingLog) Append(ctx context.Context, room string, data []byte) (uint64, error) {
	l.t.add("log.append")
	return l.Log.Append(ctx, room, data)
}

func (l countingLog) AppendOnce(ctx context.Context, room, id string, data []byte) (uint64, *chat.LogEntry, error) {
	l.t.add("log.append")
	return l.Log.AppendOnce(ctx, room, id, data)
}

// The store requests each operation makes once the caches are current
// (issue 13: "fewer NATS round trips per operation, measured"). Requests
// made at once (the nickname's claim and the token, in a registration)
// count one each here: a registration is three rounds of four requests. A change that adds one fails here and must
// say why.
func TestRoundTripsPerOperation(t *testing.T) {
	cl := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tl := &tally{n: map[string]int{}}
	kv := func(name string, k chat.KV) chat.KV { return countingKV{KV: k, name: name, t: tl} }
	svc := startWith(t, ctx, cl, "a-n00000001", nil, func(st *chat.Stores, log *chat.Log) {
		*st = chat.Stores{Users: kv("users", st.Users), Nicks: kv("nicks", st.Nicks), Tokens: kv("tokens", st.Tokens),
			Rooms: kv("rooms", st.Rooms), RoomNames: kv("roomnames", st.RoomNames), Nodes: kv("nodes", st.Nodes)}
		*log = countingLog{Log: *log, t: tl}
	})
	owner, _, err := svc.Register(ctx, "owner")
	if err != nil {
		t.Fatal(err)
	}
	room, err := svc.CreateRoom(ctx, owner.ID, "Elsewhere", "")
	if err != nil {
		t.Fatal(err)
	}
	var u chat.User
	var token string
	members := func(n int) func() bool {
		return func() bool { r, ok := svc.CachedRoom(room.ID); return ok && r.MemberCount == n }
	}
	always := func() bool { return true }
	// ready: the room cache has caught up with the room's last write (a
	// user's own writes reach the user cache at once).
	steps := []struct {
		name  string
		max   int
		ready func() bool
		do    func() error
	}{
		{"register", 3, always, func() (err error) { u, token, err = svc.Register(ctx, "anna"); return err }},
		{"connect", 1, always, func() error {
			if _, err := svc.Authenticate(ctx, token); err != nil {
				return err
			}
			return svc.Connected(ctx, u.ID)
		}},
		{"send", 1, always, func() error { _, err := svc.SendMessage(ctx, u.ID, chat.MessageInput{Content: "hi"}); return err }},
		{"switch into a room", 4, members(1), func() error { _, err := svc.SwitchRoom(ctx, u.ID, room.ID); return err }},
		{"send there", 1, always, func() error { _, err := svc.SendMessage(ctx, u.ID, chat.MessageInput{Content: "hi"}); return err }},
		{"switch back to a persistent room", 4, members(2), func() error { _, err := svc.SwitchRoom(ctx, u.ID, svc.DefaultRoomID()); return err }},
		{"disconnect", 1, always, func() error { return svc.Disconnected(ctx, u.ID) }},
	}
	for _, st := range steps {
		waitFor(t, st.ready)
		tl.take()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		ops, n := tl.take()
		t.Logf("%-34s %d: %s", st.name, n, ops)
		if n > st.max {
			t.Errorf("%s made %d store requests (%s), want at most %d", st.name, n, ops, st.max)
		}
	}
}
