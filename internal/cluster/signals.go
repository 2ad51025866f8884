package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/chatrooms/chatrooms/internal/chat"
)

var _ chat.Signals = (*Signals)(nil)

// Signals carries ephemeral notifications between nodes on core NATS
// under SignalSubjectPrefix; nothing is stored, and a node that is
// disconnected misses them. Safe for concurrent use; get it from
// Cluster.Signals.
type Signals struct {
	c *Cluster
}

// Publish sends data on subject (tokens of [A-Za-z0-9_-] joined by '.').
// It does not wait for the server: while reconnecting, messages are
// buffered by the client; nil means sent or buffered, not delivered.
func (s *Signals) Publish(ctx context.Context, subject string, data []byte) error {
	if !chat.ValidSubject(subject, false) {
		return fmt.Errorf("signals: publish %q: %w", subject, ErrInvalidSubject)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("signals: publish %q: %w", subject, err)
	}
	if err := s.c.nc.Publish(SignalSubjectPrefix+subject, data); err != nil {
		return fmt.Errorf("signals: publish %q: %w", subject, storeErr(err))
	}
	return nil
}

// Subscribe calls fn(subject, data), subject without SignalSubjectPrefix,
// for every message on subjects matching pattern ('*' one token, '>' the
// rest) until ctx ends or the Cluster closes. fn runs on one goroutine
// per subscription. Subscribe returns once the server has the
// subscription, so a Publish after it is seen.
func (s *Signals) Subscribe(ctx context.Context, pattern string, fn func(subject string, data []byte)) error {
	if !chat.ValidSubject(pattern, true) {
		return fmt.Errorf("signals: subscribe %q: %w", pattern, ErrInvalidSubject)
	}
	sub, err := s.c.nc.Subscribe(SignalSubjectPrefix+pattern, func(m *nats.Msg) {
		fn(strings.TrimPrefix(m.Subject, SignalSubjectPrefix), m.Data)
	})
	if err != nil {
		return fmt.Errorf("signals: subscribe %q: %w", pattern, storeErr(err))
	}
	// ctx bounds the subscription's life, not the flush: a long-lived ctx
	// usually has no deadline.
	if err := s.c.nc.FlushTimeout(s.c.opts.RequestTimeout); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("signals: subscribe %q: %w", pattern, storeErr(err))
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-s.c.done:
			return // Close drains every subscription
		}
		_ = sub.Unsubscribe() // fails only once the connection is closed
	}()
	return nil
}
