package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
)

// stallListener blocks the room-event delivery loop on a message whose
// content is "stall", until release is closed: an injected stall of the
// real chat path.
type stallListener struct {
	chat.Listener
	release chan struct{}
}

func (l stallListener) RoomEvent(m *chat.Message) {
	if m.Content == "stall" {
		<-l.release
	}
	l.Listener.RoomEvent(m)
}

var stuckLine = regexp.MustCompile(`level=ERROR msg="chat path stuck: the node reports unready" .*check="room event delivery loop"`)

// get returns the status and body of a GET.
func (s *server) get(t *testing.T, path string) (int, string) {
	t.Helper()
	res, err := http.Get(s.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// A stuck chat path turns /readyz unready (and /healthz unhealthy once it
// stays stuck), with the stuck step named in the answer and the log; once
// it moves again the node is ready and nothing was lost.
func TestWatchdogReportsStuckChatPath(t *testing.T) {
	release := make(chan struct{})
	testHooks.wrapListener = func(l chat.Listener) chat.Listener { return stallListener{l, release} }
	testHooks.watchdogTimeout = time.Second
	testHooks.stuckUnhealthy = 2 * time.Second
	t.Cleanup(func() { testHooks.wrapListener, testHooks.watchdogTimeout, testHooks.stuckUnhealthy = nil, 0, 0 })
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})

	s := startServer(t, "")
	waitFor(t, func() bool { code, _ := s.get(t, "/readyz"); return code == http.StatusOK })
	if code, _ := s.get(t, "/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	a.send(t, "stall")

	var body string
	waitFor(t, func() bool {
		var code int
		code, body = s.get(t, "/readyz")
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "room event delivery loop") {
		t.Errorf("readyz body %q does not name the stuck step", body)
	}
	waitFor(t, func() bool {
		return stuckLine.MatchString(s.logs.String())
	})
	waitFor(t, func() bool { code, _ := s.get(t, "/healthz"); return code == http.StatusServiceUnavailable })

	released = true
	close(release)
	waitFor(t, func() bool { code, _ := s.get(t, "/readyz"); return code == http.StatusOK })
	if code, _ := s.get(t, "/healthz"); code != http.StatusOK {
		t.Fatalf("healthz after the stall: %d", code)
	}
	if m := b.nextMessage(t); m.Content != "stall" {
		t.Fatalf("Boris got %q, want the stalled message", m.Content)
	}
	b.send(t, "after")
	for {
		if m := a.nextMessage(t); m.Content == "after" {
			break
		}
	}
}
