package engineio_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/testserver/protocoltest"
)

// sessionsOut hands each opened session to the test and ignores messages.
type sessionsOut chan *engineio.Session

func (c sessionsOut) OnOpen(s *engineio.Session)              { c <- s }
func (sessionsOut) OnMessage(*engineio.Session, []byte, bool) {}
func (sessionsOut) OnClose(*engineio.Session, error)          {}
func (c sessionsOut) next(t *testing.T) *engineio.Session {
	t.Helper()
	select {
	case s := <-c:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no session opened")
		return nil
	}
}

// poolEnv is an engine whose sessions the test drives from the server side.
type poolEnv struct {
	*protocoltest.Env
	sessions sessionsOut
}

func startPoolEngine(t *testing.T, cfg engineio.Config) *poolEnv {
	t.Helper()
	cfg.Logger = protocoltest.DiscardLogger()
	cfg.PingInterval, cfg.PingTimeout = time.Minute, time.Minute
	out := make(sessionsOut, 64)
	srv := engineio.NewServer(cfg, out)
	mux := http.NewServeMux()
	mux.Handle(protocoltest.EIOPath, srv)
	return &poolEnv{Env: protocoltest.Start(t, mux, srv.Shutdown), sessions: out}
}

// rawWS is a WebSocket client over a TCP connection with a small receive
// buffer, so that the server's socket fills after a few hundred KiB.
type rawWS struct {
	conn net.Conn
	rd   *bufio.Reader
}

func (e *poolEnv) dial(t *testing.T) (*rawWS, *engineio.Session) {
	t.Helper()
	d := protocoltest.SmallBufferDialer()
	conn, br, _, err := d.Dial(context.Background(), e.WSURL(protocoltest.EIOPath, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	var rd io.Reader = conn
	if br != nil {
		rd = io.MultiReader(br, conn)
	}
	c := &rawWS{conn: conn, rd: bufio.NewReader(rd)}
	if msg, _ := c.read(t); !strings.HasPrefix(msg, "0{") {
		t.Fatalf("open packet = %q", msg)
	}
	return c, e.sessions.next(t)
}

// read returns the next text frame (or the close frame's opcode).
func (c *rawWS) read(t *testing.T) (string, ws.OpCode) {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		h, err := ws.ReadHeader(c.rd)
		if err != nil {
			t.Fatalf("read header: %v", err)
		}
		b := make([]byte, h.Length)
		if _, err := io.ReadFull(c.rd, b); err != nil {
			t.Fatalf("read payload: %v", err)
		}
		switch h.OpCode {
		case ws.OpText:
			return string(b), h.OpCode
		case ws.OpClose:
			return "", h.OpCode
		}
	}
}

// numbered is message i of a test, size bytes or more, checkable; the
// client reads it with the message packet's type, "4", before it.
func numbered(i, size int) string {
	head := fmt.Sprintf("m%06d:", i)
	return head + strings.Repeat(string(rune('a'+i%26)), max(0, size-len(head)))
}

// Sessions whose clients stopped reading fill their sockets; the writers
// hand them over and go on: another session's frames still arrive at once,
// even with more stalled sessions than writers (a writer that waited on a
// client would be stuck, and the last client would get nothing).
func TestWritePoolNeverWaitsOnAStalledClient(t *testing.T) {
	e := startPoolEngine(t, engineio.Config{WriteQueue: 64 << 20})
	stalled := 2*runtime.GOMAXPROCS(0) + 2
	big := eiocodec.NewMessageFrame([]byte(numbered(0, 256<<10)))
	for range stalled {
		_, s := e.dial(t) // never read
		for range 16 {    // 4 MiB: far past a 4 KiB receive buffer and the send buffer
			if err := s.Send(big); err != nil {
				t.Fatal(err)
			}
		}
	}
	c, s := e.dial(t)
	start := time.Now()
	for i := range 100 {
		if err := s.Send(eiocodec.NewMessageFrame([]byte(numbered(i, 100)))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		if got, _ := c.read(t); got != "4"+numbered(i, 100) {
			t.Fatalf("frame %d = %.20q…, want %.20q…", i, got, numbered(i, 100))
		}
	}
	t.Logf("100 frames past %d stalled sessions in %v", stalled, time.Since(start))
}

// A client that reads late gets every frame whole and in order: the
// writes that its full socket cut short are finished by the session's own
// writer before anything queued after them.
func TestWritePoolPartialWritesKeepOrder(t *testing.T) {
	e := startPoolEngine(t, engineio.Config{WriteQueue: 64 << 20})
	c, s := e.dial(t)
	const n = 400
	sizes := []int{10, 1000, 5000, 40 << 10, 3, 70 << 10, 700}
	for i := range n {
		if err := s.Send(eiocodec.NewMessageFrame([]byte(numbered(i, sizes[i%len(sizes)])))); err != nil {
			t.Fatal(err)
		}
		if i == n/2 {
			time.Sleep(50 * time.Millisecond) // let the socket fill: the rest queues behind a handed-over write
		}
	}
	for i := range n {
		if got, _ := c.read(t); got != "4"+numbered(i, sizes[i%len(sizes)]) {
			t.Fatalf("frame %d = %.20q… (%d bytes), want %.20q… (%d bytes)", i, got, len(got), numbered(i, sizes[i%len(sizes)]), len(numbered(i, sizes[i%len(sizes)])))
		}
	}
}

// Replies (SendReply) move a session ahead in the pool, never a frame
// ahead in its session: several sessions sent to at once, every seventh
// frame a reply, some big enough to fill the socket (and hand the session
// to its own writer), each get every frame in order.
func TestWritePoolRepliesKeepOrder(t *testing.T) {
	e := startPoolEngine(t, engineio.Config{WriteQueue: 64 << 20})
	const sessions, n = 4, 300
	sizes := []int{10, 1000, 5000, 40 << 10, 3, 700}
	type pair struct {
		c *rawWS
		s *engineio.Session
	}
	ps := make([]pair, sessions)
	for i := range ps {
		ps[i].c, ps[i].s = e.dial(t)
	}
	errs := make(chan error, sessions)
	for _, p := range ps {
		go func() {
			for i := range n {
				f := eiocodec.NewMessageFrame([]byte(numbered(i, sizes[i%len(sizes)])))
				send := p.s.Send
				if i%7 == 0 {
					send = p.s.SendReply
				}
				if err := send(f); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for _, p := range ps {
		for i := range n {
			want := "4" + numbered(i, sizes[i%len(sizes)])
			if got, _ := p.c.read(t); got != want {
				t.Fatalf("frame %d = %.20q… (%d bytes), want %.20q… (%d bytes)", i, got, len(got), want, len(want))
			}
		}
	}
	for range ps {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// A graceful close still delivers everything queued before it, then the
// close frame, whether the writer is a pool worker or the session's own.
func TestWritePoolCloseAfterQueuedFrames(t *testing.T) {
	for _, size := range []int{50, 64 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			e := startPoolEngine(t, engineio.Config{WriteQueue: 64 << 20})
			c, s := e.dial(t)
			const n = 60
			for i := range n {
				if err := s.Send(eiocodec.NewMessageFrame([]byte(numbered(i, size)))); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			for i := range n {
				if got, op := c.read(t); got != "4"+numbered(i, size) {
					t.Fatalf("frame %d = %.20q… (op %v), want %.20q…", i, got, op, numbered(i, size))
				}
			}
			if _, op := c.read(t); op != ws.OpClose {
				t.Fatalf("after the frames: opcode %v, want a close frame", op)
			}
		})
	}
}

// With a write interval, a session sent to again and again is written
// about once an interval: frames queued every few milliseconds arrive in
// bunches, all of them, in order. (Without pacing they arrive one by one;
// a stalled machine can bunch them too, so only bunching is asserted, not
// its timing.)
func TestWritePoolInterval(t *testing.T) {
	const interval = 250 * time.Millisecond
	e := startPoolEngine(t, engineio.Config{WriteQueue: 64 << 20, WriteInterval: interval})
	c, s := e.dial(t)
	const n = 300 // one every 5 ms: 1.5 s, about 6 intervals
	go func() {
		for i := range n {
			if s.Send(eiocodec.NewMessageFrame([]byte(numbered(i, 20)))) != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	gaps := 0
	last := time.Now()
	for i := range n {
		got, _ := c.read(t)
		if got != "4"+numbered(i, 20) {
			t.Fatalf("frame %d = %q, want %q", i, got, "4"+numbered(i, 20))
		}
		now := time.Now()
		if i > 0 && now.Sub(last) >= interval/2 {
			gaps++
		}
		last = now
	}
	if gaps < 2 {
		t.Fatalf("%d frames sent 5 ms apart arrived with %d pauses of %v or more; want them bunched by the %v interval", n, gaps, interval/2, interval)
	}
}

// The answer to a connection step does not wait for the pool's next
// round: with an interval of an hour, the worker that wrote the first
// session's open packet pauses for the hour, and what a client waits for
// to connect is written during the pause: the second session's open
// packet, then an answer (SendAnswer), with the frames queued before it
// (an ack among them, which by itself would wait for the next round) in
// their order. Without that, the second dial would wait the hour.
func TestWritePoolAnswersBetweenRounds(t *testing.T) {
	e := startPoolEngine(t, engineio.Config{WriteQueue: 1 << 20, WriteInterval: time.Hour})
	e.dial(t)
	b, sb := e.dial(t)
	if err := sb.Send(eiocodec.NewMessageFrame([]byte("before"))); err != nil {
		t.Fatal(err)
	}
	if err := sb.SendReply(eiocodec.NewMessageFrame([]byte("ack"))); err != nil {
		t.Fatal(err)
	}
	if err := sb.SendAnswer(eiocodec.NewMessageFrame([]byte("answer"))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4before", "4ack", "4answer"} {
		if got, _ := b.read(t); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
