package watchdog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Check is one step of a round. Run should return quickly. Its context
// ends only when the watchdog stops: a check that does not return within
// the round's timeout (waiting for a lock, or for a loop to take a
// marker) is reported stuck, by name, and waited for.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Config configures a Watchdog. Zero fields take the defaults shown.
type Config struct {
	// Interval is the time between the starts of two rounds (default 1s).
	Interval time.Duration
	// Timeout is how long a round may take before the node is unready
	// (default 5s).
	Timeout time.Duration
	Checks  []Check
	Logger  *slog.Logger // default slog.Default()
}

// Watchdog runs the checks in rounds. Its methods are safe for concurrent
// use; Run it once.
type Watchdog struct {
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	started    bool          // Run was called
	lastOK     time.Time     // when the last round completed without error
	lastRTT    time.Duration // how long that round took
	lastErr    error         // the last round's error, if it failed
	current    string        // the check running now ("" between rounds)
	roundStart time.Time     // when the running round started
	first      chan struct{} // closed when the first round ends
	firstDone  bool
}

// New returns a Watchdog; it checks nothing until Run.
func New(cfg Config) *Watchdog {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Watchdog{cfg: cfg, log: cfg.Logger, first: make(chan struct{})}
}

// FirstRound is closed when the first round has ended, with or without
// an error: from then on Ready says what the checks found rather than
// ErrNotYet. A node waits for it before it serves, so that it does not
// report itself unready merely because it has just started.
func (w *Watchdog) FirstRound() <-chan struct{} { return w.first }

// ErrNotYet is Ready's answer before the first round completed.
var ErrNotYet = errors.New("watchdog: no round completed yet")

// StuckError says which check has not returned, and since when.
type StuckError struct {
	Check string
	For   time.Duration
}

func (e *StuckError) Error() string {
	return fmt.Sprintf("watchdog: %s has been stuck for %v", e.Check, e.For.Round(time.Millisecond))
}

// Run runs rounds until ctx ends. A round starts Interval after the
// previous one started, or when it ends if it took longer; a stuck round
// is waited for (and logged once), never run twice at a time.
func (w *Watchdog) Run(ctx context.Context) {
	w.mu.Lock()
	w.started = true
	w.mu.Unlock()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- w.round(ctx, start) }()
		timeout := time.NewTimer(w.cfg.Timeout)
		var err error
		select {
		case err = <-done:
			timeout.Stop()
		case <-timeout.C:
			stuck := w.Stuck()
			if stuck != nil {
				w.log.Error("chat path stuck: the node reports unready", "check", stuck.Check, "waited", stuck.For.Round(time.Millisecond))
			}
			select {
			case err = <-done:
			case <-ctx.Done():
				return
			}
			if stuck != nil {
				w.log.Warn("chat path moving again", "check", stuck.Check, "stuck_for", time.Since(start).Round(time.Millisecond))
			}
		case <-ctx.Done():
			timeout.Stop()
			return
		}
		if err != nil && ctx.Err() == nil {
			w.log.Warn("watchdog check failed", "err", err)
		}
		t.Reset(max(0, w.cfg.Interval-time.Since(start)))
	}
}

// round runs every check in order and records the outcome.
func (w *Watchdog) round(ctx context.Context, start time.Time) error {
	w.mu.Lock()
	w.roundStart = start
	w.mu.Unlock()
	var err error
	for _, c := range w.cfg.Checks {
		w.mu.Lock()
		w.current = c.Name
		w.mu.Unlock()
		if cerr := c.Run(ctx); cerr != nil {
			err = fmt.Errorf("%s: %w", c.Name, cerr)
			break
		}
	}
	rtt := time.Since(start)
	w.mu.Lock()
	w.current = ""
	w.lastErr = err
	if err == nil {
		w.lastOK, w.lastRTT = time.Now(), rtt
	}
	if !w.firstDone {
		w.firstDone = true
		close(w.first)
	}
	w.mu.Unlock()
	return err
}

// Stuck returns the check that has been running for longer than Timeout,
// or nil.
func (w *Watchdog) Stuck() *StuckError {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.current == "" {
		return nil
	}
	if d := time.Since(w.roundStart); d >= w.cfg.Timeout {
		return &StuckError{Check: w.current, For: d}
	}
	return nil
}

// Ready returns nil when the last round completed in time, without error,
// and recently: a stuck check (*StuckError), a failed round, or rounds
// that stopped (Run not running) make it an error.
func (w *Watchdog) Ready() error {
	if s := w.Stuck(); s != nil {
		return s
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case !w.started || w.lastOK.IsZero():
		if w.lastErr != nil {
			return w.lastErr
		}
		return ErrNotYet
	case w.lastErr != nil:
		return w.lastErr
	}
	if age := time.Since(w.lastOK); age > w.cfg.Interval+2*w.cfg.Timeout {
		return fmt.Errorf("watchdog: no round completed for %v", age.Round(time.Millisecond))
	}
	return nil
}

// RoundTrip is how long the last successful round took (0 before one).
func (w *Watchdog) RoundTrip() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastRTT
}
