package engineio_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/testserver/protocoltest"
)

// stampedEcho echoes text messages in frames stamped one second in the
// past (Frame.SetOrigin), as the chat stamps a message's frames.
type stampedEcho struct{}

func (stampedEcho) OnOpen(*engineio.Session) {}
func (stampedEcho) OnMessage(s *engineio.Session, data []byte, _ bool) {
	f := eiocodec.NewMessageFrame(data)
	f.SetOrigin(time.Now().Add(-time.Second))
	_ = s.Send(f)
}
func (stampedEcho) OnClose(*engineio.Session, error) {}

// TestFramesWritten: a stamped frame is reported once written, over
// WebSocket and in a long-poll answer, with the time since its origin;
// unstamped frames (the handshake, pings) are not reported.
func TestFramesWritten(t *testing.T) {
	written := make(chan time.Duration, 16)
	srv := engineio.NewServer(engineio.Config{
		Logger: protocoltest.DiscardLogger(),
		FramesWritten: func(ds []time.Duration) {
			for _, d := range ds {
				written <- d
			}
		},
	}, stampedEcho{})
	mux := http.NewServeMux()
	mux.Handle(protocoltest.EIOPath, srv)
	e := protocoltest.Start(t, mux, srv.Shutdown)
	eff := srv.Config()
	e.PingInterval, e.PingTimeout, e.MaxPayload = eff.PingInterval, eff.PingTimeout, eff.MaxPayload

	expect := func(transport string) {
		t.Helper()
		select {
		case d := <-written:
			if d < time.Second || d > time.Minute {
				t.Fatalf("%s: reported %v after the origin, want about 1 s", transport, d)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the stamped frame was not reported", transport)
		}
		select {
		case d := <-written:
			t.Fatalf("%s: a second report (%v) for one stamped frame", transport, d)
		default:
		}
	}

	t.Run("websocket", func(t *testing.T) {
		c, _ := e.OpenWS(protocoltest.EIOPath)
		c.Send("4hello")
		c.ExpectText("4hello")
		expect("websocket")
	})
	t.Run("polling", func(t *testing.T) {
		sid, _ := e.Handshake(protocoltest.EIOPath)
		e.PostOK(e.SIDURL(protocoltest.EIOPath, sid), "4hello")
		if got := e.GetData(protocoltest.EIOPath, sid); got != "4hello" {
			t.Fatalf("poll: %q, want 4hello", got)
		}
		expect("polling")
	})
}
