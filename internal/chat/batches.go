package chat

import (
	"context"
	"sync"
	"time"
)

// writeBatches makes one store write at a time per key: the requests
// that come while a write is in flight wait for the next, which takes
// them all. A crowd switching into one room then writes the room's
// member list once a round instead of competing for it, each win costing
// the others a read and another try (joins.go); a user's hundred tabs
// closing at once write their session count twice, not a hundred times
// (presence.go).
type writeBatches[Req, Res any] struct {
	// write makes one write for reqs (in arrival order) and returns one
	// result each, in the same order; ctx ends after timeout.
	write   func(ctx context.Context, key string, reqs []Req) []Res
	timeout time.Duration

	mu      sync.Mutex
	pending map[string]*writeBatch[Req, Res] // by key: a write in flight or requests waiting
}

type writeBatch[Req, Res any] struct {
	writing int // requests the write in flight answers (0: none in flight)
	running bool
	queue   []batched[Req, Res] // requests for the next write
}

type batched[Req, Res any] struct {
	req  Req
	done chan Res // buffered: the writer never waits for a requester
}

func newWriteBatches[Req, Res any](timeout time.Duration, write func(context.Context, string, []Req) []Res) *writeBatches[Req, Res] {
	return &writeBatches[Req, Res]{write: write, timeout: timeout, pending: make(map[string]*writeBatch[Req, Res])}
}

// add queues req for key's next write and returns where its result will
// come. The writes outlive the requester (others wait on them): they
// keep ctx's values, not its end; the requester's own wait is its to
// bound.
func (w *writeBatches[Req, Res]) add(ctx context.Context, key string, req Req) <-chan Res {
	done := make(chan Res, 1)
	w.mu.Lock()
	b := w.pending[key]
	if b == nil {
		b = &writeBatch[Req, Res]{}
		w.pending[key] = b
	}
	b.queue = append(b.queue, batched[Req, Res]{req, done})
	start := !b.running
	b.running = true
	w.mu.Unlock()
	if start {
		go w.run(context.WithoutCancel(ctx), key, b)
	}
	return done
}

// run writes key's batches until no request is waiting.
func (w *writeBatches[Req, Res]) run(base context.Context, key string, b *writeBatch[Req, Res]) {
	for {
		w.mu.Lock()
		batch := b.queue
		b.queue, b.writing = nil, len(batch)
		if len(batch) == 0 {
			b.running = false
			delete(w.pending, key)
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		reqs := make([]Req, len(batch))
		for i, r := range batch {
			reqs[i] = r.req
		}
		ctx, cancel := context.WithTimeout(base, w.timeout)
		res := w.write(ctx, key, reqs)
		cancel()
		w.mu.Lock()
		b.writing = 0
		w.mu.Unlock()
		for i, r := range batch {
			r.done <- res[i]
		}
	}
}

// waiting is how many requests for key wait for an answer (the write in
// flight's and the next one's).
func (w *writeBatches[Req, Res]) waiting(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.pending[key]; b != nil {
		return b.writing + len(b.queue)
	}
	return 0
}
