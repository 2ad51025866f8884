package chat

// The caches of users, rooms and live nodes, fed by the buckets' watches
// and by this node's own writes (freshUser, wroteUser, modifyUser).

import (
	"context"
	"encoding/json"
)

func (s *Service) onNodeEntry(e Entry) {
	s.mu.Lock()
	if e.Deleted {
		delete(s.liveNodes, e.Key)
	} else {
		s.liveNodes[e.Key] = true
	}
	s.mu.Unlock()
	s.listener.UsersChanged() // online flags depend on live nodes
}

func (s *Service) onRoomEntry(e Entry) {
	s.mu.Lock()
	s.roomWatchRev = max(s.roomWatchRev, e.Revision)
	if e.Revision <= s.roomRevs[e.Key] {
		// This node's own write of it, or a later one, is cached
		// already (wroteRoom): nothing changes, nobody is told again.
		s.mu.Unlock()
		return
	}
	if e.Deleted {
		delete(s.roomCache, e.Key)
		delete(s.roomRevs, e.Key)
	} else {
		r, err := s.rooms.decode(e.Key, e.Value)
		if err != nil {
			s.mu.Unlock()
			s.log.Error("bad room record", "room", e.Key, "err", err)
			return
		}
		s.roomCache[e.Key] = r
		s.roomRevs[e.Key] = e.Revision
	}
	s.mu.Unlock()
	s.listener.RoomsChanged()
	s.listener.UsersChanged() // users show their room's name
}

func (s *Service) onUserEntry(e Entry) {
	var u *userRecord
	if !e.Deleted {
		var err error
		if u, err = s.users.decode(e.Key, e.Value); err != nil {
			s.log.Error("bad user record", "user", e.Key, "err", err)
			return
		}
	}
	s.mu.Lock()
	if min, ok := s.userMinRev[e.Key]; ok && e.Revision >= min {
		delete(s.userMinRev, e.Key)
	}
	_, had := s.userCache[e.Key]
	changed, moved := s.setUserLocked(e.Key, u, e.Revision)
	s.mu.Unlock()
	if e.Deleted && had {
		s.listener.UserRemoved(e.Key)
	}
	s.notifyUser(changed, moved)
}

// setUserLocked puts u (nil: deleted) at revision rev in the cache,
// unless the cache holds a later revision already (this node's own write,
// applied before the watch brought the earlier ones). It reports whether
// the cache changed, and whether the user's room did (member counts).
func (s *Service) setUserLocked(id string, u *userRecord, rev uint64) (changed, moved bool) {
	prev, had := s.userCache[id]
	if had && s.userRevs[id] >= rev {
		return false, false
	}
	if !had && u == nil {
		return false, false
	}
	moved = !had || u == nil || prev.Room != u.Room
	if had {
		if s.roomCounts[prev.Room]--; s.roomCounts[prev.Room] <= 0 {
			delete(s.roomCounts, prev.Room)
		}
	}
	if u == nil {
		delete(s.userCache, id)
		delete(s.userRevs, id)
	} else {
		s.userCache[id] = u
		s.userRevs[id] = rev
		s.roomCounts[u.Room]++
	}
	return true, moved
}

func (s *Service) notifyUser(changed, moved bool) {
	if changed {
		s.listener.UsersChanged()
	}
	if moved {
		s.listener.RoomsChanged() // member counts
	}
}

func (s *Service) onLogEntry(le LogEntry) {
	var ev logEvent
	if err := json.Unmarshal(le.Data, &ev); err != nil {
		s.log.Error("bad room event", "room", le.Room, "seq", le.Seq, "err", err)
		return
	}
	m := ev.message(le.Room, le.Seq)
	s.listener.RoomEvent(&m)
}

// freshUser returns the user's record from the watched cache, which
// holds every write this node made (a record older than this node's last
// write to it is not used: it is read from the store instead, until the
// watch has caught up). Writes of other nodes reach the cache as fast as
// the watch brings them. The record returned must not be changed.
func (s *Service) freshUser(ctx context.Context, userID string) (*userRecord, error) {
	s.mu.RLock()
	u := s.userCache[userID]
	min, behind := s.userMinRev[userID]
	ok := u != nil && (!behind || s.userRevs[userID] >= min)
	s.mu.RUnlock()
	if ok {
		return u, nil
	}
	u, _, err := s.users.get(ctx, userID)
	return u, err
}

// wroteRoom notes that this node wrote room id's record r at rev, so
// that what it reads next (a room list, a view) has it at once: the
// cache takes r unless the watch has delivered rev already (then the
// cache holds rev or what came after it, a delete included) or the cache
// holds a later revision. The watch, delivering rev later, changes
// nothing. r is copied.
func (s *Service) wroteRoom(id string, r *roomRecord, rev uint64) {
	s.mu.Lock()
	take := rev > s.roomWatchRev && rev > s.roomRevs[id]
	if take {
		s.roomCache[id] = r.clone()
		s.roomRevs[id] = rev
	}
	s.mu.Unlock()
	if take {
		s.listener.RoomsChanged()
		s.listener.UsersChanged() // users show their room's name
	}
}

// wroteUser notes that this node wrote the user's record u at rev (u
// nil: deleted it, rev being the delete's revision): the cache takes u
// now if it holds the user at an earlier revision (or insert is set: a
// user just created, whom nothing can have deleted yet), and freshUser
// reads nothing older from the cache from now on. u is copied.
func (s *Service) wroteUser(userID string, u *userRecord, rev uint64, insert bool) {
	s.mu.Lock()
	if rev > s.userMinRev[userID] && rev > s.userRevs[userID] {
		s.userMinRev[userID] = rev
	}
	var changed, moved bool
	if _, had := s.userCache[userID]; u != nil && (had || insert) {
		changed, moved = s.setUserLocked(userID, u.clone(), rev)
		if changed {
			delete(s.userMinRev, userID)
		}
	}
	s.mu.Unlock()
	s.notifyUser(changed, moved)
}

// modifyUser is users.modify noting the write (see wroteUser).
func (s *Service) modifyUser(ctx context.Context, userID string, fn func(u *userRecord) (op, error)) (*userRecord, uint64, error) {
	s.mu.RLock()
	cached, crev := s.userCache[userID], s.userRevs[userID]
	if min, ok := s.userMinRev[userID]; ok && crev < min {
		cached = nil // behind this node's own write: surely stale
	}
	s.mu.RUnlock()
	u, rev, err := s.users.modifyFrom(ctx, userID, cached, crev, fn)
	switch {
	case err == nil && u == nil: // deleted: its marker is a later revision
		s.wroteUser(userID, nil, rev+1, false)
	case err == nil:
		s.wroteUser(userID, u, rev, false)
	}
	return u, rev, err
}
