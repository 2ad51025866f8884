package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/natstest"
)

// A node on an external NATS that loses it closes its clients (so they can
// reconnect to a healthy node) and reports itself unready.
func TestLosingNATSClosesClientsAndUnreadies(t *testing.T) {
	url, stopNATS := natstest.StartServer(t)
	s := startServer(t, "", "--nats-url", url, "--node-name", "solo")
	if code := s.do(t, "GET", "/readyz", "", nil, nil); code != http.StatusOK {
		t.Fatalf("readyz before: %d", code)
	}
	a := s.join(t, "Anna")
	if sid := a.C.SessionID(); len(sid) < 6 || sid[:5] != "solo." {
		t.Fatalf("session id %q does not start with the node name", sid)
	}
	stopNATS()
	select {
	case <-a.C.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("client still connected 15 s after NATS went away")
	}
	waitFor(t, func() bool { return s.do(t, "GET", "/readyz", "", nil, nil) == http.StatusServiceUnavailable })
	// New clients are turned away at once, so a load balancer tries
	// another node.
	if code := s.do(t, "GET", "/socket.io/?EIO=4&transport=polling", "", nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("handshake while NATS is away: %d, want 503", code)
	}
}
