package chattest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/chatrooms/chatrooms/internal/chat"
)

var _ chat.Signals = (*Signals)(nil)

// ErrInvalidSubject is returned for subjects and patterns chat.Signals
// does not allow.
var ErrInvalidSubject = errors.New("chattest: invalid subject")

// Signals is an in-memory chat.Signals: a Publish reaches every
// subscription whose pattern matches at that moment ('*' one token, '>'
// the rest), each subscription's fn running on a goroutine of its own, in
// publish order. Nothing is kept for later subscribers. Safe for
// concurrent use; get one from NewSignals.
type Signals struct {
	mu   sync.Mutex
	subs map[*signalSub]struct{}
	fail func(op, subject string) error
	sent []Signal
}

// Signal is one published message.
type Signal struct {
	Subject string
	Data    []byte
}

// NewSignals returns a bus with no subscription.
func NewSignals() *Signals { return &Signals{subs: map[*signalSub]struct{}{}} }

// FailWith makes every later call consult fn first (op "publish" or
// "subscribe", and the subject or pattern): an error from fn fails the
// call. Nil stops it.
func (s *Signals) FailWith(fn func(op, subject string) error) {
	s.mu.Lock()
	s.fail = fn
	s.mu.Unlock()
}

func (s *Signals) begin(ctx context.Context, op, subject string, wildcards bool) error {
	if !chat.ValidSubject(subject, wildcards) {
		return fmt.Errorf("signals: %s %q: %w", op, subject, ErrInvalidSubject)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("signals: %s %q: %w", op, subject, err)
	}
	s.mu.Lock()
	if s.fail != nil {
		if err := s.fail(op, subject); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("signals: %s %q: %w", op, subject, err)
		}
	}
	return nil
}

// Publish implements chat.Signals.
func (s *Signals) Publish(ctx context.Context, subject string, data []byte) error {
	if err := s.begin(ctx, "publish", subject, false); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.sent = append(s.sent, Signal{subject, slices.Clone(data)})
	for sub := range s.subs {
		if match(sub.pattern, subject) {
			sub.push(Signal{subject, slices.Clone(data)})
		}
	}
	return nil
}

// Published returns every message published so far, in order.
func (s *Signals) Published() []Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// Subscribe implements chat.Signals.
func (s *Signals) Subscribe(ctx context.Context, pattern string, fn func(subject string, data []byte)) error {
	if err := s.begin(ctx, "subscribe", pattern, true); err != nil {
		return err
	}
	sub := &signalSub{pattern: pattern, wake: make(chan struct{}, 1)}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()
	go sub.run(ctx, fn)
	return nil
}

type signalSub struct {
	pattern string
	mu      sync.Mutex
	queue   []Signal
	wake    chan struct{}
}

func (sub *signalSub) push(m Signal) {
	sub.mu.Lock()
	sub.queue = append(sub.queue, m)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (sub *signalSub) run(ctx context.Context, fn func(string, []byte)) {
	for {
		sub.mu.Lock()
		q := sub.queue
		sub.queue = nil
		sub.mu.Unlock()
		for _, m := range q {
			if ctx.Err() != nil {
				return
			}
			fn(m.Subject, m.Data)
		}
		select {
		case <-ctx.Done():
			return
		case <-sub.wake:
		}
	}
}

// match reports whether subject matches pattern, NATS style.
func match(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, t := range p {
		if t == ">" {
			return len(s) > i
		}
		if i >= len(s) || t != "*" && t != s[i] {
			return false
		}
	}
	return len(p) == len(s)
}
