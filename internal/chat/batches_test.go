package chat

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestWriteBatches: one write at a time per key; the requests that come
// while it is in flight go together in the next write, in their order,
// and each gets its own result; another key is not held up; nothing is
// left pending after.
func TestWriteBatches(t *testing.T) {
	hold, entered := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var writes [][]int
	w := newWriteBatches(time.Minute, func(ctx context.Context, key string, reqs []int) []string {
		if key == "held" && reqs[0] == 0 {
			close(entered)
			<-hold
		}
		mu.Lock()
		writes = append(writes, slices.Clone(reqs))
		n := len(writes)
		mu.Unlock()
		if _, ok := ctx.Deadline(); !ok {
			t.Error("a write without its timeout")
		}
		out := make([]string, len(reqs))
		for i, r := range reqs {
			out[i] = fmt.Sprintf("%s:%d in write %d", key, r, n)
		}
		return out
	})
	ctx, cancel := context.WithCancel(t.Context())
	first := w.add(ctx, "held", 0)
	cancel() // the requester's end is not the write's
	<-entered
	var next []<-chan string
	for i := 1; i <= 3; i++ {
		next = append(next, w.add(t.Context(), "held", i))
	}
	if got := <-w.add(t.Context(), "other", 9); got != "other:9 in write 1" {
		t.Fatalf("another key: %q", got)
	}
	if n := w.waiting("held"); n != 4 {
		t.Fatalf("%d waiting, want 4 (one writing, three for the next)", n)
	}
	close(hold)
	if got := <-first; got != "held:0 in write 2" {
		t.Errorf("first: %q", got)
	}
	for i, ch := range next {
		if got, want := <-ch, fmt.Sprintf("held:%d in write 3", i+1); got != want {
			t.Errorf("request %d: %q, want %q", i+1, got, want)
		}
	}
	mu.Lock()
	if want := [][]int{{9}, {0}, {1, 2, 3}}; !slices.EqualFunc(writes, want, slices.Equal) {
		t.Errorf("writes %v, want %v", writes, want)
	}
	mu.Unlock()
	if n := w.waiting("held"); n != 0 {
		t.Errorf("%d waiting after every answer", n)
	}
	for { // the writer retires once it finds nothing queued
		w.mu.Lock()
		n := len(w.pending)
		w.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
}
