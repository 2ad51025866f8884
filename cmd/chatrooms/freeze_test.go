package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/sioclient"
	"github.com/chatrooms/chatrooms/internal/testserver/protocoltest"
)

// freezeBound is how long a fresh user may take to sign up, connect, send
// and see their message while the room is busy. It detects a frozen
// server (which never answers), not a speed: the suite runs on a busy
// 2-core machine with the race detector, so it is generous; the figures
// seen are logged.
const freezeBound = 10 * time.Second

// TestNonReaderDoesNotFreezeChat reproduces issue 11's freeze: a client
// on /chat that never reads its socket, in a busy room, is dropped as a
// slow consumer; dropping it must not stop the chat. Throughout and
// afterwards a fresh user can connect and chat, and the dropped user goes
// offline.
func TestNonReaderDoesNotFreezeChat(t *testing.T) {
	for _, variant := range []string{"messages", "typing"} {
		t.Run(variant, func(t *testing.T) {
			// A queue of 1 MiB (a quarter of the default) makes the
			// non-reader, whose receive buffer is tiny, a slow consumer
			// within seconds, while the members, which read, can fall
			// behind by seconds (a busy machine) without being dropped
			// themselves. The per-user limits are raised (typing
			// unlimited, as when the freeze was found); the limits have
			// tests of their own.
			s := startServer(t, "", "--max-payload", "65536", "--write-queue-bytes", "1048576",
				"--limit-messages", "20/1s:20", "--limit-typing", "off", "--typing-fanout", "1ms")
			victim, vtok := s.register(t, "sloth")
			conn, vsid := dialNonReader(t, s, vtok)
			defer conn.Close()
			waitOnline(t, s, victim.ID, true)

			var members []*member
			for i := range 8 {
				u, tok := s.register(t, fmt.Sprintf("busy%d", i))
				c, err := sioclient.Dial(ctxT(t), s.URL, sioclient.Options{Namespace: "/chat", Auth: map[string]string{"token": tok}, EventBuffer: 1 << 20})
				if err != nil {
					t.Fatalf("connect %s: %v", u.Name, err)
				}
				t.Cleanup(func() { _ = c.Close() })
				members = append(members, &member{User: u, Token: tok, C: c})
			}

			// The load: every member sends (messages within the rate
			// limit, or typing changes) until the non-reader is gone;
			// bounded in count and time.
			ctx, stopLoad := context.WithTimeout(context.Background(), 60*time.Second)
			defer stopLoad()
			var wg sync.WaitGroup
			var sent atomic.Int64
			loadErrs := make([]error, len(members))
			for i, m := range members {
				wg.Add(1)
				go func() {
					defer wg.Done()
					loadErrs[i] = load(ctx, m, variant, i, &sent)
				}()
			}

			// Probes: fresh users connect and chat while the load runs,
			// until the non-reader is offline, and twice after that.
			var worst time.Duration
			offline := false
			n := 0
			for ; n < 400 && !offline && ctx.Err() == nil; n++ {
				worst = max(worst, probe(t, s, fmt.Sprintf("probe%d", n)))
				offline = !userOnline(t, s, victim.ID)
				if !offline {
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
			if !offline {
				stopLoad()
				wg.Wait()
				t.Fatalf("the non-reader is still online after %d probes (%d events sent; load errors %v)", n, sent.Load(), loadErrs)
			}
			for n := range 2 {
				worst = max(worst, probe(t, s, fmt.Sprintf("after%d", n)))
			}
			stopLoad()
			wg.Wait()
			for _, err := range loadErrs {
				if err != nil {
					t.Errorf("load: %v", err)
				}
			}
			if t.Failed() {
				t.Logf("server disconnections:\n%s", grepLines(s.logs.String(), "chat socket disconnected"))
			}
			t.Logf("%s: %d events sent; slowest probe (sign up, connect, send, receive) %v", variant, sent.Load(), worst)
			// The drop must have been a slow-consumer close (found by a
			// broadcast), not a ping or write timeout.
			if want := fmt.Sprintf(`user=%s sid=%s reason="slow consumer"`, victim.ID, vsid); !strings.Contains(s.logs.String(), want) {
				t.Fatalf("the non-reader was not dropped as a slow consumer: no %q in the log", want)
			}
			if code := s.do(t, "GET", "/readyz", "", nil, nil); code != http.StatusOK {
				t.Fatalf("readyz after the drop: %d", code)
			}
		})
	}
}

// load sends events from m until ctx ends.
func load(ctx context.Context, m *member, variant string, i int, sent *atomic.Int64) error {
	text := strings.Repeat(fmt.Sprintf("%d", i%10), chat.MessageMaxLen)
	for n := 0; n < 100000 && ctx.Err() == nil; n++ {
		var err error
		if variant == "typing" {
			err = m.C.Emit("typing", map[string]bool{"typing": n%2 == 0})
			if n%50 == 49 {
				// Within the message limit, so that the non-reader's
				// queue fills even where typing fan-out is limited.
				_, err = m.C.EmitWithAck(ctx, "send_message", map[string]string{"content": text})
			}
		} else {
			_, err = m.C.EmitWithAck(ctx, "send_message", map[string]string{"content": text})
		}
		if err != nil {
			if ctx.Err() == nil {
				return fmt.Errorf("%s after %d events: %w", m.User.Name, n, err)
			}
			return nil
		}
		sent.Add(1)
		if variant == "messages" {
			// 16 a second: under the test's 20/s limit.
			select {
			case <-ctx.Done():
			case <-time.After(60 * time.Millisecond):
			}
		} else if n%20 == 19 {
			// About 200 typing events a second from each member (a few
			// hundred KB/s to each reader): the non-reader's queue
			// fills in seconds.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// probe signs up a fresh user, connects, sends a message and waits for
// it; it fails the test past freezeBound and returns how long it took.
func probe(t *testing.T, s *server, name string) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), freezeBound)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- probeOnce(ctx, s, name) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("probe %s: %v (after %v)", name, err, time.Since(start))
		}
	case <-ctx.Done():
		t.Fatalf("probe %s: no answer within %v: the chat is frozen", name, freezeBound)
	}
	return time.Since(start)
}

func probeOnce(ctx context.Context, s *server, name string) error {
	body := strings.NewReader(fmt.Sprintf(`{"username":%q}`, name))
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/api/users", body)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	var created struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusCreated {
		return fmt.Errorf("sign up: %d %v", res.StatusCode, err)
	}
	c, err := sioclient.Dial(ctx, s.URL, sioclient.Options{Namespace: "/chat", Auth: map[string]string{"token": created.Token}, EventBuffer: 1 << 20})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	if _, err := c.Next(ctx, "current_room_changed"); err != nil {
		return err
	}
	content := "hello from " + name
	if _, err := c.EmitWithAck(ctx, "send_message", map[string]string{"content": content}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	for {
		ev, err := c.Next(ctx, "chat_message")
		if err != nil {
			return fmt.Errorf("own message: %w", err)
		}
		var m chat.Message
		if ev.Arg(0, &m) == nil && m.Content == content {
			break
		}
	}
	// Log out, so the user list stays short.
	req, _ = http.NewRequestWithContext(ctx, "DELETE", s.URL+"/api/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+created.Token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("log out: %w", err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("log out: %d", res.StatusCode)
	}
	return nil
}

// dialNonReader connects a WebSocket client to /chat that reads the
// Engine.IO open packet and then never reads again, with a small receive
// buffer so the server's writes back up quickly.
func dialNonReader(t *testing.T, s *server, token string) (net.Conn, string) {
	t.Helper()
	d := protocoltest.SmallBufferDialer()
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, br, _, err := d.Dial(ctxT(t), u)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var rd io.Reader = conn
	if br != nil { // the open packet came with the upgrade response
		rd = io.MultiReader(br, conn)
	}
	open, err := wsutil.ReadServerText(struct {
		io.Reader
		io.Writer
	}{rd, conn})
	if err != nil {
		t.Fatalf("open packet: %v", err)
	}
	var hs struct {
		SID string `json:"sid"`
	}
	if len(open) < 2 || json.Unmarshal(open[1:], &hs) != nil || hs.SID == "" {
		t.Fatalf("open packet %q", open)
	}
	auth, _ := json.Marshal(map[string]string{"token": token})
	if err := wsutil.WriteClientText(conn, append([]byte("40/chat,"), auth...)); err != nil {
		t.Fatalf("connect packet: %v", err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, hs.SID
}

// userOnline reads the user's online flag from GET /api/users.
func userOnline(t *testing.T, s *server, id string) bool {
	t.Helper()
	var users []chat.User
	if code := s.do(t, "GET", "/api/users", "", nil, &users); code != http.StatusOK {
		t.Fatalf("GET /api/users: %d", code)
	}
	for _, u := range users {
		if u.ID == id {
			return u.Online
		}
	}
	return false
}

// waitOnline waits until the user's online flag is want.
func waitOnline(t *testing.T, s *server, id string, want bool) {
	t.Helper()
	waitFor(t, func() bool { return userOnline(t, s, id) == want })
}

// grepLines returns the lines of text that contain sub.
func grepLines(text, sub string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, sub) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}
