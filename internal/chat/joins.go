package chat

import (
	"context"
	"time"
)

// Joins of one room made on this node at the same time are written to
// the room's member list together (writeBatches, batches.go): one
// compare-and-set adds all the users waiting at that moment. Without it,
// a crowd switching into a room (everyone at once after an announcement,
// a load test) made every joiner compete for the one record, each win
// costing the others a read and another try.

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
	done := s.joins.add(ctx, roomID, userID)
	select {
	case res := <-done:
		return res.r, res.err
	case <-ctx.Done():
		// The join may still be written: then take it back, so that the
		// room does not keep a member who never entered (and is never
		// deleted for it).
		go func() {
			res := <-done
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

// writeJoins adds the users of one batch of joins of room roomID to its
// member list, in one compare-and-set, and answers each.
func (s *Service) writeJoins(ctx context.Context, roomID string, users []string) []joinResult {
	cached, rev := s.cachedRoom(roomID)
	var added map[string]bool
	r, wrev, err := s.rooms.modifyFrom(ctx, roomID, cached, rev, func(r *roomRecord) (op, error) {
		added = map[string]bool{} // fn may run again on a fresh read
		if r.Persistent {
			return opKeep, nil
		}
		for _, id := range users {
			if !r.hasMember(id) && !added[id] {
				r.Members = append(r.Members, id)
				added[id] = true
			}
		}
		if len(added) == 0 {
			return opKeep, nil
		}
		return opWrite, nil
	})
	if err == nil && r != nil {
		s.wroteRoom(roomID, r, wrev)
	}
	res := make([]joinResult, len(users))
	for i, id := range users {
		first := err == nil && added[id]
		delete(added, id) // a second request of one user added nothing
		res[i] = joinResult{r: r, err: err, added: first}
	}
	return res
}
