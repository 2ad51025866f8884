package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// joinRoom adds u to room's members (compare-and-set, so it cannot race
// with the room's deletion) and appends the join notice. It returns the
// room as joined and the notice's seq, where u's membership begins.
//
// A persistent room is never deleted, so it keeps no member list: its
// members are the users whose record points at it (written by the
// caller), and joining or leaving it writes nothing to the room. All new
// users join the default room: a shared list would make them contend for
// one record, each write of it O(members).
func (s *Service) joinRoom(ctx context.Context, u *userRecord, roomID string) (*roomRecord, uint64, error) {
	r, persistent := s.cachedPersistentRoom(roomID)
	if !persistent {
		var err error
		r, err = s.addMember(ctx, roomID, u.ID)
		if errors.Is(err, apierr.ErrNotFound) {
			return nil, 0, apierr.New(apierr.CodeRoomNotFound, "no such room")
		}
		if err != nil {
			return nil, 0, fmt.Errorf("join room %q: %w", roomID, err)
		}
	}
	seq, err := s.appendNotice(ctx, u, roomID, r.Name, MessageJoined)
	if err != nil {
		return nil, 0, err
	}
	return r, seq, nil
}

// cachedPersistentRoom returns the room from the watched cache if it is
// a persistent one (which stays persistent: nothing demotes a room).
func (s *Service) cachedPersistentRoom(id string) (*roomRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.roomCache[id]
	if r == nil || !r.Persistent {
		return nil, false
	}
	return r, true
}

// leaveRoom appends the leave notice and removes u from room's members,
// deleting the room (and freeing its name) if it is not persistent and u
// was its last member.
func (s *Service) leaveRoom(ctx context.Context, u *userRecord, roomID string) error {
	if r, ok := s.cachedPersistentRoom(roomID); ok {
		_, err := s.appendNotice(ctx, u, roomID, r.Name, MessageLeft)
		return err
	}
	name, nameKey, deleted, err := s.removeMember(ctx, roomID, u.ID)
	if errors.Is(err, apierr.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("leave room %q: %w", roomID, err)
	}
	if _, err := s.appendNotice(ctx, u, roomID, name, MessageLeft); err != nil {
		return err
	}
	if deleted {
		s.roomDeleted(ctx, roomID, nameKey)
	}
	return nil
}

// removeMember takes userID off the non-persistent room's member list,
// deleting the room if that was its last member (the caller then frees
// its name: roomDeleted). It returns the room's name and name key.
func (s *Service) removeMember(ctx context.Context, roomID, userID string) (name, nameKey string, deleted bool, err error) {
	cached, rev := s.cachedRoom(roomID)
	left, _, err := s.rooms.modifyFrom(ctx, roomID, cached, rev, func(r *roomRecord) (op, error) {
		name, nameKey = r.Name, r.NameKey
		if r.Persistent || !r.hasMember(userID) {
			return opKeep, nil
		}
		r.Members = r.withoutMember(userID)
		if len(r.Members) == 0 {
			return opDelete, nil
		}
		return opWrite, nil
	})
	if err != nil {
		return "", "", false, err
	}
	return name, nameKey, left == nil, nil
}

// roomDeleted frees the name of a room just deleted.
func (s *Service) roomDeleted(ctx context.Context, roomID, nameKey string) {
	s.deleteIfOwned(ctx, s.roomNames, nameKey, roomID)
	s.log.Info("room deleted", "room", roomID)
}

// cachedRoom returns the room's record and revision from the watched
// cache (nil, 0 if not there), as a first guess for a compare-and-set.
func (s *Service) cachedRoom(id string) (*roomRecord, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.roomCache[id], s.roomRevs[id]
}

// appendNotice appends a join or leave notice for u to room's log and
// returns its seq.
func (s *Service) appendNotice(ctx context.Context, u *userRecord, roomID, roomName string, typ int) (uint64, error) {
	view := s.userView(u)
	view.Online = typ == MessageJoined || view.Online
	view.CurrentRoom = &RoomRef{ID: roomID, Name: roomName}
	if typ == MessageLeft {
		view.CurrentRoom = nil
	}
	ev := logEvent{Type: typ, ID: newID("m"), TS: s.now(), User: view}
	b, err := json.Marshal(&ev)
	if err != nil {
		return 0, fmt.Errorf("encode notice: %w", err)
	}
	seq, err := s.events.Append(ctx, roomID, b)
	if err != nil {
		return 0, fmt.Errorf("append notice to %q: %w", roomID, err)
	}
	return seq, nil
}

// SwitchRoom moves the user into room: they join it first (so they are
// never in no room), then their record points at it, then they leave the
// old room, which is deleted if they were its last member.
func (s *Service) SwitchRoom(ctx context.Context, userID, roomID string) (Room, error) {
	if !ValidID(roomID) {
		return Room{}, apierr.New(apierr.CodeRoomNotFound, "no such room")
	}
	u, err := s.freshUser(ctx, userID)
	if errors.Is(err, apierr.ErrNotFound) {
		return Room{}, apierr.New(apierr.CodeUnauthorized, "not logged in")
	}
	if err != nil {
		return Room{}, fmt.Errorf("get user: %w", err)
	}
	if u.Room == roomID {
		return s.Room(ctx, roomID)
	}
	r, joinSeq, err := s.joinRoom(ctx, u, roomID)
	if err != nil {
		return Room{}, err
	}
	var old string
	_, _, err = s.modifyUser(ctx, userID, func(cur *userRecord) (op, error) {
		old = cur.Room
		cur.Room, cur.JoinSeq = roomID, joinSeq
		return opWrite, nil
	})
	if err != nil {
		// The user vanished (logout) or the store failed: undo the join.
		_ = s.leaveRoom(context.WithoutCancel(ctx), u, roomID)
		if errors.Is(err, apierr.ErrNotFound) {
			return Room{}, apierr.New(apierr.CodeUnauthorized, "not logged in")
		}
		return Room{}, fmt.Errorf("record room: %w", err)
	}
	if old != "" && old != roomID {
		if err := s.leaveRoom(ctx, u, old); err != nil {
			s.log.Warn("leave old room", "user", userID, "room", old, "err", err)
		}
	}
	return s.roomView(r), nil
}

// CreateRoom creates a room with a unique name and moves its creator in.
func (s *Service) CreateRoom(ctx context.Context, userID, rawName, rawDesc string) (Room, error) {
	name, err := NormalizeRoomName(rawName)
	if err != nil {
		return Room{}, apierr.New(apierr.CodeInvalidRoom, "room name: %s", reason(err))
	}
	desc, err := NormalizeRoomDescription(rawDesc)
	if err != nil {
		return Room{}, apierr.New(apierr.CodeInvalidRoom, "room description: %s", reason(err))
	}
	key := RoomNameKey(name)
	id := newID("r")
	if _, err := s.roomNames.Create(ctx, key, []byte(id)); err != nil {
		if errors.Is(err, apierr.ErrExists) {
			return Room{}, apierr.New(apierr.CodeRoomNameTaken, "a room called %q exists", name)
		}
		return Room{}, fmt.Errorf("claim room name: %w", err)
	}
	rec := &roomRecord{ID: id, Name: name, NameKey: key, Description: desc, CreatedAt: s.now(), CreatedBy: userID, Members: []string{}}
	rev, err := s.rooms.create(ctx, id, rec)
	if err != nil {
		s.deleteIfOwned(context.WithoutCancel(ctx), s.roomNames, key, id)
		return Room{}, fmt.Errorf("create room: %w", err)
	}
	s.wroteRoom(id, rec, rev)
	s.log.Info("room created", "room", id, "user", userID)
	room, err := s.SwitchRoom(ctx, userID, id)
	if err != nil {
		// Nobody will ever leave it: remove the empty room now.
		s.deleteEmptyRoom(context.WithoutCancel(ctx), id)
		return Room{}, err
	}
	return room, nil
}

// deleteEmptyRoom deletes a non-persistent room that has no member.
func (s *Service) deleteEmptyRoom(ctx context.Context, id string) {
	var key string
	_, _, err := s.rooms.modify(ctx, id, func(r *roomRecord) (op, error) {
		if r.Persistent || len(r.Members) > 0 {
			return opKeep, errNotEmpty
		}
		key = r.NameKey
		return opDelete, nil
	})
	if err == nil {
		s.deleteIfOwned(ctx, s.roomNames, key, id)
		s.log.Info("empty room deleted", "room", id)
	}
}

var errNotEmpty = errors.New("room not empty")

// CachedRoom returns a room from the watched cache (no store read; it may
// lag the store briefly). For callers that must not wait on the store.
func (s *Service) CachedRoom(id string) (Room, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.roomCache[id]
	if r == nil {
		return Room{}, false
	}
	return s.roomViewLocked(r), true
}
