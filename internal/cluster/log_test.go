package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

func TestLogAppendSeqsIncrease(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	var last uint64
	for i := range 20 {
		room := []string{"r1", "r2", "r3"}[i%3]
		seq, err := c.Log().Append(ctx, room, fmt.Appendf(nil, "m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if seq <= last {
			t.Fatalf("append %d: seq %d after %d", i, seq, last)
		}
		last = seq
	}
}

func TestLogAppendID(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	s1, err := c.Log().AppendID(ctx, "r", "msg-1", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := c.Log().AppendID(ctx, "r", "msg-1", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 {
		t.Fatalf("retried append got seq %d, first %d", s2, s1)
	}
	got, err := c.Log().Since(ctx, "r", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("Since after a retried append: %d events, want 1", len(got))
	}
}

func TestLogFollow(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	if _, err := c.Log().Append(ctx, "before", []byte("old")); err != nil {
		t.Fatal(err)
	}
	got := make(chan chat.LogEntry, 100)
	fctx, stop := context.WithCancel(ctx)
	if err := c.Log().Follow(fctx, func(e chat.LogEntry) { got <- e }); err != nil {
		t.Fatal(err)
	}
	type appended struct {
		room string
		seq  uint64
		data string
	}
	var want []appended
	start := time.Now().Add(-time.Second)
	for i := range 30 {
		room := []string{"lobby", "dev", "room.with.dots"}[i%3]
		data := fmt.Sprintf("m%d", i)
		seq, err := c.Log().Append(ctx, room, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, appended{room, seq, data})
	}
	for i, w := range want {
		select {
		case e := <-got:
			if e.Room != w.room || e.Seq != w.seq || string(e.Data) != w.data {
				t.Fatalf("event %d: got %s/%d %q, want %s/%d %q", i, e.Room, e.Seq, e.Data, w.room, w.seq, w.data)
			}
			if e.Time.Before(start) || e.Time.After(time.Now().Add(time.Second)) {
				t.Fatalf("event %d: time %v", i, e.Time)
			}
		case <-ctx.Done():
			t.Fatalf("timed out after %d of %d events", i, len(want))
		}
	}

	stop()
	time.Sleep(100 * time.Millisecond)
	if _, err := c.Log().Append(ctx, "lobby", []byte("after")); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		t.Fatalf("event after Follow's context ended: %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestLogSince(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	var lobby []uint64
	for i := range 25 {
		room := "lobby"
		if i%2 == 1 {
			room = "other"
		}
		seq, err := c.Log().Append(ctx, room, fmt.Appendf(nil, "%s-%d", room, i))
		if err != nil {
			t.Fatal(err)
		}
		if room == "lobby" {
			lobby = append(lobby, seq)
		}
	}
	tests := []struct {
		name  string
		room  string
		after uint64
		max   int
		want  []uint64
	}{
		{"all", "lobby", 0, 100, lobby},
		{"after the third", "lobby", lobby[2], 100, lobby[3:]},
		{"after a seq of another room", "lobby", lobby[2] + 1, 100, lobby[3:]},
		{"limited", "lobby", lobby[0], 4, lobby[1:5]},
		{"exactly the rest", "lobby", lobby[9], 3, lobby[10:]},
		{"after the last", "lobby", lobby[len(lobby)-1], 10, nil},
		{"empty room", "nobody", 0, 10, nil},
		{"max zero", "lobby", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Log().Since(testCtx(t), tt.room, tt.after, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, e := range got {
				if e.Room != tt.room || e.Seq != tt.want[i] || e.Time.IsZero() {
					t.Fatalf("event %d: %s/%d, want %s/%d", i, e.Room, e.Seq, tt.room, tt.want[i])
				}
			}
		})
	}
}

func TestLogSinceLarge(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	const n = 2500 // more than one pull batch
	for i := range n {
		if _, err := c.Log().Append(ctx, "big", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Log().Since(ctx, "big", 0, n+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d events, want %d", len(got), n)
	}
	for i, e := range got {
		if string(e.Data) != fmt.Sprint(i) {
			t.Fatalf("event %d: %q", i, e.Data)
		}
	}
}

// A Since whose consumer never delivers (here its pull requests are
// refused by the NATS permissions, as a stalled pull looks to the client)
// reads the events from the stream leader instead of waiting out its
// context. A 3-server cluster beside a CPU hog once waited 20 s for one
// event this way.
func TestLogSinceStalledPull(t *testing.T) {
	url, _ := natstest.StartServer(t, func(o *server.Options) {
		o.Users = []*server.User{{
			Username: "chat",
			Password: "secret",
			Permissions: &server.Permissions{Publish: &server.SubjectPermission{
				Allow: []string{">"},
				Deny:  []string{"$JS.API.CONSUMER.MSG.NEXT." + cluster.StreamRooms + ".>"},
			}},
		}}
	})
	c := natstest.Start(t, func(o *cluster.Options) {
		o.NATSURL = strings.Replace(url, "nats://", "nats://chat:secret@", 1)
		o.DataDir, o.ListenAddr = "", ""
	})
	c.Log().SetSincePullWait(200 * time.Millisecond)
	ctx := testCtx(t)
	var want []uint64
	for i := range 5 {
		seq, err := c.Log().Append(ctx, "stalled", fmt.Appendf(nil, "%d", i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, seq)
	}
	for _, tc := range []struct {
		name  string
		after uint64
		max   int
		want  []uint64
	}{
		{"all", 0, 10, want},
		{"after the second", want[1], 10, want[2:]},
		{"limited", 0, 3, want[:3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Log().Since(ctx, "stalled", tc.after, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for i, e := range got {
				if string(e.Data) != fmt.Sprint(e.Seq-want[0]) {
					t.Fatalf("event %d: seq %d holds %q", i, e.Seq, e.Data)
				}
				seqs = append(seqs, e.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tc.want) {
				t.Fatalf("got seqs %v, want %v", seqs, tc.want)
			}
		})
	}
}

func TestLogSinceLeavesNoConsumer(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	if _, err := c.Log().Append(ctx, "r", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := c.Log().Since(ctx, "r", 0, 10); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.JetStream().Stream(ctx, cluster.StreamRooms)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Consumers == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d consumers left on %s", info.State.Consumers, cluster.StreamRooms)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLogInvalidRoom(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	for _, room := range []string{"", "a b", "*", ">", "a.*", "a..b", "a."} {
		if _, err := c.Log().Append(ctx, room, nil); !errors.Is(err, cluster.ErrInvalidSubject) {
			t.Errorf("Append(%q): %v, want ErrInvalidSubject", room, err)
		}
		if _, err := c.Log().Since(ctx, room, 0, 1); !errors.Is(err, cluster.ErrInvalidSubject) {
			t.Errorf("Since(%q): %v, want ErrInvalidSubject", room, err)
		}
	}
}

// Barrier passes through the Follow loop only between events: while the
// callback is stuck it times out; once the callback returns it passes.
func TestLogBarrier(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := c.Log().Barrier(short)
	cancel()
	if err == nil {
		t.Fatal("Barrier without a Follow loop succeeded")
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	if err := c.Log().Follow(fctx, func(e chat.LogEntry) {
		entered <- struct{}{}
		<-release
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Log().Barrier(ctx); err != nil {
		t.Fatalf("Barrier on an idle loop: %v", err)
	}
	if _, err := c.Log().Append(ctx, "r", []byte("x")); err != nil {
		t.Fatal(err)
	}
	<-entered
	short, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
	err = c.Log().Barrier(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Barrier while the callback is stuck = %v, want a deadline error", err)
	}
	close(release)
	if err := c.Log().Barrier(ctx); err != nil {
		t.Fatalf("Barrier after the callback returned: %v", err)
	}
}

func TestLogAppendOnce(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	l := c.Log()
	seq, dup, err := l.AppendOnce(ctx, "r1", "u1:c1", []byte("first"))
	if err != nil || dup != nil {
		t.Fatalf("first AppendOnce: seq %d, dup %v, err %v", seq, dup, err)
	}
	// The same id again, to another room and with other data (a user who
	// moved, retrying the same send): nothing stored, the original back.
	seq2, dup, err := l.AppendOnce(ctx, "r2", "u1:c1", []byte("second"))
	if err != nil {
		t.Fatal(err)
	}
	if dup == nil {
		t.Fatal("repeated id: dup is nil, want the original event")
	}
	if seq2 != seq || dup.Seq != seq || dup.Room != "r1" || string(dup.Data) != "first" || dup.Time.IsZero() {
		t.Fatalf("repeated id: seq %d, dup %+v (data %q); want seq %d in r1 with data first and a time", seq2, dup, dup.Data, seq)
	}
	// Another id is another event.
	seq3, dup, err := l.AppendOnce(ctx, "r1", "u2:c1", []byte("other"))
	if err != nil || dup != nil || seq3 <= seq {
		t.Fatalf("another id: seq %d (after %d), dup %v, err %v", seq3, seq, dup, err)
	}
	for room, want := range map[string]int{"r1": 2, "r2": 0} {
		got, err := l.Since(ctx, room, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("Since(%s): %d events, want %d", room, len(got), want)
		}
	}
	if _, _, err := l.AppendOnce(ctx, "r1", "", []byte("x")); err == nil {
		t.Error("AppendOnce with an empty id: no error")
	}
}

func TestLogGet(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	l := c.Log()
	seq, err := l.Append(ctx, "room.with.dots", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := l.Get(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	if e.Room != "room.with.dots" || e.Seq != seq || string(e.Data) != "hello" || e.Time.IsZero() {
		t.Fatalf("Get(%d) = %+v (data %q)", seq, e, e.Data)
	}
	if _, err := l.Get(ctx, seq+1000); !errors.Is(err, apierr.ErrNotFound) {
		t.Fatalf("Get of a sequence never stored: %v, want apierr.ErrNotFound", err)
	}
}

// A Follow whose consumer goes silent (it stops delivering without an
// error, as nats.go's ordered consumer did after the ROOMS leader was
// killed) is noticed by its stream check and resumed by a new consumer
// after the last event delivered: every event once, in order.
func TestLogFollowReplacesSilentConsumer(t *testing.T) {
	c := natstest.Start(t)
	c.Log().SetFollowCheck(50 * time.Millisecond)
	ctx := testCtx(t)
	got := make(chan chat.LogEntry, 100)
	if err := c.Log().Follow(ctx, func(e chat.LogEntry) { got <- e }); err != nil {
		t.Fatal(err)
	}
	var want []uint64
	appendN := func(n int) {
		for i := range n {
			seq, err := c.Log().Append(ctx, []string{"a", "b"}[i%2], fmt.Appendf(nil, "m%d", len(want)))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, seq)
		}
	}
	receive := func(from int) {
		for _, w := range want[from:] {
			select {
			case e := <-got:
				if e.Seq != w {
					t.Fatalf("got seq %d, want %d (appended %v)", e.Seq, w, want)
				}
			case <-ctx.Done():
				t.Fatalf("seq %d never delivered (appended %v)", w, want)
			}
		}
	}
	appendN(5)
	receive(0)
	c.Log().SilenceFollows()
	appendN(10)
	receive(5)
	appendN(5)
	receive(15)
	select {
	case e := <-got:
		t.Fatalf("an extra event: %+v", e)
	case <-time.After(300 * time.Millisecond):
	}
}

// A publish that got no answer, or whose id an earlier try is still
// being stored with, is unavailable, never an internal error:
// also when the caller's context ends as its ack times out (the select
// in appendID sees both at once and takes either; without the mapping of
// ErrAsyncPublishTimeout half of those appends failed as internal
// errors, and a client was told internal_error without quorum).
func TestLogAppendWithoutAnswerIsUnavailable(t *testing.T) {
	c := natstest.Start(t, func(o *cluster.Options) { o.AppendAttempt = 100 * time.Millisecond })
	ctx := testCtx(t)
	ended, cancel := context.WithDeadline(ctx, time.Now()) // as a handler's call timeout
	defer cancel()
	// What a replicated stream answers while an earlier try with the
	// same message id waits for its quorum (TestNATSServerKilled got it
	// as an internal_error without quorum).
	inProcess := &jetstream.APIError{Code: 409, ErrorCode: 10158, Description: "duplicate message id is in process"}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		ok   bool // a try after it succeeds
	}{
		{"ack timed out, context ended", ended, jetstream.ErrAsyncPublishTimeout, false},
		{"too many outstanding", ctx, jetstream.ErrTooManyStalledMsgs, false},
		{"ack timed out, context live: published again", ctx, jetstream.ErrAsyncPublishTimeout, true},
		{"id in process, context ended", ended, inProcess, false},
		{"id in process, context live: published again", ctx, inProcess, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 32 {
				c.Log().FailPublishes(1, tc.err)
				_, err := c.Log().Append(tc.ctx, "unanswered", []byte(fmt.Sprint(tc.name, i)))
				switch {
				case tc.ok && err != nil:
					t.Fatalf("try %d: %v, want the next try to succeed", i, err)
				case !tc.ok && !errors.Is(err, apierr.ErrUnavailable):
					t.Fatalf("try %d: %v, want apierr.ErrUnavailable", i, err)
				}
			}
		})
	}
}

// An append whose ack does not come publishes again with the same
// message id: the event is stored once, whether the lost try reached the
// stream or not, and AppendOnce does not take its own earlier try for a
// repeat.
func TestLogAppendRetriesALostPublish(t *testing.T) {
	c := natstest.Start(t, func(o *cluster.Options) { o.AppendAttempt = 100 * time.Millisecond })
	ctx := testCtx(t)
	for _, tc := range []struct {
		name   string
		stored bool // the lost try's event reached the stream
		once   string
	}{
		{"lost before the stream", false, ""},
		{"ack lost", true, ""},
		{"lost before the stream, AppendOnce", false, "u1:c1"},
		{"ack lost, AppendOnce", true, "u1:c2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			room := "retry" + strings.NewReplacer(" ", "-", ",", "").Replace(tc.name)
			lost := c.Log().LosePublishes(2, tc.stored)
			data := []byte("event of " + tc.name)
			var seq uint64
			var err error
			if tc.once == "" {
				seq, err = c.Log().Append(ctx, room, data)
			} else {
				var dup *chat.LogEntry
				seq, dup, err = c.Log().AppendOnce(ctx, room, tc.once, data)
				if dup != nil {
					t.Fatalf("AppendOnce took its own lost try for a repeat: %+v", dup)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := lost(); n != 2 {
				t.Fatalf("%d publishes lost, want 2", n)
			}
			got, err := c.Log().Since(ctx, room, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Seq != seq || string(got[0].Data) != string(data) {
				t.Fatalf("room holds %+v, want one event at seq %d", got, seq)
			}
		})
	}
	// A real repeat of an AppendOnce id is still one.
	first, _, err := c.Log().AppendOnce(ctx, "repeat", "u1:c9", []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	seq, dup, err := c.Log().AppendOnce(ctx, "repeat", "u1:c9", []byte("b"))
	if err != nil || dup == nil || seq != first || string(dup.Data) != "a" {
		t.Fatalf("repeat: seq %d (first %d), dup %+v, %v", seq, first, dup, err)
	}
}
