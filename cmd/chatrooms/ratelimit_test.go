package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// rateLimitedBody is the body of a 429 and the ack of a limited event.
type rateLimitedBody struct {
	Error        string `json:"error"`
	Message      string `json:"message"`
	RetryAfterMS int64  `json:"retry_after_ms"`
}

// check fails unless b is a rate_limited error with a wait.
func (b rateLimitedBody) check(t *testing.T, what string) {
	t.Helper()
	if b.Error != "rate_limited" || b.Message == "" || b.RetryAfterMS <= 0 {
		t.Fatalf("%s: got %+v, want rate_limited with a message and retry_after_ms", what, b)
	}
}

// httpAnswer is a status, headers and body.
type httpAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// check429 fails unless a is a 429 with Retry-After and the JSON error.
func (a httpAnswer) check429(t *testing.T, what string) rateLimitedBody {
	t.Helper()
	if a.Status != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d %q, want 429", what, a.Status, a.Body)
	}
	if ra, err := strconv.Atoi(a.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("%s: Retry-After %q, want whole seconds ≥ 1", what, a.Header.Get("Retry-After"))
	}
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
	var b rateLimitedBody
	if err := json.Unmarshal(a.Body, &b); err != nil {
		t.Fatalf("%s: body %q: %v", what, a.Body, err)
	}
	b.check(t, what)
	if ra, _ := strconv.Atoi(a.Header.Get("Retry-After")); int64(ra) != (b.RetryAfterMS+999)/1000 {
		t.Fatalf("%s: Retry-After %d s for retry_after_ms %d", what, ra, b.RetryAfterMS)
	}
	return b
}

// request sends a request with extra headers (name, value pairs).
func (s *server) request(t *testing.T, method, path, body string, headers ...string) httpAnswer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpAnswer{Status: res.StatusCode, Header: res.Header, Body: data}
}

// handshake opens an Engine.IO polling session (or is refused).
func (s *server) handshake(t *testing.T, headers ...string) httpAnswer {
	t.Helper()
	return s.request(t, "GET", "/socket.io/?EIO=4&transport=polling", "", headers...)
}

// sid reads the session id of a handshake answer.
func (a httpAnswer) sid(t *testing.T) string {
	t.Helper()
	var open struct {
		SID string `json:"sid"`
	}
	if a.Status != http.StatusOK || len(a.Body) < 2 || a.Body[0] != '0' {
		t.Fatalf("handshake: %d %q", a.Status, a.Body)
	}
	if err := json.Unmarshal(a.Body[1:], &open); err != nil || open.SID == "" {
		t.Fatalf("handshake body %q: %v", a.Body, err)
	}
	return open.SID
}

// eventually retries cond (bounded in count and time) until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for range 1000 {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: never happened", what)
}

func TestHandshakesLimitedPerAddress(t *testing.T) {
	s := startServer(t, "", "--limit-handshakes", "2/1h:2")
	for i := range 2 {
		if a := s.handshake(t); a.Status != http.StatusOK {
			t.Fatalf("handshake %d: %d %q", i, a.Status, a.Body)
		}
	}
	s.handshake(t).check429(t, "third polling handshake")
	// A WebSocket handshake is refused the same way, before the upgrade.
	_, err := sioclient.Dial(ctxT(t), s.URL, sioclient.Options{Namespace: "/chat", Auth: map[string]string{"token": "x"}})
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("WebSocket handshake over the limit: %v, want a 429", err)
	}
}

func TestSessionsLimitedPerAddress(t *testing.T) {
	s := startServer(t, "", "--max-sessions-per-addr", "2", "--limit-handshakes", "off")
	first := s.handshake(t).sid(t)
	s.handshake(t).sid(t)
	s.handshake(t).check429(t, "third open session")
	// Closing a session frees its place.
	if a := s.request(t, "POST", "/socket.io/?EIO=4&transport=polling&sid="+first, "1", "Content-Type", "text/plain;charset=UTF-8"); a.Status != http.StatusOK {
		t.Fatalf("close: %d %q", a.Status, a.Body)
	}
	eventually(t, "a handshake after a session closed", func() bool {
		return s.handshake(t).Status == http.StatusOK
	})
}

func TestConnectLimitedPerAddress(t *testing.T) {
	// One Dial takes two: the Engine.IO handshake and the /chat CONNECT.
	s := startServer(t, "", "--limit-handshakes", "3/1h:3")
	u, tok := s.register(t, "Anna")
	s.connect(t, u, tok)
	_, err := sioclient.Dial(ctxT(t), s.URL, sioclient.Options{Namespace: "/chat", Auth: map[string]string{"token": tok}})
	var ce *sioclient.ConnectError
	if !errors.As(err, &ce) || ce.Message != "rate_limited" {
		t.Fatalf("CONNECT over the limit: %v, want connect_error rate_limited", err)
	}
	var b rateLimitedBody
	if err := json.Unmarshal(ce.Data, &b); err != nil {
		t.Fatalf("connect_error data %q: %v", ce.Data, err)
	}
	b.check(t, "connect_error data")
}

func TestProxyHeaders(t *testing.T) {
	t.Run("untrusted peer", func(t *testing.T) {
		s := startServer(t, "", "--limit-handshakes", "1/1h:1")
		if a := s.handshake(t, "X-Forwarded-For", "198.51.100.1"); a.Status != http.StatusOK {
			t.Fatalf("first: %d", a.Status)
		}
		// Another claimed address changes nothing: the peer is the client.
		s.handshake(t, "X-Forwarded-For", "198.51.100.2").check429(t, "spoofed X-Forwarded-For")
		s.handshake(t, "Forwarded", "for=198.51.100.3").check429(t, "spoofed Forwarded")
	})
	t.Run("trusted X-Forwarded-For", func(t *testing.T) {
		s := startServer(t, "", "--limit-handshakes", "1/1h:1", "--trusted-proxies", "127.0.0.0/8, 10.0.0.0/8")
		for _, c := range []struct {
			xff  string
			want int
		}{
			{"198.51.100.1", 200},
			{"198.51.100.1", 429},
			{"198.51.100.2", 200},
			{"203.0.113.9, 198.51.100.2", 429},        // the right-most untrusted hop is the client
			{"198.51.100.2, 203.0.113.9", 200},        // ... whatever it says further left
			{"198.51.100.4, 10.1.2.3, 10.0.0.1", 200}, // trusted hops are skipped
			{"198.51.100.4", 429},
			{"", 200}, // no header: the proxy itself
		} {
			var a httpAnswer
			if c.xff == "" {
				a = s.handshake(t)
			} else {
				a = s.handshake(t, "X-Forwarded-For", c.xff)
			}
			if a.Status != c.want {
				t.Fatalf("X-Forwarded-For %q: %d, want %d", c.xff, a.Status, c.want)
			}
		}
	})
	t.Run("trusted Forwarded", func(t *testing.T) {
		s := startServer(t, "", "--limit-handshakes", "1/1h:1", "--trusted-proxies", "127.0.0.1", "--client-addr-header", "Forwarded")
		for _, c := range []struct {
			hdr, val string
			want     int
		}{
			{"Forwarded", `for=198.51.100.1;proto=http`, 200},
			{"Forwarded", `for="198.51.100.9", for=198.51.100.1`, 429},
			{"Forwarded", `for="[2001:db8::1]:4711"`, 200},
			{"Forwarded", `for="[2001:db8::2]"`, 429}, // the same /64
			{"X-Forwarded-For", "198.51.100.7", 200},  // not read: the proxy itself
			{"X-Forwarded-For", "198.51.100.8", 429},
		} {
			if a := s.handshake(t, c.hdr, c.val); a.Status != c.want {
				t.Fatalf("%s %q: %d, want %d", c.hdr, c.val, a.Status, c.want)
			}
		}
	})
}

func TestMessageLimitAck(t *testing.T) {
	s := startServer(t, "", "--limit-messages", "1/1h:2")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	a.nextMessage(t) // Boris's join
	a.send(t, "one")
	a.send(t, "two")
	var got rateLimitedBody
	ack, err := a.C.EmitWithAck(ctxT(t), "send_message", map[string]string{"content": "three"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ack.Arg(0, &got); err != nil {
		t.Fatal(err)
	}
	got.check(t, "third message")
	// What was accepted is delivered; what was refused is not.
	for _, want := range []string{"one", "two"} {
		if m := b.nextMessage(t); m.Content != want {
			t.Fatalf("Boris got %q, want %q", m.Content, want)
		}
	}
	if e := b.call(t, "send_message", map[string]string{"content": "four"}, nil); e != nil {
		t.Fatalf("another user is limited too: %+v", e)
	}
	if m := b.nextMessage(t); m.Content != "four" {
		t.Fatalf("Boris got %q after the refused message, want his own", m.Content)
	}
}

func TestTypingLimitAndFanout(t *testing.T) {
	s := startServer(t, "", "--limit-typing", "4/1h:4", "--typing-fanout", "1h")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	c := s.join(t, "Carla")
	typing := func(on bool) *apiError {
		t.Helper()
		return a.call(t, "typing", map[string]bool{"typing": on}, nil)
	}
	for range 3 { // accepted, but only the first start is passed on
		if e := typing(true); e != nil {
			t.Fatalf("typing start: %+v", e)
		}
	}
	if e := typing(false); e != nil { // stops are not limited
		t.Fatalf("typing stop: %+v", e)
	}
	if e := typing(false); e != nil { // no start went out since: not passed on
		t.Fatalf("typing stop: %+v", e)
	}
	if e := typing(true); e != nil { // the fourth start: a new one after a stop
		t.Fatalf("typing start: %+v", e)
	}
	ack, err := a.C.EmitWithAck(ctxT(t), "typing", map[string]bool{"typing": true})
	if err != nil {
		t.Fatal(err)
	}
	var got rateLimitedBody
	if err := ack.Arg(0, &got); err != nil {
		t.Fatal(err)
	}
	got.check(t, "fifth typing start")
	if e := typing(false); e != nil {
		t.Fatalf("typing stop over the limit: %+v", e)
	}
	// Boris saw each change once, in order: any start or stop passed on
	// more than once would break the alternation.
	for i, want := range []bool{true, false, true, false} {
		ev, err := b.C.Next(ctxT(t), "typing")
		if err != nil {
			t.Fatalf("typing event %d: %v", i, err)
		}
		var got struct {
			User   struct{ ID string } `json:"user"`
			Typing bool                `json:"typing"`
		}
		if err := ev.Arg(0, &got); err != nil {
			t.Fatal(err)
		}
		if got.Typing != want || got.User.ID != a.User.ID {
			t.Fatalf("typing event %d = %+v, want typing %v from Anna", i, got, want)
		}
	}
	// Nothing more was passed on: the typing signals of this node go out
	// over one NATS connection, in order, so Carla's start, sent after all
	// of Anna's, is the next typing event Boris gets.
	if e := c.call(t, "typing", map[string]bool{"typing": true}, nil); e != nil {
		t.Fatalf("Carla typing: %+v", e)
	}
	ev, err := b.C.Next(ctxT(t), "typing")
	if err != nil {
		t.Fatal(err)
	}
	var next struct {
		User struct{ ID string } `json:"user"`
	}
	if err := ev.Arg(0, &next); err != nil || next.User.ID != c.User.ID {
		t.Fatalf("next typing event %s, want Carla's", ev.Args)
	}
}

func TestRoomSwitchLimitAck(t *testing.T) {
	s := startServer(t, "", "--limit-room-switches", "1/1h:1")
	a := s.join(t, "Anna")
	if e := a.call(t, "switch_room", map[string]string{"room_id": "_test"}, nil); e != nil {
		t.Fatalf("first switch: %+v", e)
	}
	ack, err := a.C.EmitWithAck(ctxT(t), "switch_room", map[string]string{"room_id": "_default"})
	if err != nil {
		t.Fatal(err)
	}
	var got rateLimitedBody
	if err := ack.Arg(0, &got); err != nil {
		t.Fatal(err)
	}
	got.check(t, "second switch")
	var me struct {
		CurrentRoom struct{ ID string } `json:"current_room"`
	}
	if code := s.do(t, "GET", "/api/users/me", a.Token, nil, &me); code != 200 || me.CurrentRoom.ID != "_test" {
		t.Fatalf("after a refused switch: %d, room %q, want still _test", code, me.CurrentRoom.ID)
	}
}

func TestNewUsersLimitedPerAddress(t *testing.T) {
	s := startServer(t, "", "--limit-new-users", "2/1h:2", "--trusted-proxies", "127.0.0.1")
	newUser := func(name string, headers ...string) httpAnswer {
		t.Helper()
		return s.request(t, "POST", "/api/users", `{"username":"`+name+`"}`, append([]string{"Content-Type", "application/json"}, headers...)...)
	}
	if a := newUser("Anna"); a.Status != http.StatusCreated {
		t.Fatalf("first: %d %q", a.Status, a.Body)
	}
	// Attempts that create nobody do not count.
	for range 3 {
		if a := newUser("anna"); a.Status != http.StatusConflict {
			t.Fatalf("taken name: %d %q", a.Status, a.Body)
		}
	}
	if a := newUser("Boris"); a.Status != http.StatusCreated {
		t.Fatalf("second: %d %q", a.Status, a.Body)
	}
	newUser("Carla").check429(t, "third new user")
	// Behind the trusted proxy (loopback here) each client has its own allowance.
	if a := newUser("Carla", "X-Forwarded-For", "198.51.100.1"); a.Status != http.StatusCreated {
		t.Fatalf("another client behind the proxy: %d %q", a.Status, a.Body)
	}
	// The refused user was not created.
	var users []struct{ Name string }
	s.do(t, "GET", "/api/users", "", nil, &users)
	if len(users) != 3 {
		t.Fatalf("%d users, want Anna, Boris and Carla once: %+v", len(users), users)
	}
}

func TestRoomCreationsLimitedPerUser(t *testing.T) {
	s := startServer(t, "", "--limit-room-creations", "1/1h:1")
	_, tok := s.register(t, "Anna")
	_, other := s.register(t, "Boris")
	create := func(tok, name string) httpAnswer {
		t.Helper()
		return s.request(t, "POST", "/api/rooms", `{"name":"`+name+`"}`, "Content-Type", "application/json", "Authorization", "Bearer "+tok)
	}
	if a := create(tok, "Default Room"); a.Status != http.StatusConflict { // taken: does not count
		t.Fatalf("taken name: %d %q", a.Status, a.Body)
	}
	if a := create(tok, "Plants"); a.Status != http.StatusCreated {
		t.Fatalf("first room: %d %q", a.Status, a.Body)
	}
	create(tok, "Trees").check429(t, "second room")
	if a := create(other, "Trees"); a.Status != http.StatusCreated {
		t.Fatalf("another user: %d %q", a.Status, a.Body)
	}
}

func TestUploadsLimitedPerAddress(t *testing.T) {
	s := startServer(t, "", "--limit-addr-uploads", "1/1h:1")
	// Counted before the token is checked: a flood without one is limited too.
	if a := s.request(t, "POST", "/api/attachments", "x", "Content-Type", "multipart/form-data; boundary=b"); a.Status != http.StatusUnauthorized {
		t.Fatalf("first upload: %d %q, want 401", a.Status, a.Body)
	}
	s.request(t, "POST", "/api/attachments", "x", "Content-Type", "multipart/form-data; boundary=b").check429(t, "second upload")
}
