package socketio_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/sioclient"
	"github.com/chatrooms/chatrooms/internal/socketio"
)

// TestNoEventBeforeConnect: what reaches a socket while its connect
// handler runs (a broadcast to a room it joined, its own emit) follows the CONNECT reply, in order. Before
// the fix the client failed with "unexpected EVENT before connect".
func TestNoEventBeforeConnect(t *testing.T) {
	sio := socketio.NewServer(socketio.Config{EngineIO: engineio.Config{PingInterval: time.Minute, PingTimeout: time.Minute}})
	nsp := sio.Of("/x")
	nsp.OnConnect(func(_ context.Context, s *socketio.Socket, _ json.RawMessage) error {
		s.Join("r")
		if _, err := nsp.To("r").EmitCount("early", 1); err != nil {
			return err
		}
		return s.Emit("early", 2)
	})
	nsp.OnConnection(func(s *socketio.Socket) { _ = s.Emit("early", 3) })
	hs := httptest.NewServer(sio)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sio.Shutdown(ctx)
		hs.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sioclient.Dial(ctx, hs.URL, sioclient.Options{Namespace: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	for want := 1; want <= 3; want++ {
		ev, err := c.Next(ctx, "early")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := ev.Arg(0, &n); err != nil || n != want {
			t.Fatalf("event %d: got %d (%v)", want, n, err)
		}
	}
}

// TestConnectHandlerSeesClose: a session closed while its connect
// handler runs (here by the ping timeout, the client having gone: the
// session's reader is the goroutine running the handler) ends the
// context the handler was given, with ErrSocketClosed as its cause. The
// socket's context is not derived from the session's, so the close must
// reach it on its own.
func TestConnectHandlerSeesClose(t *testing.T) {
	sio := socketio.NewServer(socketio.Config{EngineIO: engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}})
	nsp := sio.Of("/x")
	entered := make(chan struct{})
	cause := make(chan error, 1)
	nsp.OnConnect(func(ctx context.Context, _ *socketio.Socket, _ json.RawMessage) error {
		close(entered)
		select {
		case <-ctx.Done():
			cause <- context.Cause(ctx)
		case <-time.After(time.Minute):
			cause <- nil
		}
		return nil
	})
	hs := httptest.NewServer(sio)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sio.Shutdown(ctx)
		hs.Close()
	})
	dialCtx, stopDial := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() {
		c, err := sioclient.Dial(dialCtx, hs.URL, sioclient.Options{Namespace: "/x"})
		if err == nil {
			_ = c.Close()
		}
		dialed <- err
	}()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the connect handler was not called")
	}
	stopDial() // the client gives up: its connection closes
	if err := <-dialed; err == nil {
		t.Fatal("dial succeeded although the connect handler had not returned")
	}
	if err := <-cause; !errors.Is(err, socketio.ErrSocketClosed) {
		t.Fatalf("connect handler's context: cause %v, want %v", err, socketio.ErrSocketClosed)
	}
}
