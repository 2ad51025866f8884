package readiness_test

import (
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/readiness"
)

// gate records what a Guard tells it.
type gate struct {
	mu    sync.Mutex
	calls []string
}

func (g *gate) SetAvailable(ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ok {
		g.calls = append(g.calls, "accept")
	} else {
		g.calls = append(g.calls, "refuse")
	}
}

func (g *gate) CloseAll(reason error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, "close: "+reason.Error())
}

func (g *gate) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.calls
	g.calls = nil
	return c
}

// clock is a fake clock for GuardConfig.AfterFunc: timers fire on the
// goroutine calling advance, in order of their due times. With leaky
// set, stopping a timer fails as if it had just fired on another
// goroutine, and it still fires.
type clock struct {
	now    time.Duration
	timers []*timer
	leaky  bool
}

type timer struct {
	due     time.Duration
	f       func()
	stopped bool
}

func (c *clock) afterFunc(d time.Duration, f func()) func() bool {
	t := &timer{due: c.now + d, f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		if c.leaky || t.stopped {
			return false
		}
		t.stopped = true
		return true
	}
}

func (c *clock) advance(d time.Duration) {
	end := c.now + d
	for {
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].due < c.timers[j].due })
		if len(c.timers) == 0 || c.timers[0].due > end {
			break
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		c.now = t.due
		if !t.stopped {
			t.f()
		}
	}
	c.now = end
}

var errGone = errors.New("gone")

func TestGuard(t *testing.T) {
	const (
		lost = "lost"
		back = "back"
		stop = "stop"
	)
	// A step is an event ("lost", "back", "stop") or a wait; want is
	// what the gate was told by the end of the step.
	type step struct {
		event string
		wait  time.Duration
		want  []string
	}
	refused := []string{"refuse", "close: gone"}
	tests := []struct {
		name  string
		leaky bool
		steps []step
	}{
		{name: "lost less than the grace: nothing", steps: []step{
			{event: lost}, {wait: 2999 * time.Millisecond}, {event: back}, {wait: time.Minute},
		}},
		{name: "lost for the grace: refuse and close", steps: []step{
			{event: lost}, {wait: 2999 * time.Millisecond}, {wait: time.Millisecond, want: refused}, {wait: time.Minute},
		}},
		{name: "recovered: accept again", steps: []step{
			{event: lost}, {wait: 4 * time.Second, want: refused}, {event: back, want: []string{"accept"}},
			{wait: time.Minute}, {event: back},
		}},
		{name: "lost again after recovering: refused again", steps: []step{
			{event: lost}, {wait: 3 * time.Second, want: refused}, {event: back, want: []string{"accept"}},
			{event: lost}, {wait: 2 * time.Second}, {wait: time.Second, want: refused},
		}},
		{name: "flapping faster than the grace: nothing", steps: []step{
			{event: lost}, {wait: 2 * time.Second}, {event: back}, {wait: 500 * time.Millisecond},
			{event: lost}, {wait: 2 * time.Second}, {event: back}, {wait: 500 * time.Millisecond},
			{event: lost}, {wait: 2 * time.Second}, {event: back}, {wait: 500 * time.Millisecond},
			{event: lost}, {wait: 2900 * time.Millisecond}, {event: back}, {wait: time.Minute},
		}},
		{name: "flapping, then lost for good", steps: []step{
			{event: lost}, {wait: 2 * time.Second}, {event: back},
			{event: lost}, {wait: 2 * time.Second}, {event: back},
			{event: lost}, {wait: 2 * time.Second}, {wait: time.Second, want: refused},
		}},
		{name: "a repeated loss report does not restart the grace", steps: []step{
			{event: lost}, {wait: 2 * time.Second}, {event: lost}, {wait: time.Second, want: refused},
		}},
		{name: "back without a loss: nothing", steps: []step{
			{event: back}, {event: back}, {wait: time.Minute},
		}},
		{name: "a timer that fires as the backend returns changes nothing", leaky: true, steps: []step{
			{event: lost}, {wait: 2 * time.Second}, {event: back}, {wait: time.Minute},
			{event: lost}, {wait: 2 * time.Second}, {event: back}, {event: lost}, {wait: 2 * time.Second}, {wait: time.Second, want: refused},
		}},
		{name: "stopped: nothing more", steps: []step{
			{event: lost}, {wait: time.Second}, {event: stop}, {wait: time.Minute},
		}},
		{name: "stopped while refusing: not accepted again", steps: []step{
			{event: lost}, {wait: 3 * time.Second, want: refused}, {event: stop}, {event: back}, {wait: time.Minute},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{leaky: tt.leaky}
			g := &gate{}
			guard := readiness.NewGuard(readiness.GuardConfig{Reason: errGone, AfterFunc: clk.afterFunc}, g)
			for i, s := range tt.steps {
				switch s.event {
				case lost:
					guard.Connected(false)
				case back:
					guard.Connected(true)
				case stop:
					guard.Stop()
				case "":
					clk.advance(s.wait)
				}
				if got := g.take(); !slices.Equal(got, s.want) {
					t.Fatalf("step %d (%+v) at %v: gate told %q, want %q", i, s, clk.now, got, s.want)
				}
				wantRefusing := s.want != nil && s.want[0] == "refuse"
				if s.want != nil && guard.Refusing() != wantRefusing {
					t.Fatalf("step %d: Refusing() = %v, want %v", i, guard.Refusing(), wantRefusing)
				}
			}
		})
	}
}

// Loss and return reports racing with the timers on real time: the gate
// ends in the state of the last report (once the goroutine telling it is
// done), its calls never interleave, and
// refusals always come with a close.
func TestGuardConcurrent(t *testing.T) {
	g := &serialGate{available: true}
	guard := readiness.NewGuard(readiness.GuardConfig{Grace: time.Microsecond}, g)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				guard.Connected((i+j)%2 == 0)
				if j%10 == 0 {
					time.Sleep(10 * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	guard.Connected(true)
	if guard.Refusing() {
		t.Fatal("refusing after the backend came back")
	}
	// A timer's goroutine may still be telling the gate; it finishes
	// with the last state.
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		overlap, available := g.overlap, g.available
		g.mu.Unlock()
		if overlap {
			t.Fatal("the gate was called by two goroutines at once")
		}
		if available {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the gate ended unavailable after the backend came back")
		}
		time.Sleep(time.Millisecond)
	}
}

// serialGate notices overlapping calls and keeps the last availability.
type serialGate struct {
	busy      sync.Mutex
	mu        sync.Mutex
	overlap   bool
	available bool
}

func (g *serialGate) enter() func() {
	if !g.busy.TryLock() {
		g.mu.Lock()
		g.overlap = true
		g.mu.Unlock()
		g.busy.Lock()
	}
	return g.busy.Unlock
}

func (g *serialGate) SetAvailable(ok bool) {
	defer g.enter()()
	time.Sleep(time.Microsecond)
	g.mu.Lock()
	g.available = ok
	g.mu.Unlock()
}

func (g *serialGate) CloseAll(error) {
	defer g.enter()()
	time.Sleep(time.Microsecond)
}
