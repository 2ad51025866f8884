package cluster_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

func TestSignals(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	type msg struct{ subject, data string }
	subscribe := func(pattern string) chan msg {
		t.Helper()
		ch := make(chan msg, 10)
		if err := c.Signals().Subscribe(ctx, pattern, func(s string, d []byte) { ch <- msg{s, string(d)} }); err != nil {
			t.Fatalf("Subscribe(%q): %v", pattern, err)
		}
		return ch
	}
	exact := subscribe("typing.lobby")
	star := subscribe("typing.*")
	rest := subscribe("typing.>")
	logout := subscribe("logout.*")

	for _, m := range []msg{{"typing.lobby", "a"}, {"typing.dev", "b"}, {"typing.dev.thread", "c"}, {"logout.u1", "d"}} {
		if err := c.Signals().Publish(ctx, m.subject, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	collect := func(ch chan msg, n int) []msg {
		t.Helper()
		var got []msg
		for len(got) < n {
			select {
			case m := <-ch:
				got = append(got, m)
			case <-ctx.Done():
				t.Fatalf("got %v, want %d messages", got, n)
			}
		}
		select {
		case m := <-ch:
			t.Fatalf("unexpected extra message %v", m)
		case <-time.After(100 * time.Millisecond):
		}
		return got
	}
	if got := collect(exact, 1); !slices.Equal(got, []msg{{"typing.lobby", "a"}}) {
		t.Errorf("exact: %v", got)
	}
	if got := collect(star, 2); !slices.Equal(got, []msg{{"typing.lobby", "a"}, {"typing.dev", "b"}}) {
		t.Errorf("star: %v", got)
	}
	if got := collect(rest, 3); !slices.Equal(got, []msg{{"typing.lobby", "a"}, {"typing.dev", "b"}, {"typing.dev.thread", "c"}}) {
		t.Errorf("rest: %v", got)
	}
	if got := collect(logout, 1); !slices.Equal(got, []msg{{"logout.u1", "d"}}) {
		t.Errorf("logout: %v", got)
	}
}

func TestSignalsUnsubscribeOnCancel(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	sctx, cancel := context.WithCancel(ctx)
	got := make(chan string, 10)
	before := c.Conn().NumSubscriptions()
	if err := c.Signals().Subscribe(sctx, "x", func(s string, _ []byte) { got <- s }); err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for c.Conn().NumSubscriptions() > before {
		if time.Now().After(deadline) {
			t.Fatal("subscription still there after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Signals().Publish(ctx, "x", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		t.Fatalf("message on %q after the subscription's context ended", s)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSignalsInvalidSubjects(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	for _, s := range []string{"", "a b", "a..b", ".a", "a.", "*", ">", "a.*", "a=b", "chat.sig.x\x00"} {
		if err := c.Signals().Publish(ctx, s, nil); !errors.Is(err, cluster.ErrInvalidSubject) {
			t.Errorf("Publish(%q): %v, want ErrInvalidSubject", s, err)
		}
	}
	for _, p := range []string{"", "a b", "a..b", ">.a", "a.>.b", "a*", "a.b>"} {
		if err := c.Signals().Subscribe(ctx, p, func(string, []byte) {}); !errors.Is(err, cluster.ErrInvalidSubject) {
			t.Errorf("Subscribe(%q): %v, want ErrInvalidSubject", p, err)
		}
	}
}
