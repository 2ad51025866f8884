package chat_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/chat/chattest"
)

func TestFakeRegister(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	n.register("anna")
	tests := []struct {
		name, nick string
		wantCode   string
	}{
		{"valid", "bob", ""},
		{"trimmed", "  carl  ", ""},
		{"too short", "ab", apierr.CodeInvalidUsername},
		{"too long", strings.Repeat("x", chat.NicknameMaxLen+1), apierr.CodeInvalidUsername},
		{"empty", "", apierr.CodeInvalidUsername},
		{"control character", "an\x00na", apierr.CodeInvalidUsername},
		{"taken", "anna", apierr.CodeUsernameTaken},
		{"taken, other case", "ANNA", apierr.CodeUsernameTaken},
		{"taken, look-alike", "ａｎｎａ", apierr.CodeUsernameTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, token, err := n.svc.Register(n.ctx, tt.nick)
			if code(err) != tt.wantCode {
				t.Fatalf("err %v, want code %q", err, tt.wantCode)
			}
			if err != nil {
				if ce := apierr.AsError(err); !strings.HasPrefix(ce.Message, "the nickname") {
					t.Errorf("message %q", ce.Message)
				}
				return
			}
			if token == "" || u.ID == "" || u.CurrentRoom == nil || u.CurrentRoom.ID != "_default" || u.Online {
				t.Fatalf("registered %+v, token %q", u, token)
			}
			if u.AvatarURL != chat.UserAvatarURL(u.ID) {
				t.Errorf("avatar %q", u.AvatarURL)
			}
			got, err := n.svc.Authenticate(n.ctx, token)
			if err != nil || got.ID != u.ID || got.CurrentRoom == nil || got.CurrentRoom.JoinSeq == 0 {
				t.Fatalf("authenticate: %+v, %v", got, err)
			}
		})
	}
	// One join notice a registration, in the default room.
	if got := n.notices("_default"); len(got) != 3 || got[2] != "joined" {
		t.Fatalf("default room events %v", got)
	}
}

// A registration that fails half-way takes back what it claimed: the
// nickname can be registered again once the store answers.
func TestFakeRegisterRollback(t *testing.T) {
	tests := []struct {
		name string
		fail func(env *chattest.Env)
	}{
		{"nickname claim fails", func(env *chattest.Env) { env.Nicks.FailWith(failOp("create")) }},
		{"token fails", func(env *chattest.Env) { env.Tokens.FailWith(failOp("create")) }},
		{"join notice fails", func(env *chattest.Env) { env.Log.FailWith(failOp("append")) }},
		{"user record fails", func(env *chattest.Env) { env.Users.FailWith(failOp("create")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := chattest.NewEnv()
			n := startFake(t, env, "a-n00000001", nil)
			tt.fail(env)
			_, _, err := n.svc.Register(n.ctx, "anna")
			if code(err) != apierr.CodeUnavailable || !errors.Is(err, apierr.ErrUnavailable) {
				t.Fatalf("err %v, want unavailable", err)
			}
			env.Nicks.FailWith(nil)
			env.Tokens.FailWith(nil)
			env.Log.FailWith(nil)
			env.Users.FailWith(nil)
			eventually(t, "the claims released", func() bool {
				keys, _ := env.Nicks.Keys(n.ctx)
				tokens, _ := env.Tokens.Keys(n.ctx)
				return len(keys) == 0 && len(tokens) == 0
			})
			n.register("anna")
		})
	}
}

func TestFakeAuthenticate(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, token := n.register("anna")
	gone, goneToken := n.register("bob")
	// bob's record vanishes behind the service's back, his token stays.
	if err := env.Users.Delete(n.ctx, gone.ID, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob gone from the cache", func() bool { _, ok := n.user(gone.ID); return !ok })
	tests := []struct {
		name, token, wantCode string
	}{
		{"valid", token, ""},
		{"empty", "", apierr.CodeUnauthorized},
		{"too long", strings.Repeat("x", 129), apierr.CodeUnauthorized},
		{"unknown", "nope", apierr.CodeUnauthorized},
		{"user gone", goneToken, apierr.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := n.svc.Authenticate(n.ctx, tt.token)
			if code(err) != tt.wantCode {
				t.Fatalf("err %v, want %q", err, tt.wantCode)
			}
			if err == nil && got.ID != u.ID {
				t.Fatalf("user %+v", got)
			}
		})
	}
	env.Tokens.FailWith(unavailable)
	if _, err := n.svc.Authenticate(n.ctx, token); code(err) != apierr.CodeUnavailable {
		t.Fatalf("tokens unavailable: %v", err)
	}
	env.Tokens.FailWith(nil)
	env.Users.FailWith(unavailable)
	if _, err := n.svc.Authenticate(n.ctx, goneToken); code(err) != apierr.CodeUnavailable {
		t.Fatalf("users unavailable: %v", err)
	}
}

func TestFakeLogout(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, token := n.register("anna")
	r := n.createRoom(u.ID, "Mine")
	if err := n.svc.Logout(n.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := n.svc.Logout(n.ctx, u.ID); code(err) != apierr.CodeUnauthorized {
		t.Fatalf("second logout: %v", err)
	}
	if _, err := n.svc.Authenticate(n.ctx, token); code(err) != apierr.CodeUnauthorized {
		t.Fatalf("token after logout: %v", err)
	}
	eventually(t, "removal reported", func() bool { return len(n.rec.Removed()) == 1 && n.rec.Removed()[0] == u.ID })
	// Her room went with her, and its name and her nickname are free.
	if _, err := n.svc.Room(n.ctx, r.ID); code(err) != apierr.CodeRoomNotFound {
		t.Fatalf("her room: %v", err)
	}
	if got := n.notices(r.ID); len(got) != 2 || got[1] != "left" {
		t.Fatalf("room events %v", got)
	}
	v, _ := n.register("anna")
	n.createRoom(v.ID, "Mine")
}
