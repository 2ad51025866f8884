package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// syncBuffer collects a server's log output safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a real chatrooms process-in-a-goroutine: run() with an
// embedded NATS on a temporary data dir and a random port.
type server struct {
	t       *testing.T
	URL     string
	DataDir string
	stop    context.CancelFunc
	done    chan error
	logs    *syncBuffer
}

var addrRe = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServer runs the server with extra flags; it is stopped at cleanup.
func startServer(t *testing.T, dataDir string, flags ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, DataDir: dataDir, stop: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	// Every test client comes from 127.0.0.1: no per-address limit
	// unless a test sets one (a flag given again wins).
	args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", dataDir, "--shutdown-grace", "5s",
		"--limit-new-users", "off", "--limit-handshakes", "off", "--max-sessions-per-addr", "0", "--limit-addr-uploads", "off"}, flags...)
	go func() { s.done <- run(ctx, args, func(string) string { return "" }, s.logs) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := addrRe.FindStringSubmatch(s.logs.String()); m != nil {
			s.URL = "http://" + m[1]
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("server exited: %v\n%s", err, s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", s.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the server down gracefully and waits for it.
func (s *server) Stop() {
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("server: %v", err)
		}
	case <-time.After(20 * time.Second):
		s.t.Errorf("server did not stop:\n%s", s.logs.String())
	}
	if s.t.Failed() {
		s.t.Logf("server log:\n%s", tail(s.logs.String(), 6000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// do sends a JSON request and decodes the JSON answer into out (if not nil).
func (s *server) do(t *testing.T, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
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
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, res.StatusCode, data, err)
		}
	}
	return res.StatusCode
}

type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// register creates a user and returns it with its token.
func (s *server) register(t *testing.T, name string) (chat.User, string) {
	t.Helper()
	var res struct {
		User  chat.User `json:"user"`
		Token string    `json:"token"`
	}
	if code := s.do(t, "POST", "/api/users", "", map[string]string{"username": name}, &res); code != http.StatusCreated {
		t.Fatalf("register %q: status %d", name, code)
	}
	return res.User, res.Token
}

// member is a connected user.
type member struct {
	User  chat.User
	Token string
	C     *sioclient.Client
}

// connect opens a socket on /chat with token and checks the greeting:
// room list, user list, current room.
func (s *server) connect(t *testing.T, u chat.User, token string) *member {
	t.Helper()
	c, err := sioclient.Dial(ctxT(t), s.URL, sioclient.Options{Namespace: "/chat", Auth: map[string]string{"token": token}})
	if err != nil {
		t.Fatalf("connect %s: %v", u.Name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	m := &member{User: u, Token: token, C: c}
	evs := []string{"room_list_changed", "user_list_changed", "current_room_changed"}
	for _, want := range evs {
		if _, err := c.Next(ctxT(t), want); err != nil {
			t.Fatalf("%s: waiting for %s: %v", u.Name, want, err)
		}
	}
	return m
}

// join registers and connects a user.
func (s *server) join(t *testing.T, name string) *member {
	t.Helper()
	u, tok := s.register(t, name)
	return s.connect(t, u, tok)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// call emits with an ack and decodes {"ok":true,...} or the error.
func (m *member) call(t *testing.T, event string, payload any, out any) *apiError {
	t.Helper()
	ack, err := m.C.EmitWithAck(ctxT(t), event, payload)
	if err != nil {
		t.Fatalf("%s %s: %v", m.User.Name, event, err)
	}
	var e apiError
	if err := ack.Arg(0, &e); err == nil && e.Error != "" {
		return &e
	}
	if out != nil {
		if err := ack.Arg(0, out); err != nil {
			t.Fatalf("%s ack: %v", event, err)
		}
	}
	return nil
}

// nextMessage waits for the next chat_message.
func (m *member) nextMessage(t *testing.T) chat.Message {
	t.Helper()
	ev, err := m.C.Next(ctxT(t), "chat_message")
	if err != nil {
		t.Fatalf("%s: waiting for chat_message: %v", m.User.Name, err)
	}
	var msg chat.Message
	if err := ev.Arg(0, &msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

// send sends a text message and returns the acked message.
func (m *member) send(t *testing.T, text string) chat.Message {
	t.Helper()
	var res struct {
		OK      bool         `json:"ok"`
		Message chat.Message `json:"message"`
	}
	if e := m.call(t, "send_message", map[string]string{"content": text}, &res); e != nil {
		t.Fatalf("send %q: %v", text, e)
	}
	return res.Message
}

// noEvent checks that no event called name arrives within d.
func (m *member) noEvent(t *testing.T, name string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if ev, err := m.C.Next(ctx, name); err == nil {
		t.Fatalf("%s: unexpected %s %s", m.User.Name, name, fmt.Sprint(ev.Args))
	}
}
