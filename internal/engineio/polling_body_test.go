package engineio_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/httpx"
)

// closeRecorder is an engineio.Handler that reports each session's close.
type closeRecorder struct{ closed chan error }

func (closeRecorder) OnOpen(*engineio.Session)                  {}
func (closeRecorder) OnMessage(*engineio.Session, []byte, bool) {}
func (h closeRecorder) OnClose(_ *engineio.Session, reason error) {
	h.closed <- reason
}

// TestTrickledPollingPostEndsWithItsSession: a polling POST that sends
// one byte of a declared 100 and stalls is cut when its session times
// out (no pong can arrive: the POST carrying it is the stalled one), so
// OnClose runs and the connection closes, rather than both waiting for
// the client forever.
func TestTrickledPollingPostEndsWithItsSession(t *testing.T) {
	const bound = 30 * time.Second
	h := closeRecorder{closed: make(chan error, 1)}
	srv := engineio.NewServer(engineio.Config{PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond}, h)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	resp, err := (&http.Client{Timeout: bound}).Get(ts.URL + "/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct {
		SID string `json:"sid"`
	}
	if len(b) < 2 || b[0] != '0' || json.Unmarshal(b[1:], &open) != nil || open.SID == "" {
		t.Fatalf("handshake %d %q", resp.StatusCode, b)
	}

	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(bound))
	_, err = fmt.Fprintf(c, "POST /?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 100\r\n\r\n4", open.SID)
	if err != nil {
		t.Fatal(err)
	}

	// The session times out after about 200 ms; the body's own minimum
	// rate would cut the POST only after a window (10 s), so waiting for
	// less than that shows the session's end is what cut it.
	select {
	case reason := <-h.closed:
		if !errors.Is(reason, engineio.ErrPingTimeout) {
			t.Fatalf("closed for %v, want the ping timeout", reason)
		}
	case <-time.After(httpx.DefaultBodyWindow / 2):
		t.Fatal("the session was not finalized while its POST trickled")
	}
	// The POST is answered (or not) and its connection closed.
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err == nil {
		body, _ := io.ReadAll(resp.Body)
		t.Logf("answer %d %q close=%v", resp.StatusCode, body, resp.Close)
		resp.Body.Close()
		if !resp.Close {
			t.Fatalf("answer %d keeps the connection", resp.StatusCode)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the POST's connection stayed open")
	}
	if rest, err := io.ReadAll(br); err == nil && len(rest) > 0 {
		t.Fatalf("data after the answer: %q", rest)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the POST's connection stayed open")
	}
}

// TestLongPollUnaffected: polling POSTs read under the body guard are
// answered "ok", and a long-polling GET (no body, no guard) is still
// released by a message sent to the session.
func TestLongPollUnaffected(t *testing.T) {
	const bound = 30 * time.Second
	opened := make(chan *engineio.Session, 1)
	srv := engineio.NewServer(engineio.Config{}, openRecorder{opened})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	client := &http.Client{Timeout: bound}
	resp, err := client.Get(ts.URL + "/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct {
		SID string `json:"sid"`
	}
	if len(b) < 2 || json.Unmarshal(b[1:], &open) != nil {
		t.Fatalf("handshake %q", b)
	}
	s := <-opened
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get(ts.URL + "/?EIO=4&transport=polling&sid=" + open.SID)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	for i := range 3 {
		resp, err := client.Post(ts.URL+"/?EIO=4&transport=polling&sid="+open.SID, "text/plain;charset=UTF-8", strings.NewReader("4hello"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("POST %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if err := s.Send(eiocodec.NewMessageFrame([]byte("hi"))); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-got:
		if body != "4hi" {
			t.Fatalf("poll got %q", body)
		}
	case <-time.After(bound):
		t.Fatal("the held poll was not released")
	}
}

// openRecorder reports each opened session.
type openRecorder struct{ opened chan *engineio.Session }

func (h openRecorder) OnOpen(s *engineio.Session)              { h.opened <- s }
func (openRecorder) OnMessage(*engineio.Session, []byte, bool) {}
func (openRecorder) OnClose(*engineio.Session, error)          {}
