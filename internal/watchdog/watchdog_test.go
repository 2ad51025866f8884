package watchdog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// eventually waits, bounded, for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func start(t *testing.T, checks ...Check) (*Watchdog, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	w := New(Config{Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond, Checks: checks,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, logs
}

func TestNotReadyBeforeFirstRound(t *testing.T) {
	w := New(Config{})
	if err := w.Ready(); !errors.Is(err, ErrNotYet) {
		t.Fatalf("Ready before Run = %v, want ErrNotYet", err)
	}
}

func TestReadyWhileChecksPass(t *testing.T) {
	var n sync.Map
	w, _ := start(t,
		Check{Name: "a", Run: func(context.Context) error { n.Store("a", true); return nil }},
		Check{Name: "b", Run: func(context.Context) error { n.Store("b", true); return nil }},
	)
	eventually(t, "ready", func() bool { return w.Ready() == nil })
	for _, k := range []string{"a", "b"} {
		if _, ok := n.Load(k); !ok {
			t.Errorf("check %s never ran", k)
		}
	}
	if w.RoundTrip() <= 0 {
		t.Errorf("RoundTrip = %v after a round", w.RoundTrip())
	}
}

// An injected stall turns the watchdog unready, naming the check, and
// logs it; once the stall ends, it is ready again.
func TestStallIsReportedAndRecovers(t *testing.T) {
	var mu sync.Mutex
	var stall chan struct{}
	w, logs := start(t,
		Check{Name: "first", Run: func(context.Context) error { return nil }},
		Check{Name: "delivery loop", Run: func(context.Context) error {
			mu.Lock()
			ch := stall
			mu.Unlock()
			if ch != nil {
				<-ch // ignores its context, as a stuck lock would
			}
			return nil
		}},
	)
	eventually(t, "ready", func() bool { return w.Ready() == nil })
	ch := make(chan struct{})
	mu.Lock()
	stall = ch
	mu.Unlock()
	var stuck *StuckError
	eventually(t, "unready while stalled", func() bool { return errors.As(w.Ready(), &stuck) })
	if stuck.Check != "delivery loop" || stuck.For < 200*time.Millisecond {
		t.Fatalf("stuck = %+v", stuck)
	}
	eventually(t, "stall logged", func() bool {
		return strings.Contains(logs.String(), `msg="chat path stuck: the node reports unready" check="delivery loop"`)
	})
	mu.Lock()
	stall = nil
	mu.Unlock()
	close(ch)
	eventually(t, "ready after the stall", func() bool { return w.Ready() == nil })
	eventually(t, "recovery logged", func() bool {
		return strings.Contains(logs.String(), `msg="chat path moving again" check="delivery loop"`)
	})
}

func TestFailingCheckIsUnready(t *testing.T) {
	var mu sync.Mutex
	fail := errors.New("boom")
	w, _ := start(t, Check{Name: "c", Run: func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return fail
	}})
	eventually(t, "unready", func() bool { err := w.Ready(); return err != nil && errors.Is(err, fail) })
	mu.Lock()
	fail = nil
	mu.Unlock()
	eventually(t, "ready", func() bool { return w.Ready() == nil })
}

// Rounds that stop (the watchdog's own loop gone) make it unready too.
func TestStoppedWatchdogGoesStale(t *testing.T) {
	w := New(Config{Interval: 10 * time.Millisecond, Timeout: 20 * time.Millisecond,
		Checks: []Check{{Name: "c", Run: func(context.Context) error { return nil }}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	eventually(t, "ready", func() bool { return w.Ready() == nil })
	cancel()
	<-done
	eventually(t, "stale", func() bool { return w.Ready() != nil })
}

// FirstRound is closed once the first round ends, whatever it found, and
// not before: a check held back holds it.
func TestFirstRound(t *testing.T) {
	for _, fail := range []bool{false, true} {
		release := make(chan struct{})
		w, _ := start(t, Check{Name: "held", Run: func(context.Context) error {
			<-release
			if fail {
				return errors.New("broken")
			}
			return nil
		}})
		select {
		case <-w.FirstRound():
			t.Fatalf("fail=%v: FirstRound closed while the first check runs", fail)
		case <-time.After(20 * time.Millisecond):
		}
		close(release)
		<-w.FirstRound()
		if err := w.Ready(); (err != nil) != fail || errors.Is(err, ErrNotYet) {
			t.Fatalf("fail=%v: Ready after the first round = %v", fail, err)
		}
	}
}
