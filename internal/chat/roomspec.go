package chat

// Persistent rooms: their specification (RoomSpec, DefaultRooms,
// ParseRoomSpecs) and ensureRoom, which makes each exist at Start.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// RoomSpec describes a persistent room.
type RoomSpec struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// DefaultRooms are the persistent rooms when none are configured; the
// first one is where new users start.
var DefaultRooms = []RoomSpec{
	{ID: "_default", Name: "Default Room", Description: "You join here by default"},
	{ID: "_test", Name: "Testing", Description: "A room for trying things out"},
}

// ParseRoomSpecs reads a persistent-room list: a JSON array of
// {"id","name","description"} with valid, unique ids and names. The first
// room is where new users start.
func ParseRoomSpecs(data []byte) ([]RoomSpec, error) {
	var specs []RoomSpec
	if err := json.Unmarshal(data, &specs); err != nil {
		return nil, fmt.Errorf("parse rooms: %w", err)
	}
	if len(specs) == 0 {
		return nil, errors.New("parse rooms: the list is empty")
	}
	ids, names := map[string]bool{}, map[string]bool{}
	for i, sp := range specs {
		if !ValidID(sp.ID) {
			return nil, fmt.Errorf("parse rooms: room %d: invalid id %q", i, sp.ID)
		}
		name, err := NormalizeRoomName(sp.Name)
		if err != nil {
			return nil, fmt.Errorf("parse rooms: room %q: %w", sp.ID, err)
		}
		if _, err := NormalizeRoomDescription(sp.Description); err != nil {
			return nil, fmt.Errorf("parse rooms: room %q: %w", sp.ID, err)
		}
		key := RoomNameKey(name)
		if ids[sp.ID] || names[key] {
			return nil, fmt.Errorf("parse rooms: room %q: duplicate id or name", sp.ID)
		}
		ids[sp.ID], names[key] = true, true
	}
	return specs, nil
}

func (s *Service) ensureRoom(ctx context.Context, spec RoomSpec) error {
	name, err := NormalizeRoomName(spec.Name)
	if err != nil {
		return err
	}
	desc, err := NormalizeRoomDescription(spec.Description)
	if err != nil {
		return err
	}
	if !ValidID(spec.ID) {
		return fmt.Errorf("invalid room id %q", spec.ID)
	}
	key := RoomNameKey(name)
	rec := &roomRecord{ID: spec.ID, Name: name, NameKey: key, Description: desc, Persistent: true, CreatedAt: s.now(), Members: []string{}}
	if _, err := s.rooms.create(ctx, spec.ID, rec); err != nil && !errors.Is(err, apierr.ErrExists) {
		return err
	}
	r, _, err := s.rooms.modify(ctx, spec.ID, func(r *roomRecord) (op, error) {
		if r.Persistent && r.Name == name && r.Description == desc && len(r.Members) == 0 {
			return opKeep, nil
		}
		// A persistent room keeps no member list (see joinRoom): one
		// left by an earlier version goes.
		r.Persistent, r.Name, r.Description, r.Members = true, name, desc, []string{}
		return opWrite, nil
	})
	if err != nil {
		return err
	}
	// Claim the name's key, moving the claim of an older key (renamed
	// room, changed RoomNameKey) and taking it from a look-alike room.
	c := staleClaim{id: spec.ID, oldKey: r.NameKey, newKey: key}
	return s.moveClaim(ctx, s.roomNames, c, true, func(ctx context.Context) error {
		return s.setRoomNameKey(ctx, c)
	})
}
