package chat_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
			if id, secret, _ := strings.Cut(token, "."); id != u.ID || len(secret) != 43 {
				t.Errorf("token %q: want the user's id, a dot and 256 bits in base64url", token)
			}
			got, err := n.svc.Authenticate(n.ctx, token)
			if err != nil || got.ID != u.ID || got.CurrentRoom == nil || got.CurrentRoom.JoinSeq == 0 {
				t.Fatalf("authenticate: %+v, %v", got, err)
			}
		})
	}
	// The token's hash is in the user's record only.
	if keys, _ := env.Tokens.Keys(n.ctx); len(keys) != 0 {
		t.Errorf("tokens bucket holds %v", keys)
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

// A user registered before tokens named their user, for seedLegacyUser.
const (
	oldID    = "uoldtimer0000000"
	oldToken = "an-old-token-without-a-dot" //nolint:gosec // G101: a made-up token of a test
)

// seedLegacyUser stores a user as registrations before tokens named their
// user did: the record without token_names_user, the token's hash mapped
// to the id in the tokens bucket.
func seedLegacyUser(t *testing.T, env *chattest.Env, id, name, token string) {
	t.Helper()
	ctx := context.Background()
	now := env.Clock.Now().UnixMilli()
	sum := sha256.Sum256([]byte(token))
	th := hex.EncodeToString(sum[:])
	rec, _ := json.Marshal(map[string]any{"id": id, "name": name, "name_key": chat.NicknameKey(name), "token_hash": th, "created_at": now, "room": "_default", "offline_since": now})
	for _, e := range []struct {
		bucket   *chattest.KV
		key, val string
	}{{env.Users, id, string(rec)}, {env.Nicks, chat.NicknameKey(name), id}, {env.Tokens, th, id}} {
		if _, err := e.bucket.Create(ctx, e.key, []byte(e.val)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFakeAuthenticate(t *testing.T) {
	env := chattest.NewEnv()
	seedLegacyUser(t, env, oldID, "oldtimer", oldToken)
	n := startFake(t, env, "a-n00000001", nil)
	u, token := n.register("anna")
	other, otherToken := n.register("carl")
	gone, goneToken := n.register("bob")
	// bob's record vanishes behind the service's back.
	if err := env.Users.Delete(n.ctx, gone.ID, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob gone from the cache", func() bool { _, ok := n.user(gone.ID); return !ok })
	_, secret, _ := strings.Cut(token, ".")
	_, otherSecret, _ := strings.Cut(otherToken, ".")
	tests := []struct {
		name, token, wantID, wantCode string
	}{
		{"valid", token, u.ID, ""},
		{"empty", "", "", apierr.CodeUnauthorized},
		{"too long", strings.Repeat("x", 129), "", apierr.CodeUnauthorized},
		{"unknown", "nope", "", apierr.CodeUnauthorized},
		{"user gone", goneToken, "", apierr.CodeUnauthorized},
		{"the public id alone", u.ID, "", apierr.CodeUnauthorized},
		{"the id and a dot", u.ID + ".", "", apierr.CodeUnauthorized},
		{"the secret alone", secret, "", apierr.CodeUnauthorized},
		{"her secret under another's id", other.ID + "." + secret, "", apierr.CodeUnauthorized},
		{"another's secret under her id", u.ID + "." + otherSecret, "", apierr.CodeUnauthorized},
		{"a secret one character off", token[:len(token)-1] + string(token[len(token)-1]^1), "", apierr.CodeUnauthorized},
		{"an id that is no id", "u!x." + secret, "", apierr.CodeUnauthorized},
		{"an unknown id", "uzzzzzzzzzzzzzzzz." + secret, "", apierr.CodeUnauthorized},
		{"an old token", oldToken, oldID, ""},
		{"an old token under its user's id", oldID + "." + oldToken, "", apierr.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := n.svc.Authenticate(n.ctx, tt.token)
			if code(err) != tt.wantCode {
				t.Fatalf("err %v, want %q", err, tt.wantCode)
			}
			if err == nil && got.ID != tt.wantID {
				t.Fatalf("user %+v, want %s", got, tt.wantID)
			}
		})
	}
	// Only old tokens need the tokens bucket.
	env.Tokens.FailWith(unavailable)
	if _, err := n.svc.Authenticate(n.ctx, token); err != nil {
		t.Fatalf("tokens unavailable, a token naming its user: %v", err)
	}
	if _, err := n.svc.Authenticate(n.ctx, oldToken); code(err) != apierr.CodeUnavailable {
		t.Fatalf("tokens unavailable, an old token: %v", err)
	}
	env.Tokens.FailWith(nil)
	env.Users.FailWith(unavailable)
	if _, err := n.svc.Authenticate(n.ctx, goneToken); code(err) != apierr.CodeUnavailable {
		t.Fatalf("users unavailable: %v", err)
	}
}

// Logging out a user of an old token frees that token's entry too.
func TestFakeLogoutOldToken(t *testing.T) {
	env := chattest.NewEnv()
	seedLegacyUser(t, env, oldID, "oldtimer", oldToken)
	n := startFake(t, env, "a-n00000001", nil)
	eventually(t, "the old user cached", func() bool { _, ok := n.user(oldID); return ok })
	if err := n.svc.Logout(n.ctx, oldID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.svc.Authenticate(n.ctx, oldToken); code(err) != apierr.CodeUnauthorized {
		t.Fatalf("old token after logout: %v", err)
	}
	if keys, _ := env.Tokens.Keys(n.ctx); len(keys) != 0 {
		t.Fatalf("tokens bucket still holds %v", keys)
	}
	n.register("oldtimer")
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
