package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// kvStep is one operation of a KV scenario and what it must give.
type kvStep struct {
	op    string // get, create, update, delete
	key   string
	value string // written, or for get expected
	// rev is the revision passed to update and delete: "latest" or
	// "previous" (returned by this scenario's writes), "zero", "bogus".
	rev  string
	want error
}

func TestKVSemantics(t *testing.T) {
	c := natstest.Start(t)
	tests := []struct {
		name  string
		steps []kvStep
	}{
		{"create then get", []kvStep{
			{op: "create", key: "a", value: "1"},
			{op: "get", key: "a", value: "1"},
		}},
		{"create twice", []kvStep{
			{op: "create", key: "b", value: "1"},
			{op: "create", key: "b", value: "2", want: apierr.ErrExists},
			{op: "get", key: "b", value: "1"},
		}},
		{"get missing", []kvStep{
			{op: "get", key: "missing", want: apierr.ErrNotFound},
		}},
		{"update at current revision", []kvStep{
			{op: "create", key: "c", value: "1"},
			{op: "update", key: "c", value: "2", rev: "latest"},
			{op: "get", key: "c", value: "2"},
		}},
		{"update with a stale revision", []kvStep{
			{op: "create", key: "d", value: "1"},
			{op: "update", key: "d", value: "2", rev: "latest"},
			{op: "update", key: "d", value: "3", rev: "previous", want: apierr.ErrConflict},
			{op: "get", key: "d", value: "2"},
		}},
		{"update with revision 0", []kvStep{
			{op: "create", key: "d0", value: "1"},
			{op: "update", key: "d0", value: "2", rev: "zero", want: apierr.ErrConflict},
		}},
		{"update missing", []kvStep{
			{op: "update", key: "nokey", value: "2", rev: "bogus", want: apierr.ErrNotFound},
		}},
		{"update deleted", []kvStep{
			{op: "create", key: "e", value: "1"},
			{op: "delete", key: "e", rev: "zero"},
			{op: "update", key: "e", value: "2", rev: "latest", want: apierr.ErrNotFound},
		}},
		{"delete with a stale revision", []kvStep{
			{op: "create", key: "f", value: "1"},
			{op: "update", key: "f", value: "2", rev: "latest"},
			{op: "delete", key: "f", rev: "previous", want: apierr.ErrConflict},
			{op: "get", key: "f", value: "2"},
		}},
		{"delete at current revision", []kvStep{
			{op: "create", key: "g", value: "1"},
			{op: "delete", key: "g", rev: "latest"},
			{op: "get", key: "g", want: apierr.ErrNotFound},
		}},
		{"delete missing at any revision", []kvStep{
			{op: "delete", key: "never", rev: "zero"},
		}},
		{"re-create after delete", []kvStep{
			{op: "create", key: "h", value: "1"},
			{op: "delete", key: "h", rev: "zero"},
			{op: "create", key: "h", value: "2"},
			{op: "get", key: "h", value: "2"},
			{op: "create", key: "h", value: "3", want: apierr.ErrExists},
		}},
		{"dotted and symbol keys", []kvStep{
			{op: "create", key: "room.name_x=Y-1", value: "1"},
			{op: "get", key: "room.name_x=Y-1", value: "1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			kv := c.Users()
			var revs []uint64 // of this scenario's successful writes
			for i, s := range tt.steps {
				var rev uint64
				switch s.rev {
				case "latest":
					rev = revs[len(revs)-1]
				case "previous":
					rev = revs[len(revs)-2]
				case "bogus":
					rev = 1 << 40
				}
				var err error
				switch s.op {
				case "get":
					var e chat.Entry
					e, err = kv.Get(ctx, s.key)
					if err == nil && (string(e.Value) != s.value || e.Key != s.key || e.Revision != revs[len(revs)-1] || e.Deleted) {
						t.Fatalf("step %d: get %q = %+v, want value %q at revision %d", i, s.key, e, s.value, revs[len(revs)-1])
					}
				case "create":
					var r uint64
					r, err = kv.Create(ctx, s.key, []byte(s.value))
					if err == nil {
						revs = append(revs, r)
					}
				case "update":
					var r uint64
					r, err = kv.Update(ctx, s.key, []byte(s.value), rev)
					if err == nil {
						if r <= rev {
							t.Fatalf("step %d: update revision %d after %d", i, r, rev)
						}
						revs = append(revs, r)
					}
				case "delete":
					err = kv.Delete(ctx, s.key, rev)
				}
				if s.want == nil && err != nil {
					t.Fatalf("step %d: %s %q: %v", i, s.op, s.key, err)
				}
				if s.want != nil && !errors.Is(err, s.want) {
					t.Fatalf("step %d: %s %q: got %v, want %v", i, s.op, s.key, err, s.want)
				}
			}
		})
	}
}

func TestKVInvalidKeys(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	kv := c.Nicks()
	for _, key := range []string{"", "a b", "a*", "a>", "a..b", ".a", "a.", "ünï", "a/b", "a:b", string(make([]byte, 1025))} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if _, err := kv.Get(ctx, key); !errors.Is(err, cluster.ErrInvalidKey) {
				t.Errorf("Get: %v, want ErrInvalidKey", err)
			}
			if _, err := kv.Create(ctx, key, nil); !errors.Is(err, cluster.ErrInvalidKey) {
				t.Errorf("Create: %v, want ErrInvalidKey", err)
			}
			if _, err := kv.Update(ctx, key, nil, 1); !errors.Is(err, cluster.ErrInvalidKey) {
				t.Errorf("Update: %v, want ErrInvalidKey", err)
			}
			if err := kv.Delete(ctx, key, 0); !errors.Is(err, cluster.ErrInvalidKey) {
				t.Errorf("Delete: %v, want ErrInvalidKey", err)
			}
		})
	}
}

func TestKVKeys(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	kv := c.Rooms()
	keys, err := kv.Keys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("Keys of an empty bucket = %v, %v", keys, err)
	}
	for _, k := range []string{"x", "y", "z"} {
		if _, err := kv.Create(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.Delete(ctx, "y", 0); err != nil {
		t.Fatal(err)
	}
	keys, err = kv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"x", "z"}) {
		t.Fatalf("Keys = %v, want [x z]", keys)
	}
}

func TestKVWatch(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	kv := c.RoomNames()
	revA, err := kv.Create(ctx, "a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "b", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "gone", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "gone", 0); err != nil {
		t.Fatal(err)
	}

	type event struct {
		key, value string
		deleted    bool
		ready      bool
	}
	events := make(chan event, 100)
	wctx, stop := context.WithCancel(ctx)
	err = kv.Watch(wctx, func(e chat.Entry) {
		events <- event{key: e.Key, value: string(e.Value), deleted: e.Deleted}
	}, func() { events <- event{ready: true} })
	if err != nil {
		t.Fatal(err)
	}
	next := func() event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-ctx.Done():
			t.Fatal("timed out waiting for a watch event")
			return event{}
		}
	}
	// Initial entries: a and b, in revision order; the deleted key is not
	// a current entry.
	for _, want := range []event{{key: "a", value: "1"}, {key: "b", value: "1"}, {ready: true}} {
		if got := next(); got != want {
			t.Fatalf("initial: got %+v, want %+v", got, want)
		}
	}
	if _, err := kv.Update(ctx, "a", []byte("2"), revA); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "c", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "b", 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []event{{key: "a", value: "2"}, {key: "c", value: "1"}, {key: "b", deleted: true}} {
		if got := next(); got != want {
			t.Fatalf("update: got %+v, want %+v", got, want)
		}
	}

	// After the watch's context ends, no more calls.
	stop()
	time.Sleep(100 * time.Millisecond)
	for len(events) > 0 {
		<-events
	}
	if _, err := kv.Create(ctx, "late", []byte("1")); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		t.Fatalf("event after the watch ended: %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestKVWatchEmptyBucket(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	ready := make(chan struct{})
	if err := c.Tokens().Watch(ctx, func(e chat.Entry) { t.Errorf("unexpected entry %+v", e) }, func() { close(ready) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("onReady not called for an empty bucket")
	}
}

func TestKVCreateRace(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	kv := c.Nicks()
	for round, key := range []string{"fresh", "recreated"} {
		if round == 1 {
			// A deleted key is re-created over its delete marker: a
			// different compare-and-set path in JetStream.
			if _, err := kv.Create(ctx, key, []byte("old")); err != nil {
				t.Fatal(err)
			}
			if err := kv.Delete(ctx, key, 0); err != nil {
				t.Fatal(err)
			}
		}
		const n = 50
		var wins, exists atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, err := kv.Create(ctx, key, fmt.Appendf(nil, "%d", i))
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, apierr.ErrExists):
					exists.Add(1)
				default:
					t.Errorf("Create: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || exists.Load() != n-1 {
			t.Fatalf("%s: %d creates won and %d saw ErrExists, want 1 and %d", key, wins.Load(), exists.Load(), n-1)
		}
	}
}

func TestKVUpdateRace(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	kv := c.Rooms()
	rev, err := kv.Create(ctx, "counter", []byte("0"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := kv.Update(ctx, "counter", fmt.Appendf(nil, "%d", i), rev)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, apierr.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("%d updates won and %d conflicted, want 1 and %d", wins.Load(), conflicts.Load(), n-1)
	}
}
