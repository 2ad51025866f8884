package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/realtime"
	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// wholeLists is the "lists" event and the get_lists ack.
type wholeLists struct {
	OK           bool        `json:"ok"`
	Users        []chat.User `json:"users"`
	UsersVersion uint64      `json:"users_version"`
	Rooms        []chat.Room `json:"rooms"`
	RoomsVersion uint64      `json:"rooms_version"`
}

type userDelta struct {
	Version uint64      `json:"version"`
	Upsert  []chat.User `json:"upsert"`
	Remove  []string    `json:"remove"`
}

// dialDelta connects in delta mode and returns the client with the lists
// it was sent, checking the events on connect come in order: lists, then
// current_room_changed, and no whole-list event.
func dialDelta(t *testing.T, url, token string) (*sioclient.Client, wholeLists) {
	t.Helper()
	c, err := sioclient.Dial(ctxT(t), url, sioclient.Options{Namespace: "/chat", Auth: map[string]string{"token": token, "lists": "delta"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var got wholeLists
	for _, want := range []string{"lists", "current_room_changed"} {
		e, err := c.Next(ctxT(t), "")
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		if e.Name != want {
			t.Fatalf("got %s, want %s", e.Name, want)
		}
		if want == "lists" {
			if err := e.Arg(0, &got); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c, got
}

func ids[T any](list []T, id func(T) string) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = id(x)
	}
	return out
}

func userIDs(us []chat.User) []string { return ids(us, func(u chat.User) string { return u.ID }) }

func TestListDeltas(t *testing.T) {
	svc := newFake()
	gw, url := start(t, svc)
	d, first := dialDelta(t, url, "tok-a")
	if !slices.Equal(userIDs(first.Users), []string{"ua", "ub"}) || len(first.Rooms) != 1 || first.Rooms[0].ID != "_default" {
		t.Fatalf("first lists %+v", first)
	}
	full := dial(t, url, "tok-b")

	// ua goes offline, ub leaves, uc comes.
	svc.setLists([]chat.User{{ID: "ua", Name: "ua"}, {ID: "uc", Name: "uc", Online: true}}, nil)
	gw.UsersChanged()
	e, err := d.Next(ctxT(t), "user_list_delta")
	if err != nil {
		t.Fatal(err)
	}
	var du userDelta
	if err := e.Arg(0, &du); err != nil {
		t.Fatal(err)
	}
	if du.Version != first.UsersVersion+1 || !slices.Equal(userIDs(du.Upsert), []string{"ua", "uc"}) || !slices.Equal(du.Remove, []string{"ub"}) {
		t.Fatalf("delta %+v after version %d", du, first.UsersVersion)
	}
	// The full-mode client gets the whole new list.
	e, err = full.Next(ctxT(t), "user_list_changed")
	if err != nil {
		t.Fatal(err)
	}
	var whole []chat.User
	if err := e.Arg(0, &whole); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(userIDs(whole), []string{"ua", "uc"}) {
		t.Fatalf("full list %v", userIDs(whole))
	}

	// get_lists answers the lists at the version the deltas reached.
	ack, err := d.EmitWithAck(ctxT(t), "get_lists")
	if err != nil {
		t.Fatal(err)
	}
	var again wholeLists
	if err := ack.Arg(0, &again); err != nil {
		t.Fatal(err)
	}
	if !again.OK || again.UsersVersion != du.Version || again.RoomsVersion != first.RoomsVersion || !slices.Equal(userIDs(again.Users), []string{"ua", "uc"}) {
		t.Fatalf("get_lists %+v", again)
	}

	// A room change reaches the delta client as a room delta only.
	svc.setLists(nil, []chat.Room{{ID: "_default", MemberCount: 2}, {ID: "r2", Name: "Two"}})
	gw.RoomsChanged()
	e, err = d.Next(ctxT(t), "room_list_delta")
	if err != nil {
		t.Fatal(err)
	}
	var dr struct {
		Version uint64      `json:"version"`
		Upsert  []chat.Room `json:"upsert"`
		Remove  []string    `json:"remove"`
	}
	if err := e.Arg(0, &dr); err != nil {
		t.Fatal(err)
	}
	if dr.Version != first.RoomsVersion+1 || len(dr.Upsert) != 2 || len(dr.Remove) != 0 {
		t.Fatalf("room delta %+v", dr)
	}
	// Nothing but deltas reached the delta client.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		e, err := d.Next(ctx, "")
		cancel()
		if err != nil {
			break
		}
		if strings.HasSuffix(e.Name, "_list_changed") {
			t.Fatalf("delta client got %s", e.Name)
		}
	}
}

func TestListsModeRefused(t *testing.T) {
	_, url := start(t, newFake())
	for _, mode := range []any{"deltas", 1, true, map[string]string{}} {
		_, err := sioclient.Dial(ctxT(t), url, sioclient.Options{Namespace: "/chat", Auth: map[string]any{"token": "tok-a", "lists": mode}})
		var ce *sioclient.ConnectError
		if !errors.As(err, &ce) || ce.Message != apierr.CodeInvalidRequest {
			t.Fatalf("lists %v: %v", mode, err)
		}
	}
	// "full" is the default, said out loud.
	c, err := sioclient.Dial(ctxT(t), url, sioclient.Options{Namespace: "/chat", Auth: map[string]any{"token": "tok-a", "lists": "full"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Next(ctxT(t), "user_list_changed"); err != nil {
		t.Fatal(err)
	}
}

// A delta client that applies every delta it is sent ends with the lists
// get_lists gives, however the changes race its connection.
func TestListDeltasConverge(t *testing.T) {
	svc := newFake()
	gw, url := start(t, svc)
	stop := make(chan struct{})
	changed := make(chan struct{})
	go func() {
		defer close(changed)
		for i := range 200 {
			select {
			case <-stop:
				return
			default:
			}
			us := []chat.User{{ID: "ua", Name: "ua"}}
			for j := range i % 7 {
				us = append(us, chat.User{ID: fmt.Sprintf("u%d", j), Name: fmt.Sprintf("u%d", j), Online: i%2 == 0})
			}
			svc.setLists(us, nil)
			gw.UsersChanged()
			time.Sleep(time.Millisecond)
		}
	}()
	c, first := dialDelta(t, url, "tok-a")
	<-changed
	close(stop)
	// One more change after the last, so that a delta surely follows
	// everything the client may have missed.
	final := []chat.User{{ID: "ua", Name: "ua"}, {ID: "zz", Name: "zz"}}
	svc.setLists(final, nil)
	gw.UsersChanged()
	have := map[string]chat.User{}
	for _, u := range first.Users {
		have[u.ID] = u
	}
	version := first.UsersVersion
	for {
		e, err := c.Next(ctxT(t), "user_list_delta")
		if err != nil {
			t.Fatalf("at version %d: %v", version, err)
		}
		var d userDelta
		if err := e.Arg(0, &d); err != nil {
			t.Fatal(err)
		}
		if d.Version != version+1 {
			t.Fatalf("delta %d after %d: a gap on one connection", d.Version, version)
		}
		version = d.Version
		for _, u := range d.Upsert {
			have[u.ID] = u
		}
		for _, id := range d.Remove {
			delete(have, id)
		}
		if _, ok := have["zz"]; ok && len(have) == 2 {
			break
		}
	}
	ack, err := c.EmitWithAck(ctxT(t), "get_lists")
	if err != nil {
		t.Fatal(err)
	}
	var whole wholeLists
	if err := ack.Arg(0, &whole); err != nil {
		t.Fatal(err)
	}
	if whole.UsersVersion != version || !slices.Equal(userIDs(whole.Users), []string{"ua", "zz"}) {
		t.Fatalf("get_lists at %d: %v; the deltas reached %d", whole.UsersVersion, userIDs(whole.Users), version)
	}
}

// Whole lists are spaced so that a full-mode client is sent at most
// about ListBudget bytes a second, however fast the list changes.
func TestWholeListsWithinBudget(t *testing.T) {
	svc := newFake()
	gw, url := start(t, svc)
	big := func(gen int) []chat.User {
		us := make([]chat.User, 300) // ~30 KB encoded
		for i := range us {
			us[i] = chat.User{ID: fmt.Sprintf("u%03d", i), Name: fmt.Sprintf("user-%03d-%s", i, strings.Repeat("x", 40)), Online: (i+gen)%2 == 0}
		}
		return us
	}
	svc.setLists(big(0), nil)
	c := dial(t, url, "tok-a")
	start := time.Now()
	const window = 2 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		for gen := 1; time.Since(start) < window; gen++ {
			svc.setLists(big(gen), nil)
			gw.UsersChanged()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	<-done
	elapsed := time.Since(start)
	bytes, n := 0, 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		e, err := c.Next(ctx, "user_list_changed")
		cancel()
		if err != nil {
			break
		}
		n++
		bytes += len(e.Args[0])
	}
	if n == 0 {
		t.Fatal("no list at all while it changed")
	}
	size := bytes / n
	// The first list after a quiet spell goes at once; every later one
	// waits for the budget its predecessor used.
	limit := size + int(elapsed.Seconds()*realtime.ListBudget) + size
	t.Logf("%d lists of %d bytes in %v (limit %d bytes)", n, size, elapsed, limit)
	if bytes > limit {
		t.Fatalf("%d bytes of lists in %v: over the budget of %d B/s", bytes, elapsed, realtime.ListBudget)
	}
}
