package socketio_test

import (
	"context"
	"encoding/json"
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
