package chat_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/chat/chattest"
)

// Typing indicators, step by step on the fake clock (TTL 5 s, fan-out
// 3 s): what the room's listeners are told after each step.
func TestFakeTyping(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, _ := n.register("anna")
	n.connect(u.ID)
	other, _ := n.register("bob")
	garden := n.createRoom(other.ID, "Garden")
	typing := func(on bool) func() error { return func() error { return n.svc.Typing(n.ctx, u.ID, on) } }
	advance := func(d time.Duration) func() error { return func() error { env.Clock.Advance(d); return nil } }
	steps := []struct {
		name string
		do   func() error
		want []string // the new events: room:start or room:stop
	}{
		{"start", typing(true), []string{"_default:start"}},
		{"renewed within the fan-out: not passed on", typing(true), nil},
		{"1 s later, again", func() error { env.Clock.Advance(time.Second); return n.svc.Typing(n.ctx, u.ID, true) }, nil},
		{"3 s after the start: passed on", func() error { env.Clock.Advance(2 * time.Second); return n.svc.Typing(n.ctx, u.ID, true) }, []string{"_default:start"}},
		{"stop", typing(false), []string{"_default:stop"}},
		{"stop again: nothing to stop", typing(false), nil},
		{"start after a stop", typing(true), []string{"_default:start"}},
		{"renewals keep it going", func() error {
			for range 3 {
				env.Clock.Advance(4 * time.Second)
				if err := n.svc.Typing(n.ctx, u.ID, true); err != nil {
					return err
				}
			}
			return nil
		}, []string{"_default:start", "_default:start", "_default:start"}},
		{"expires 5 s after the last renewal", advance(5 * time.Second), []string{"_default:stop"}},
		{"start, then a message ends it", func() error {
			if err := n.svc.Typing(n.ctx, u.ID, true); err != nil {
				return err
			}
			_, err := n.svc.SendMessage(n.ctx, u.ID, chat.MessageInput{Content: "hi"})
			return err
		}, []string{"_default:start", "_default:stop"}},
		{"the ended one does not expire later", advance(10 * time.Second), nil},
		{"start, move, start: stopped in the old room", func() error {
			if err := n.svc.Typing(n.ctx, u.ID, true); err != nil {
				return err
			}
			if _, err := n.svc.SwitchRoom(n.ctx, u.ID, garden.ID); err != nil {
				return err
			}
			eventually(t, "the move cached", func() bool { return n.inRoom(u.ID, garden.ID) })
			return n.svc.Typing(n.ctx, u.ID, true)
		}, []string{"_default:start", "_default:stop", garden.ID + ":start"}},
		{"expiry in the new room", advance(5 * time.Second), []string{garden.ID + ":stop"}},
	}
	var want []string
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want = append(want, st.want...)
		got := typingEvents(t, n, u.ID, len(want))
		if !slices.Equal(got, want) {
			t.Fatalf("after %q: events %v, want %v", st.name, got, want)
		}
	}
}

// typingEvents waits for at least n typing events of user and returns
// them all (a few milliseconds more, to catch one too many).
func typingEvents(t *testing.T, node *fakeNode, user string, n int) []string {
	t.Helper()
	get := func() []string {
		var out []string
		for _, e := range node.rec.TypingEvents() {
			if e.User.ID != user {
				continue
			}
			s := "stop"
			if e.Typing {
				s = "start"
			}
			out = append(out, e.Room+":"+s)
		}
		return out
	}
	eventually(t, fmt.Sprintf("%d typing events", n), func() bool { return len(get()) >= n })
	time.Sleep(2 * time.Millisecond)
	return get()
}

func TestFakeTypingErrors(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, _ := n.register("anna")
	if err := n.svc.Typing(n.ctx, "u-nobody", true); code(err) != apierr.CodeUnauthorized {
		t.Fatalf("unknown user: %v", err)
	}
	env.Signals.FailWith(func(op, _ string) error {
		if op == "publish" {
			return apierr.ErrUnavailable
		}
		return nil
	})
	if err := n.svc.Typing(n.ctx, u.ID, true); code(err) != apierr.CodeUnavailable {
		t.Fatalf("signals down: %v", err)
	}
	if err := n.svc.Typing(n.ctx, u.ID, false); code(err) != apierr.CodeUnavailable {
		t.Fatalf("signals down, stop: %v", err)
	}
	env.Signals.FailWith(nil)
	// Junk on the typing subjects is ignored.
	if err := env.Signals.Publish(n.ctx, "typing.x", []byte("{")); err != nil {
		t.Fatal(err)
	}
	if err := n.svc.Typing(n.ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := typingEvents(t, n, u.ID, 1); len(got) != 1 {
		t.Fatalf("events %v", got)
	}
	if got := n.rec.TypingEvents(); len(got) != 1 {
		t.Fatalf("junk passed on: %v", got)
	}
}
