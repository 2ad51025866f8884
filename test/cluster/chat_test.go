//go:build unix

package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apitest"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// TestCluster runs, on one topology, every chat scenario in every layout
// (users spread over the nodes, or everything through nginx), the races
// between nodes and the load balancer checks. Scenarios run in parallel
// (two at a time by default); each uses its own names and rooms.
func TestCluster(t *testing.T) {
	tp := startTopology(t, topoOptions{Grace: 3 * time.Second})
	for _, lay := range layouts {
		t.Run(lay.name, func(t *testing.T) {
			for _, sc := range chatScenarios {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					sc.run(t, newWorld(tp, lay))
				})
			}
		})
	}
	t.Run("races", func(t *testing.T) {
		t.Run("nickname-claims", func(t *testing.T) { testNicknameClaims(t, tp) })
		t.Run("leave-vs-join", func(t *testing.T) { testLeaveVersusJoin(t, tp) })
		t.Run("room-name-claims", func(t *testing.T) { testRoomNameClaims(t, tp) })
	})
	t.Run("nginx", func(t *testing.T) {
		t.Run("handshakes-spread", func(t *testing.T) { testHandshakesSpread(t, tp) })
		t.Run("polling-sticky", func(t *testing.T) { testPollingSticky(t, tp) })
		t.Run("same-origin", func(t *testing.T) { testSameOriginThroughProxy(t, tp) })
		t.Run("official-client", func(t *testing.T) { testOfficialClient(t, tp) })
	})
}

// chatScenarios are the chat service's rules (cmd/chatrooms/chat_test.go,
// which checks them on one node), each written against a world, so that
// the same scenario runs in every layout.
var chatScenarios = []struct {
	name string
	run  func(t *testing.T, w *world)
}{
	{"http-contract", scenarioHTTPContract},
	{"socket-auth", scenarioSocketAuth},
	{"messages-reach-room-members-only", scenarioMessages},
	{"typing", scenarioTyping},
	{"rate-limit", scenarioRateLimit},
	{"room-deleted-with-last-member", scenarioRoomDeleted},
	{"lists", scenarioLists},
	{"grace-period", scenarioGracePeriod},
	{"logout-everywhere", scenarioLogout},
	{"tabs-share-one-presence", scenarioTabs},
	{"lists-are-coalesced", scenarioCoalescedLists},
	{"attachments", scenarioAttachments},
}

func scenarioHTTPContract(t *testing.T, w *world) {
	peter := w.register(t, "Peter")
	u, tok := peter.User, peter.Token
	if u.ID == "" || u.AvatarURL != "/api/avatars/users/"+u.ID+".svg" || u.CurrentRoom == nil || u.CurrentRoom.ID != "_default" {
		t.Fatalf("registered user = %+v", u)
	}
	// Each request goes to another endpoint of the layout than the one
	// before: the token and the nickname claim made through one node are
	// seen by every other.
	eps := w.apiEndpoints()
	apitest.CheckContract(t, apitest.Contract(peter.Name, u.ID, tok), func(i int) apitest.Server { return eps[i%len(eps)].api() })

	var rooms []chat.Room
	do(t, eps[0], "GET", "/api/rooms", "", nil, &rooms)
	if len(rooms) < 2 || rooms[0].ID != "_default" || !rooms[0].Persistent || rooms[1].ID != "_test" {
		t.Fatalf("rooms = %+v", rooms)
	}
	var room chat.Room
	if code := do(t, eps[1%len(eps)], "POST", "/api/rooms", tok, map[string]string{"name": "  " + w.name("Go Lovers") + " ", "description": "gophers"}, &room); code != 201 {
		t.Fatalf("create room: %d", code)
	}
	if room.Name != w.name("Go Lovers") || room.Description != "gophers" || room.Persistent || room.MemberCount != 1 {
		t.Fatalf("room = %+v", room)
	}
	var me chat.User
	do(t, eps[2%len(eps)], "GET", "/api/users/me", tok, nil, &me)
	if me.CurrentRoom == nil || me.CurrentRoom.ID != room.ID {
		t.Fatalf("creator not moved into the room: %+v", me)
	}
	var e apiError
	if code := do(t, eps[0], "POST", "/api/rooms", tok, map[string]string{"name": strings.ToUpper(w.name("Go Lovers"))}, &e); code != 409 || e.Error != "room_name_taken" {
		t.Fatalf("duplicate room name through another node: %d %+v", code, e)
	}
}

// apiEndpoints lists the layout's API endpoints, each once.
func (w *world) apiEndpoints() []endpoint {
	var eps []endpoint
	seen := map[string]bool{}
	for _, n := range w.lay.api {
		if !seen[n] {
			seen[n] = true
			eps = append(eps, w.tp.endpoint(n))
		}
	}
	return eps
}

func scenarioSocketAuth(t *testing.T, w *world) {
	u := w.register(t, "Anna")
	for _, ep := range w.apiEndpoints() {
		for _, auth := range []any{nil, map[string]string{"token": "bogus"}, map[string]string{"token": u.ID}} {
			_, err := sioclient.Dial(ctxT(t), ep.url, sioclient.Options{Namespace: "/chat", Auth: auth})
			var ce *sioclient.ConnectError
			if !errors.As(err, &ce) || ce.Message != "invalid_token" {
				t.Fatalf("through %s, auth %v: err = %v, want connect_error invalid_token", ep.name, auth, err)
			}
		}
	}
	// The token made through one node opens a socket on every node.
	for _, ep := range w.tp.endpoints() {
		m := connect(t, u, ep)
		_ = m.C.Close()
	}
}

func scenarioMessages(t *testing.T, w *world) {
	a := w.join(t, "Anna")
	b := w.join(t, "Boris")
	room := w.createRoom(t, a, "Talk")
	b.enter(t, room.ID)
	a.expectNotice(t, chat.MessageJoined, b)

	sent := a.send(t, "  hello <b>world</b>  ")
	if sent.Content != "hello <b>world</b>" || sent.Type != chat.MessageText || sent.Sender == nil || sent.Sender.ID != a.ID || sent.Seq == 0 || sent.RoomID != room.ID {
		t.Fatalf("ack message = %+v", sent)
	}
	for _, m := range []*member{a, b} {
		got := m.nextMessage(t)
		if got.ID != sent.ID || got.Seq != sent.Seq || got.Content != sent.Content {
			t.Fatalf("%s (on %s) got %+v, want %+v", m.Name, m.ep.name, got, sent)
		}
	}
	// A late joiner, on a third node, sees nothing sent before they joined.
	c := w.join(t, "Carla")
	c.enter(t, room.ID)
	later := b.send(t, "second")
	if got := c.nextMessage(t); got.ID != later.ID {
		t.Fatalf("late joiner got %+v, want only %q", got, later.Content)
	}
	for _, m := range []*member{a, b} {
		m.expectNotice(t, chat.MessageJoined, c)
		if got := m.nextMessage(t); got.ID != later.ID || got.Seq <= sent.Seq {
			t.Fatalf("%s got %+v, want %q after seq %d", m.Name, got, later.Content, sent.Seq)
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
	if e := c.call(t, "switch_room", map[string]string{"room_id": "nope"}, nil); e == nil || e.Error != "room_not_found" {
		t.Fatalf("switch to unknown room: %+v", e)
	}
	c.enter(t, "_test")
	for _, m := range []*member{a, b} {
		m.expectNotice(t, chat.MessageLeft, c)
	}
	after := a.send(t, "after carla left")
	for _, m := range []*member{a, b} {
		if got := m.nextMessage(t); got.ID != after.ID {
			t.Fatalf("%s got %+v, want %q", m.Name, got, after.Content)
		}
	}
	c.noMessage(t, room.ID, 300*time.Millisecond)
}

func scenarioTyping(t *testing.T, w *world) {
	a := w.join(t, "Anna")
	b := w.join(t, "Boris")
	room := w.createRoom(t, a, "Typing")
	b.enter(t, room.ID)
	if e := a.call(t, "typing", map[string]bool{"typing": true}, nil); e != nil {
		t.Fatal(e)
	}
	type typing struct {
		User   chat.User `json:"user"`
		Typing bool      `json:"typing"`
	}
	// next returns the next typing event about a, skipping those about
	// users of other scenarios still queued from the shared room.
	next := func(m *member, ctx context.Context) (typing, error) {
		for range maxEvents {
			ev, err := m.C.Next(ctx, "typing")
			if err != nil {
				return typing{}, err
			}
			var tp typing
			if err := ev.Arg(0, &tp); err != nil {
				t.Fatal(err)
			}
			if w.ours(tp.User.ID) {
				return tp, nil
			}
		}
		return typing{}, fmt.Errorf("no typing event of ours among %d", maxEvents)
	}
	tp, err := next(b, ctxT(t))
	if err != nil || tp.User.ID != a.ID || !tp.Typing {
		t.Fatalf("typing on %s from %s = %+v %v", b.ep.name, a.ep.name, tp, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	if tp, err := next(a, ctx); err == nil {
		t.Fatalf("the typer got its own typing event: %+v", tp)
	}
	cancel()
	// Not renewed, the indicator ends by itself (TypingTTL, 5 s).
	ctx, cancel = context.WithTimeout(context.Background(), 9*time.Second)
	defer cancel()
	tp, err = next(b, ctx)
	if err != nil || tp.User.ID != a.ID || tp.Typing {
		t.Fatalf("typing after expiry = %+v %v", tp, err)
	}
}

func scenarioRateLimit(t *testing.T, w *world) {
	a := w.join(t, "Anna")
	w.createRoom(t, a, "Spam")
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

func scenarioRoomDeleted(t *testing.T, w *world) {
	a := w.join(t, "Anna")
	b := w.join(t, "Boris")
	watcher := w.join(t, "Wanda") // a third endpoint, watching the room list
	room := w.createRoom(t, a, "Temp")
	lastList(t, watcher, "room_list_changed", func(l []chat.Room) bool { _, ok := roomIn(l, room.ID); return ok })
	b.enter(t, room.ID)
	a.enter(t, "_default")
	var got chat.Room
	if code := watcher.do(t, "GET", "/api/rooms/"+room.ID, nil, &got); code != 200 || got.MemberCount != 1 {
		t.Fatalf("room after first leave: %d %+v", code, got)
	}
	b.enter(t, "_test")
	for _, ep := range w.tp.endpoints() {
		if code := do(t, ep, "GET", "/api/rooms/"+room.ID, "", nil, nil); code != 404 {
			t.Fatalf("room after last leave, through %s: %d", ep.name, code)
		}
	}
	// Every node's room list drops it, and a socket elsewhere hears of it.
	lastList(t, watcher, "room_list_changed", func(l []chat.Room) bool { _, ok := roomIn(l, room.ID); return !ok })
	for _, ep := range w.tp.endpoints() {
		var rooms []chat.Room
		do(t, ep, "GET", "/api/rooms", "", nil, &rooms)
		if _, ok := roomIn(rooms, room.ID); ok {
			t.Fatalf("deleted room still listed by %s", ep.name)
		}
	}
	// The name is free again, through any node.
	if code := watcher.do(t, "POST", "/api/rooms", map[string]string{"name": strings.ToLower(w.name("Temp"))}, nil); code != 201 {
		t.Fatalf("recreate: %d", code)
	}
}

// scenarioLists: a user and a room made through one node appear in the
// lists pushed to a socket on another, with the right status.
func scenarioLists(t *testing.T, w *world) {
	a := w.join(t, "Anna")
	b := w.join(t, "Boris")
	lastList(t, a, "user_list_changed", func(l []chat.User) bool {
		u, ok := userIn(l, b.ID)
		return ok && u.Online
	})
	room := w.createRoom(t, b, "Listed")
	lastList(t, a, "room_list_changed", func(l []chat.Room) bool {
		r, ok := roomIn(l, room.ID)
		return ok && r.MemberCount == 1 && r.Name == room.Name
	})
	lastList(t, a, "user_list_changed", func(l []chat.User) bool {
		u, ok := userIn(l, b.ID)
		return ok && u.CurrentRoom != nil && u.CurrentRoom.ID == room.ID
	})
	_ = b.C.Close()
	lastList(t, a, "user_list_changed", func(l []chat.User) bool {
		u, ok := userIn(l, b.ID)
		return ok && !u.Online
	})
}

func scenarioGracePeriod(t *testing.T, w *world) {
	a := w.join(t, "Anna")
	b := w.join(t, "Boris")
	room := w.createRoom(t, a, "Anna's")
	b.enter(t, room.ID)
	a.expectNotice(t, chat.MessageJoined, b)
	_ = a.C.Close()
	// Offline but kept: listed offline by another node, room still there.
	waitFor(t, stepTimeout, "anna offline", func() error {
		var users []chat.User
		b.do(t, "GET", "/api/users", nil, &users)
		u, ok := userIn(users, a.ID)
		if !ok || u.Online || u.CurrentRoom == nil || u.CurrentRoom.ID != room.ID {
			return fmt.Errorf("anna = %+v (listed %v)", u, ok)
		}
		return nil
	})
	if code := b.do(t, "GET", "/api/rooms/"+room.ID, nil, nil); code != 200 {
		t.Fatalf("room of offline member gone within grace: %d", code)
	}
	// Reconnecting within grace, on another node, puts Anna back silently.
	a2 := connect(t, a.user, b.ep)
	if a2.room != room.ID {
		t.Fatalf("reconnected into %s, want %s", a2.room, room.ID)
	}
	b.noMessage(t, room.ID, 300*time.Millisecond)
	_ = a2.C.Close()
	// After grace: removed, a leave notice, nickname free.
	b.expectNotice(t, chat.MessageLeft, a)
	waitFor(t, stepTimeout, "anna's token invalid", func() error {
		if code := do(t, a.api, "GET", "/api/users/me", a.Token, nil, nil); code != 401 {
			return fmt.Errorf("status %d", code)
		}
		return nil
	})
	// Boris leaves: the room, emptied, is deleted.
	b.enter(t, "_test")
	if code := b.do(t, "GET", "/api/rooms/"+room.ID, nil, nil); code != 404 {
		t.Fatalf("room of expired user: %d", code)
	}
	if code := b.do(t, "POST", "/api/users", map[string]string{"username": strings.ToLower(a.Name)}, nil); code != 201 {
		t.Fatalf("nickname of expired user not free: %d", code)
	}
}

func scenarioLogout(t *testing.T, w *world) {
	a := w.join(t, "Anna")
	b := w.join(t, "Boris")
	room := w.createRoom(t, b, "Bye")
	a.enter(t, room.ID)
	b.expectNotice(t, chat.MessageJoined, a)
	// Anna has a socket on every node and one through nginx.
	tabs := []*member{a}
	for _, ep := range w.tp.endpoints() {
		if ep.name != a.ep.name {
			tabs = append(tabs, connect(t, a.user, ep))
		}
	}
	// Logged out through one node, Anna's sockets close on every node.
	if code := a.do(t, "DELETE", "/api/users/me", nil, nil); code != 204 {
		t.Fatalf("logout through %s: %d", a.api.name, code)
	}
	for _, tab := range tabs {
		err := waitClosed(t, tab.C, 5*time.Second)
		if !errors.Is(err, sioclient.ErrServerDisconnect) {
			t.Fatalf("socket on %s closed with %v, want a Socket.IO disconnect", tab.ep.name, err)
		}
	}
	b.expectNotice(t, chat.MessageLeft, a)
	b.noMessage(t, room.ID, 300*time.Millisecond) // one leave notice, not one per node
	for _, ep := range w.tp.endpoints() {
		if code := do(t, ep, "GET", "/api/users/me", a.Token, nil, nil); code != 401 {
			t.Fatalf("token still valid on %s: %d", ep.name, code)
		}
	}
	if code := do(t, w.tp.endpoints()[0], "POST", "/api/users", "", map[string]string{"username": strings.ToUpper(a.Name)}, nil); code != 201 {
		t.Fatalf("nickname not freed: %d", code)
	}
}

func scenarioTabs(t *testing.T, w *world) {
	u := w.register(t, "Tabby")
	eps := w.tp.endpoints()
	tab1 := connect(t, u, eps[0])
	tab2 := connect(t, u, eps[1])
	room := w.createRoom(t, tab1, "Tabs")
	tab2.room = room.ID
	if got := tab2.nextMessage(t); got.Type != chat.MessageJoined || got.User.ID != u.ID {
		t.Fatalf("second tab got %+v", got)
	}
	online := func() bool {
		var me chat.User
		do(t, eps[2], "GET", "/api/users/me", u.Token, nil, &me)
		return me.Online
	}
	waitFor(t, stepTimeout, "online", func() error {
		if !online() {
			return errors.New("offline")
		}
		return nil
	})
	sent := tab1.send(t, "from tab one")
	for _, tab := range []*member{tab1, tab2} {
		if got := tab.nextMessage(t); got.ID != sent.ID {
			t.Fatalf("tab on %s got %+v", tab.ep.name, got)
		}
	}
	_ = tab1.C.Close()
	time.Sleep(300 * time.Millisecond)
	if !online() {
		t.Fatal("closing one of two tabs (on another node) made the user offline")
	}
	_ = tab2.C.Close()
	waitFor(t, stepTimeout, "offline", func() error {
		if online() {
			return errors.New("online")
		}
		return nil
	})
}

func scenarioCoalescedLists(t *testing.T, w *world) {
	a := w.join(t, "Anna")
	start := time.Now()
	var ids []string
	for i := range 20 {
		ids = append(ids, w.register(t, fmt.Sprintf("User %d", i)).ID)
	}
	elapsed := time.Since(start)
	// The last list, pushed by Anna's node, has every user registered
	// through the others.
	lastList(t, a, "user_list_changed", func(l []chat.User) bool {
		for _, id := range ids {
			if _, ok := userIn(l, id); !ok {
				return false
			}
		}
		return true
	})
	time.Sleep(600 * time.Millisecond)
	n := 1
	for range maxEvents {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := a.C.Next(ctx, "user_list_changed")
		cancel()
		if err != nil {
			break
		}
		n++
	}
	maxLists := int((elapsed+time.Second)/(250*time.Millisecond)) + 2
	if n > maxLists {
		t.Fatalf("got %d more user lists after 20 registrations in %v, want at most %d", n, elapsed, maxLists)
	}
}

func scenarioAttachments(t *testing.T, w *world) {
	a := w.join(t, "Anna")
	b := w.join(t, "Boris")
	room := w.createRoom(t, a, "Pictures")
	b.enter(t, room.ID)
	a.expectNotice(t, chat.MessageJoined, b)
	// Uploaded through Anna's API endpoint, sent from her socket on
	// another node, served by every node.
	up := uploadPNG(t, a.api, a.Token, 640, 480)
	if up.Width != 640 || up.Height != 480 || up.ContentType != "image/png" {
		t.Fatalf("upload = %+v", up)
	}
	var res struct {
		OK      bool         `json:"ok"`
		Message chat.Message `json:"message"`
	}
	if e := a.call(t, "send_message", map[string]string{"attachment_id": up.ID, "alt": "a red line"}, &res); e != nil {
		t.Fatalf("send with an attachment uploaded through %s from a socket on %s: %+v", a.api.name, a.ep.name, e)
	}
	if att := res.Message.Attachment; att == nil || att.ID != up.ID || att.Width != 640 || att.Alt != "a red line" {
		t.Fatalf("message = %+v", res.Message)
	}
	for _, m := range []*member{a, b} {
		if got := m.nextMessage(t); got.Attachment == nil || got.Attachment.ID != up.ID {
			t.Fatalf("%s got %+v", m.Name, got)
		}
	}
	for _, ep := range w.tp.endpoints() {
		for _, path := range []string{up.URL, up.ThumbnailURL} {
			req, _ := http.NewRequestWithContext(ctxT(t), "GET", ep.url+path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("GET %s through %s: %d %v", path, ep.name, res.StatusCode, res.Header)
			}
		}
	}
	if e := b.call(t, "send_message", map[string]string{"attachment_id": up.ID}, nil); e == nil || e.Error != "attachment_not_found" {
		t.Fatalf("someone else's attachment: %+v", e)
	}
}
