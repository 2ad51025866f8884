package chat

import "time"

// Clock is the service's time: the current time, and the timers and
// tickers that expire typing indicators and run the heartbeat and the
// sweep. Config.Clock nil means real time (time.Now, time.AfterFunc,
// time.NewTicker); tests pass a fake one (chattest.Clock) to move time
// by hand. Implementations are safe for concurrent use.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has passed, unless the timer is stopped
	// first (as time.AfterFunc).
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker delivers the time on C every d until stopped (as
	// time.NewTicker).
	NewTicker(d time.Duration) Ticker
}

// Timer is a timer of a Clock; *time.Timer is one.
type Timer interface {
	// Stop prevents the timer from firing; false if it had fired or was
	// stopped already.
	Stop() bool
	// Reset makes the timer fire d from now; false if it had fired or
	// was stopped.
	Reset(d time.Duration) bool
}

// Ticker is a ticker of a Clock.
type Ticker interface {
	// C is the channel the ticks arrive on.
	C() <-chan time.Time
	Stop()
}

// realClock is the Clock of a Config without one: real time.
type realClock struct{}

var _ Clock = realClock{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }
