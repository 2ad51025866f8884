package readiness

import (
	"errors"
	"log/slog"
	"sync"
	"time"
)

// DefaultGrace is how long the backend may be lost (e.g. while the NATS
// client fails over to another server) before a Guard turns clients away.
const DefaultGrace = 3 * time.Second

// ErrBackendLost is the default reason a Guard closes sessions with.
var ErrBackendLost = errors.New("readiness: backend lost")

// Gate is what a Guard closes and opens; *engineio.Server is one. Its
// methods are called without any lock of the Guard held, one call at a
// time, and must not call back into the Guard.
type Gate interface {
	// SetAvailable(false) refuses new sessions; SetAvailable(true)
	// accepts them again.
	SetAvailable(ok bool)
	// CloseAll closes every open session with reason.
	CloseAll(reason error)
}

// GuardConfig configures a Guard. The zero value of every field selects
// its default.
type GuardConfig struct {
	// Grace is how long the backend may stay lost before clients are
	// turned away (default DefaultGrace).
	Grace time.Duration
	// Reason is what open sessions are closed with (default
	// ErrBackendLost; cmd/chatrooms passes engineio.ErrBackendUnavailable).
	Reason error
	// AfterFunc starts a timer calling f after d and returns its stop
	// function (default: time.AfterFunc). Tests pass a fake clock's.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Logger receives a warning when clients are turned away and a note
	// when they are let back (default: discard).
	Logger *slog.Logger
}

func (c GuardConfig) withDefaults() GuardConfig {
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.Reason == nil {
		c.Reason = ErrBackendLost
	}
	if c.AfterFunc == nil {
		c.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Guard applies the backend-loss rule to a Gate:
//
//   - lost for less than Grace: nothing happens (a failover is harmless);
//   - lost for Grace: new sessions are refused and the open ones closed,
//     so that clients reconnect, through a load balancer, to a node that
//     reaches the backend;
//   - back: sessions are accepted again (only if they had been refused).
//
// The time is counted from the first loss report after a connection; a
// return in between starts the count again, so flapping faster than
// Grace never turns clients away. Safe for concurrent use; a Guard
// starts connected. Make one with NewGuard.
type Guard struct {
	cfg  GuardConfig
	gate Gate

	mu        sync.Mutex
	connected bool        // as last reported
	loss      uint64      // counts losses; a timer of an earlier one does nothing
	stopTimer func() bool // the pending timer's, or nil
	refuse    bool        // what the gate should be: clients refused
	applied   bool        // what the gate was last told
	applying  bool        // a goroutine is telling the gate (see apply)
	stopped   bool
}

// NewGuard returns a Guard over gate, connected.
func NewGuard(cfg GuardConfig, gate Gate) *Guard {
	return &Guard{cfg: cfg.withDefaults(), gate: gate, connected: true}
}

// Connected reports the backend connection lost (false) or back (true);
// cluster.Options.OnConnection takes it. It does not block: turning
// clients away happens on the timer's goroutine, letting them back on
// the caller's.
func (g *Guard) Connected(ok bool) {
	g.mu.Lock()
	switch {
	case g.stopped:
	case ok:
		g.connected = true
		g.loss++
		if g.stopTimer != nil {
			g.stopTimer()
			g.stopTimer = nil
		}
		g.refuse = false
	case g.connected:
		g.connected = false
		g.loss++
		loss := g.loss
		g.stopTimer = g.cfg.AfterFunc(g.cfg.Grace, func() { g.expire(loss) })
	}
	g.mu.Unlock()
	g.apply()
}

// Refusing reports whether the Guard is turning clients away.
func (g *Guard) Refusing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refuse
}

// Stop ends the Guard (at shutdown, which refuses sessions by itself): a
// pending timer is stopped and later reports change nothing.
func (g *Guard) Stop() {
	g.mu.Lock()
	g.stopped = true
	if g.stopTimer != nil {
		g.stopTimer()
		g.stopTimer = nil
	}
	g.mu.Unlock()
}

// expire ends the grace of loss number loss, unless the backend came
// back (or was lost anew) since.
func (g *Guard) expire(loss uint64) {
	g.mu.Lock()
	if g.stopped || g.connected || loss != g.loss {
		g.mu.Unlock()
		return
	}
	g.stopTimer = nil
	g.refuse = true
	g.mu.Unlock()
	g.apply()
}

// apply brings the gate to the state the Guard wants. One goroutine at a
// time tells the gate, with no lock held; a change made meanwhile by
// another goroutine is applied by the one already applying, before it
// returns, so the gate always ends in the last wanted state (a timer
// firing just as the backend returns cannot leave clients refused).
func (g *Guard) apply() {
	g.mu.Lock()
	if g.applying || g.stopped {
		g.mu.Unlock()
		return
	}
	g.applying = true
	for g.applied != g.refuse && !g.stopped {
		refuse := g.refuse
		g.applied = refuse
		g.mu.Unlock()
		if refuse {
			g.cfg.Logger.Warn("backend unreachable: refusing and closing client connections", "after", g.cfg.Grace)
			g.gate.SetAvailable(false)
			g.gate.CloseAll(g.cfg.Reason)
		} else {
			g.cfg.Logger.Info("backend back: accepting client connections")
			g.gate.SetAvailable(true)
		}
		g.mu.Lock()
	}
	g.applying = false
	g.mu.Unlock()
}
