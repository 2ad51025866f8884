package socketio_test

// Wire-level checks of the Socket.IO behaviour of PROTOCOL-SUITES.md §3
// (items 21–34) over WebSocket on /socket.io/, as the official
// socket.io-protocol suite checks it, against the protocol test-mode server
// (package testserver, whose namespaces the suite expects). The
// Engine.IO-level part of that suite (items 1–6, 13–20 on /socket.io/) runs
// in internal/engineio/protocol_test.go.

import (
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/testserver"
	"github.com/chatrooms/chatrooms/internal/testserver/protocoltest"
	"github.com/gobwas/ws"
)

// sioOpen opens a WebSocket session on /socket.io/ and reads its open packet.
func sioOpen(t *testing.T, e *protocoltest.Env) (*protocoltest.Conn, time.Time) {
	t.Helper()
	return e.OpenWS(protocoltest.SIOPath)
}

// expectConnect reads a CONNECT reply: prefix ("40" or "40/nsp,") followed
// by a JSON object whose only key is sid, a non-empty string.
func expectConnect(t *testing.T, c *protocoltest.Conn, prefix string) {
	t.Helper()
	obj := protocoltest.ExactKeys(t, c.TextWithPrefix(prefix), "sid")
	if s := string(obj["sid"]); len(s) < 3 || s[0] != '"' {
		t.Fatalf("CONNECT reply: sid %s, want a non-empty string", s)
	}
}

// sioConnect is the suite's initSocketIOConnection: a WebSocket session
// connected to the main namespace, CONNECT reply and auth event read.
func sioConnect(t *testing.T, e *protocoltest.Env) *protocoltest.Conn {
	t.Helper()
	c, _ := sioOpen(t, e)
	c.Send("40")
	expectConnect(t, c, "40")
	c.ExpectText(`42["auth",{}]`)
	return c
}

// Items 21–24: CONNECT to "/" and "/custom", with and without auth; the
// reply comes before the auth event, which echoes the CONNECT payload.
func TestSIOConnect(t *testing.T) {
	e := protocoltest.StartSuite(t)
	for _, tc := range []struct {
		item, send, reply, auth string
	}{
		{"21-main", "40", "40", `42["auth",{}]`},
		{"22-main-payload", `40{"token":"123"}`, "40", `42["auth",{"token":"123"}]`},
		{"23-custom", "40/custom,", "40/custom,", `42/custom,["auth",{}]`},
		{"24-custom-payload", `40/custom,{"token":"abc"}`, "40/custom,", `42/custom,["auth",{"token":"abc"}]`},
	} {
		t.Run(tc.item, func(t *testing.T) {
			c, _ := sioOpen(t, e)
			c.Send(tc.send)
			expectConnect(t, c, tc.reply)
			c.ExpectText(tc.auth)
		})
	}
}

// Item 25.
func TestSIO25UnknownNamespace(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c, _ := sioOpen(t, e)
	c.Send("40/random")
	c.ExpectText(`44/random,{"message":"Invalid namespace"}`)
}

// Item 26.
func TestSIO26InvalidHandshake(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c, _ := sioOpen(t, e)
	c.Send("4abc")
	c.ExpectClosed()
}

// Item 27: without a CONNECT (and without pongs) the connection is closed;
// before that the server sends nothing but pings.
func TestSIO27NoHandshake(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c, start := sioOpen(t, e)
	c.ExpectClosed()
	protocoltest.AtLeast(t, "close", start, protocoltest.SuitePingInterval+protocoltest.SuitePingTimeout-50*time.Millisecond)
}

// Item 28: leaving the main namespace sends nothing back and keeps the
// Engine.IO session: the next frame is the ping, and the session can
// connect again.
func TestSIO28DisconnectMain(t *testing.T) {
	// The suite's 200 ms ping timeout would be a deadline for this test
	// process to answer the ping (missed on a busy machine): same ping
	// interval, a timeout no scheduler delay reaches.
	e := protocoltest.StartTestMode(t, testserver.Config{
		PingInterval: protocoltest.SuitePingInterval,
		PingTimeout:  time.Minute,
		MaxPayload:   protocoltest.SuiteMaxPayload,
	})
	c, start := sioOpen(t, e)
	c.Send("40")
	expectConnect(t, c, "40")
	c.ExpectText(`42["auth",{}]`)
	c.Send("41")
	if ev := c.Next(); ev.Closed || ev.Op != ws.OpText || string(ev.Data) != "2" {
		t.Fatalf("after 41: got %v, want nothing but the ping \"2\"", ev)
	}
	protocoltest.AtLeast(t, "ping", start, protocoltest.SuitePingInterval-50*time.Millisecond)
	c.Send("3")
	c.Send("40")
	expectConnect(t, c, "40")
	c.ExpectText(`42["auth",{}]`)
}

// Item 29: a custom namespace joined without the trailing comma, left
// again; the main namespace is unaffected.
func TestSIO29DisconnectCustom(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c := sioConnect(t, e)
	c.Send("40/custom")
	expectConnect(t, c, "40/custom,")
	c.ExpectText(`42/custom,["auth",{}]`)
	c.Send("41/custom")
	c.Send(`42["message","message to main namespace"]`)
	c.ExpectText(`42["message-back","message to main namespace"]`)
}

// Item 30.
func TestSIO30Event(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c := sioConnect(t, e)
	c.Send(`42["message",1,"2",{"3":[true]}]`)
	c.ExpectText(`42["message-back",1,"2",{"3":[true]}]`)
}

// Item 31: binary attachments are echoed after their packet, in order.
func TestSIO31BinaryEvent(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c := sioConnect(t, e)
	c.Send(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.SendBinary([]byte{1, 2, 3})
	c.SendBinary([]byte{4, 5, 6})
	c.ExpectText(`452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.ExpectBinary([]byte{1, 2, 3})
	c.ExpectBinary([]byte{4, 5, 6})
}

// Item 32.
func TestSIO32EventWithAck(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c := sioConnect(t, e)
	c.Send(`42456["message-with-ack",1,"2",{"3":[false]}]`)
	c.ExpectText(`43456[1,"2",{"3":[false]}]`)
}

// Item 33.
func TestSIO33BinaryEventWithAck(t *testing.T) {
	e := protocoltest.StartSuite(t)
	c := sioConnect(t, e)
	c.Send(`452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.SendBinary([]byte{1, 2, 3})
	c.SendBinary([]byte{4, 5, 6})
	c.ExpectText(`462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.ExpectBinary([]byte{1, 2, 3})
	c.ExpectBinary([]byte{4, 5, 6})
}

// Item 34: malformed packets from a connected client close the connection.
func TestSIO34InvalidPackets(t *testing.T) {
	e := protocoltest.StartSuite(t)
	for _, tc := range []struct{ name, send string }{
		{"unknown-type", "4abc"},
		{"payload-not-array", "42{}"},
		{"invalid-ack-id", `42abc["message-with-ack",1,"2",{"3":[false]}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sioConnect(t, e)
			c.Send(tc.send)
			c.ExpectClosed()
		})
	}
}

// The Socket.IO handshake works the same over long-polling: CONNECT posted,
// reply and auth event in one payload, events echoed.
func TestSIOPolling(t *testing.T) {
	e := protocoltest.StartSuite(t)
	sid, _ := e.Handshake(protocoltest.SIOPath)
	e.PostOK(e.SIDURL(protocoltest.SIOPath, sid), `40{"token":"p"}`)
	connect, auth, ok := strings.Cut(e.GetData(protocoltest.SIOPath, sid), "\x1e")
	js, ok2 := strings.CutPrefix(connect, "40")
	if !ok || !ok2 || auth != `42["auth",{"token":"p"}]` {
		t.Fatalf("after CONNECT: %q, %q; want 40{\"sid\":...} and the auth event", connect, auth)
	}
	protocoltest.ExactKeys(t, js, "sid")
	e.PostOK(e.SIDURL(protocoltest.SIOPath, sid), `42["message","x"]`+"\x1e"+`42["message","y"]`)
	if got, want := e.GetData(protocoltest.SIOPath, sid), `42["message-back","x"]`+"\x1e"+`42["message-back","y"]`; got != want {
		t.Fatalf("echo: %q, want %q", got, want)
	}
}
