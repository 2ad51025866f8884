package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apitest"
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
	return s.api().Do(t, method, path, token, body, out)
}

// api is the server for the shared API client.
func (s *server) api() apitest.Server { return apitest.Server{URL: s.URL} }

type apiError = apitest.Error

// register creates a user and returns it with its token.
func (s *server) register(t *testing.T, name string) (chat.User, string) {
	t.Helper()
	return s.api().Register(t, name)
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
	c, _ := s.api().Connect(t, u.Name, token, 0)
	return &member{User: u, Token: token, C: c}
}

// join registers and connects a user.
func (s *server) join(t *testing.T, name string) *member {
	t.Helper()
	u, tok := s.register(t, name)
	return s.connect(t, u, tok)
}

func ctxT(t *testing.T) context.Context { return apitest.Context(t) }

// call emits with an ack and decodes {"ok":true,...} or the error.
func (m *member) call(t *testing.T, event string, payload any, out any) *apiError {
	t.Helper()
	return apitest.Call(t, m.C, m.User.Name, event, payload, out)
}

// nextMessage waits for the next chat_message.
func (m *member) nextMessage(t *testing.T) chat.Message {
	t.Helper()
	return apitest.NextMessage(t, m.C, m.User.Name, "")
}

// send sends a text message and returns the acked message.
func (m *member) send(t *testing.T, text string) chat.Message {
	t.Helper()
	return apitest.Send(t, m.C, m.User.Name, text)
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
