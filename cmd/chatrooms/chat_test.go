package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apitest"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/sioclient"
)

func TestHTTPContract(t *testing.T) {
	s := startServer(t, "")
	u, tok := s.register(t, "Peter")
	if u.Name != "Peter" || u.ID == "" || u.AvatarURL != "/api/avatars/users/"+u.ID+".svg" || u.CurrentRoom == nil || u.CurrentRoom.ID != "_default" {
		t.Fatalf("registered user = %+v", u)
	}
	apitest.CheckContract(t, apitest.Contract(u.Name, u.ID, tok), func(int) apitest.Server { return s.api() })

	var rooms []chat.Room
	s.do(t, "GET", "/api/rooms", "", nil, &rooms)
	if len(rooms) < 2 || rooms[0].ID != "_default" || rooms[0].Name != "Default Room" || !rooms[0].Persistent || rooms[1].ID != "_test" || rooms[0].MemberCount != 1 {
		t.Fatalf("rooms = %+v", rooms)
	}
	var room chat.Room
	if code := s.do(t, "POST", "/api/rooms", tok, map[string]string{"name": "  Go Lovers ", "description": "gophers"}, &room); code != 201 {
		t.Fatalf("create room: %d", code)
	}
	if room.Name != "Go Lovers" || room.Description != "gophers" || room.Persistent || room.MemberCount != 1 {
		t.Fatalf("room = %+v", room)
	}
	var me chat.User
	s.do(t, "GET", "/api/users/me", tok, nil, &me)
	if me.CurrentRoom == nil || me.CurrentRoom.ID != room.ID {
		t.Fatalf("creator not moved into the room: %+v", me)
	}
	var e apiError
	if code := s.do(t, "POST", "/api/rooms", tok, map[string]string{"name": "GO LOVERS"}, &e); code != 409 || e.Error != "room_name_taken" {
		t.Fatalf("duplicate room name: %d %+v", code, e)
	}
}

func TestAvatarsAreInertSVG(t *testing.T) {
	s := startServer(t, "")
	u, tok := s.register(t, "Anna")
	var room chat.Room
	s.do(t, "POST", "/api/rooms", tok, map[string]string{"name": `<script>alert(1)</script>`}, &room)
	for _, path := range []string{"/api/avatars/users/" + u.ID + ".svg", "/api/avatars/rooms/" + room.ID + ".svg"} {
		res, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, 64<<10)
		n, _ := res.Body.Read(body)
		res.Body.Close()
		svg := string(body[:n])
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || res.Header.Get("Cache-Control") == "" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("%s: %d %v", path, res.StatusCode, res.Header)
		}
		if strings.Contains(svg, "<script") || !strings.Contains(svg, "<svg") {
			t.Fatalf("%s: svg = %q", path, svg)
		}
	}
}

func TestSocketAuth(t *testing.T) {
	s := startServer(t, "")
	u, _ := s.register(t, "Anna")
	for _, auth := range []any{nil, map[string]string{"token": "bogus"}, map[string]string{"token": u.ID}, map[string]any{"token": 5}} {
		_, err := sioclient.Dial(ctxT(t), s.URL, sioclient.Options{Namespace: "/chat", Auth: auth})
		var ce *sioclient.ConnectError
		if !errors.As(err, &ce) || ce.Message != "invalid_token" {
			t.Fatalf("auth %v: err = %v, want connect_error invalid_token", auth, err)
		}
	}
}

func TestMessagesReachRoomMembersOnly(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	// Anna sees Boris join.
	if m := a.nextMessage(t); m.Type != chat.MessageJoined || m.User == nil || m.User.ID != b.User.ID {
		t.Fatalf("anna got %+v, want boris joined", m)
	}
	sent := a.send(t, "  hello <b>world</b>  ")
	if sent.Content != "hello <b>world</b>" || sent.Type != chat.MessageText || sent.Sender == nil || sent.Sender.ID != a.User.ID || sent.Seq == 0 || sent.RoomID != "_default" {
		t.Fatalf("ack message = %+v", sent)
	}
	for _, m := range []*member{a, b} {
		got := m.nextMessage(t)
		if got.ID != sent.ID || got.Seq != sent.Seq || got.Content != sent.Content {
			t.Fatalf("%s got %+v, want %+v", m.User.Name, got, sent)
		}
	}
	// A late joiner sees nothing sent before they joined.
	c := s.join(t, "Carla")
	later := b.send(t, "second")
	if got := c.nextMessage(t); got.ID != later.ID {
		t.Fatalf("late joiner got %+v, want only %q", got, later.Content)
	}
	for _, m := range []*member{a, b} {
		if got := m.nextMessage(t); got.Type != chat.MessageJoined || got.User.ID != c.User.ID {
			t.Fatalf("%s got %+v, want carla joined", m.User.Name, got)
		}
		if got := m.nextMessage(t); got.ID != later.ID {
			t.Fatalf("%s got %+v, want %q", m.User.Name, got, later.Content)
		}
	}
	// Invalid messages are refused with a code.
	for _, bad := range []any{map[string]string{"content": "   "}, map[string]string{"content": strings.Repeat("x", 2001)}, map[string]string{"content": "a\u202eb"}} {
		if e := a.call(t, "send_message", bad, nil); e == nil || e.Error != "invalid_message" {
			t.Fatalf("bad message %v: %+v", bad, e)
		}
	}
	for _, bad := range []any{"text", map[string]any{"content": 1}, map[string]any{"content": "x", "extra": 1}} {
		if e := a.call(t, "send_message", bad, nil); e == nil || e.Error != "invalid_request" {
			t.Fatalf("bad request %v: %+v", bad, e)
		}
	}
	// Switching rooms: the switcher stops getting the old room's messages.
	var sw struct {
		OK   bool      `json:"ok"`
		Room chat.Room `json:"room"`
	}
	if e := c.call(t, "switch_room", map[string]string{"room_id": "nope"}, nil); e == nil || e.Error != "room_not_found" {
		t.Fatalf("switch to unknown room: %+v", e)
	}
	if e := c.call(t, "switch_room", map[string]string{"room_id": "_test"}, &sw); e != nil || !sw.OK || sw.Room.ID != "_test" {
		t.Fatalf("switch: %+v %+v", e, sw)
	}
	ev, err := c.C.Next(ctxT(t), "current_room_changed")
	if err != nil {
		t.Fatal(err)
	}
	var cur chat.Room
	if err := ev.Arg(0, &cur); err != nil || cur.ID != "_test" {
		t.Fatalf("current_room_changed = %+v %v", cur, err)
	}
	if m := c.nextMessage(t); m.Type != chat.MessageJoined || m.RoomID != "_test" || m.User.ID != c.User.ID {
		t.Fatalf("carla got %+v, want her own join in _test", m)
	}
	for _, m := range []*member{a, b} {
		if got := m.nextMessage(t); got.Type != chat.MessageLeft || got.User.ID != c.User.ID {
			t.Fatalf("%s got %+v, want carla left", m.User.Name, got)
		}
	}
	a.send(t, "after carla left")
	c.noEvent(t, "chat_message", 300*time.Millisecond)
}

func TestTypingGoesToOthers(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	if e := a.call(t, "typing", map[string]bool{"typing": true}, nil); e != nil {
		t.Fatal(e)
	}
	ev, err := b.C.Next(ctxT(t), "typing")
	if err != nil {
		t.Fatal(err)
	}
	var tp struct {
		User   chat.User `json:"user"`
		Typing bool      `json:"typing"`
	}
	if err := ev.Arg(0, &tp); err != nil || tp.User.ID != a.User.ID || !tp.Typing {
		t.Fatalf("typing = %+v %v", tp, err)
	}
	a.noEvent(t, "typing", 200*time.Millisecond)
	// Not renewed, the indicator ends by itself (TypingTTL, 5 s).
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	ev, err = b.C.Next(ctx, "typing")
	if err != nil {
		t.Fatalf("typing did not expire: %v", err)
	}
	if err := ev.Arg(0, &tp); err != nil || tp.User.ID != a.User.ID || tp.Typing {
		t.Fatalf("typing after expiry = %+v %v", tp, err)
	}
}

func TestMessageRateLimit(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	limited := 0
	for range 40 {
		if e := a.call(t, "send_message", map[string]string{"content": "spam"}, nil); e != nil {
			if e.Error != "rate_limited" {
				t.Fatalf("unexpected error %+v", e)
			}
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("40 messages in a burst were all accepted")
	}
}

func TestRoomDeletedWithLastMember(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	var room chat.Room
	if code := s.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": "Temp"}, &room); code != 201 {
		t.Fatal(code)
	}
	if e := b.call(t, "switch_room", map[string]string{"room_id": room.ID}, nil); e != nil {
		t.Fatal(e)
	}
	if e := a.call(t, "switch_room", map[string]string{"room_id": "_default"}, nil); e != nil {
		t.Fatal(e)
	}
	if code := s.do(t, "GET", "/api/rooms/"+room.ID, "", nil, &room); code != 200 || room.MemberCount != 1 {
		t.Fatalf("room after first leave: %d %+v", code, room)
	}
	if e := b.call(t, "switch_room", map[string]string{"room_id": "_test"}, nil); e != nil {
		t.Fatal(e)
	}
	if code := s.do(t, "GET", "/api/rooms/"+room.ID, "", nil, nil); code != 404 {
		t.Fatalf("room after last leave: %d", code)
	}
	// The name is free again, and the room list no longer has it.
	waitFor(t, func() bool {
		var rooms []chat.Room
		s.do(t, "GET", "/api/rooms", "", nil, &rooms)
		for _, r := range rooms {
			if r.ID == room.ID {
				return false
			}
		}
		return true
	})
	if code := s.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": "temp"}, nil); code != 201 {
		t.Fatalf("recreate: %d", code)
	}
}

func TestGracePeriod(t *testing.T) {
	s := startServer(t, "", "--presence-grace", "2s")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	var room chat.Room
	s.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": "Anna's"}, &room)
	_ = a.C.Close()
	// Offline but kept: listed offline, room still there.
	waitFor(t, func() bool {
		var users []chat.User
		s.do(t, "GET", "/api/users", "", nil, &users)
		for _, u := range users {
			if u.ID == a.User.ID {
				return !u.Online && u.CurrentRoom != nil && u.CurrentRoom.ID == room.ID
			}
		}
		return false
	})
	if code := s.do(t, "GET", "/api/rooms/"+room.ID, "", nil, nil); code != 200 {
		t.Fatalf("room of offline member gone within grace: %d", code)
	}
	// Reconnecting within grace puts Anna back silently.
	a2 := s.connect(t, a.User, a.Token)
	_ = a2.C.Close()
	// After grace: removed, leave notice, room deleted, nickname free.
	// The user record goes first (the token stops working), then the
	// nickname and token, then the room they leave.
	waitFor(t, func() bool { return s.do(t, "GET", "/api/users/me", a.Token, nil, nil) == 401 })
	waitFor(t, func() bool { return s.do(t, "GET", "/api/rooms/"+room.ID, "", nil, nil) == 404 })
	_ = b
	s.register(t, "anna")
}

func TestLogout(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	if code := s.do(t, "DELETE", "/api/users/me", a.Token, nil, nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	select {
	case <-a.C.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("socket of logged-out user still open")
	}
	if got := b.nextMessage(t); got.Type != chat.MessageLeft || got.User.ID != a.User.ID {
		t.Fatalf("boris got %+v, want anna left", got)
	}
	if code := s.do(t, "GET", "/api/users/me", a.Token, nil, nil); code != 401 {
		t.Fatalf("token still valid: %d", code)
	}
	s.register(t, "ANNA")
}

func TestConcurrentLookalikeClaims(t *testing.T) {
	s := startServer(t, "")
	names := []string{"Peter", "peter", "PETER", "Pеter", "Peтer", " Peter ", "PeTeR"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := s.do(t, "POST", "/api/users", "", map[string]string{"username": names[i%len(names)]}, nil)
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[201] != 1 || codes[409] != 49 {
		t.Fatalf("status counts = %v, want one 201 and 49 409", codes)
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	a := s.join(t, "Anna")
	var room chat.Room
	s.do(t, "POST", "/api/rooms", a.Token, map[string]string{"name": "Durable"}, &room)
	_ = a.C.Close()
	s.Stop()

	s2 := startServer(t, dir)
	var me chat.User
	if code := s2.do(t, "GET", "/api/users/me", a.Token, nil, &me); code != 200 || me.CurrentRoom == nil || me.CurrentRoom.ID != room.ID {
		t.Fatalf("after restart: %d %+v", code, me)
	}
	a2 := s2.connect(t, a.User, a.Token)
	msg := a2.send(t, "still here")
	if got := a2.nextMessage(t); got.ID != msg.ID || got.RoomID != room.ID {
		t.Fatalf("after restart got %+v", got)
	}
}

func TestListsAreCoalesced(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	start := time.Now()
	for i := range 20 {
		s.register(t, fmt.Sprintf("User %d", i))
	}
	elapsed := time.Since(start)
	// Let the last coalesced list go out, then count.
	time.Sleep(600 * time.Millisecond)
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := a.C.Next(ctx, "user_list_changed")
		cancel()
		if err != nil {
			break
		}
		n++
	}
	max := int((elapsed+600*time.Millisecond)/(250*time.Millisecond)) + 2
	if n == 0 || n > max || n >= 20 {
		t.Fatalf("got %d user lists for 20 registrations in %v, want 1..%d", n, elapsed, max)
	}
}

// waitFor polls cond until it holds, failing after 15 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTabsShareOnePresence(t *testing.T) {
	s := startServer(t, "")
	u, tok := s.register(t, "Tabby")
	tab1 := s.connect(t, u, tok)
	tab2 := s.connect(t, u, tok)
	online := func() bool {
		var me chat.User
		s.do(t, "GET", "/api/users/me", tok, nil, &me)
		return me.Online
	}
	waitFor(t, online)
	// A message reaches both tabs.
	sent := tab1.send(t, "from tab one")
	for _, tab := range []*member{tab1, tab2} {
		if got := tab.nextMessage(t); got.ID != sent.ID {
			t.Fatalf("tab got %+v", got)
		}
	}
	_ = tab1.C.Close()
	time.Sleep(300 * time.Millisecond)
	if !online() {
		t.Fatal("closing one of two tabs made the user offline")
	}
	_ = tab2.C.Close()
	waitFor(t, func() bool { return !online() })
}
