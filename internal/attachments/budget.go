package attachments

import (
	"context"
	"sync"
)

// budget is a weighted semaphore: acquire takes n units, waiting until
// they are free; release returns them. A request for more than the whole
// budget takes the whole budget. Waiters are served in FIFO order, or,
// first fit, each as soon as its units are free, in arrival order among
// those that fit: a small request is not held behind a large one that
// must wait (which may then wait for as long as small ones keep the
// budget busy; its context bounds that). Safe for concurrent use.
type budget struct {
	mu       sync.Mutex
	size     int64
	free     int64
	firstFit bool
	waiters  []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once the units are taken for it
}

// newBudget returns a FIFO budget of size units.
func newBudget(size int64) *budget { return &budget{size: size, free: size} }

// newFirstFitBudget returns a first-fit budget of size units.
func newFirstFitBudget(size int64) *budget { return &budget{size: size, free: size, firstFit: true} }

func (b *budget) clamp(n int64) int64 { return max(0, min(n, b.size)) }

// acquire takes n units, or returns ctx's error if they are not free
// before ctx ends (having taken nothing).
func (b *budget) acquire(ctx context.Context, n int64) error {
	n = b.clamp(n)
	b.mu.Lock()
	if (b.firstFit || len(b.waiters) == 0) && b.free >= n {
		b.free -= n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.free += n
	default:
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
	}
	b.grant() // the head may have been waiting behind w
	return ctx.Err()
}

// release returns n units taken by acquire(ctx, n).
func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += b.clamp(n)
	b.grant()
}

// grant hands free units to waiters in order (FIFO: until one does not
// fit; first fit: to each that fits); b.mu is held.
func (b *budget) grant() {
	if !b.firstFit {
		for len(b.waiters) > 0 && b.free >= b.waiters[0].n {
			w := b.waiters[0]
			b.waiters = b.waiters[1:]
			b.free -= w.n
			close(w.ready)
		}
		return
	}
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if b.free >= w.n {
			b.free -= w.n
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
}
