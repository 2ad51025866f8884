package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

// With "peter" taken, every look-alike spelling is refused as taken:
// fullwidth, small capitals, modifier letters, mathematical letters,
// Cyrillic and Greek homoglyphs, and a mix of them.
func TestLookalikeNicknamesTaken(t *testing.T) {
	s := startServer(t, "")
	s.register(t, "peter")
	for _, name := range []string{
		"ｐｅｔｅｒ", // fullwidth
		"ᴘᴇᴛᴇʀ", // small capitals
		"ᵖᵉᵗᵉʳ", // modifier letters
		"𝐩𝐞𝐭𝐞𝐫", // mathematical bold
		"𝓅ℯ𝓉ℯ𝓇", // mathematical script
		"реtеr", // Cyrillic р and е
		"ρeter", // Greek ρ
		"ᴘｅтеʀ", // a mix
	} {
		var e apiError
		if code := s.do(t, "POST", "/api/users", "", map[string]string{"username": name}, &e); code != http.StatusConflict || e.Error != apierr.CodeUsernameTaken {
			t.Errorf("register %q: %d %+v, want 409 %s", name, code, e, apierr.CodeUsernameTaken)
		}
	}
}

// Room names have the same look-alike uniqueness, and a deleted room's
// name (by its look-alike key) is free again.
func TestLookalikeRoomNamesTaken(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	for _, name := range []string{
		"Default Rооm", // Cyrillic о
		"DEFAULT RΟΟM", // Greek capital Ο
		"ᴅᴇꜰᴀᴜʟᴛ ʀᴏᴏᴍ", // small capitals
		"Ｄｅｆａｕｌｔ Ｒｏｏｍ", // fullwidth
		"𝐓𝐞𝐬𝐭𝐢𝐧𝐠",      // mathematical bold
	} {
		var e apiError
		if code := s.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": name}, &e); code != http.StatusConflict || e.Error != apierr.CodeRoomNameTaken {
			t.Errorf("create room %q: %d %+v, want 409 %s", name, code, e, apierr.CodeRoomNameTaken)
		}
	}
	var room chat.Room
	if code := s.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": "Gophers"}, &room); code != http.StatusCreated {
		t.Fatalf("create Gophers: %d", code)
	}
	var e apiError
	if code := s.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": "Gоphers"}, &e); code != http.StatusConflict || e.Error != apierr.CodeRoomNameTaken {
		t.Fatalf("create Gоphers (Cyrillic о) next to Gophers: %d %+v", code, e)
	}
	// Anna leaves: Gophers is deleted and its key released.
	if e := a.call(t, "switch_room", map[string]string{"room_id": "_default"}, nil); e != nil {
		t.Fatal(e)
	}
	if code := s.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": "Gоphers"}, nil); code != http.StatusCreated {
		t.Fatalf("create Gоphers after Gophers was deleted: %d", code)
	}
}

// Keys made by the earlier key functions (nicknames without NFKC and
// small capitals; room names case-folded only) are moved to the current
// keys when a node starts; names that now collide keep working, the
// first under the new key and the other under its old one.
func TestNameKeysMigratedAtStart(t *testing.T) {
	url, _ := natstest.StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seed, err := cluster.Start(ctx, cluster.Options{NATSURL: url, Name: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = seed.Close(context.Background()) })

	// The keys the previous release computed (for the record: before NFKC
	// and the small-capital table, and, for rooms, the SHA-256 of the
	// case-folded NFC name).
	const (
		oldFullwidth  = "27c84d62f0d67c5fd44353c892e7fd9577ec11bfd095e5086f35d24f71233c88" // "ｐｅｔｅｒ"
		oldSmallCaps  = "7fbbe7f28281a46eef4ead55446f4cbfc49cbab2357606b69398c60280c1829d" // "ᴘᴇᴛᴇʀ"
		oldDefault    = "06d64c9ae7e9bbd584572ba814ea4bfaed17c31fe0818f08228a7a26e1f4f44c" // "Default Room"
		oldLookalike  = "87e009243b8352b24c33fc9d2cd759ca7b5aca9b5819bdf6b7635b5e1c072b82" // "Default Rооm"
		newPeter      = "026ad9b14a7453b7488daa0c6acbc258b1506f52c441c7c465474c1a564394ff"
		newDefault    = "44009d28bc56111c4aa51c927f22049aa803c32e644bdce4f7c3285e50cb5c70"
		tokFullwidth  = "token-of-the-fullwidth-peter"
		tokSmallCaps  = "token-of-the-small-capitals-peter"
		idFullwidth   = "uoldfullwidth"
		idSmallCaps   = "uoldsmallcaps"
		idLookalike   = "roldlookalike"
		idGophers     = "roldgophers"
		gophersName   = "Gophers 1"
		gophersFolded = "gophers 1"
	)
	if got := sha256hex("default room"); got != oldDefault {
		t.Fatalf("old room key of Default Room = %s, want %s", got, oldDefault)
	}
	if chat.NicknameKey("peter") != newPeter || chat.RoomNameKey("Default Room") != newDefault {
		t.Fatal("current keys differ from the golden ones")
	}
	oldGophers, newGophers := sha256hex(gophersFolded), chat.RoomNameKey(gophersName)
	if oldGophers == newGophers {
		t.Fatal("Gophers 1 has the same key in both versions: pick another name")
	}
	now := time.Now().UnixMilli()
	put := func(kv chat.KV, key string, v any) {
		t.Helper()
		b, ok := v.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := kv.Create(ctx, key, b); err != nil {
			t.Fatalf("seed %s: %v", key, err)
		}
	}
	user := func(id, name, key, tok, room string) {
		put(seed.Users(), id, map[string]any{"id": id, "name": name, "name_key": key, "token_hash": sha256hex(tok), "created_at": now, "room": room, "offline_since": now})
		put(seed.Nicks(), key, []byte(id))
		put(seed.Tokens(), sha256hex(tok), []byte(id))
	}
	room := func(id, name, key string, persistent bool, members ...string) {
		put(seed.Rooms(), id, map[string]any{"id": id, "name": name, "name_key": key, "description": "", "persistent": persistent, "created_at": now, "members": members})
		put(seed.RoomNames(), key, []byte(id))
	}
	user(idFullwidth, "ｐｅｔｅｒ", oldFullwidth, tokFullwidth, "_default")
	user(idSmallCaps, "ᴘᴇᴛᴇʀ", oldSmallCaps, tokSmallCaps, idLookalike)
	room("_default", "Default Room", oldDefault, true, idFullwidth)
	room(idLookalike, "Default Rооm", oldLookalike, false, idSmallCaps)
	room(idGophers, gophersName, oldGophers, false, idSmallCaps) // a stale member: kept as is

	s := startServer(t, "", "--nats-url", url)

	owner := func(kv chat.KV, key string) string {
		t.Helper()
		e, err := kv.Get(ctx, key)
		if errors.Is(err, apierr.ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(e.Value)
	}
	nameKey := func(kv chat.KV, id string) string {
		t.Helper()
		e, err := kv.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			NameKey string `json:"name_key"`
		}
		if err := json.Unmarshal(e.Value, &r); err != nil {
			t.Fatal(err)
		}
		return r.NameKey
	}

	// The persistent room claimed its new key at start and released the old.
	if o := owner(seed.RoomNames(), newDefault); o != "_default" {
		t.Errorf("new key of Default Room owned by %q", o)
	}
	if o := owner(seed.RoomNames(), oldDefault); o != "" {
		t.Errorf("old key of Default Room still owned by %q", o)
	}
	if k := nameKey(seed.Rooms(), "_default"); k != newDefault {
		t.Errorf("_default name_key = %s", k)
	}
	// A user's room was re-keyed.
	if o := owner(seed.RoomNames(), newGophers); o != idGophers {
		t.Errorf("new key of %s owned by %q", gophersName, o)
	}
	if o := owner(seed.RoomNames(), oldGophers); o != "" {
		t.Errorf("old key of %s still owned by %q", gophersName, o)
	}
	// The look-alike room keeps its old key: the persistent room has the new one.
	if o := owner(seed.RoomNames(), oldLookalike); o != idLookalike {
		t.Errorf("old key of Default Rооm owned by %q", o)
	}
	// One peter got the new key, the other kept its old one.
	winner := owner(seed.Nicks(), newPeter)
	var loser, loserOld, winnerOld string
	switch winner {
	case idFullwidth:
		loser, loserOld, winnerOld = idSmallCaps, oldSmallCaps, oldFullwidth
	case idSmallCaps:
		loser, loserOld, winnerOld = idFullwidth, oldFullwidth, oldSmallCaps
	default:
		t.Fatalf("new key of peter owned by %q", winner)
	}
	if o := owner(seed.Nicks(), winnerOld); o != "" {
		t.Errorf("winner's old key still owned by %q", o)
	}
	if k := nameKey(seed.Users(), winner); k != newPeter {
		t.Errorf("winner's name_key = %s", k)
	}
	if o := owner(seed.Nicks(), loserOld); o != loser {
		t.Errorf("loser's old key owned by %q", o)
	}
	if !strings.Contains(s.logs.String(), "name claim kept under its old key") {
		t.Error("the kept claims were not logged")
	}

	// Both existing users keep working; no new look-alike gets in.
	for _, tok := range []string{tokFullwidth, tokSmallCaps} {
		var me chat.User
		if code := s.do(t, "GET", "/api/users/me", tok, nil, &me); code != http.StatusOK {
			t.Fatalf("me after migration: %d", code)
		}
	}
	for _, name := range []string{"peter", "PETER", "ᵖᵉᵗᵉʳ"} {
		if code := s.do(t, "POST", "/api/users", "", map[string]string{"username": name}, nil); code != http.StatusConflict {
			t.Errorf("register %q after migration: %d, want 409", name, code)
		}
	}
	var e apiError
	if code := s.do(t, "POST", "/api/rooms", tokFullwidth, map[string]string{"name": "Gophers l"}, &e); code != http.StatusConflict || e.Error != apierr.CodeRoomNameTaken {
		t.Errorf("create Gophers l after migration: %d %+v", code, e)
	}

	// The user kept under the old key logs out: that key is released.
	loserTok := map[string]string{idFullwidth: tokFullwidth, idSmallCaps: tokSmallCaps}[loser]
	if code := s.do(t, "DELETE", "/api/users/me", loserTok, nil, nil); code != http.StatusNoContent && code != http.StatusOK {
		t.Fatalf("logout: %d", code)
	}
	if o := owner(seed.Nicks(), loserOld); o != "" {
		t.Errorf("old key still owned by %q after logout", o)
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// A persistent room added to the configuration takes its name's key from
// a user's room that holds it (the user's room lives on under its name),
// and keeps it when that room is deleted.
func TestPersistentRoomTakesItsName(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	a := s.join(t, "Anna")
	var lobby chat.Room
	if code := s.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": "Lobby"}, &lobby); code != http.StatusCreated {
		t.Fatalf("create Lobby: %d", code)
	}
	_ = a.C.Close()
	s.Stop()

	rooms := filepath.Join(t.TempDir(), "rooms.json")
	spec := `[{"id":"_default","name":"Default Room","description":""},{"id":"_lobby","name":"LOBBY","description":""}]`
	if err := os.WriteFile(rooms, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, dir, "--rooms-file", rooms)
	a2 := s2.connect(t, a.User, a.Token)
	if e := a2.call(t, "switch_room", map[string]string{"room_id": "_default"}, nil); e != nil {
		t.Fatal(e)
	}
	// The switch deleted the user's Lobby (its last member left) before the ack.
	if code := s2.do(t, "GET", "/api/rooms/"+lobby.ID, "", nil, nil); code != http.StatusNotFound {
		t.Fatalf("user's Lobby after its last member left: %d", code)
	}
	var e apiError
	if code := s2.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": "Lоbby"}, &e); code != http.StatusConflict || e.Error != apierr.CodeRoomNameTaken {
		t.Fatalf("create Lоbby next to the persistent LOBBY: %d %+v", code, e)
	}
}
