package attachments

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	b := newBudget(10)
	ctx := context.Background()
	if err := b.acquire(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if err := b.acquire(ctx, 4); err != nil {
		t.Fatal(err)
	}
	// Full: a waiter gives up when its context ends, taking nothing.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := b.acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire on a full budget: %v", err)
	}
	// Waiters are served in order once units are released.
	order := make(chan int, 2)
	go func() { _ = b.acquire(ctx, 5); order <- 1 }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
	go func() { _ = b.acquire(ctx, 1); order <- 2 }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 })
	b.release(4) // 4 free: the head wants 5, so nobody goes (FIFO, no overtaking)
	select {
	case i := <-order:
		t.Fatalf("waiter %d served past the head", i)
	case <-time.After(20 * time.Millisecond):
	}
	b.release(1) // 5 free: the head only
	if i := <-order; i != 1 {
		t.Fatalf("waiter %d served first", i)
	}
	select {
	case <-order:
		t.Fatal("second waiter served without free units")
	case <-time.After(20 * time.Millisecond):
	}
	b.release(1)
	<-order
	b.release(10)
	// More than the whole budget takes the whole budget.
	if err := b.acquire(ctx, 1<<40); err != nil {
		t.Fatal(err)
	}
	b.release(1 << 40)
	if b.free != 10 || len(b.waiters) != 0 {
		t.Fatalf("free %d, %d waiters at the end", b.free, len(b.waiters))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFirstFitBudget(t *testing.T) {
	b := newFirstFitBudget(10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.acquire(ctx, 9); err != nil { // a large image decoding
		t.Fatal(err)
	}
	large := make(chan error, 1)
	go func() { large <- b.acquire(ctx, 10) }() // another, waiting
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
	// A small one fits beside the first and does not queue behind the
	// waiting one.
	if err := b.acquire(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// One that does not fit waits, behind the large one.
	mid := make(chan error, 1)
	go func() { mid <- b.acquire(ctx, 5) }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 })
	b.release(9) // 9 free: the large waiter (10) does not fit, the middle one (5) does
	if err := <-mid; err != nil {
		t.Fatal(err)
	}
	b.release(1)
	b.release(5) // 10 free: the large one goes
	if err := <-large; err != nil {
		t.Fatal(err)
	}
	b.release(10)
	if b.free != 10 || len(b.waiters) != 0 {
		t.Fatalf("free %d, %d waiters at the end", b.free, len(b.waiters))
	}
}
