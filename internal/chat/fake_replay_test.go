package chat_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/chat/chattest"
)

// editUser changes the stored record of user id behind the service's
// back (as another node, or an older version, wrote it).
func editUser(t *testing.T, env *chattest.Env, id string, edit func(rec map[string]any)) {
	t.Helper()
	editJSON(t, env.Users, id, edit)
}

func editJSON(t *testing.T, kv *chattest.KV, key string, edit func(rec map[string]any)) {
	t.Helper()
	e, err := kv.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		t.Fatal(err)
	}
	edit(rec)
	b, _ := json.Marshal(rec)
	if _, err := kv.Update(t.Context(), key, b, e.Revision); err != nil {
		t.Fatal(err)
	}
}

func TestFakeReplay(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, token := n.register("anna")
	bob, _ := n.register("bob")
	garden := n.createRoom(bob.ID, "Garden")
	if _, err := n.svc.SwitchRoom(n.ctx, u.ID, garden.ID); err != nil {
		t.Fatal(err)
	}
	me, err := n.svc.Authenticate(n.ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	join := me.CurrentRoom.JoinSeq
	var seqs []uint64
	for _, text := range []string{"one", "two", "three"} {
		m, err := n.svc.SendMessage(n.ctx, bob.ID, chat.MessageInput{Content: text})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, m.Seq)
	}
	elsewhere, err := env.Log.Append(n.ctx, "_default", []byte(`{"type":0}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		user, room string
		after      uint64
		wantSeqs   []uint64
		wantReason string
		wantCode   string
	}{
		{name: "from the join", user: u.ID, room: garden.ID, after: 0, wantSeqs: append([]uint64{join}, seqs...)},
		{name: "after the first message", user: u.ID, room: garden.ID, after: seqs[0], wantSeqs: seqs[1:]},
		{name: "nothing missed", user: u.ID, room: garden.ID, after: seqs[2]},
		{name: "another room's seq", user: u.ID, room: garden.ID, after: elsewhere, wantReason: chat.ResumeInvalidSeq},
		{name: "ahead of the log", user: u.ID, room: garden.ID, after: elsewhere + 10, wantReason: chat.ResumeInvalidSeq},
		{name: "not the current room", user: u.ID, room: "_default", wantReason: chat.ResumeRoomChanged},
		{name: "unknown room", user: u.ID, room: "r-nothere", wantReason: chat.ResumeNotAMember},
		{name: "invalid room id", user: u.ID, room: "a b", wantReason: chat.ResumeNotAMember},
		{name: "unknown user", user: "u-nobody", room: garden.ID, wantCode: apierr.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := n.svc.Replay(n.ctx, tt.user, tt.room, tt.after)
			checkReplay(t, got, err, tt.wantSeqs, tt.wantReason, tt.wantCode)
		})
	}

	// An undecodable event is skipped.
	if _, err := env.Log.Append(n.ctx, garden.ID, []byte("{")); err != nil {
		t.Fatal(err)
	}
	last, _ := n.svc.SendMessage(n.ctx, bob.ID, chat.MessageInput{Content: "four"})
	got, err := n.svc.Replay(n.ctx, u.ID, garden.ID, seqs[2])
	checkReplay(t, got, err, []uint64{last.Seq}, "", "")

	// The room's oldest events are gone: a replay from before them
	// cannot be exact.
	env.Log.SetMaxPerRoom(2)
	if _, err := n.svc.SendMessage(n.ctx, bob.ID, chat.MessageInput{Content: "five"}); err != nil {
		t.Fatal(err)
	}
	for _, after := range []uint64{0, seqs[0]} {
		got, err := n.svc.Replay(n.ctx, u.ID, garden.ID, after)
		checkReplay(t, got, err, nil, chat.ResumeWindowPassed, "")
	}
	env.Log.SetMaxPerRoom(0)

	// A membership the room does not know of, and a record from before
	// join seqs were kept.
	editJSON(t, env.Rooms, garden.ID, func(rec map[string]any) { rec["members"] = []string{bob.ID} })
	got, err = n.svc.Replay(n.ctx, u.ID, garden.ID, 0)
	checkReplay(t, got, err, nil, chat.ResumeNotAMember, "")
	editUser(t, env, bob.ID, func(rec map[string]any) { delete(rec, "join_seq") })
	got, err = n.svc.Replay(n.ctx, bob.ID, garden.ID, 0)
	checkReplay(t, got, err, nil, chat.ResumeWindowPassed, "")

	// Store failures are errors, not refusals.
	env.Log.FailWith(func(op, _ string) error {
		if op == "since" {
			return apierr.ErrUnavailable
		}
		return nil
	})
	editUser(t, env, bob.ID, func(rec map[string]any) { rec["join_seq"] = 1 })
	if _, err := n.svc.Replay(n.ctx, bob.ID, garden.ID, 0); code(err) != apierr.CodeUnavailable {
		t.Fatalf("log down: %v", err)
	}
	env.Log.FailWith(nil)
	env.Rooms.FailWith(unavailable)
	if _, err := n.svc.Replay(n.ctx, bob.ID, garden.ID, 0); code(err) != apierr.CodeUnavailable {
		t.Fatalf("rooms down: %v", err)
	}
	env.Users.FailWith(unavailable)
	if _, err := n.svc.Replay(n.ctx, bob.ID, garden.ID, 0); code(err) != apierr.CodeUnavailable {
		t.Fatalf("users down: %v", err)
	}
}

// A replay longer than ReplayMaxEvents is refused: the client starts
// afresh rather than flood its connection.
func TestFakeReplayTooLong(t *testing.T) {
	env := chattest.NewEnv()
	n := startFake(t, env, "a-n00000001", nil)
	u, _ := n.register("anna")
	for range chat.ReplayMaxEvents + 1 {
		if _, err := env.Log.Append(n.ctx, "_default", []byte(`{"type":0,"content":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := n.svc.Replay(n.ctx, u.ID, "_default", 0)
	checkReplay(t, got, err, nil, chat.ResumeWindowPassed, "")
}

func checkReplay(t *testing.T, got []chat.Message, err error, wantSeqs []uint64, wantReason, wantCode string) {
	t.Helper()
	var rr *chat.ResumeRefused
	switch {
	case wantReason != "":
		if !errors.As(err, &rr) || rr.Reason != wantReason {
			t.Fatalf("err %v, want refused: %s", err, wantReason)
		}
		return
	case wantCode != "":
		if code(err) != wantCode {
			t.Fatalf("err %v, want %s", err, wantCode)
		}
		return
	case err != nil:
		t.Fatal(err)
	}
	var seqs []uint64
	for _, m := range got {
		seqs = append(seqs, m.Seq)
	}
	if !slices.Equal(seqs, wantSeqs) {
		t.Fatalf("replayed %v, want %v", seqs, wantSeqs)
	}
}
