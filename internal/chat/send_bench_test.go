package chat_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/natstest"
	"github.com/chatrooms/chatrooms/internal/ratelimit"
)

// countingListener counts the chat messages (not join or leave notices)
// that reach the node's listener.
type countingListener struct {
	nopListener
	n atomic.Int64
}

func (l *countingListener) RoomEvent(m *chat.Message) {
	if m.Type == chat.MessageText {
		l.n.Add(1)
	}
}

// BenchmarkSendMessage is the service's part of a send_message, on an
// embedded NATS server: the checks, the append to the room log (with a
// client_id, as the web client sends) and its ack, then the event read
// back from the log and handed to the listener (the gateway, which
// encodes it once for the room). One op is one message sent and
// delivered to the listener. The sequential run is one user's latency;
// the parallel one (16 users sending at once, a goroutine each) the
// throughput, appends being pipelined.
func BenchmarkSendMessage(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		name := "sequential"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			cl := natstest.Start(b)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			l := &countingListener{}
			svc := chat.New(chat.Config{NodeID: "b-n00000001", Grace: time.Minute, MessageLimit: ratelimit.Unlimited, Logger: natstest.Logger(b)},
				clusterStores(cl), cl.Log(), cl.Signals())
			if err := svc.Start(ctx, l); err != nil {
				b.Fatal(err)
			}
			var users []string
			for i := range 16 {
				u, _, err := svc.Register(ctx, "sender"+strconv.Itoa(i))
				if err != nil {
					b.Fatal(err)
				}
				if err := svc.Connected(ctx, u.ID); err != nil {
					b.Fatal(err)
				}
				users = append(users, u.ID)
			}
			var next atomic.Int64
			send := func(user string, i int64) {
				id := strconv.FormatInt(i, 36)
				if _, err := svc.SendMessage(ctx, user, chat.MessageInput{Content: "hello, a message of a usual length in a chat room", ClientID: &id}); err != nil {
					b.Error(err)
				}
			}
			before := l.n.Load()
			b.ReportAllocs()
			b.ResetTimer()
			if parallel {
				b.SetParallelism(len(users) / max(1, runtime.GOMAXPROCS(0))) // a goroutine a user
				b.RunParallel(func(pb *testing.PB) {
					user := users[next.Add(1)%int64(len(users))]
					for pb.Next() {
						send(user, next.Add(1))
					}
				})
			} else {
				for b.Loop() {
					send(users[0], next.Add(1))
				}
			}
			// Every message reaches the listener: its consumption counts.
			want := before + int64(b.N)
			for l.n.Load() < want {
				if ctx.Err() != nil {
					b.Fatalf("%d of %d messages reached the listener", l.n.Load()-before, b.N)
				}
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
		})
	}
}
