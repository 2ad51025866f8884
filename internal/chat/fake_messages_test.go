package chat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/chat/chattest"
)

func ptr(s string) *string { return &s }

func TestFakeSendMessage(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, _ := n.register("anna")
	other, _ := n.register("bob")
	now := env.Clock.Now()
	env.Files.Add(chat.FileInfo{Attachment: chat.Attachment{ID: "f1", URL: "/f1", ThumbnailURL: "/t1", ContentType: "image/png", Width: 2, Height: 3}, Owner: u.ID, ExpiresAt: now.Add(time.Hour)})
	env.Files.Add(chat.FileInfo{Attachment: chat.Attachment{ID: "f2", URL: "/f2"}, Owner: other.ID, ExpiresAt: now.Add(time.Hour)})
	env.Files.Add(chat.FileInfo{Attachment: chat.Attachment{ID: "f3", URL: "/f3"}, Owner: u.ID, ExpiresAt: now})
	tests := []struct {
		name     string
		user     string
		in       chat.MessageInput
		wantCode string
		check    func(t *testing.T, m chat.Message)
	}{
		{name: "text", user: u.ID, in: chat.MessageInput{Content: " hello "}, check: func(t *testing.T, m chat.Message) {
			if m.Content != "hello" || m.Type != chat.MessageText || m.Sender == nil || m.Sender.ID != u.ID || !m.Sender.Online || m.RoomID != "_default" || m.Seq == 0 {
				t.Fatalf("message %+v", m)
			}
		}},
		{name: "empty", user: u.ID, in: chat.MessageInput{Content: "  "}, wantCode: apierr.CodeInvalidMessage},
		{name: "too long", user: u.ID, in: chat.MessageInput{Content: strings.Repeat("x", chat.MessageMaxLen+1)}, wantCode: apierr.CodeInvalidMessage},
		{name: "image alone", user: u.ID, in: chat.MessageInput{AttachmentID: "f1", Alt: "a cat"}, check: func(t *testing.T, m chat.Message) {
			a := m.Attachment
			if a == nil || a.ID != "f1" || a.URL != "/f1" || a.ThumbnailURL != "/t1" || a.Width != 2 || a.Height != 3 || a.Alt != "a cat" || m.Content != "" {
				t.Fatalf("message %+v, attachment %+v", m, a)
			}
		}},
		{name: "image and text", user: u.ID, in: chat.MessageInput{Content: "look", AttachmentID: "f1"}, check: func(t *testing.T, m chat.Message) {
			if m.Attachment == nil || m.Content != "look" {
				t.Fatalf("message %+v", m)
			}
		}},
		{name: "image of another user", user: u.ID, in: chat.MessageInput{AttachmentID: "f2"}, wantCode: apierr.CodeAttachmentNotFound},
		{name: "expired image", user: u.ID, in: chat.MessageInput{AttachmentID: "f3"}, wantCode: apierr.CodeAttachmentNotFound},
		{name: "unknown image", user: u.ID, in: chat.MessageInput{AttachmentID: "f9"}, wantCode: apierr.CodeAttachmentNotFound},
		{name: "invalid image id", user: u.ID, in: chat.MessageInput{AttachmentID: "../f1"}, wantCode: apierr.CodeAttachmentNotFound},
		{name: "invalid image description", user: u.ID, in: chat.MessageInput{AttachmentID: "f1", Alt: "a\nb"}, wantCode: apierr.CodeInvalidMessage},
		{name: "empty client id", user: u.ID, in: chat.MessageInput{Content: "x", ClientID: ptr("")}, wantCode: apierr.CodeInvalidRequest},
		{name: "client id too long", user: u.ID, in: chat.MessageInput{Content: "x", ClientID: ptr(strings.Repeat("a", chat.ClientIDMaxLen+1))}, wantCode: apierr.CodeInvalidRequest},
		{name: "client id with a colon", user: u.ID, in: chat.MessageInput{Content: "x", ClientID: ptr("a:b")}, wantCode: apierr.CodeInvalidRequest},
		{name: "unknown user", user: "u-nobody", in: chat.MessageInput{Content: "x"}, wantCode: apierr.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := n.svc.SendMessage(n.ctx, tt.user, tt.in)
			if code(err) != tt.wantCode {
				t.Fatalf("err %v, want %q", err, tt.wantCode)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
	// Every sent message reaches the listener, in order.
	eventually(t, "the messages delivered", func() bool {
		texts := 0
		for _, m := range n.rec.Events() {
			if m.Type == chat.MessageText {
				texts++
			}
		}
		return texts == 3
	})
}

func TestFakeSendWithoutFiles(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	svc := chat.New(chat.Config{NodeID: "b-n00000001", Clock: env.Clock}, env.Stores(), env.Log, env.Signals)
	if err := svc.Start(n.ctx, &chattest.Recorder{}); err != nil {
		t.Fatal(err)
	}
	u, _ := n.register("anna")
	env.Files.Add(chat.FileInfo{Attachment: chat.Attachment{ID: "f1"}, Owner: u.ID, ExpiresAt: env.Clock.Now().Add(time.Hour)})
	if _, err := svc.SendMessage(n.ctx, u.ID, chat.MessageInput{AttachmentID: "f1"}); code(err) != apierr.CodeAttachmentNotFound {
		t.Fatalf("a service without Files took an attachment: %v", err)
	}
	env.Files.FailWith(func(string) error { return apierr.ErrUnavailable })
	if _, err := n.svc.SendMessage(n.ctx, u.ID, chat.MessageInput{AttachmentID: "f1"}); code(err) != apierr.CodeUnavailable {
		t.Fatalf("files unavailable: %v", err)
	}
}

// A repeated client id gets the first send's message back, on any node
// and after a switch, and costs no rate-limit token; once the original
// is no longer stored the repeat is refused.
func TestFakeSendIdempotent(t *testing.T) {
	env := chattest.NewEnv()
	a := startFake(t, env, "a-n00000001", func(c *chat.Config) {
		c.MessageLimit.Events, c.MessageLimit.Per, c.MessageLimit.Burst = 1, time.Minute, 2
	})
	b := startFake(t, env, "b-n00000001", nil)
	u, _ := a.register("anna")
	if err := a.svc.Connected(a.ctx, u.ID); err != nil { // she stays past the grace period
		t.Fatal(err)
	}
	first, err := a.svc.SendMessage(a.ctx, u.ID, chat.MessageInput{Content: "hi", ClientID: ptr("c1")})
	if err != nil || first.ClientID != "c1" || first.Duplicate {
		t.Fatalf("first: %+v, %v", first, err)
	}
	r := a.createRoom(u.ID, "Elsewhere")
	for i, n := range []*fakeNode{a, a, b} {
		again, err := n.svc.SendMessage(n.ctx, u.ID, chat.MessageInput{Content: "changed", ClientID: ptr("c1")})
		if err != nil || !again.Duplicate || again.Seq != first.Seq || again.ID != first.ID || again.RoomID != "_default" || again.Content != "hi" {
			t.Fatalf("repeat %d: %+v, %v", i, again, err)
		}
	}
	// The repeats gave their tokens back: one more send fits the burst of 2.
	if _, err := a.svc.SendMessage(a.ctx, u.ID, chat.MessageInput{Content: "new", ClientID: ptr("c2")}); err != nil {
		t.Fatalf("after repeats: %v", err)
	}
	env.Log.DropRoom(r.ID)
	env.Clock.Advance(time.Minute) // a token for the repeat's check
	if _, err := a.svc.SendMessage(a.ctx, u.ID, chat.MessageInput{Content: "new", ClientID: ptr("c2")}); code(err) != apierr.CodeInvalidRequest {
		t.Fatalf("repeat of a dropped message: %v", err)
	}
	env.Clock.Advance(time.Minute)
	env.Log.FailWith(unavailable)
	if _, err := a.svc.SendMessage(a.ctx, u.ID, chat.MessageInput{Content: "x", ClientID: ptr("c3")}); code(err) != apierr.CodeUnavailable {
		t.Fatalf("log unavailable: %v", err)
	}
}

func TestFakeRateLimit(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil) // default: 5/s, burst 20
	u, _ := n.register("anna")
	send := func() error {
		_, err := n.svc.SendMessage(n.ctx, u.ID, chat.MessageInput{Content: "x"})
		return err
	}
	for i := range 20 {
		if err := send(); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	err := send()
	if ce := apierr.AsError(err); ce.Code != apierr.CodeRateLimited || ce.RetryAfterMS != 200 {
		t.Fatalf("21st send: %+v, want rate_limited after 200 ms", ce)
	}
	env.Clock.Advance(200 * time.Millisecond)
	if err := send(); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	// Logout forgets the allowance (a new user of that id would start
	// afresh); the user is gone, so the send is refused as such.
	if err := n.svc.Logout(n.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := send(); code(err) != apierr.CodeUnauthorized {
		t.Fatalf("after logout: %v", err)
	}
}
