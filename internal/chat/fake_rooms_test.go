package chat_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/chat/chattest"
)

func TestFakeCreateRoom(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, _ := n.register("anna")
	bob, _ := n.register("bob")
	n.createRoom(bob.ID, "Taken") // bob stays in it
	tests := []struct {
		name, room, desc string
		user             string
		wantCode         string
	}{
		{name: "valid", room: "Garden", desc: "green", user: u.ID},
		{name: "empty name", room: " ", user: u.ID, wantCode: apierr.CodeInvalidRoom},
		{name: "name too long", room: strings.Repeat("x", chat.RoomNameMaxLen+1), user: u.ID, wantCode: apierr.CodeInvalidRoom},
		{name: "description on two lines", room: "Fine", desc: "a\nb", user: u.ID, wantCode: apierr.CodeInvalidRoom},
		{name: "name taken", room: "Taken", user: u.ID, wantCode: apierr.CodeRoomNameTaken},
		{name: "name taken by a look-alike", room: "TΑKEN", user: u.ID, wantCode: apierr.CodeRoomNameTaken},
		{name: "persistent room's name", room: "default room", user: u.ID, wantCode: apierr.CodeRoomNameTaken},
		{name: "unknown user", room: "Orphan", user: "u-nobody", wantCode: apierr.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := n.svc.CreateRoom(n.ctx, tt.user, tt.room, tt.desc)
			if code(err) != tt.wantCode {
				t.Fatalf("err %v, want %q", err, tt.wantCode)
			}
			if err != nil {
				return
			}
			if r.Name != tt.room || r.Description != tt.desc || r.Persistent || r.MemberCount != 1 {
				t.Fatalf("room %+v", r)
			}
		})
	}
	// The unknown user's room was removed at once, and its name is free.
	if _, err := n.svc.CreateRoom(n.ctx, u.ID, "Orphan", ""); err != nil {
		t.Fatalf("Orphan: %v", err)
	}
	// A store failure after the name's claim releases it.
	env.Rooms.FailWith(failOp("create"))
	if _, err := n.svc.CreateRoom(n.ctx, u.ID, "Later", ""); code(err) != apierr.CodeUnavailable {
		t.Fatalf("rooms down: %v", err)
	}
	env.Rooms.FailWith(nil)
	env.RoomNames.FailWith(failOp("create"))
	if _, err := n.svc.CreateRoom(n.ctx, u.ID, "Later", ""); code(err) != apierr.CodeUnavailable {
		t.Fatalf("room names down: %v", err)
	}
	env.RoomNames.FailWith(nil)
	n.createRoom(u.ID, "Later")
}

// Switching: the user joins the new room before leaving the old, a room
// goes with its last member (name freed), persistent rooms stay, and the
// notices land in each room's log.
func TestFakeSwitchRoom(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	anna, _ := n.register("anna")
	bob, _ := n.register("bob")
	garden := n.createRoom(anna.ID, "Garden")
	switchTo := func(user, room string) (chat.Room, error) { return n.svc.SwitchRoom(n.ctx, user, room) }

	r, err := switchTo(bob.ID, garden.ID)
	if err != nil || r.MemberCount != 2 {
		t.Fatalf("bob into the garden: %+v, %v", r, err)
	}
	if r, err := switchTo(bob.ID, garden.ID); err != nil || r.ID != garden.ID {
		t.Fatalf("switch into the room one is in: %+v, %v", r, err)
	}
	eventually(t, "both in the garden", func() bool {
		return n.inRoom(anna.ID, garden.ID) && n.inRoom(bob.ID, garden.ID) && n.members(garden.ID) == 2 && n.members("_default") == 0
	})
	if _, err := switchTo(anna.ID, "_test"); err != nil {
		t.Fatal(err)
	}
	if r, _ := n.svc.Room(n.ctx, garden.ID); r.MemberCount != 1 {
		t.Fatalf("garden after anna left: %+v", r)
	}
	if _, err := switchTo(bob.ID, "_default"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.svc.Room(n.ctx, garden.ID); code(err) != apierr.CodeRoomNotFound {
		t.Fatalf("the empty garden: %v, want gone", err)
	}
	eventually(t, "the garden gone from the cache", func() bool { return n.members(garden.ID) == -1 })
	// Persistent rooms stay empty.
	if _, err := switchTo(anna.ID, "_default"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the persistent rooms' counts", func() bool { return n.members("_test") == 0 && n.members("_default") == 2 })
	if got, want := n.notices(garden.ID), []string{"joined", "joined", "left", "left"}; !slices.Equal(got, want) {
		t.Fatalf("garden events %v, want %v", got, want)
	}
	n.createRoom(bob.ID, "garden") // the name is free again

	tests := []struct {
		name, user, room, wantCode string
	}{
		{"unknown room", anna.ID, "r-nothere", apierr.CodeRoomNotFound},
		{"invalid room id", anna.ID, "../x", apierr.CodeRoomNotFound},
		{"unknown user", "u-nobody", "_test", apierr.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := switchTo(tt.user, tt.room); code(err) != tt.wantCode {
				t.Fatalf("err %v, want %q", err, tt.wantCode)
			}
		})
	}
}

// A switch whose record cannot be written takes the join back, and the
// user stays where they were.
func TestFakeSwitchUndone(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	anna, _ := n.register("anna")
	bob, _ := n.register("bob")
	garden := n.createRoom(anna.ID, "Garden")
	env.Users.FailWith(failOp("update"))
	if _, err := n.svc.SwitchRoom(n.ctx, bob.ID, garden.ID); code(err) != apierr.CodeUnavailable {
		t.Fatalf("err %v, want unavailable", err)
	}
	env.Users.FailWith(nil)
	if r, _ := n.svc.Room(n.ctx, garden.ID); r.MemberCount != 1 {
		t.Fatalf("garden %+v: the join was not taken back", r)
	}
	if got, want := n.notices(garden.ID), []string{"joined", "joined", "left"}; !slices.Equal(got, want) {
		t.Fatalf("garden events %v, want %v", got, want)
	}
	// The room is gone before bob's record says he moved: he is not
	// logged in any more as far as the switch can tell.
	if err := env.Users.Delete(n.ctx, bob.ID, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob gone", func() bool { _, ok := n.user(bob.ID); return !ok })
	if _, err := n.svc.SwitchRoom(n.ctx, bob.ID, garden.ID); code(err) != apierr.CodeUnauthorized {
		t.Fatalf("switch of a removed user: %v", err)
	}
	env.Rooms.FailWith(failOp("get"))
	if _, err := n.svc.SwitchRoom(n.ctx, anna.ID, garden.ID); code(err) != apierr.CodeUnavailable {
		t.Fatalf("room of one's own, store down: %v", err)
	}
}

// Many joins of one room at once all get in (they are written in
// batches; how many a batch holds depends on timing, so only logged).
func TestFakeJoinsBatched(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	owner, _ := n.register("owner")
	room := n.createRoom(owner.ID, "Crowded")
	const users = 40
	ids := make([]string, users)
	for i := range ids {
		u, _ := n.register(fmt.Sprintf("user%02d", i))
		ids[i] = u.ID
	}
	updates := env.Rooms.Calls("update")
	errs := make(chan error, users)
	for _, id := range ids {
		go func() {
			_, err := n.svc.SwitchRoom(n.ctx, id, room.ID)
			errs <- err
		}()
	}
	for range users {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := n.svc.Room(n.ctx, room.ID); r.MemberCount != users+1 {
		t.Fatalf("%d members, want %d", r.MemberCount, users+1)
	}
	t.Logf("%d room writes (compare-and-set tries) for %d joins", env.Rooms.Calls("update")-updates, users)
}

// A join given up by its caller while it is queued is taken back.
func TestFakeJoinGivenUp(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	owner, _ := n.register("owner")
	anna, _ := n.register("anna")
	room := n.createRoom(owner.ID, "Busy")
	ctx, cancel := context.WithCancel(n.ctx)
	cancel()
	if _, err := n.svc.SwitchRoom(ctx, anna.ID, room.ID); err == nil {
		t.Fatal("a cancelled switch succeeded")
	}
	eventually(t, "the join taken back", func() bool {
		r, err := n.svc.Room(n.ctx, room.ID)
		return err == nil && r.MemberCount == 1
	})
}

// An empty room left behind (its creator's switch failed after it was
// created) is deleted by the sweep once the grace period has passed.
func TestFakeEmptyRoomSwept(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, _ := n.register("anna")
	if err := n.svc.Connected(n.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	// A room with no member, written as a crashed node leaves it.
	rec := `{"id":"r-orphan","name":"Orphan","name_key":"orphan","created_at":` + itoa(env.Clock.Now().UnixMilli()) + `,"members":[]}`
	if _, err := env.Rooms.Create(n.ctx, "r-orphan", []byte(rec)); err != nil {
		t.Fatal(err)
	}
	if _, err := env.RoomNames.Create(n.ctx, "orphan", []byte("r-orphan")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the orphan cached", func() bool { return n.members("r-orphan") == 0 })
	env.Clock.Advance(30 * time.Second)
	if _, err := n.svc.Room(n.ctx, "r-orphan"); err != nil {
		t.Fatalf("swept before the grace period: %v", err)
	}
	env.Clock.Advance(31 * time.Second)
	eventually(t, "the orphan swept", func() bool {
		_, err := n.svc.Room(n.ctx, "r-orphan")
		return code(err) == apierr.CodeRoomNotFound
	})
	eventually(t, "its name freed", func() bool {
		_, err := env.RoomNames.Get(n.ctx, "orphan")
		return err != nil
	})
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
