package ratelimit

import (
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Limit
		str  string
		bad  bool
	}{
		{in: "5/1s:20", want: Limit{Events: 5, Per: time.Second, Burst: 20}, str: "5/1s:20"},
		{in: "10/1m", want: Limit{Events: 10, Per: time.Minute, Burst: 10}, str: "10/1m:10"},
		{in: " 2/500ms:3 ", want: Limit{Events: 2, Per: 500 * time.Millisecond, Burst: 3}, str: "2/500ms:3"},
		{in: "1/1h:1", want: Limit{Events: 1, Per: time.Hour, Burst: 1}, str: "1/1h:1"},
		{in: "3/90s:1", want: Limit{Events: 3, Per: 90 * time.Second, Burst: 1}, str: "3/1m30s:1"},
		{in: "off", want: Unlimited, str: "off"},
		{in: "OFF", want: Unlimited, str: "off"},
		{in: "", bad: true},
		{in: "5", bad: true},
		{in: "5/s", bad: true},
		{in: "0/1s:1", bad: true},
		{in: "5/1s:0", bad: true},
		{in: "5/-1s:3", bad: true},
		{in: "x/1s", bad: true},
		{in: "5/1s:x", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLimit(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseLimit(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseLimit(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if got.String() != tc.str {
				t.Fatalf("String() = %q, want %q", got.String(), tc.str)
			}
			if again, err := ParseLimit(got.String()); err != nil || again != got {
				t.Fatalf("round trip: %v, %v", again, err)
			}
		})
	}
}

func TestKeyedBurstRefillAndRetryAfter(t *testing.T) {
	c := newClock()
	k := New(Config{Limit: Limit{Events: 2, Per: time.Second, Burst: 3}, Now: c.Now})
	for i := range 3 {
		if ok, _ := k.Allow("a"); !ok {
			t.Fatalf("event %d refused within the burst", i)
		}
	}
	ok, wait := k.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: ok=%v retry after %v, want refused for 500ms", ok, wait)
	}
	if ok, _ := k.Allow("b"); !ok {
		t.Fatal("another key is limited too")
	}
	c.Add(200 * time.Millisecond)
	if ok, wait := k.Allow("a"); ok || wait != 300*time.Millisecond {
		t.Fatalf("after 200ms: ok=%v retry after %v, want refused for 300ms", ok, wait)
	}
	c.Add(300 * time.Millisecond)
	if ok, _ := k.Allow("a"); !ok {
		t.Fatal("refused after waiting retry-after")
	}
}

func TestKeyedShare(t *testing.T) {
	c := newClock()
	nodes := 3
	k := New(Config{Limit: Limit{Events: 30, Per: time.Minute, Burst: 10}, Share: func() int { return nodes }, Now: c.Now})
	n := 0
	for range 20 {
		if ok, _ := k.Allow("a"); ok {
			n++
		}
	}
	if n != 3 { // 10 / 3 nodes
		t.Fatalf("allowed %d at once on one of 3 nodes, want 3", n)
	}
	if _, wait := k.Allow("a"); wait != 6*time.Second { // 10 a minute per node
		t.Fatalf("retry after %v, want 6s", wait)
	}
	// Alone again: the bucket grows to the whole limit as it refills.
	nodes = 1
	k.Allow("a")
	c.Add(time.Minute)
	n = 0
	for range 20 {
		if ok, _ := k.Allow("a"); ok {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("allowed %d at once on a single node, want 10", n)
	}
}

func TestKeyedOff(t *testing.T) {
	for _, l := range []Limit{Unlimited, {}} {
		k := New(Config{Limit: l})
		for range 1000 {
			if ok, _ := k.Allow("a"); !ok {
				t.Fatalf("%v refused", l)
			}
		}
		if k.Len() != 0 {
			t.Fatalf("%v remembers %d keys", l, k.Len())
		}
	}
	var nilK *Keyed
	if ok, _ := nilK.Allow("a"); !ok {
		t.Fatal("nil Keyed refused")
	}
}

func TestKeyedMemoryBounded(t *testing.T) {
	c := newClock()
	k := New(Config{Limit: Limit{Events: 1, Per: time.Second, Burst: 1}, MaxKeys: 160, Now: c.Now})
	for i := range 10_000 {
		k.Allow(fmt.Sprint("k", i))
	}
	if n := k.Len(); n > 160+numShards {
		t.Fatalf("%d keys remembered, want at most about 160", n)
	}
	// Idle keys go at the next periodic sweep of their shard: touch each.
	c.Add(sweepEvery)
	touched := map[uint64]bool{}
	for i := 0; len(touched) < numShards && i < 100_000; i++ {
		key := fmt.Sprint("fresh", i)
		if sh := maphash.String(k.seed, key) % numShards; !touched[sh] {
			touched[sh] = true
			k.Allow(key)
		}
	}
	if n := k.Len(); n != numShards {
		t.Fatalf("%d keys after the idle ones were swept, want the %d fresh ones", n, numShards)
	}
}

func TestKeyedForget(t *testing.T) {
	k := New(Config{Limit: Limit{Events: 1, Per: time.Hour, Burst: 1}})
	k.Allow("a")
	if ok, _ := k.Allow("a"); ok {
		t.Fatal("second event allowed")
	}
	k.Forget("a")
	if ok, _ := k.Allow("a"); !ok {
		t.Fatal("refused after Forget")
	}
}

func TestKeyedConcurrent(t *testing.T) {
	k := New(Config{Limit: Limit{Events: 1, Per: time.Hour, Burst: 50}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if ok, _ := k.Allow("a"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("allowed %d of 800 concurrent events, want the burst of 50", allowed)
	}
}

func TestCounter(t *testing.T) {
	c := NewCounter(2)
	r1, ok1 := c.Acquire("a")
	_, ok2 := c.Acquire("a")
	_, ok3 := c.Acquire("a")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquire: %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if _, ok := c.Acquire("b"); !ok {
		t.Fatal("another key is limited too")
	}
	r1()
	r1() // idempotent
	if c.Count("a") != 1 {
		t.Fatalf("count %d after one release, want 1", c.Count("a"))
	}
	if _, ok := c.Acquire("a"); !ok {
		t.Fatal("refused after a release")
	}
}

func BenchmarkKeyedAllow(b *testing.B) {
	k := New(Config{Limit: Limit{Events: 1_000_000, Per: time.Second, Burst: 1000}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k.Allow("user")
		}
	})
}

func TestKeyedTakeUndo(t *testing.T) {
	c := newClock()
	k := New(Config{Limit: Limit{Events: 1, Per: time.Hour, Burst: 2}, Now: c.Now})
	ok, _, undo := k.Take("a")
	if !ok {
		t.Fatal("first take refused")
	}
	c.Add(time.Second)
	undo() // it did not happen after all
	for i := range 2 {
		if ok, _, _ := k.Take("a"); !ok {
			t.Fatalf("take %d refused after an undo", i)
		}
	}
	ok, wait, undo := k.Take("a")
	if ok || wait <= 0 {
		t.Fatalf("over the burst: ok=%v wait=%v", ok, wait)
	}
	undo() // a no-op for a refused take
	if ok, _ := k.Allow("a"); ok {
		t.Fatal("undoing a refused take gave a token")
	}
}
