package cluster_test

import (
	"bytes"
	"context"
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
