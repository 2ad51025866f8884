package gctune

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name   string
		rate   float64
		live   uint64
		window time.Duration
		want   int
	}{
		{"idle: the floor", 100 << 10, 100 * mib, 10 * time.Second, 25},
		{"no allocation", 0, 100 * mib, 10 * time.Second, 25},
		{"busy: the ceiling", 50 * mib, 100 * mib, 10 * time.Second, 100},
		{"exactly the ceiling", 10 * mib, 100 * mib, 10 * time.Second, 100},
		{"between: 10 s of 4 MiB/s over 100 MiB", 4 * mib, 100 * mib, 10 * time.Second, 40},
		{"between, rounded up", 4*mib + 1, 100 * mib, 10 * time.Second, 41},
		{"shorter window", 4 * mib, 100 * mib, 5 * time.Second, 25},
		{"no live heap yet", 0, 0, 10 * time.Second, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percent(tc.rate, tc.live, tc.window, 25, 100); got != tc.want {
				t.Errorf("Percent(%v, %v, %v, 25, 100) = %d, want %d", tc.rate, tc.live, tc.window, got, tc.want)
			}
		})
	}
}

// fakeRuntime is the runtime as the tuner sees it: allocations the test
// adds, a live heap it sets, and the GOGC the tuner sets.
type fakeRuntime struct {
	mu      sync.Mutex
	allocs  uint64
	live    uint64
	percent int
	sets    []int
	frees   int
}

func (f *fakeRuntime) read() Sample {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Sample{Allocs: f.allocs, Live: f.live, Percent: f.percent}
}

func (f *fakeRuntime) set(p int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.percent = p
	f.sets = append(f.sets, p)
}

func (f *fakeRuntime) free() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frees++
}

func (f *fakeRuntime) freed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frees
}

func (f *fakeRuntime) got() (int, []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.percent, append([]int(nil), f.sets...)
}

// TestStateFollowsTheAllocationRate steps the tuner's state through quiet,
// busy and quiet seconds: GOGC follows the mean rate of the last Memory
// samples, goes back to the process's GOGC at the first busy one, and
// moves only by more than a tenth (or to a bound).
func TestStateFollowsTheAllocationRate(t *testing.T) {
	const mib = 1 << 20
	at := time.Now()
	var allocs uint64 = 1 << 30
	st := newState(Sample{Allocs: allocs, Live: 100 * mib, Percent: 100}, at, 25, 10*time.Second, time.Second, 3)
	for i, tc := range []struct {
		after     time.Duration // since the sample before
		allocated uint64        // meanwhile
		change    bool
		percent   int
		release   bool
	}{
		// GOGC = ceil(10 s × rate / 100 MiB live) within [25, 100]: 10 × MiB/s.
		{time.Second, 0, false, 100, false}, // not yet a whole memory of samples
		{time.Second, 0, false, 100, false},
		{time.Second, 0, true, 25, true},                 // three quiet ones: the floor, and memory returned
		{time.Second, 50 * mib, true, 100, false},        // busy: the last sample alone, straight to the ceiling
		{time.Second, 0, false, 100, false},              // mean 16.7 MiB/s: still the ceiling
		{time.Second, 0, false, 100, false},              //
		{time.Second, 0, true, 25, false},                // the busy second out of memory; returned 4 s ago
		{time.Second, 4 * mib, true, 40, false},          // last sample 4 MiB/s
		{time.Second, 4*mib + 200<<10, false, 40, false}, // 4.2 MiB/s: within a tenth, left as it is
		{time.Second, 0, true, 28, false},                // mean 2.73 MiB/s
		{time.Minute, 0, true, 25, true},                 // mean 1.4 MiB/s (over a minute): the floor, returned again
		{time.Second, 0, false, 25, false},               //
		{time.Second, 10*mib - 1, true, 100, false},      // just under 10 MiB/s, rounded up: the ceiling
		{time.Second, 33 * mib / 10, true, 45, false},    // mean 4.43 MiB/s
	} {
		allocs += uint64(float64(tc.allocated) * tc.after.Seconds())
		at = at.Add(tc.after)
		change, release := st.sample(Sample{Allocs: allocs, Live: 100 * mib, Percent: st.cur}, at)
		if change != tc.change || st.cur != tc.percent || release != tc.release {
			t.Fatalf("sample %d (%d B/s): change %v percent %d release %v, want %v %d %v",
				i, tc.allocated, change, st.cur, release, tc.change, tc.percent, tc.release)
		}
	}
}

// TestTunerRestoresGOGC runs the tuner on a fake runtime that is idle:
// it lowers GOGC to Min, returns free memory, and puts the process's
// GOGC back when it stops.
func TestTunerRestoresGOGC(t *testing.T) {
	f := &fakeRuntime{live: 1 << 30, percent: 100}
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	tu := &Tuner{Min: 25, Memory: 2, read: f.read, set: f.set, free: f.free}
	done := make(chan struct{})
	go func() { defer close(done); tu.run(ctx, tick) }()
	at := time.Now()
	for range 3 { // the third send returns once the second sample is handled
		at = at.Add(time.Second)
		tick <- at
	}
	if p, sets := f.got(); p != 25 || len(sets) != 1 || f.freed() != 1 {
		t.Fatalf("idle: percent %d, sets %v, memory returned %d times; want 25 once, returned once", p, sets, f.freed())
	}
	cancel()
	<-done
	if p, sets := f.got(); p != 100 || len(sets) != 2 {
		t.Fatalf("after Run: percent %d, sets %v; want 100 back", p, sets)
	}
}

func TestTunerLeavesGOGCAlone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		percent int
		min     int
	}{
		{"GOGC off", -1, 25},
		{"GOGC at Min", 25, 25},
		{"GOGC below Min", 20, 25},
		{"no Min", 100, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRuntime{live: 1 << 30, percent: tc.percent}
			tu := &Tuner{Min: tc.min, Memory: 1, read: f.read, set: f.set, free: f.free}
			tick := make(chan time.Time, 3)
			for range 3 {
				tick <- time.Now()
			}
			done := make(chan struct{})
			go func() { defer close(done); tu.run(context.Background(), tick) }()
			select {
			case <-done: // returned at once, before reading a tick
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			if _, sets := f.got(); len(sets) != 0 || f.freed() != 0 {
				t.Fatalf("GOGC set to %v, memory returned %d times", sets, f.freed())
			}
		})
	}
}

func TestReadRuntime(t *testing.T) {
	runtime.GC()
	s := ReadRuntime()
	if s.Allocs == 0 || s.Live == 0 {
		t.Fatalf("ReadRuntime = %+v: want allocations and a live heap", s)
	}
	old := debugSetGCPercent(37)
	t.Cleanup(func() { debugSetGCPercent(old) })
	if got := ReadRuntime().Percent; got != 37 {
		t.Fatalf("Percent %d after SetGCPercent(37)", got)
	}
	debugSetGCPercent(-1)
	if got := ReadRuntime().Percent; got != -1 {
		t.Fatalf("Percent %d with GOGC off, want -1", got)
	}
}

func debugSetGCPercent(p int) int { return debug.SetGCPercent(p) }
