package gctune

import (
	"context"
	"log/slog"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Defaults of a Tuner's zero fields.
const (
	// DefaultWindow is how much allocation, at the recent rate, the
	// headroom is sized for: GOGC is lowered no further than to leave
	// this long between two collections.
	DefaultWindow = 10 * time.Second
	// DefaultInterval is how often the allocation rate is sampled.
	DefaultInterval = time.Second
	// DefaultMemory is how many samples the rate is the mean of: the
	// headroom grows back at the first busy sample (a sample above the
	// mean counts alone) and shrinks as quiet ones replace the busy.
	DefaultMemory = 10
	// FreeEvery is the least time between two returns of free memory to
	// the system (each a whole collection, debug.FreeOSMemory).
	FreeEvery = time.Minute
)

// Tuner sets GOGC from the allocation rate between Min and the process's
// own GOGC. Its fields are read once, by Run; the zero value of each but
// Min takes the default named above.
type Tuner struct {
	// Min is the lowest GOGC set (a percent, above 0). A Min at or above
	// the process's GOGC leaves GOGC alone.
	Min int
	// Window, Interval and Memory: see DefaultWindow and the others.
	Window   time.Duration
	Interval time.Duration
	Memory   int
	// Log reports each change of GOGC at debug level; nil logs nothing.
	Log *slog.Logger

	// read, set and free stand in for the runtime in tests (nil: the
	// runtime).
	read func() Sample
	set  func(percent int)
	free func()
}

// Sample is what the tuner reads of the runtime.
type Sample struct {
	// Allocs is the bytes allocated on the heap since the process
	// started (runtime/metrics /gc/heap/allocs:bytes).
	Allocs uint64
	// Live is the heap that survived the last collection
	// (/gc/heap/live:bytes).
	Live uint64
	// Percent is GOGC now (/gc/gogc:percent); below 0 when it is off.
	Percent int
}

// ReadRuntime reads a Sample of this process. It is safe for concurrent
// use.
func ReadRuntime() Sample {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	var out Sample
	if s[0].Value.Kind() == metrics.KindUint64 {
		out.Allocs = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		out.Live = s[1].Value.Uint64()
	}
	out.Percent = 100
	if s[2].Value.Kind() == metrics.KindUint64 {
		// The runtime's int32 percent, widened: GOGC=off (-1) reads
		// as all ones, which turns back into -1 here.
		out.Percent = int(int32(s[2].Value.Uint64())) //nolint:gosec // see above
	}
	return out
}

// Percent is the GOGC that leaves room for window's worth of allocation
// at rate bytes a second above a live heap of live bytes, within [lo, hi].
func Percent(rate float64, live uint64, window time.Duration, lo, hi int) int {
	if live == 0 {
		return hi
	}
	p := math.Ceil(100 * rate * window.Seconds() / float64(live))
	switch {
	case p >= float64(hi):
		return hi
	case p <= float64(lo):
		return lo
	}
	return int(p)
}

// Run samples the runtime every Interval until ctx ends, then puts GOGC
// back as it found it. GOGC is set only when the wanted value moves by
// more than a tenth (or to a bound); when it drops to Min, the heap's
// free memory goes back to the system too (at most once a FreeEvery).
// Run returns at once if GOGC is off or not above Min.
func (t *Tuner) Run(ctx context.Context) {
	t.run(ctx, nil)
}

// run is Run with the ticks given (nil: a ticker of Interval).
func (t *Tuner) run(ctx context.Context, tick <-chan time.Time) {
	read, set := t.read, t.set
	if read == nil {
		read = ReadRuntime
	}
	if set == nil {
		set = func(p int) { debug.SetGCPercent(p) }
	}
	free := t.free
	if free == nil {
		free = debug.FreeOSMemory
	}
	window, interval, memory := t.Window, t.Interval, t.Memory
	if window <= 0 {
		window = DefaultWindow
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	if memory <= 0 {
		memory = DefaultMemory
	}
	first := read()
	if t.Min <= 0 || first.Percent <= t.Min {
		return // GOGC off, or already as low as Min: nothing to tune
	}
	if tick == nil {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		tick = tk.C
	}
	st := newState(first, time.Now(), t.Min, window, interval, memory)
	defer func() {
		if st.cur != st.hi {
			set(st.hi)
		}
	}()
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-tick:
		}
		s := read()
		was := st.cur
		change, release := st.sample(s, now)
		if !change {
			continue
		}
		set(st.cur)
		if t.Log != nil {
			t.Log.Debug("gogc", "percent", st.cur, "was", was, "live_bytes", s.Live, "alloc_bytes_per_s", int64(st.rate()))
		}
		if release {
			free()
		}
	}
}

// state is a Tuner's memory between samples.
type state struct {
	lo, hi, cur int
	window      time.Duration
	interval    time.Duration
	rates       []float64 // bytes/s of the last samples, a ring
	k, n        int
	prev        uint64
	prevAt      time.Time
	freed       time.Time // when free memory was last returned
}

func newState(first Sample, now time.Time, lo int, window, interval time.Duration, memory int) *state {
	return &state{lo: lo, hi: first.Percent, cur: first.Percent, window: window, interval: interval,
		rates: make([]float64, memory), prev: first.Allocs, prevAt: now}
}

// sample takes in the runtime's figures at now; it reports whether GOGC
// is to change, to cur, and whether to return free memory to the system
// too. GOGC stays as it is until a whole memory of samples is in, and it
// changes only by more than a tenth or to a bound. Free memory is
// returned when GOGC drops to the floor, at most once a FreeEvery: the
// lower GOGC would only shrink the heap at the next collection, and the
// runtime hands free pages back slowly.
func (st *state) sample(s Sample, now time.Time) (change, release bool) {
	dt := now.Sub(st.prevAt).Seconds()
	if dt <= 0 {
		dt = st.interval.Seconds()
	}
	st.rates[st.k] = float64(s.Allocs-st.prev) / dt
	st.k = (st.k + 1) % len(st.rates)
	st.prev, st.prevAt = s.Allocs, now
	if st.n++; st.n < len(st.rates) {
		return false, false
	}
	want := Percent(st.rate(), s.Live, st.window, st.lo, st.hi)
	if want == st.cur || (want != st.lo && want != st.hi && math.Abs(float64(want-st.cur)) <= 0.1*float64(st.cur)) {
		return false, false
	}
	st.cur = want
	if want == st.lo && (st.freed.IsZero() || now.Sub(st.freed) >= FreeEvery) {
		st.freed = now
		return true, true
	}
	return true, false
}

// rate is the allocation rate the headroom is sized for, in bytes a
// second: the mean of the samples in memory (the collector's cost follows
// the mean), or the last sample if that is higher (load that starts gets
// the headroom at once).
func (st *state) rate() float64 {
	sum := 0.0
	for _, x := range st.rates {
		sum += x
	}
	last := st.rates[(st.k+len(st.rates)-1)%len(st.rates)]
	return max(sum/float64(len(st.rates)), last)
}
