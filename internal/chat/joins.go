package chat

import (
	"context"
	"sync"
	"time"
)

// Joins of one room made on this node at the same time are written to
// the room's member list together: one compare-and-set adds all the
// users waiting at that moment. Without it, a crowd switching into a room
// (everyone at once after an announcement, a load test) made every joiner
// compete for the one record, each win costing the others a read and
// another try.

// joinBatch is the joins of one room waiting to be written, and whether a
// writer is at work. Guarded by its mu.
type joinBatch struct {
	mu      sync.Mutex
	writing bool
	queue   []joinReq
}

type joinReq struct {
	userID string
	done   chan joinResult // buffered: the writer never waits for a joiner
}

type joinResult struct {
	r     *roomRecord
	err   error
	added bool // this request put the user on the list (not a member before)
}

// joinBatchTimeout bounds one batch's write (the joiners' own contexts
// bound their wait).
const joinBatchTimeout = 10 * time.Second

// addMember adds userID to the member list of the non-persistent room
// roomID, with whatever other joins of that room are waiting, and returns
// the room as written (or as it was, if the user was a member already).
func (s *Service) addMember(ctx context.Context, roomID, userID string) (*roomRecord, error) {
	req := joinReq{userID: userID, done: make(chan joinResult, 1)}
	s.joinsMu.Lock()
	b := s.joins[roomID]
	if b == nil {
		b = &joinBatch{}
		s.joins[roomID] = b
	}
	b.mu.Lock()
	s.joinsMu.Unlock()
	b.queue = append(b.queue, req)
	start := !b.writing
	b.writing = true
	b.mu.Unlock()
	if start {
		// The batch outlives this caller (others wait on it): it keeps
		// ctx's values, not its end.
		go s.writeJoins(context.WithoutCancel(ctx), roomID, b)
	}
	select {
	case res := <-req.done:
		return res.r, res.err
	case <-ctx.Done():
		// The join may still be written: then take it back, so that the
		// room does not keep a member who never entered (and is never
		// deleted for it).
		go func() {
			res := <-req.done
			if res.err != nil || !res.added {
				return
			}
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), joinBatchTimeout)
			defer cancel()
			if _, key, deleted, err := s.removeMember(uctx, roomID, userID); err == nil && deleted {
				s.roomDeleted(uctx, roomID, key)
			}
		}()
		return nil, ctx.Err()
	}
}

// writeJoins writes the batches of room roomID until none is waiting.
func (s *Service) writeJoins(base context.Context, roomID string, b *joinBatch) {
	for {
		s.joinsMu.Lock()
		b.mu.Lock()
		batch := b.queue
		b.queue = nil
		if len(batch) == 0 {
			b.writing = false
			if s.joins[roomID] == b {
				delete(s.joins, roomID)
			}
			b.mu.Unlock()
			s.joinsMu.Unlock()
			return
		}
		b.mu.Unlock()
		s.joinsMu.Unlock()

		ctx, cancel := context.WithTimeout(base, joinBatchTimeout)
		cached, rev := s.cachedRoom(roomID)
		var added map[string]bool
		r, wrev, err := s.rooms.modifyFrom(ctx, roomID, cached, rev, func(r *roomRecord) (op, error) {
			added = map[string]bool{} // fn may run again on a fresh read
			if r.Persistent {
				return opKeep, nil
			}
			for _, j := range batch {
				if !r.hasMember(j.userID) && !added[j.userID] {
					r.Members = append(r.Members, j.userID)
					added[j.userID] = true
				}
			}
			if len(added) == 0 {
				return opKeep, nil
			}
			return opWrite, nil
		})
		cancel()
		if err == nil && r != nil {
			s.wroteRoom(roomID, r, wrev)
		}
		for _, j := range batch {
			first := err == nil && added[j.userID]
			delete(added, j.userID) // a second request of one user added nothing
			j.done <- joinResult{r: r, err: err, added: first}
		}
	}
}
