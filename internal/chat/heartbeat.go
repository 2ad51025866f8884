package chat

// The service's background loop: this node's liveness heartbeat and the
// periodic sweep (presence.go).

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// loop runs the heartbeat and the cleanup until ctx ends.
func (s *Service) loop(ctx context.Context) {
	hb := s.cfg.Clock.NewTicker(s.cfg.Heartbeat)
	sweep := s.cfg.Clock.NewTicker(s.cfg.SweepInterval)
	defer hb.Stop()
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C():
			err := s.beat(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("node heartbeat failed", "node", s.cfg.NodeID, "err", err)
			}
			s.beatDone(err)
		case <-sweep.C():
			s.sweep(ctx)
		}
	}
}

// beat renews this node's liveness entry.
func (s *Service) beat(ctx context.Context) error {
	v := []byte(fmt.Sprint(s.now()))
	e, err := s.nodes.Get(ctx, s.cfg.NodeID)
	switch {
	case errors.Is(err, apierr.ErrNotFound):
		_, err = s.nodes.Create(ctx, s.cfg.NodeID, v)
		if errors.Is(err, apierr.ErrExists) {
			return nil // a concurrent beat won
		}
	case err == nil:
		_, err = s.nodes.Update(ctx, s.cfg.NodeID, v, e.Revision)
		if errors.Is(err, apierr.ErrConflict) {
			return nil
		}
	}
	return err
}

// beatDone records a heartbeat's outcome for the sweep's hold (see
// Config.OutageHold): failed, it holds; the first success after a failure
// holds for OutageHold more.
func (s *Service) beatDone(err error) {
	if err != nil {
		s.beatDown.Store(true)
		return
	}
	if s.beatDown.Swap(false) {
		s.holdUntil.Store(s.now() + s.cfg.OutageHold.Milliseconds())
		s.log.Info("node heartbeat back: the sweep holds back", "node", s.cfg.NodeID, "for", s.cfg.OutageHold)
	}
}

// holding reports whether the sweep holds back now (see beatDone).
func (s *Service) holding(now int64) bool {
	return s.beatDown.Load() || now < s.holdUntil.Load()
}
