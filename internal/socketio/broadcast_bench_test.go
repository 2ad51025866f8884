package socketio_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/siocodec"
	"github.com/chatrooms/chatrooms/internal/socketio"
)

// payload150 makes an event of about 150 bytes on the wire.
var payload150 = map[string]any{
	"id": "01JD8XQ2M5Z4", "room_id": "_default", "seq": 1234, "type": 0,
	"content": strings.Repeat("x", 70),
}

// benchReceiver is a raw websocket client that counts "42" events.
type benchReceiver struct {
	conn net.Conn
	got  atomic.Int64
}

// startBenchServer serves a namespace whose sockets all join "room".
func startBenchServer(tb testing.TB) (*socketio.Server, *httptest.Server) {
	tb.Helper()
	srv := socketio.NewServer(socketio.Config{EngineIO: engineio.Config{
		PingInterval: time.Minute, PingTimeout: time.Minute, WriteQueue: 64 << 20,
	}})
	nsp := srv.Of("/")
	nsp.OnConnection(func(s *socketio.Socket) { s.Join("room") })
	hs := httptest.NewServer(srv)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return srv, hs
}

// dialReceivers connects n raw clients to "/" and waits until all joined.
func dialReceivers(tb testing.TB, url string, srv *socketio.Server, n int) []*benchReceiver {
	tb.Helper()
	wsURL := "ws" + strings.TrimPrefix(url, "http") + "/socket.io/?EIO=4&transport=websocket"
	rs := make([]*benchReceiver, n)
	for i := range rs {
		conn, br, _, err := ws.Dial(context.Background(), wsURL)
		if err != nil {
			tb.Fatalf("dial %d: %v", i, err)
		}
		if br != nil {
			ws.PutReader(br)
		}
		if err := wsutil.WriteClientText(conn, []byte("40")); err != nil {
			tb.Fatal(err)
		}
		r := &benchReceiver{conn: conn}
		rs[i] = r
		go r.read()
		tb.Cleanup(func() { _ = conn.Close() })
	}
	deadline := time.Now().Add(30 * time.Second)
	for srv.Of("/").RoomSize("room") < n {
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d receivers joined", srv.Of("/").RoomSize("room"), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return rs
}

func (r *benchReceiver) read() {
	rd := bufio.NewReaderSize(r.conn, 64<<10)
	var hdr [ws.MaxHeaderSize]byte
	buf := make([]byte, 0, 512)
	for {
		h, err := ws.ReadHeaderBuffer(rd, hdr[:0:len(hdr)])
		if err != nil {
			return
		}
		if int64(cap(buf)) < h.Length {
			buf = make([]byte, h.Length)
		}
		buf = buf[:h.Length]
		if _, err := io.ReadFull(rd, buf); err != nil {
			return
		}
		if bytes.HasPrefix(buf, []byte("42[")) {
			r.got.Add(1)
		}
	}
}

// BenchmarkBroadcast measures one room broadcast of a ~150-byte event,
// from encoding to the last recipient's socket read, over real loopback
// websockets. deliveries/s counts event copies received.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("room=%d", n), func(b *testing.B) {
			srv, hs := startBenchServer(b)
			rs := dialReceivers(b, hs.URL, srv, n)
			nsp := srv.Of("/")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := nsp.To("room").Emit("chat_message", payload150); err != nil {
					b.Fatal(err)
				}
			}
			deadline := time.Now().Add(2 * time.Minute)
			for _, r := range rs {
				for r.got.Load() < int64(b.N) {
					if time.Now().After(deadline) {
						b.Fatalf("receiver got %d of %d", r.got.Load(), b.N)
					}
					time.Sleep(time.Millisecond)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkBroadcastEncode measures encoding one broadcast event into its
// shared frame, the part done once per broadcast.
func BenchmarkBroadcastEncode(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		data, atts, err := siocodec.EncodeEvent("chat_message", payload150)
		if err != nil {
			b.Fatal(err)
		}
		p := siocodec.Packet{Type: siocodec.Event, Namespace: "/chat", ID: siocodec.NoID, Data: data, Attachments: atts}
		_ = eiocodec.NewMessageFrame(siocodec.AppendPacket(nil, &p))
	}
}
