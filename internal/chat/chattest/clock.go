package chattest

import (
	"slices"
	"sync"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
)

var _ chat.Clock = (*Clock)(nil)

// Clock is a fake chat.Clock whose time moves only when Advance (or Set)
// moves it; the timers and tickers due meanwhile fire then, in order of
// their due times. Safe for concurrent use. Get one from NewClock.
//
// Two differences from real time, both to make tests deterministic:
//   - an AfterFunc's f runs on the goroutine calling Advance, before the
//     next timer fires and before Advance returns (with no lock held, so
//     f may use the clock);
//   - a ticker never drops a tick: Advance waits until the ticker's
//     reader has taken each tick (or the ticker is stopped) before it
//     goes on. A reader that takes ticks in a loop has therefore finished
//     handling a tick when the next one is taken.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64 // orders timers due at the same time by creation
	timers []*fakeTimer
}

// Epoch is where a NewClock starts.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClock returns a Clock at Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// fakeTimer is a pending AfterFunc or ticker, in Clock.timers while
// armed.
type fakeTimer struct {
	c      *Clock
	due    time.Time
	seq    uint64
	f      func()         // AfterFunc
	period time.Duration  // ticker
	ch     chan time.Time // ticker
	stop   chan struct{}  // ticker: closed by Stop
	stopMu sync.Once      // ticker
	armed  bool           // guarded by c.mu
}

// AfterFunc calls f when the clock reaches d from now (at once on the
// next Advance, Set or Fire if d <= 0).
func (c *Clock) AfterFunc(d time.Duration, f func()) chat.Timer {
	t := &fakeTimer{c: c, f: f}
	c.mu.Lock()
	c.armLocked(t, d)
	c.mu.Unlock()
	return t
}

// NewTicker returns a ticker delivering the fake time every d. It panics
// if d <= 0, as time.NewTicker does.
func (c *Clock) NewTicker(d time.Duration) chat.Ticker {
	if d <= 0 {
		panic("chattest: non-positive interval for NewTicker")
	}
	t := &fakeTimer{c: c, period: d, ch: make(chan time.Time), stop: make(chan struct{})}
	c.mu.Lock()
	c.armLocked(t, d)
	c.mu.Unlock()
	return fakeTicker{t}
}

func (c *Clock) armLocked(t *fakeTimer, d time.Duration) {
	c.seq++
	t.due, t.seq = c.now.Add(d), c.seq
	if !t.armed {
		t.armed = true
		c.timers = append(c.timers, t)
	}
}

func (c *Clock) disarmLocked(t *fakeTimer) bool {
	if !t.armed {
		return false
	}
	t.armed = false
	c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == t })
	return true
}

// Stop implements chat.Timer.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.disarmLocked(t)
}

// Reset implements chat.Timer.
func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.c.armLocked(t, d)
	return was
}

// fakeTicker is a ticker's chat.Ticker face (its Stop returns nothing).
type fakeTicker struct{ t *fakeTimer }

// C implements chat.Ticker.
func (k fakeTicker) C() <-chan time.Time { return k.t.ch }

// Stop implements chat.Ticker: no tick is delivered after it returns.
func (k fakeTicker) Stop() {
	k.t.Stop()
	k.t.stopMu.Do(func() { close(k.t.stop) })
}

// Advance moves the clock forward by d, firing what falls due on the way.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.Set(target)
}

// Set moves the clock to t (never backwards), firing what falls due on
// the way.
func (c *Clock) Set(target time.Time) {
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.due.After(target) && (next == nil || t.due.Before(next.due) || t.due.Equal(next.due) && t.seq < next.seq) {
				next = t
			}
		}
		if next == nil {
			if target.After(c.now) {
				c.now = target
			}
			c.mu.Unlock()
			return
		}
		if next.due.After(c.now) {
			c.now = next.due
		}
		now := c.now
		if next.ch != nil {
			c.seq++
			next.due, next.seq = next.due.Add(next.period), c.seq
		} else {
			c.disarmLocked(next)
		}
		c.mu.Unlock()
		if next.ch != nil {
			select {
			case next.ch <- now:
			case <-next.stop:
			}
		} else {
			next.f()
		}
	}
}

// Pending is the number of armed timers and tickers.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Tickers is the number of running tickers.
func (c *Clock) Tickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.ch != nil {
			n++
		}
	}
	return n
}
