package chat

// The client views of users and rooms, built from the caches, and the
// lists (Users, Rooms) and look-ups (Room) made of them.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// onlineLocked reports whether u has a session on a live node.
func (s *Service) onlineLocked(u *userRecord) bool {
	for n, c := range u.Sessions {
		if c > 0 && s.liveNodes[n] {
			return true
		}
	}
	return false
}

func (s *Service) userViewLocked(u *userRecord) User {
	v := User{ID: u.ID, Name: u.Name, AvatarURL: UserAvatarURL(u.ID), Online: s.onlineLocked(u), CreatedAt: u.CreatedAt}
	if r := s.roomCache[u.Room]; r != nil {
		v.CurrentRoom = &RoomRef{ID: r.ID, Name: r.Name}
	} else if u.Room != "" {
		v.CurrentRoom = &RoomRef{ID: u.Room}
	}
	return v
}

// roomViewLocked is the client view of a room. A persistent room keeps
// no member list (see joinRoom): its members are the users whose record
// points at it, counted in the watched cache.
func (s *Service) roomViewLocked(r *roomRecord) Room {
	n := len(r.Members)
	if r.Persistent {
		n = s.roomCounts[r.ID]
	}
	return Room{ID: r.ID, Name: r.Name, Description: r.Description, Persistent: r.Persistent, AvatarURL: RoomAvatarURL(r.ID), MemberCount: n}
}

func (s *Service) roomView(r *roomRecord) Room {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.roomViewLocked(r)
}

// Users lists everyone present, by name.
func (s *Service) Users() []User {
	s.mu.RLock()
	out := make([]User, 0, len(s.userCache))
	for _, u := range s.userCache {
		out = append(out, s.userViewLocked(u))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b User) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Rooms lists the rooms: persistent ones first, then by age.
func (s *Service) Rooms() []Room {
	s.mu.RLock()
	recs := make([]*roomRecord, 0, len(s.roomCache))
	views := make(map[*roomRecord]Room, len(s.roomCache))
	for _, r := range s.roomCache {
		recs = append(recs, r)
		views[r] = s.roomViewLocked(r)
	}
	s.mu.RUnlock()
	order := make(map[string]int, len(s.cfg.PersistentRooms))
	for i, p := range s.cfg.PersistentRooms {
		order[p.ID] = i - len(s.cfg.PersistentRooms)
	}
	slices.SortFunc(recs, func(a, b *roomRecord) int {
		if c := cmp.Compare(order[a.ID], order[b.ID]); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	out := make([]Room, len(recs))
	for i, r := range recs {
		out[i] = views[r]
	}
	return out
}

// Room returns one room, read from the store.
func (s *Service) Room(ctx context.Context, id string) (Room, error) {
	if !ValidID(id) {
		return Room{}, apierr.New(apierr.CodeRoomNotFound, "no such room")
	}
	r, _, err := s.rooms.get(ctx, id)
	if errors.Is(err, apierr.ErrNotFound) {
		return Room{}, apierr.New(apierr.CodeRoomNotFound, "no such room")
	}
	if err != nil {
		return Room{}, fmt.Errorf("get room: %w", err)
	}
	return s.roomView(r), nil
}

// User returns the client view of a user record.
func (s *Service) userView(u *userRecord) User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userViewLocked(u)
}

// UserCounts returns how many users are online and offline (not yet
// removed), from the watched cache: no store request. Safe for concurrent
// use; it visits every cached user (for metrics).
func (s *Service) UserCounts() (online, offline int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, u := range s.userCache {
		if s.onlineLocked(u) {
			online++
		} else {
			offline++
		}
	}
	return online, offline
}

// RoomCount is how many rooms the watched cache holds: no store request.
// Safe for concurrent use.
func (s *Service) RoomCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.roomCache)
}
