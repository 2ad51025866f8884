package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

// BenchmarkLogAppend measures one room-event append (a 150-byte event,
// the message path's store step: publish, stored, acked) on an embedded
// server with each sync policy of --nats-sync, in a temporary directory.
// Appends are sequential: the figure is the latency a sender waits.
func BenchmarkLogAppend(b *testing.B) {
	for _, bc := range []struct {
		name     string
		interval time.Duration
		always   bool
	}{
		{"sync=2m(nats-default)", 0, false},
		{"sync=1s(chatrooms-default)", time.Second, false},
		{"sync=always", 0, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := natstest.Start(b, func(o *cluster.Options) {
				o.ListenAddr = "" // in-process, as chatrooms runs it
				o.SyncInterval, o.SyncAlways = bc.interval, bc.always
			})
			ctx := context.Background()
			data := bytes.Repeat([]byte("x"), 150)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Log().Append(ctx, "bench", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLogAppendParallel is many senders appending at once, to rooms
// of their own, as the chat path does (one synchronous append each).
func BenchmarkLogAppendParallel(b *testing.B) {
	c := natstest.Start(b, func(o *cluster.Options) {
		o.ListenAddr = "" // in-process, as chatrooms runs it
		o.SyncInterval = time.Second
	})
	ctx := context.Background()
	data := bytes.Repeat([]byte("x"), 150)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(100)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		room := fmt.Sprintf("r%d", n.Add(1)%20)
		for pb.Next() {
			if _, err := c.Log().Append(ctx, room, data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
