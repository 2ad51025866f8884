package chat_test

import (
	"encoding/json"
	"testing"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/chat/chattest"
)

// put stores v as JSON under key, failing the test on error.
func put(t *testing.T, kv *chattest.KV, key string, v any) {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Create(t.Context(), key, b); err != nil {
		t.Fatal(err)
	}
}

// claimOf is who holds key in a claims bucket ("" if nobody).
func claimOf(t *testing.T, kv *chattest.KV, key string) string {
	t.Helper()
	e, err := kv.Get(t.Context(), key)
	if err != nil {
		return ""
	}
	return string(e.Value)
}

// Claims stored under an older key function move to the current key at
// start; of two names that now collide, one moves and the other keeps
// its old key; a persistent room takes its key from a look-alike.
func TestFakeRekeyAtStart(t *testing.T) {
	env := chattest.NewEnv()
	now := env.Clock.Now().UnixMilli()
	user := func(id, name, key string) map[string]any {
		return map[string]any{"id": id, "name": name, "name_key": key, "token_hash": "t" + id, "created_at": now, "room": "r-garden", "join_seq": 1}
	}
	put(t, env.Users, "u-1", user("u-1", "peter", "old-peter"))
	put(t, env.Users, "u-2", user("u-2", "ｐｅｔｅｒ", "old-fullwidth-peter"))
	put(t, env.Users, "u-3", user("u-3", "anna", "old-anna"))
	for id, key := range map[string]string{"u-1": "old-peter", "u-2": "old-fullwidth-peter", "u-3": "old-anna"} {
		put(t, env.Nicks, key, []byte(id))
	}
	put(t, env.Rooms, "r-garden", map[string]any{"id": "r-garden", "name": "Garden", "name_key": "old-garden", "created_at": now, "members": []string{"u-1", "u-2", "u-3"}})
	put(t, env.RoomNames, "old-garden", []byte("r-garden"))
	// A look-alike of the default room holds that room's current key.
	defaultKey := chat.RoomNameKey("Default Room")
	put(t, env.Rooms, "r-fake", map[string]any{"id": "r-fake", "name": "Default Rооm", "name_key": defaultKey, "created_at": now, "members": []string{"u-3"}})
	put(t, env.RoomNames, defaultKey, []byte("r-fake"))

	startFake(t, env, "a-n00000001", nil)

	if got := claimOf(t, env.Nicks, chat.NicknameKey("anna")); got != "u-3" {
		t.Errorf("anna's key held by %q", got)
	}
	if got := claimOf(t, env.Nicks, "old-anna"); got != "" {
		t.Errorf("anna's old key still held by %q", got)
	}
	peter := claimOf(t, env.Nicks, chat.NicknameKey("peter"))
	if peter != "u-1" && peter != "u-2" {
		t.Fatalf("peter's key held by %q", peter)
	}
	loser, loserKey := "u-2", "old-fullwidth-peter"
	if peter == "u-2" {
		loser, loserKey = "u-1", "old-peter"
	}
	if got := claimOf(t, env.Nicks, loserKey); got != loser {
		t.Errorf("the look-alike lost its old key: held by %q", got)
	}
	if got := claimOf(t, env.RoomNames, chat.RoomNameKey("Garden")); got != "r-garden" {
		t.Errorf("Garden's key held by %q", got)
	}
	if got := claimOf(t, env.RoomNames, "old-garden"); got != "" {
		t.Errorf("Garden's old key still held by %q", got)
	}
	if got := claimOf(t, env.RoomNames, defaultKey); got != "_default" {
		t.Errorf("the default room's key held by %q", got)
	}
	var rec struct {
		NameKey string `json:"name_key"`
	}
	if err := json.Unmarshal([]byte(storedUser(t, env, "u-3")), &rec); err != nil || rec.NameKey != chat.NicknameKey("anna") {
		t.Errorf("anna's record names key %q (%v)", rec.NameKey, err)
	}
}

// A claim that cannot be moved (the store fails) is left as it was and
// the service starts anyway; the next start moves it.
func TestFakeRekeyFailure(t *testing.T) {
	env := chattest.NewEnv()
	now := env.Clock.Now().UnixMilli()
	put(t, env.Users, "u-1", map[string]any{"id": "u-1", "name": "anna", "name_key": "old-anna", "created_at": now, "room": "_default", "join_seq": 1})
	put(t, env.Nicks, "old-anna", []byte("u-1"))
	env.Nicks.FailWith(failOp("create"))
	n := startFake(t, env, "a-n00000001", nil)
	if got := claimOf(t, env.Nicks, "old-anna"); got != "u-1" {
		t.Fatalf("old claim %q", got)
	}
	n.stop()
	env.Nicks.FailWith(nil)
	startFake(t, env, "a-n00000002", nil)
	if got := claimOf(t, env.Nicks, chat.NicknameKey("anna")); got != "u-1" {
		t.Fatalf("new claim %q", got)
	}
}
