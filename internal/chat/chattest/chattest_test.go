package chattest_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/chat/chattest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond (real time) for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The compare-and-set rules of a JetStream bucket, step by step.
func TestKVCompareAndSet(t *testing.T) {
	ctx := testCtx(t)
	kv := chattest.NewKV("test", nil, 0)
	var rev uint64
	steps := []struct {
		name    string
		do      func() error
		wantErr error
	}{
		{"get a missing key", func() error { _, err := kv.Get(ctx, "a"); return err }, apierr.ErrNotFound},
		{"update a missing key", func() error { _, err := kv.Update(ctx, "a", []byte("x"), 1); return err }, apierr.ErrNotFound},
		{"delete a missing key at a revision", func() error { return kv.Delete(ctx, "a", 1) }, apierr.ErrConflict},
		{"create", func() (err error) { rev, err = kv.Create(ctx, "a", []byte("1")); return err }, nil},
		{"create again", func() error { _, err := kv.Create(ctx, "a", []byte("2")); return err }, apierr.ErrExists},
		{"update at revision 0", func() error { _, err := kv.Update(ctx, "a", []byte("2"), 0); return err }, apierr.ErrConflict},
		{"update at a wrong revision", func() error { _, err := kv.Update(ctx, "a", []byte("2"), rev+1); return err }, apierr.ErrConflict},
		{"update at the revision", func() (err error) {
			old := rev
			if rev, err = kv.Update(ctx, "a", []byte("2"), rev); err == nil && rev <= old {
				t.Errorf("revision %d after %d", rev, old)
			}
			return err
		}, nil},
		{"update at the old revision", func() error { _, err := kv.Update(ctx, "a", []byte("3"), rev-1); return err }, apierr.ErrConflict},
		{"revisions are the bucket's", func() error {
			r, err := kv.Create(ctx, "b", []byte("b"))
			if err == nil && r != rev+1 {
				t.Errorf("b created at %d, want %d", r, rev+1)
			}
			return err
		}, nil},
		{"delete at a wrong revision", func() error { return kv.Delete(ctx, "a", rev+5) }, apierr.ErrConflict},
		{"delete at the revision", func() error { return kv.Delete(ctx, "a", rev) }, nil},
		{"get a deleted key", func() error { _, err := kv.Get(ctx, "a"); return err }, apierr.ErrNotFound},
		{"update a deleted key", func() error { _, err := kv.Update(ctx, "a", []byte("x"), rev); return err }, apierr.ErrNotFound},
		{"delete a missing key at any revision", func() error { return kv.Delete(ctx, "zz", 0) }, nil},
		{"create over a delete marker", func() error { _, err := kv.Create(ctx, "a", []byte("again")); return err }, nil},
		{"invalid key", func() error { _, err := kv.Get(ctx, "a..b"); return err }, chattest.ErrInvalidKey},
		{"invalid key character", func() error { _, err := kv.Create(ctx, "a b", nil); return err }, chattest.ErrInvalidKey},
	}
	for _, st := range steps {
		err := st.do()
		if !errors.Is(err, st.wantErr) || (st.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
		}
	}
	keys, err := kv.Keys(ctx)
	if err != nil || !slices.Equal(keys, []string{"a", "b"}) {
		t.Fatalf("keys %v, %v; want [a b]", keys, err)
	}
	e, err := kv.Get(ctx, "a")
	if err != nil || string(e.Value) != "again" {
		t.Fatalf("a = %q, %v", e.Value, err)
	}
}

// Of many writers racing on one revision, exactly one wins.
func TestKVOneWinner(t *testing.T) {
	ctx := testCtx(t)
	kv := chattest.NewKV("test", nil, 0)
	rev, err := kv.Create(ctx, "k", []byte("0"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, creates := 0, 0
	for range 50 {
		wg.Go(func() {
			_, uerr := kv.Update(ctx, "k", []byte("x"), rev)
			_, cerr := kv.Create(ctx, "new", []byte("x"))
			mu.Lock()
			defer mu.Unlock()
			if uerr == nil {
				wins++
			} else if !errors.Is(uerr, apierr.ErrConflict) {
				t.Errorf("update: %v", uerr)
			}
			if cerr == nil {
				creates++
			}
		})
	}
	wg.Wait()
	if wins != 1 || creates != 1 {
		t.Fatalf("%d updates and %d creates won, want 1 each", wins, creates)
	}
}

// A watch gets the live entries, then onReady, then every change,
// deletions as markers.
func TestKVWatch(t *testing.T) {
	ctx := testCtx(t)
	kv := chattest.NewKV("test", nil, 0)
	if _, err := kv.Create(ctx, "gone", []byte("g")); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "gone", 0); err != nil {
		t.Fatal(err)
	}
	r1, _ := kv.Create(ctx, "a", []byte("1"))
	var mu sync.Mutex
	var got []string
	add := func(s string) { mu.Lock(); got = append(got, s); mu.Unlock() }
	err := kv.Watch(ctx, func(e chat.Entry) {
		if e.Deleted {
			add("-" + e.Key)
		} else {
			add(e.Key + "=" + string(e.Value))
		}
	}, func() { add("ready") })
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := kv.Update(ctx, "a", []byte("2"), r1)
	_ = kv.Delete(ctx, "a", r2)
	kv.Purge("a") // already deleted: nothing
	_, _ = kv.Create(ctx, "b", []byte("3"))
	kv.Purge("b")
	want := []string{"a=1", "ready", "a=2", "-a", "b=3", "-b"}
	waitFor(t, "the watch", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= len(want) })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Fatalf("watch saw %v, want %v", got, want)
	}
}

// With a TTL, an entry not rewritten expires on the clock (watches see it
// deleted); a rewrite renews it; a delete marker goes after the TTL too.
func TestKVTTL(t *testing.T) {
	ctx := testCtx(t)
	clock := chattest.NewClock()
	kv := chattest.NewKV("nodes", clock, 10*time.Second)
	var mu sync.Mutex
	var deleted []string
	if err := kv.Watch(ctx, func(e chat.Entry) {
		if e.Deleted {
			mu.Lock()
			deleted = append(deleted, e.Key)
			mu.Unlock()
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	ra, _ := kv.Create(ctx, "a", []byte("1"))
	if _, err := kv.Create(ctx, "b", []byte("1")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(6 * time.Second)
	if _, err := kv.Update(ctx, "a", []byte("2"), ra); err != nil { // renews a
		t.Fatal(err)
	}
	clock.Advance(5 * time.Second) // b is 11 s old, a 5 s
	if _, err := kv.Get(ctx, "b"); !errors.Is(err, apierr.ErrNotFound) {
		t.Fatalf("b after its TTL: %v, want not found", err)
	}
	if _, err := kv.Get(ctx, "a"); err != nil {
		t.Fatalf("a renewed: %v", err)
	}
	waitFor(t, "b's expiry seen by the watch", func() bool { mu.Lock(); defer mu.Unlock(); return slices.Equal(deleted, []string{"b"}) })
	// b's marker is at some revision; after another TTL it is gone, and a
	// delete at that revision conflicts.
	rb := kv.Revision() // the expiry was the last change
	clock.Advance(10 * time.Second)
	if err := kv.Delete(ctx, "b", rb); !errors.Is(err, apierr.ErrConflict) {
		t.Fatalf("delete of an expired marker: %v, want conflict", err)
	}
	if _, err := kv.Get(ctx, "a"); !errors.Is(err, apierr.ErrNotFound) {
		t.Fatalf("a after its TTL: %v, want not found", err)
	}
}

// FailWith fails calls before they change anything.
func TestKVFailWith(t *testing.T) {
	ctx := testCtx(t)
	kv := chattest.NewKV("test", nil, 0)
	kv.FailWith(func(op, key string) error {
		if op == "create" {
			return apierr.ErrUnavailable
		}
		return nil
	})
	if _, err := kv.Create(ctx, "a", nil); !errors.Is(err, apierr.ErrUnavailable) {
		t.Fatalf("create: %v", err)
	}
	kv.FailWith(nil)
	if _, err := kv.Get(ctx, "a"); !errors.Is(err, apierr.ErrNotFound) {
		t.Fatalf("the failed create stored something: %v", err)
	}
	if n := kv.Calls("create"); n != 1 {
		t.Fatalf("%d creates counted", n)
	}
}

// Hold keeps calls of one op waiting until released; other ops, and a
// call whose context ends, go on.
func TestKVHold(t *testing.T) {
	ctx := testCtx(t)
	kv := chattest.NewKV("test", nil, 0)
	rev, err := kv.Create(ctx, "a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	release := kv.Hold("update")
	done := make(chan error, 1)
	go func() {
		_, err := kv.Update(ctx, "a", []byte("2"), rev)
		done <- err
	}()
	waitFor(t, "the held update", func() bool { return kv.Held() == 1 })
	if e, err := kv.Get(ctx, "a"); err != nil || string(e.Value) != "1" {
		t.Fatalf("get during the hold: %q, %v", e.Value, err)
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := kv.Update(short, "a", []byte("3"), rev); !errors.Is(err, context.Canceled) {
		t.Fatalf("held update with an ended context: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("the update went on before release: %v", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("released update: %v", err)
	}
	release() // twice is fine
	if e, _ := kv.Get(ctx, "a"); string(e.Value) != "2" {
		t.Fatalf("value %q after the release, want 2", e.Value)
	}
	if n := kv.Held(); n != 0 {
		t.Fatalf("%d still held", n)
	}
}

// Timers fire in due order when the clock passes them; Stop and Reset
// behave as time.Timer's.
func TestClockTimers(t *testing.T) {
	c := chattest.NewClock()
	var fired []string
	c.AfterFunc(3*time.Second, func() { fired = append(fired, "3s") })
	c.AfterFunc(time.Second, func() {
		fired = append(fired, "1s")
		c.AfterFunc(time.Second, func() { fired = append(fired, "1s+1s") }) // from inside a timer
	})
	stopped := c.AfterFunc(2*time.Second, func() { fired = append(fired, "stopped") })
	reset := c.AfterFunc(time.Second, func() { fired = append(fired, "reset") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop: want true, then false")
	}
	if !reset.Reset(5 * time.Second) {
		t.Fatal("Reset of a pending timer: want true")
	}
	c.Advance(2500 * time.Millisecond)
	if want := []string{"1s", "1s+1s"}; !slices.Equal(fired, want) {
		t.Fatalf("after 2.5 s: %v, want %v", fired, want)
	}
	if got := c.Now().Sub(chattest.Epoch); got != 2500*time.Millisecond {
		t.Fatalf("now is epoch+%v", got)
	}
	c.Advance(10 * time.Second)
	if want := []string{"1s", "1s+1s", "3s", "reset"}; !slices.Equal(fired, want) {
		t.Fatalf("after 12.5 s: %v, want %v", fired, want)
	}
	if c.Pending() != 0 {
		t.Fatalf("%d timers pending", c.Pending())
	}
	if reset.Reset(time.Second) {
		t.Fatal("Reset of a fired timer: want false")
	}
	c.Advance(time.Second)
	if len(fired) != 5 {
		t.Fatalf("a fired timer reset did not fire again: %v", fired)
	}
}

// A ticker hands every tick to its reader: Advance waits for each.
func TestClockTicker(t *testing.T) {
	c := chattest.NewClock()
	tk := c.NewTicker(time.Second)
	got := make(chan time.Time, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3 {
			got <- <-tk.C()
		}
		tk.Stop()
	}()
	c.Advance(5 * time.Second) // three taken, the fourth ends with Stop
	<-done
	close(got)
	var offs []time.Duration
	for tm := range got {
		offs = append(offs, tm.Sub(chattest.Epoch))
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(offs, want) {
		t.Fatalf("ticks at %v, want %v", offs, want)
	}
	if c.Tickers() != 0 {
		t.Fatal("a stopped ticker is still running")
	}
}

// AppendOnce deduplicates an id within DupWindow, from any room; a repeat
// whose original was dropped gets ErrNotFound; each room keeps its limit.
func TestLogAppendOnce(t *testing.T) {
	ctx := testCtx(t)
	c := chattest.NewClock()
	l := chattest.NewLog(c)
	s1, dup, err := l.AppendOnce(ctx, "r1", "id1", []byte("first"))
	if err != nil || dup != nil {
		t.Fatalf("first: %d %v %v", s1, dup, err)
	}
	s2, err := l.Append(ctx, "r2", []byte("other"))
	if err != nil || s2 != s1+1 {
		t.Fatalf("seqs are the log's: %d after %d (%v)", s2, s1, err)
	}
	_, dup, err = l.AppendOnce(ctx, "r2", "id1", []byte("again"))
	if err != nil || dup == nil || dup.Seq != s1 || dup.Room != "r1" || string(dup.Data) != "first" {
		t.Fatalf("repeat: %+v, %v", dup, err)
	}
	c.Advance(chattest.DupWindow)
	s3, dup, err := l.AppendOnce(ctx, "r1", "id1", []byte("later"))
	if err != nil || dup != nil || s3 <= s2 {
		t.Fatalf("after the window: %d %+v %v", s3, dup, err)
	}
	l.SetMaxPerRoom(1)
	if _, err := l.Append(ctx, "r1", []byte("newest")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.AppendOnce(ctx, "r1", "id1", nil); !errors.Is(err, apierr.ErrNotFound) {
		t.Fatalf("repeat of a dropped event: %v, want not found", err)
	}
	ev, err := l.Since(ctx, "r1", 0, 10)
	if err != nil || len(ev) != 1 || string(ev[0].Data) != "newest" {
		t.Fatalf("r1 keeps %v (%v), want the newest only", ev, err)
	}
	if _, err := l.Append(ctx, "r 1", nil); !errors.Is(err, chattest.ErrInvalidKey) {
		t.Fatalf("invalid room: %v", err)
	}
}

// Since reads one room after a seq, up to max; Follow gets what is
// appended after it started, in order.
func TestLogSinceAndFollow(t *testing.T) {
	ctx := testCtx(t)
	l := chattest.NewLog(nil)
	_, _ = l.Append(ctx, "a", []byte("before"))
	var mu sync.Mutex
	var followed []string
	if err := l.Follow(ctx, func(e chat.LogEntry) {
		mu.Lock()
		followed = append(followed, e.Room+":"+string(e.Data))
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	for i, room := range []string{"a", "b", "a", "a"} {
		if _, err := l.Append(ctx, room, []byte{'0' + byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Since(ctx, "a", 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	for _, e := range got {
		data = append(data, string(e.Data))
	}
	if !slices.Equal(data, []string{"2", "3"}) {
		t.Fatalf("since 2 in a: %v", data)
	}
	want := []string{"a:0", "b:1", "a:2", "a:3"}
	waitFor(t, "follow", func() bool { mu.Lock(); defer mu.Unlock(); return len(followed) == len(want) })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(followed, want) {
		t.Fatalf("followed %v, want %v", followed, want)
	}
}

// A publish reaches the subscriptions whose pattern matches.
func TestSignals(t *testing.T) {
	ctx := testCtx(t)
	s := chattest.NewSignals()
	var mu sync.Mutex
	got := map[string][]string{}
	for _, p := range []string{"typing.*", "typing.>", ">", "other.x"} {
		if err := s.Subscribe(ctx, p, func(subject string, _ []byte) {
			mu.Lock()
			got[p] = append(got[p], subject)
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, subj := range []string{"typing.r1", "typing.r1.x", "logout"} {
		if err := s.Publish(ctx, subj, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Publish(ctx, "typing.*", nil); !errors.Is(err, chattest.ErrInvalidSubject) {
		t.Fatalf("publish to a pattern: %v", err)
	}
	want := map[string][]string{"typing.*": {"typing.r1"}, "typing.>": {"typing.r1", "typing.r1.x"}, ">": {"typing.r1", "typing.r1.x", "logout"}}
	waitFor(t, "deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(got[">"]) == 3 && len(got["typing.>"]) == 2 })
	time.Sleep(10 * time.Millisecond) // nothing more comes
	mu.Lock()
	defer mu.Unlock()
	for p, w := range want {
		if !slices.Equal(got[p], w) {
			t.Errorf("%s got %v, want %v", p, got[p], w)
		}
	}
	if len(got["other.x"]) != 0 {
		t.Errorf("other.x got %v", got["other.x"])
	}
}

// Files expire on the clock.
func TestFilesExpire(t *testing.T) {
	ctx := testCtx(t)
	c := chattest.NewClock()
	fs := chattest.NewFiles(c)
	fs.Add(chat.FileInfo{Attachment: chat.Attachment{ID: "f1"}, ExpiresAt: c.Now().Add(time.Minute)})
	if _, err := fs.Lookup(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	if _, err := fs.Lookup(ctx, "f1"); !errors.Is(err, apierr.ErrNotFound) {
		t.Fatalf("expired file: %v", err)
	}
}
