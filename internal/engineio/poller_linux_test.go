//go:build linux

package engineio_test

import (
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/testserver/protocoltest"
)

// Idle WebSocket sessions wait in the shared poller: they cost no
// goroutine, yet each still answers as soon as data arrives, in order.
func TestIdleWebSocketsHaveNoGoroutine(t *testing.T) {
	e := startEngine(t, engineio.Config{PingInterval: time.Minute, PingTimeout: time.Minute})
	url := e.WSURL(protocoltest.EIOPath, "")
	const n = 200
	runtime.GC()
	before := runtime.NumGoroutine()
	conns := make([]*wsClient, n)
	for i := range conns {
		conns[i] = dialOpen(t, url)
	}
	// Let the writers that sent the open packets finish.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine()-before > n/10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if grown := runtime.NumGoroutine() - before; grown > n/10 {
		t.Fatalf("%d idle websockets hold %d goroutines", n, grown)
	}
	for i, c := range conns {
		for j := range 3 {
			want := "4msg-" + string(rune('a'+j)) + "-" + strings.Repeat("x", i%7)
			if err := wsutil.WriteClientText(c.conn, []byte(want)); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 3 {
			want := "4msg-" + string(rune('a'+j)) + "-" + strings.Repeat("x", i%7)
			if got := c.read(t); got != want {
				t.Fatalf("conn %d echo %d = %q, want %q", i, j, got, want)
			}
		}
	}
}

// dialOpen opens a WebSocket session at url and reads its open packet.
func dialOpen(t *testing.T, url string) *wsClient {
	t.Helper()
	conn, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &wsClient{conn: conn, rd: conn}
	if br != nil { // frames that came with the handshake response
		c.rd = io.MultiReader(br, conn)
	}
	if msg := c.read(t); !strings.HasPrefix(msg, "0{") {
		t.Fatalf("open packet = %q", msg)
	}
	return c
}

// wsClient reads text frames, skipping pings.
type wsClient struct {
	conn net.Conn
	rd   io.Reader
}

func (c *wsClient) read(t *testing.T) string {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		data, _, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{c.rd, c.conn})
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if string(data) != "2" {
			return string(data)
		}
	}
}

// The poller waits in the runtime's network poller ("IO wait"), never in
// a blocking epoll_wait ("syscall"): a goroutine blocked in a system
// call keeps its P until sysmon takes it back, and with GOMAXPROCS=1
// every other goroutine waited meanwhile.
func TestPollerParksInTheRuntime(t *testing.T) {
	e := startEngine(t, engineio.Config{PingInterval: time.Minute, PingTimeout: time.Minute})
	dialOpen(t, e.WSURL(protocoltest.EIOPath, ""))
	// The session is idle in the poller now; the poller's goroutine
	// parks once it has handed out what was ready.
	state := "not found"
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if state = pollerState(); strings.HasPrefix(state, "IO wait") {
			return
		}
	}
	t.Fatalf("the poller's goroutine is in state %q, want IO wait", state)
}

// pollerState is the state in a goroutine dump ("IO wait", "syscall",
// "runnable", ...) of the goroutine running the poller's loop.
func pollerState() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, "engineio.(*poller).run(") {
			continue
		}
		header, _, _ := strings.Cut(g, "\n") // goroutine 7 [IO wait, 2 minutes]:
		if i, j := strings.Index(header, "["), strings.LastIndex(header, "]"); i >= 0 && j > i {
			return header[i+1 : j]
		}
		return header
	}
	return "not found"
}
