package chat

import (
	"context"
	"errors"
	"fmt"
)

// Connected records a new connection of the user on this node: the user
// is online (again), and keeps their nickname and room.
func (s *Service) Connected(ctx context.Context, userID string) error {
	_, _, err := s.users.modify(ctx, userID, func(u *userRecord) (op, error) {
		if u.Sessions == nil {
			u.Sessions = make(map[string]int, 1)
		}
		u.Sessions[s.cfg.NodeID]++
		u.OfflineSince = 0
		return opWrite, nil
	})
	if errors.Is(err, ErrNotFound) {
		return clientErr(CodeUnauthorized, "not logged in")
	}
	if err != nil {
		return fmt.Errorf("record connection: %w", err)
	}
	return nil
}

// Disconnected records that one of the user's connections on this node
// closed. When it was their last anywhere, the grace period starts.
func (s *Service) Disconnected(ctx context.Context, userID string) error {
	_, _, err := s.users.modify(ctx, userID, func(u *userRecord) (op, error) {
		if u.Sessions[s.cfg.NodeID] <= 0 {
			return opKeep, nil
		}
		u.Sessions[s.cfg.NodeID]--
		if u.Sessions[s.cfg.NodeID] == 0 {
			delete(u.Sessions, s.cfg.NodeID)
		}
		if len(u.Sessions) == 0 {
			u.OfflineSince = s.now()
		}
		return opWrite, nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("record disconnection: %w", err)
	}
	return nil
}

// sweep removes users offline past the grace period, forgets sessions of
// nodes that stopped beating, and deletes orphaned empty rooms. Every node
// sweeps; compare-and-set makes each removal happen once.
func (s *Service) sweep(ctx context.Context) {
	var expired, stale []string
	var emptyRooms []string
	graceMS := s.cfg.Grace.Milliseconds()
	now := s.now()
	s.mu.RLock()
	for id, u := range s.userCache {
		dead := false
		for n := range u.Sessions {
			if !s.liveNodes[n] {
				dead = true
			}
		}
		switch {
		case dead:
			stale = append(stale, id)
		case !s.onlineLocked(u) && u.OfflineSince > 0 && now-u.OfflineSince >= graceMS:
			expired = append(expired, id)
		}
	}
	for id, r := range s.roomCache {
		if !r.Persistent && len(r.Members) == 0 && now-r.CreatedAt >= graceMS {
			emptyRooms = append(emptyRooms, id)
		}
	}
	s.mu.RUnlock()

	for _, id := range stale {
		s.dropDeadSessions(ctx, id)
	}
	for _, id := range expired {
		s.removeUser(ctx, id, true)
	}
	for _, id := range emptyRooms {
		s.deleteEmptyRoom(ctx, id)
	}
}

// dropDeadSessions forgets the user's sessions on nodes that are gone;
// if none is left the grace period starts now.
func (s *Service) dropDeadSessions(ctx context.Context, userID string) {
	_, _, err := s.users.modify(ctx, userID, func(u *userRecord) (op, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		changed := false
		for n := range u.Sessions {
			if !s.liveNodes[n] {
				delete(u.Sessions, n)
				changed = true
			}
		}
		if !changed {
			return opKeep, nil
		}
		if len(u.Sessions) == 0 {
			u.OfflineSince = s.now()
		}
		return opWrite, nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Warn("drop sessions of dead nodes", "user", userID, "err", err)
	}
}

// retirePredecessors deletes the liveness entries of this node's earlier
// lives (Config.Predecessor) and forgets the sessions they held, before
// the node serves. Best effort: what fails here the sweeper does once the
// dead entries expire.
func (s *Service) retirePredecessors(ctx context.Context) {
	if s.cfg.Predecessor == nil {
		return
	}
	var dead []string
	s.mu.RLock()
	for id := range s.liveNodes {
		if id != s.cfg.NodeID && s.cfg.Predecessor(id) {
			dead = append(dead, id)
		}
	}
	s.mu.RUnlock()
	if len(dead) == 0 {
		return
	}
	for _, id := range dead {
		if err := s.nodes.Delete(ctx, id, 0); err != nil {
			s.log.Warn("retire an earlier life of this node", "node", id, "err", err)
			continue
		}
		// The watch will say so too; the sweep below must not wait for it.
		s.mu.Lock()
		delete(s.liveNodes, id)
		s.mu.Unlock()
		s.log.Info("retired an earlier life of this node", "node", id)
	}
	s.sweep(ctx)
	s.listener.UsersChanged()
}
