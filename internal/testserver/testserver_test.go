package testserver_test

// The test mode's own behaviour: what Register mounts, the namespaces the
// interop tests rely on beyond the protocol suites, and Shutdown. The
// Engine.IO and Socket.IO behaviour that the protocol suites check runs in
// those packages' protocol_test.go against this server.

import (
	"context"
	"net/http"
	"testing"

	"github.com/gobwas/ws"

	"github.com/chatrooms/chatrooms/internal/testserver"
	"github.com/chatrooms/chatrooms/internal/testserver/protocoltest"
)

// Register mounts the raw Engine.IO echo at /engine.io/ and the Socket.IO
// server at /socket.io/, whose main namespace answers a CONNECT with the
// "auth" event.
func TestRegisterMountsBothEndpoints(t *testing.T) {
	e := protocoltest.StartSuite(t)

	c, _ := e.OpenWS(protocoltest.EIOPath)
	c.Send("4hello")
	c.ExpectText("4hello")
	c.SendBinary([]byte{1, 2, 3})
	c.ExpectBinary([]byte{1, 2, 3})

	s, _ := e.OpenWS(protocoltest.SIOPath)
	s.Send(`40{"x":1}`)
	protocoltest.ExactKeys(t, s.TextWithPrefix("40"), "sid")
	s.ExpectText(`42["auth",{"x":1}]`)
}

// The "/auth" namespace refuses a CONNECT without the token "secret" with
// invalid_token, and answers "whoami" with the socket id once connected.
func TestAuthNamespace(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c, _ := e.OpenWS(protocoltest.SIOPath)
	c.Send(`40/auth,{"token":"wrong"}`)
	c.ExpectText(`44/auth,{"message":"invalid_token","data":{"code":"invalid_token"}}`)
	c.Send(`40/auth,{"token":"secret"}`)
	obj := protocoltest.ExactKeys(t, c.TextWithPrefix("40/auth,"), "sid")
	c.Send(`42/auth,7["whoami"]`)
	c.ExpectText(`43/auth,7[{"id":` + string(obj["sid"]) + `}]`)
}

// "join" puts the socket in a room (acked true), and "broadcast" sends
// "broadcast-back" with the remaining arguments to that room.
func TestJoinAndBroadcast(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c, _ := e.OpenWS(protocoltest.SIOPath)
	c.Send("40")
	protocoltest.ExactKeys(t, c.TextWithPrefix("40"), "sid")
	c.ExpectText(`42["auth",{}]`)
	c.Send(`421["join",""]`)
	c.ExpectText(`431[false]`)
	c.Send(`422["join","r1"]`)
	c.ExpectText(`432[true]`)
	c.Send(`42["broadcast","r1","hi",3]`)
	c.ExpectText(`42["broadcast-back","hi",3]`)
}

// Shutdown closes WebSocket sessions with 1001 and refuses new handshakes.
func TestShutdownClosesSessions(t *testing.T) {
	srv := testserver.New(testserver.Config{
		PingInterval: protocoltest.SuitePingInterval, PingTimeout: protocoltest.SuitePingTimeout, MaxPayload: protocoltest.SuiteMaxPayload,
		Logger: protocoltest.DiscardLogger(),
	})
	mux := http.NewServeMux()
	srv.Register(mux)
	e := protocoltest.Start(t, mux, nil)
	e.PingInterval, e.PingTimeout, e.MaxPayload = protocoltest.SuitePingInterval, protocoltest.SuitePingTimeout, protocoltest.SuiteMaxPayload
	c, _ := e.OpenWS(protocoltest.EIOPath)
	ctx, cancel := context.WithTimeout(context.Background(), protocoltest.WaitLimit)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c.ExpectClosed(ws.StatusGoingAway)
	if r := e.Get(e.URL(protocoltest.EIOPath, "")); r.Status == http.StatusOK {
		t.Errorf("handshake after shutdown: %d %q, want an error", r.Status, r.Body)
	}
}
