package sioclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/sioclient"
	"github.com/chatrooms/chatrooms/internal/testserver"
)

// testServer is the protocol test-mode server in httptest.
type testServer struct {
	*httptest.Server
	ts *testserver.Server
}

func startServer(t *testing.T, cfg testserver.Config) *testServer {
	t.Helper()
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 25 * time.Second
		cfg.PingTimeout = 20 * time.Second
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	ts := testserver.New(cfg)
	mux := http.NewServeMux()
	ts.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ts.Shutdown(ctx)
		srv.Close()
	})
	return &testServer{Server: srv, ts: ts}
}

func dial(t *testing.T, url string, opts sioclient.Options) *sioclient.Client {
	t.Helper()
	c, err := sioclient.Dial(ctx(t), url, opts)
	if err != nil {
		t.Fatalf("Dial(%s): %v", opts.Namespace, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ctx is a test-bounded context.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func next(t *testing.T, c *sioclient.Client, name string) sioclient.Event {
	t.Helper()
	e, err := c.Next(ctx(t), name)
	if err != nil {
		t.Fatalf("Next(%q): %v", name, err)
	}
	return e
}

// requireJSON compares raw JSON args with want, marshalled.
func requireJSON(t *testing.T, got []json.RawMessage, want ...any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	gb, _ := json.Marshal(gv)
	wb, _ := json.Marshal(wv)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("args = %s, want %s", gb, wb)
	}
}

func TestConnectNamespaces(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	for _, nsp := range []string{"", "/", "/custom"} {
		t.Run("nsp="+nsp, func(t *testing.T) {
			c := dial(t, srv.URL, sioclient.Options{Namespace: nsp})
			if c.ID() == "" || c.SessionID() == "" {
				t.Fatalf("ID %q SessionID %q: want both set", c.ID(), c.SessionID())
			}
			want := nsp
			if want == "" {
				want = "/"
			}
			if c.Namespace() != want {
				t.Fatalf("Namespace() = %q, want %q", c.Namespace(), want)
			}
			e := next(t, c, "auth")
			requireJSON(t, e.Args, map[string]any{})
		})
	}
}

func TestAuthEcho(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	tests := []struct {
		name string
		auth any
		want any
	}{
		{"map", map[string]any{"token": "abc", "n": 1}, map[string]any{"token": "abc", "n": 1}},
		{"struct", struct {
			User string `json:"user"`
		}{"ann"}, map[string]any{"user": "ann"}},
		{"raw", json.RawMessage(`{"x":[1,2]}`), map[string]any{"x": []any{1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, srv.URL, sioclient.Options{Namespace: "/custom", Auth: tt.auth})
			requireJSON(t, next(t, c, "auth").Args, tt.want)
		})
	}
	t.Run("not an object", func(t *testing.T) {
		_, err := sioclient.Dial(ctx(t), srv.URL, sioclient.Options{Auth: "token"})
		if err == nil {
			t.Fatal("Dial with a string auth succeeded, want an error")
		}
	})
}

func TestEventsWithMixedArgs(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	c := dial(t, srv.URL, sioclient.Options{})
	args := []any{1, "two", 3.5, true, nil, map[string]any{"a": []any{"b", 2}}, []any{}, "üñí<>&\"\n"}
	if err := c.Emit("message", args...); err != nil {
		t.Fatal(err)
	}
	e := next(t, c, "message-back")
	requireJSON(t, e.Args, args...)
	if e.WantsAck() {
		t.Fatal("WantsAck() = true for a plain event")
	}
	if err := e.Ack(); !errors.Is(err, sioclient.ErrNoAck) {
		t.Fatalf("Ack() = %v, want ErrNoAck", err)
	}
	var s string
	if err := e.Arg(1, &s); err != nil || s != "two" {
		t.Fatalf("Arg(1) = %q, %v", s, err)
	}
	if err := e.Arg(99, &s); err == nil {
		t.Fatal("Arg(99) succeeded")
	}
}

func TestNextKeepsOtherEventsInOrder(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	c := dial(t, srv.URL, sioclient.Options{})
	for i := range 3 {
		if err := c.Emit("message", i); err != nil {
			t.Fatal(err)
		}
	}
	// "auth" arrived first but waits for its own Next.
	for i := range 3 {
		requireJSON(t, next(t, c, "message-back").Args, i)
	}
	requireJSON(t, next(t, c, "auth").Args, map[string]any{})

	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Next(short, "message-back"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing pending = %v, want DeadlineExceeded", err)
	}
}

func TestEventsChannel(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	c := dial(t, srv.URL, sioclient.Options{})
	ch := c.Events()
	if c.Events() != ch {
		t.Fatal("Events() returned a different channel the second time")
	}
	if err := c.Emit("message", "x"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for len(names) < 2 {
		select {
		case e := <-ch:
			names = append(names, e.Name)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %v, want 2 events", names)
		}
	}
	if names[0] != "auth" || names[1] != "message-back" {
		t.Fatalf("events = %v, want [auth message-back]", names)
	}
	_ = c.Close()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("event after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Events channel not closed after Close")
	}
}

func TestAckClientToServer(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	for _, nsp := range []string{"/", "/custom"} {
		t.Run(nsp, func(t *testing.T) {
			c := dial(t, srv.URL, sioclient.Options{Namespace: nsp})
			a, err := c.EmitWithAck(ctx(t), "message-with-ack", 1, "2", map[string]any{"3": 4})
			if err != nil {
				t.Fatal(err)
			}
			requireJSON(t, a.Args, 1, "2", map[string]any{"3": 4})
			var n int
			if err := a.Arg(0, &n); err != nil || n != 1 {
				t.Fatalf("Arg(0) = %d, %v", n, err)
			}
		})
	}
}

func TestAckServerToClient(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	c := dial(t, srv.URL, sioclient.Options{})
	if err := c.Emit("server-ack", "ping", 7); err != nil {
		t.Fatal(err)
	}
	req := next(t, c, "server-ack-request")
	requireJSON(t, req.Args, "ping", 7)
	if !req.WantsAck() {
		t.Fatal("server-ack-request: WantsAck() = false")
	}
	if err := req.Ack("pong", 8); err != nil {
		t.Fatal(err)
	}
	if err := req.Ack("again"); !errors.Is(err, sioclient.ErrAckSent) {
		t.Fatalf("second Ack = %v, want ErrAckSent", err)
	}
	requireJSON(t, next(t, c, "server-ack-result").Args, "pong", 8)
}

func TestBinary(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	c := dial(t, srv.URL, sioclient.Options{})
	blob := []byte{0, 1, 2, 0xff}
	nested := bytes.Repeat([]byte{0xab}, 70_000) // > 64 KiB: 8-byte frame length

	t.Run("event", func(t *testing.T) {
		if err := c.Emit("message", blob, "text", map[string]any{"n": nested}); err != nil {
			t.Fatal(err)
		}
		e := next(t, c, "message-back")
		if len(e.Args) != 3 || len(e.Attachments) != 2 {
			t.Fatalf("got %d args %d attachments, want 3 and 2", len(e.Args), len(e.Attachments))
		}
		if b, ok := e.Binary(0); !ok || !bytes.Equal(b, blob) {
			t.Fatalf("Binary(0) = %x, %v", b, ok)
		}
		if _, ok := e.Binary(1); ok {
			t.Fatal("Binary(1) of a string succeeded")
		}
		var m map[string]json.RawMessage
		if err := e.Arg(2, &m); err != nil {
			t.Fatal(err)
		}
		if b, ok := sioclientResolve(m["n"], e.Attachments); !ok || !bytes.Equal(b, nested) {
			t.Fatalf("nested attachment: %d bytes, %v", len(b), ok)
		}
	})
	t.Run("ack from server", func(t *testing.T) {
		a, err := c.EmitWithAck(ctx(t), "message-with-ack", blob, 5)
		if err != nil {
			t.Fatal(err)
		}
		if b, ok := a.Binary(0); !ok || !bytes.Equal(b, blob) {
			t.Fatalf("ack Binary(0) = %x, %v", b, ok)
		}
		requireJSON(t, a.Args[1:], 5)
	})
	t.Run("request and ack to server", func(t *testing.T) {
		if err := c.Emit("server-ack", blob); err != nil {
			t.Fatal(err)
		}
		req := next(t, c, "server-ack-request")
		if b, ok := req.Binary(0); !ok || !bytes.Equal(b, blob) {
			t.Fatalf("request Binary(0) = %x, %v", b, ok)
		}
		if err := req.Ack([]byte("answer"), "x"); err != nil {
			t.Fatal(err)
		}
		res := next(t, c, "server-ack-result")
		if b, ok := res.Binary(0); !ok || string(b) != "answer" {
			t.Fatalf("result Binary(0) = %q, %v", b, ok)
		}
	})
}

// sioclientResolve resolves a placeholder found inside an argument.
func sioclientResolve(v json.RawMessage, atts [][]byte) ([]byte, bool) {
	e := sioclient.Event{Args: []json.RawMessage{v}, Attachments: atts}
	return e.Binary(0)
}

func TestRoomsAndBroadcast(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	a := dial(t, srv.URL, sioclient.Options{})
	b := dial(t, srv.URL, sioclient.Options{})
	c := dial(t, srv.URL, sioclient.Options{})
	for _, cl := range []*sioclient.Client{a, b} {
		ack, err := cl.EmitWithAck(ctx(t), "join", "room1")
		if err != nil {
			t.Fatal(err)
		}
		requireJSON(t, ack.Args, true)
	}
	if err := c.Emit("broadcast", "room1", "hello", []byte{9}); err != nil {
		t.Fatal(err)
	}
	for i, cl := range []*sioclient.Client{a, b} {
		e := next(t, cl, "broadcast-back")
		if bin, ok := e.Binary(1); !ok || !bytes.Equal(bin, []byte{9}) {
			t.Fatalf("client %d: Binary(1) = %x, %v", i, bin, ok)
		}
		requireJSON(t, e.Args[:1], "hello")
	}
	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if e, err := c.Next(short, "broadcast-back"); err == nil {
		t.Fatalf("sender outside the room got %v", e)
	}
	// A bad room is refused with an ack of false.
	ack, err := c.EmitWithAck(ctx(t), "join", "")
	if err != nil {
		t.Fatal(err)
	}
	requireJSON(t, ack.Args, false)
}

func TestAuthNamespace(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	t.Run("refused", func(t *testing.T) {
		for _, auth := range []any{nil, map[string]string{"token": "wrong"}} {
			_, err := sioclient.Dial(ctx(t), srv.URL, sioclient.Options{Namespace: "/auth", Auth: auth})
			var ce *sioclient.ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("auth %v: Dial error %v, want *ConnectError", auth, err)
			}
			if ce.Message != "invalid_token" {
				t.Fatalf("Message = %q, want invalid_token", ce.Message)
			}
			var data struct{ Code string }
			if err := json.Unmarshal(ce.Data, &data); err != nil || data.Code != "invalid_token" {
				t.Fatalf("Data = %s, want code invalid_token", ce.Data)
			}
		}
	})
	t.Run("accepted", func(t *testing.T) {
		c := dial(t, srv.URL, sioclient.Options{Namespace: "/auth", Auth: map[string]string{"token": "secret"}})
		a, err := c.EmitWithAck(ctx(t), "whoami")
		if err != nil {
			t.Fatal(err)
		}
		requireJSON(t, a.Args, map[string]string{"id": c.ID()})
	})
	t.Run("unknown namespace", func(t *testing.T) {
		_, err := sioclient.Dial(ctx(t), srv.URL, sioclient.Options{Namespace: "/nope"})
		var ce *sioclient.ConnectError
		if !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
			t.Fatalf("Dial(/nope) = %v, want ConnectError Invalid namespace", err)
		}
	})
}

func TestServerShutdownClosesClient(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	c := dial(t, srv.URL, sioclient.Options{})
	next(t, c, "auth")
	sctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := srv.ts.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client still open after server shutdown")
	}
	err := c.Err()
	var ce *sioclient.CloseError
	if !errors.Is(err, sioclient.ErrTransportClose) || !errors.As(err, &ce) {
		t.Fatalf("Err() = %v, want a *CloseError", err)
	}
	if ce.Code != 1001 || ce.Reason != "server shutting down" {
		t.Fatalf("close frame %d %q, want 1001 \"server shutting down\"", ce.Code, ce.Reason)
	}
	if err := c.Emit("message", 1); !errors.Is(err, sioclient.ErrTransportClose) {
		t.Fatalf("Emit after close = %v, want the close reason", err)
	}
	if _, err := c.Next(ctx(t), "x"); !errors.Is(err, sioclient.ErrTransportClose) {
		t.Fatalf("Next after close = %v, want the close reason", err)
	}
	if _, err := sioclient.Dial(ctx(t), srv.URL, sioclient.Options{}); err == nil {
		t.Fatal("Dial to a shut down server succeeded")
	}
}

func TestPingsAreAnswered(t *testing.T) {
	srv := startServer(t, testserver.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	c := dial(t, srv.URL, sioclient.Options{})
	time.Sleep(400 * time.Millisecond) // several ping rounds
	if err := c.Err(); err != nil {
		t.Fatalf("closed during pings: %v", err)
	}
	if _, err := c.EmitWithAck(ctx(t), "message-with-ack", 1); err != nil {
		t.Fatal(err)
	}
}

func TestEventOverflowClosesClient(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	c := dial(t, srv.URL, sioclient.Options{EventBuffer: 4})
	for i := range 10 {
		if err := c.Emit("message", i); err != nil {
			break // the overflow may already have closed it
		}
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client not closed by overflow")
	}
	if !errors.Is(c.Err(), sioclient.ErrEventOverflow) {
		t.Fatalf("Err() = %v, want ErrEventOverflow", c.Err())
	}
	// What arrived before the overflow is still readable, then the reason.
	n := 0
	for {
		_, err := c.Next(ctx(t), "")
		if err != nil {
			if !errors.Is(err, sioclient.ErrEventOverflow) {
				t.Fatalf("Next = %v, want ErrEventOverflow", err)
			}
			break
		}
		n++
	}
	if n != 4 {
		t.Fatalf("read %d buffered events, want 4", n)
	}
}

func TestCloseAndConcurrentUse(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	c := dial(t, srv.URL, sioclient.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 8 {
				a, err := c.EmitWithAck(ctx(t), "message-with-ack", g, i, []byte{byte(g), byte(i)})
				if err != nil {
					errs <- err
					return
				}
				var gg, ii int
				if a.Arg(0, &gg) != nil || a.Arg(1, &ii) != nil || gg != g || ii != i {
					errs <- fmt.Errorf("ack %s for %d/%d", a.Args, g, i)
					return
				}
				if b, ok := a.Binary(2); !ok || !bytes.Equal(b, []byte{byte(g), byte(i)}) {
					errs <- fmt.Errorf("ack attachment %x for %d/%d", b, g, i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Err(), sioclient.ErrClosed) {
		t.Fatalf("Err() after Close = %v, want ErrClosed", c.Err())
	}
	if err := c.Emit("message"); !errors.Is(err, sioclient.ErrClosed) {
		t.Fatalf("Emit after Close = %v, want ErrClosed", err)
	}
	if _, err := c.EmitWithAck(ctx(t), "message-with-ack"); !errors.Is(err, sioclient.ErrClosed) {
		t.Fatalf("EmitWithAck after Close = %v, want ErrClosed", err)
	}
}

func TestDialErrors(t *testing.T) {
	srv := startServer(t, testserver.Config{})
	tests := []struct {
		name, url string
		opts      sioclient.Options
		want      string // in the error
	}{
		{"bad scheme", "ftp://127.0.0.1:1", sioclient.Options{}, "scheme"},
		{"wrong path", srv.URL, sioclient.Options{Path: "/nothing/"}, "404 Not Found: 404 page not found"},
		{"engine.io echo endpoint", srv.URL, sioclient.Options{Path: "/engine.io/"}, "bad connect reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := sioclient.Dial(ctx(t), tt.url, tt.opts)
			if err == nil {
				_ = c.Close()
				t.Fatal("Dial succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Dial error %q, want it to contain %q", err, tt.want)
			}
		})
	}
	t.Run("canceled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := sioclient.Dial(cctx, srv.URL, sioclient.Options{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial = %v, want context.Canceled", err)
		}
	})
}
