package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// Reasons a resume is refused (the "reason" of a recovery event).
const (
	ResumeRoomChanged  = "room_changed"
	ResumeNotAMember   = "not_a_member"
	ResumeWindowPassed = "window_passed"
	ResumeInvalidSeq   = "invalid_seq"
)

// Replay bounds: a resume that would replay more events, or more bytes of
// stored events, than these is refused as window_passed (the client then
// starts afresh) rather than flood one connection's queue.
const (
	ReplayMaxEvents = 1000
	ReplayMaxBytes  = 1 << 20
)

// ResumeRefused is Replay's answer when it cannot give exactly what the
// client missed; Reason is one of the Resume* constants.
type ResumeRefused struct{ Reason string }

func (e *ResumeRefused) Error() string { return "resume refused: " + e.Reason }

// Replay returns, in seq order, the events of room roomID with seq > after
// that userID is entitled to: those from the join notice that began their
// current membership on, up to and including their own leave notice if
// one is stored. It reads the room log, so it works on any node. When it
// cannot, it returns a *ResumeRefused:
//   - ResumeNotAMember: no such room (deleted, unknown), or the user is
//     not among its members;
//   - ResumeRoomChanged: the room exists but is not the user's current room;
//   - ResumeWindowPassed: events after `after` (or the user's join) are no
//     longer stored, or more than ReplayMaxEvents / ReplayMaxBytes missed;
//   - ResumeInvalidSeq: `after` is at or past the user's join but is not
//     the seq of a stored event of the room (ahead of it, or another
//     room's).
//
// Safe for concurrent use; it makes store and log reads (bounded by ctx).
func (s *Service) Replay(ctx context.Context, userID, roomID string, after uint64) ([]Message, error) {
	u, _, err := s.users.get(ctx, userID)
	if errors.Is(err, apierr.ErrNotFound) {
		return nil, apierr.New(apierr.CodeUnauthorized, "not logged in")
	}
	if err != nil {
		return nil, fmt.Errorf("replay: get user: %w", err)
	}
	if !ValidID(roomID) {
		return nil, &ResumeRefused{ResumeNotAMember}
	}
	r, _, err := s.rooms.get(ctx, roomID)
	if errors.Is(err, apierr.ErrNotFound) {
		return nil, &ResumeRefused{ResumeNotAMember}
	}
	if err != nil {
		return nil, fmt.Errorf("replay: get room: %w", err)
	}
	if u.Room != roomID {
		return nil, &ResumeRefused{ResumeRoomChanged}
	}
	if !r.Persistent && !r.hasMember(userID) { // a persistent room's members are its users' records
		return nil, &ResumeRefused{ResumeNotAMember}
	}
	join := u.JoinSeq
	if join == 0 {
		// A record from before join seqs were kept: where the membership
		// began is unknown.
		return nil, &ResumeRefused{ResumeWindowPassed}
	}
	// Read from the event the client saw (or from the join notice): it
	// must still be stored, which proves nothing after it was dropped
	// (the stream drops a room's oldest events first).
	first := max(after, join)
	entries, err := s.events.Since(ctx, roomID, first-1, ReplayMaxEvents+2)
	if err != nil {
		return nil, fmt.Errorf("replay: read room log: %w", err)
	}
	if len(entries) == 0 || entries[0].Seq != first {
		if first == join {
			return nil, &ResumeRefused{ResumeWindowPassed}
		}
		oldest, err := s.events.Since(ctx, roomID, 0, 1)
		if err != nil {
			return nil, fmt.Errorf("replay: read room log: %w", err)
		}
		if len(oldest) > 0 && oldest[0].Seq > after {
			return nil, &ResumeRefused{ResumeWindowPassed}
		}
		return nil, &ResumeRefused{ResumeInvalidSeq}
	}
	if first == after {
		entries = entries[1:] // the client has it
	}
	out := make([]Message, 0, len(entries))
	size := 0
	for _, e := range entries {
		size += len(e.Data)
		if len(out) == ReplayMaxEvents || size > ReplayMaxBytes {
			return nil, &ResumeRefused{ResumeWindowPassed}
		}
		var ev logEvent
		if err := json.Unmarshal(e.Data, &ev); err != nil {
			s.log.Error("bad room event", "room", e.Room, "seq", e.Seq, "err", err)
			continue
		}
		m := ev.message(roomID, e.Seq)
		out = append(out, m)
		if m.Type == MessageLeft && m.User != nil && m.User.ID == userID {
			break // their membership ended here
		}
	}
	return out, nil
}
