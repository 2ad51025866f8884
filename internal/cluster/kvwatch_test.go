package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

// warnLog passes records on to natstest's logger and keeps the messages
// of those at Warn or above.
type warnLog struct {
	inner slog.Handler
	mu    *sync.Mutex
	msgs  *[]string
}

func newWarnLog(t *testing.T) warnLog {
	return warnLog{inner: natstest.Logger(t).Handler(), mu: new(sync.Mutex), msgs: new([]string)}
}

func (h warnLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.inner.Enabled(ctx, l)
}

func (h warnLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.mu.Lock()
		*h.msgs = append(*h.msgs, r.Message)
		h.mu.Unlock()
	}
	if !h.inner.Enabled(ctx, r.Level) {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h warnLog) WithAttrs(as []slog.Attr) slog.Handler {
	h.inner = h.inner.WithAttrs(as)
	return h
}

func (h warnLog) WithGroup(name string) slog.Handler {
	h.inner = h.inner.WithGroup(name)
	return h
}

// count is how many kept messages are msg.
func (h warnLog) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range *h.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

func (h warnLog) option(o *cluster.Options) { o.Logger = slog.New(h) }

const replacedMsg = "kv watch went silent; replacing it"

// watchEvent is what a Watch passed on: an entry, or the ready call.
type watchEvent struct {
	key, value string
	rev        uint64 // 0: not checked
	deleted    bool
	ready      bool
}

// startWatch runs kv.Watch sending what it passes on to the returned
// channel; block, if not nil, runs in fn before the send.
func startWatch(t *testing.T, ctx context.Context, kv *cluster.KV, block func(chat.Entry)) <-chan watchEvent {
	t.Helper()
	events := make(chan watchEvent, 1000)
	err := kv.Watch(ctx, func(e chat.Entry) {
		if block != nil {
			block(e)
		}
		events <- watchEvent{key: e.Key, value: string(e.Value), rev: e.Revision, deleted: e.Deleted}
	}, func() { events <- watchEvent{ready: true} })
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// expect receives len(want) events and compares them with want, in
// order (a want without rev matches any revision); every entry's
// revision must be above the previous one's.
func expect(t *testing.T, ctx context.Context, events <-chan watchEvent, last *uint64, want ...watchEvent) {
	t.Helper()
	for i, w := range want {
		var got watchEvent
		select {
		case got = <-events:
		case <-ctx.Done():
			t.Fatalf("event %d of %v never passed on", i, want)
		}
		if !got.ready {
			if got.rev <= *last {
				t.Fatalf("event %+v at or below revision %d already passed on", got, *last)
			}
			*last = got.rev
		}
		if w.rev == 0 {
			got.rev = 0
		}
		if got != w {
			t.Fatalf("event %d: got %+v, want %+v (want %v)", i, got, w, want)
		}
	}
}

// expectNoMore fails on any event passed on within a short while.
func expectNoMore(t *testing.T, events <-chan watchEvent) {
	t.Helper()
	select {
	case e := <-events:
		t.Fatalf("an extra event: %+v", e)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestKVWatchReplacesSilentWatcher(t *testing.T) {
	logs := newWarnLog(t)
	c := natstest.Start(t, logs.option)
	ctx := testCtx(t)
	kv := c.Users()
	kv.SetWatchCheck(50 * time.Millisecond)
	put := func(key, value string) watchEvent {
		t.Helper()
		rev, err := kv.Create(ctx, key, []byte(value))
		if err != nil {
			t.Fatal(err)
		}
		return watchEvent{key: key, value: value, rev: rev}
	}
	del := func(key string) watchEvent {
		t.Helper()
		if err := kv.Delete(ctx, key, 0); err != nil {
			t.Fatal(err)
		}
		return watchEvent{key: key, deleted: true}
	}
	keep, upd := put("keep", "1"), put("upd", "1")
	gone := put("gone", "1")

	events := startWatch(t, ctx, kv, nil)
	var last uint64
	expect(t, ctx, events, &last, keep, upd, gone, watchEvent{ready: true})

	n, err := kv.SilenceWatches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no watcher consumer to silence")
	}
	// One change per key while silent: the bucket keeps the latest
	// revision of each, so each one is there to be delivered.
	rev, err := kv.Update(ctx, "upd", []byte("2"), upd.rev)
	if err != nil {
		t.Fatal(err)
	}
	want := []watchEvent{{key: "upd", value: "2", rev: rev}, del("gone")}
	for i := range 5 {
		want = append(want, put(fmt.Sprintf("k%d", i), "1"))
	}
	expect(t, ctx, events, &last, want...)

	// The replacement keeps delivering.
	want = want[:0]
	for i := 5; i < 10; i++ {
		want = append(want, put(fmt.Sprintf("k%d", i), "1"))
	}
	want = append(want, del("k0"), del("keep"))
	expect(t, ctx, events, &last, want...)
	expectNoMore(t, events)
	if got := logs.count(replacedMsg); got == 0 {
		t.Errorf("no %q warning", replacedMsg)
	}
}

// A watcher silenced before its initial entries are all passed on is
// replaced too, and the replacement's deletions reach fn (fn may have
// been given the key before).
func TestKVWatchReplacesWatcherSilentBeforeReady(t *testing.T) {
	logs := newWarnLog(t)
	c := natstest.Start(t, logs.option)
	ctx := testCtx(t)
	kv := c.Rooms()
	kv.SetWatchCheck(50 * time.Millisecond)
	var initial []watchEvent
	for i := range 3 {
		key := fmt.Sprintf("r%d", i)
		rev, err := kv.Create(ctx, key, []byte("1"))
		if err != nil {
			t.Fatal(err)
		}
		initial = append(initial, watchEvent{key: key, value: "1", rev: rev})
	}
	// fn holds the first initial entry until the watcher is silenced and
	// the keys changed: the rest of the initial entries may or may not
	// have reached the watcher's channel by then.
	gate := make(chan struct{})
	var once sync.Once
	events := startWatch(t, ctx, kv, func(chat.Entry) {
		once.Do(func() {
			select {
			case <-gate:
			case <-ctx.Done():
			}
		})
	})
	if _, err := kv.SilenceWatches(ctx); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "r0", 0); err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Create(ctx, "r3", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	close(gate)
	var last uint64
	expect(t, ctx, events, &last, initial...)
	// Then either the watcher's initial marker (it delivered everything
	// before the pause) and the replacement's changes, or the
	// replacement's changes and its marker.
	var got []watchEvent
	for len(got) < 3 {
		select {
		case e := <-events:
			if !e.ready {
				if e.rev <= last {
					t.Fatalf("event %+v at or below revision %d already passed on", e, last)
				}
				last = e.rev
			}
			got = append(got, e)
		case <-ctx.Done():
			t.Fatalf("only %+v passed on after the initial entries", got)
		}
	}
	changes := []watchEvent{{key: "r0", deleted: true}, {key: "r3", value: "1", rev: rev}}
	for i := range got {
		if !got[i].deleted {
			continue
		}
		got[i].rev = 0
	}
	ready := watchEvent{ready: true}
	if !slices.Equal(got, append([]watchEvent{ready}, changes...)) && !slices.Equal(got, append(changes, ready)) {
		t.Fatalf("after the initial entries: %+v", got)
	}
	expectNoMore(t, events)
}

func TestKVWatchHealthyIsNotReplaced(t *testing.T) {
	logs := newWarnLog(t)
	c := natstest.Start(t, logs.option, func(o *cluster.Options) { o.NodeTTL = time.Second })
	ctx := testCtx(t)
	// A watcher is replaced when it delivered nothing for two checks in a
	// row while the stream was ahead: a healthy watcher delivers a stored
	// entry well within a second even beside a CPU hog (half the
	// production interval, so that the waits below, which let a few
	// checks run, stay short).
	const check = time.Second
	wait := func() { time.Sleep(3 * check) }
	kv := c.Users()
	kv.SetWatchCheck(check)
	rev, err := kv.Create(ctx, "a", []byte("0"))
	if err != nil {
		t.Fatal(err)
	}

	// fn blocks on an entry when hold is set.
	var (
		mu   sync.Mutex
		hold chan struct{}
	)
	events := startWatch(t, ctx, kv, func(chat.Entry) {
		mu.Lock()
		h := hold
		mu.Unlock()
		if h != nil {
			select {
			case <-h:
			case <-ctx.Done():
			}
		}
	})
	var last uint64
	expect(t, ctx, events, &last, watchEvent{key: "a", value: "0", rev: rev}, watchEvent{ready: true})
	update := func(v string) watchEvent {
		t.Helper()
		r, err := kv.Update(ctx, "a", []byte(v), rev)
		if err != nil {
			t.Fatal(err)
		}
		rev = r
		return watchEvent{key: "a", value: v, rev: r}
	}

	// Idle: the stream does not move.
	wait()
	// A slow fn with nothing else to deliver: the watcher is not behind.
	h := make(chan struct{})
	mu.Lock()
	hold = h
	mu.Unlock()
	first := update("1")
	wait()
	// A slow fn with entries waiting for it. One change per key: a
	// watcher may pass over a revision its key's next one replaced in the
	// stream before it was delivered (the buckets keep one per key).
	want := []watchEvent{first}
	for i := 2; i < 20; i++ {
		key := fmt.Sprintf("k%d", i)
		r, err := kv.Create(ctx, key, []byte("1"))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, watchEvent{key: key, value: "1", rev: r})
	}
	wait()
	mu.Lock()
	hold = nil
	mu.Unlock()
	close(h)
	expect(t, ctx, events, &last, want...)

	// Node entries expire, leaving delete markers that expire in turn: the
	// nodes stream then ends in a sequence no new watcher delivers.
	nodes := c.Nodes()
	nodes.SetWatchCheck(check)
	nrev, err := nodes.Create(ctx, "n1", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	nodeEvents := startWatch(t, ctx, nodes, nil)
	var nlast uint64
	expect(t, ctx, nodeEvents, &nlast, watchEvent{key: "n1", value: "x", rev: nrev}, watchEvent{ready: true},
		watchEvent{key: "n1", deleted: true})
	for {
		msgs, err := nodes.StreamMsgs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msgs == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the nodes bucket's delete marker never expired")
		case <-time.After(100 * time.Millisecond):
		}
	}
	lateEvents := startWatch(t, ctx, nodes, nil)
	expect(t, ctx, lateEvents, new(uint64), watchEvent{ready: true})
	wait()

	expectNoMore(t, events)
	expectNoMore(t, nodeEvents)
	expectNoMore(t, lateEvents)
	if got := logs.count(replacedMsg); got != 0 {
		t.Errorf("a healthy watcher was replaced %d times", got)
	}
}
