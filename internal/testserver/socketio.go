package testserver

import (
	"context"
	"encoding/json"
	"time"

	"github.com/chatrooms/chatrooms/internal/socketio"
)

// setupNamespaces installs the handlers the protocol suites (namespaces
// "/" and "/custom") and the interop tests (extra events, "/auth") use.
func setupNamespaces(sio *socketio.Server) {
	for _, name := range []string{"/", "/custom"} {
		nsp := sio.Of(name)
		// The suites expect the handshake's auth back as an "auth" event.
		nsp.OnConnect(func(_ context.Context, s *socketio.Socket, auth json.RawMessage) error {
			s.SetValue(json.RawMessage(append([]byte(nil), auth...)))
			return nil
		})
		nsp.OnConnection(func(s *socketio.Socket) {
			auth, _ := s.Value().(json.RawMessage)
			_ = s.EmitRaw("auth", []json.RawMessage{auth}, nil)
		})
		nsp.On("message", func(s *socketio.Socket, e *socketio.Incoming) {
			_ = s.EmitRaw("message-back", e.Args, e.Attachments)
		})
		nsp.On("message-with-ack", func(_ *socketio.Socket, e *socketio.Incoming) {
			_ = e.AckRaw(e.Args, e.Attachments)
		})
	}
	root := sio.Of("/")
	root.On("server-ack", func(s *socketio.Socket, e *socketio.Incoming) {
		args := make([]any, 0, len(e.Args))
		for i, a := range e.Args {
			if b, ok := e.Binary(i); ok {
				args = append(args, b)
			} else {
				args = append(args, a)
			}
		}
		err := s.EmitWithAck("server-ack-request", 5*time.Second, func(res []json.RawMessage, atts [][]byte, err error) {
			if err != nil {
				_ = s.Emit("server-ack-result", map[string]any{"error": "timeout"})
				return
			}
			_ = s.EmitRaw("server-ack-result", res, atts)
		}, args...)
		if err != nil {
			_ = s.Emit("server-ack-result", map[string]any{"error": err.Error()})
		}
	})
	root.On("join", func(s *socketio.Socket, e *socketio.Incoming) {
		var room string
		if err := e.Arg(0, &room); err != nil || room == "" {
			_ = e.Ack(false)
			return
		}
		s.Join(room)
		_ = e.Ack(true)
	})
	root.On("broadcast", func(s *socketio.Socket, e *socketio.Incoming) {
		var room string
		if err := e.Arg(0, &room); err != nil {
			return
		}
		s.Namespace().To(room).EmitRaw("broadcast-back", e.Args[1:], e.Attachments)
	})

	auth := sio.Of("/auth")
	auth.OnConnect(func(_ context.Context, _ *socketio.Socket, raw json.RawMessage) error {
		var a struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(raw, &a) != nil || a.Token != "secret" {
			return &socketio.ConnectRefusal{Message: "invalid_token", Data: map[string]string{"code": "invalid_token"}}
		}
		return nil
	})
	auth.On("whoami", func(s *socketio.Socket, e *socketio.Incoming) {
		_ = e.Ack(map[string]string{"id": s.ID()})
	})
}
