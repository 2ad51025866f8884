package engineio

import (
	"io"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
)

// BenchmarkSendColdSessions is a broadcast's cost per recipient when the
// recipients' sessions are not in the CPU's caches (200,000 sessions,
// 70 MB): one Send of a shared frame to each session in turn, each already
// waiting for the write pool (the common case under load: a session gets
// several frames a round).
func BenchmarkSendColdSessions(b *testing.B) {
	const n = 200_000
	srv := &Server{cfg: Config{WriteQueue: 1 << 40}}
	ss := make([]*Session, n)
	for i := range ss {
		ss[i] = &Session{srv: srv, transport: WebSocket, writing: true}
	}
	// Allocated in order, neighbours share pages and prefetch each other:
	// visit them in a shuffled order, as a room's members are.
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
	frame := eiocodec.NewMessageFrame([]byte(`2["message",{"id":"01JD8XQ2M5Z4"}]`))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % n
		if k == 0 && i > 0 {
			b.StopTimer()
			for _, s := range ss {
				s.queue, s.queued = s.queue[:0], 0
			}
			b.StartTimer()
		}
		if err := ss[k].Send(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteNow is one write-pool writev of 5 frames (2.3 KB) to a
// loopback TCP connection whose other end a goroutine drains: the system
// call and what the runtime does around it.
func BenchmarkWriteNow(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	go func() { _, _ = io.Copy(io.Discard, client) }()
	w := newVecWriter()
	frame := make([]byte, 460)
	b.ReportAllocs()
	b.SetBytes(5 * 460)
	blocked := 0
	for b.Loop() {
		w.bufs = append(w.bufs[:0], frame, frame, frame, frame, frame)
		n, err := w.writeNow(conn)
		switch {
		case err == errWouldBlock:
			blocked++
		case err != nil:
			b.Fatal(err)
		case n < 5*460:
			blocked++ // the rest is dropped: the stream is not read as frames
		}
	}
	b.ReportMetric(float64(blocked)/float64(b.N), "blocked/op")
}
