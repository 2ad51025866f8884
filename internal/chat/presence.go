package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// Connected records a new connection of the user on this node: the user
// is online (again), and keeps their nickname and room.
func (s *Service) Connected(ctx context.Context, userID string) error {
	s.local.begin(userID, +1)
	err := s.writeSessions(ctx, userID)
	s.local.end(userID, err != nil)
	if errors.Is(err, apierr.ErrNotFound) {
		return apierr.New(apierr.CodeUnauthorized, "not logged in")
	}
	if err != nil {
		return fmt.Errorf("record connection: %w", err)
	}
	return nil
}

// Disconnected records that one of the user's connections on this node
// closed. When it was their last anywhere, the grace period starts.
func (s *Service) Disconnected(ctx context.Context, userID string) error {
	s.local.begin(userID, -1)
	err := s.writeSessions(ctx, userID)
	// The socket is gone whether or not the store heard of it: the count
	// stays down, and reconcile writes it once the store answers again.
	s.local.end(userID, false)
	if err != nil && !errors.Is(err, apierr.ErrNotFound) {
		return fmt.Errorf("record disconnection: %w", err)
	}
	return nil
}

// writeSessions makes the store's count of the user's sessions on this
// node the count this node holds when the write is made (not the stored
// count plus or minus one): connections and disconnections of one user
// at once then converge on one value, and a compare-and-set that lost to
// another finds, on its next try, that the winner already wrote what it
// would have (no write), instead of every one of N changes needing a
// write of its own through N-1 lost tries. The last successful write was
// computed after every change before it, so the store ends right.
//
// One write at a time per user on this node: the callers that arrive
// while one is in flight wait for the next, which covers them all (it
// reads the count when it is made). Without it, a user's hundred tabs
// closing at once (or a node's connections, at a restart) made a hundred
// compare-and-sets of one record, all but one losing, each loser a read
// and another try: the end of `make bench-scale` (100,000 connections of
// 1,000 users closing together) logged some 60,000 timeouts, 4,000-8,000
// with it (docs/measurements.md).
func (s *Service) writeSessions(ctx context.Context, userID string) error {
	select {
	case err := <-s.sessionWrites.add(ctx, userID, struct{}{}):
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sessionWriteTimeout bounds one write of a session count (the callers'
// own contexts bound their wait).
const sessionWriteTimeout = 10 * time.Second

// writeSessionCount writes the user's count of sessions on this node as
// it is now, for the callers waiting.
func (s *Service) writeSessionCount(ctx context.Context, userID string, callers []struct{}) []error {
	_, _, err := s.modifyUser(ctx, userID, func(u *userRecord) (op, error) {
		n, _ := s.local.count(userID)
		if !s.setSessions(u, n) {
			return opKeep, nil
		}
		return opWrite, nil
	})
	errs := make([]error, len(callers))
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// setSessions makes u's count of sessions on this node n: online with
// any, and if it was their last anywhere, offline from now. It reports
// whether u changed.
func (s *Service) setSessions(u *userRecord, n int) bool {
	node := s.cfg.NodeID
	if n > 0 {
		if u.Sessions[node] == n && u.OfflineSince == 0 {
			return false
		}
		if u.Sessions == nil {
			u.Sessions = make(map[string]int, 1)
		}
		u.Sessions[node] = n
		u.OfflineSince = 0
		return true
	}
	if _, ok := u.Sessions[node]; !ok {
		return false
	}
	delete(u.Sessions, node)
	if len(u.Sessions) == 0 {
		u.OfflineSince = s.now()
	}
	return true
}

// sweep removes users offline past the grace period, forgets sessions of
// nodes that stopped beating, and deletes orphaned empty rooms. Every node
// sweeps; compare-and-set makes each removal happen once. The first two
// wait while this node's own heartbeat fails and a little after
// (Config.OutageHold).
func (s *Service) sweep(ctx context.Context) {
	var expired, stale, drifted []string
	var emptyRooms []string
	graceMS := s.cfg.Grace.Milliseconds()
	now := s.now()
	hold := s.holding(now) // after a failed heartbeat: see Config.OutageHold
	s.mu.RLock()
	self := s.liveNodes[s.cfg.NodeID]
	var local map[string]int
	if self {
		local = s.local.settled()
	}
	for id, u := range s.userCache {
		if self {
			if n, ok := local[id]; ok && n != u.Sessions[s.cfg.NodeID] {
				drifted = append(drifted, id)
			} else if !ok && u.Sessions[s.cfg.NodeID] > 0 && !s.local.busy(id) {
				drifted = append(drifted, id)
			}
		}
		dead := false
		for n := range u.Sessions {
			if !s.liveNodes[n] {
				dead = true
			}
		}
		switch {
		case hold:
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
	for _, id := range drifted {
		s.reconcileSessions(ctx, id)
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
	_, _, err := s.modifyUser(ctx, userID, func(u *userRecord) (op, error) {
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
	if err != nil && !errors.Is(err, apierr.ErrNotFound) {
		s.log.Warn("drop sessions of dead nodes", "user", userID, "err", err)
	}
}

// reconcileSessions makes the store's count of the user's sessions on
// this node what this node really holds. The two drift apart when the
// store could not be written (a disconnection during a NATS outage) or
// another node took this one for dead while it could not beat, dropped
// its sessions, and the user would expire although still connected here.
// A user with a connection or disconnection in flight is left to it.
func (s *Service) reconcileSessions(ctx context.Context, userID string) {
	node := s.cfg.NodeID
	wrote := false // by the last try of the function below
	_, _, err := s.modifyUser(ctx, userID, func(u *userRecord) (op, error) {
		n, settled := s.local.count(userID)
		wrote = settled && s.setSessions(u, n)
		if !wrote {
			return opKeep, nil
		}
		return opWrite, nil
	})
	switch {
	case err == nil && wrote:
		s.log.Info("reconciled the user's sessions on this node", "user", userID, "node", node)
	case err == nil: // the store was right; this node's cache had not caught up
	case !errors.Is(err, apierr.ErrNotFound):
		s.log.Warn("reconcile sessions", "user", userID, "err", err)
	}
}

// localSessions counts the connections each user has on this node, as
// the transport reported them, and which users have a change on its way
// to the store. Its lock is taken after Service.mu, never before, and
// nothing is called while it is held.
type localSessions struct {
	mu       sync.Mutex
	n        map[string]int // open connections by user
	inflight map[string]int // Connected/Disconnected calls not yet returned
}

// begin counts a connection (+1) or disconnection (-1) of the user whose
// store write is about to start.
func (l *localSessions) begin(userID string, delta int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n, l.inflight = make(map[string]int), make(map[string]int)
	}
	l.n[userID] = max(0, l.n[userID]+delta)
	l.inflight[userID]++
}

// end says the write begun for the user returned; undo takes back a
// connection the store refused.
func (l *localSessions) end(userID string, undo bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if undo {
		l.n[userID] = max(0, l.n[userID]-1)
	}
	if l.inflight[userID]--; l.inflight[userID] <= 0 {
		delete(l.inflight, userID)
	}
	if l.n[userID] == 0 && l.inflight[userID] == 0 {
		delete(l.n, userID)
	}
}

// count is the user's connections here; settled is false while a write
// for the user is in flight (its count is then not yet the store's).
func (l *localSessions) count(userID string) (n int, settled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[userID], l.inflight[userID] == 0
}

// busy says a write for the user is in flight.
func (l *localSessions) busy(userID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight[userID] > 0
}

// settled returns the counts of the users with no write in flight.
func (l *localSessions) settled() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.n))
	for id, n := range l.n {
		if l.inflight[id] == 0 {
			out[id] = n
		}
	}
	return out
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
