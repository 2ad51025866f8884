package chat

// Re-keying of name claims when NicknameKey or RoomNameKey changes.
//
// A nickname is claimed by an entry key → user id in the nicks bucket, a
// room name by key → room id in the roomnames bucket, and each record
// keeps the key it claimed (NameKey), which is what its removal releases.
// When the key function changes (as when keys started folding NFKC and
// small capitals, and room names started using the confusable skeleton),
// a record's NameKey may differ from the key of its name today. Such a
// claim still protects nothing: the check of a new name looks up the new
// key only. So every node, at start, once its caches hold every user and
// room, moves each stale claim to the current key (migrateNameKeys); the
// persistent rooms do the same for theirs in ensureRoom, and take their
// key over from a user's room that holds it (a look-alike created before
// room names were compared by look-alike key: "Default Rооm"). Moving is
// idempotent and safe on several nodes at once: claim the new key (Create;
// finding it already ours is fine), record it in the record (compare-and-
// set, only if the record still names the old key), then release the old
// key if it is still ours. A record removed meanwhile gets its new claim
// released again.
//
// Two names that were distinct under the old key and collide under the
// new one (say "peter" and "ｐｅｔｅｒ", both registered before the change)
// cannot both hold the new key. The first to move gets it; the other keeps
// its old key, and with it its name, until it is removed (logout, expiry,
// last member leaving), and is retried at every start. Nobody new can take
// a look-alike of either: the new key is held.

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// errClaimHeld: the current key of a name is held by another owner.
var errClaimHeld = errors.New("the name's key is held by a look-alike")

// staleClaim is a record whose NameKey is not the key of its name.
type staleClaim struct {
	id, oldKey, newKey string
}

// migrateNameKeys moves the claims of every cached user and room whose
// stored key is not the current key of its name. It logs what it could
// not move and returns only when ctx ends.
func (s *Service) migrateNameKeys(ctx context.Context) error {
	var users, rooms []staleClaim
	s.mu.RLock()
	type named struct{ id, name, key string }
	us := make([]named, 0, len(s.userCache))
	for _, u := range s.userCache {
		us = append(us, named{u.ID, u.Name, u.NameKey})
	}
	rs := make([]named, 0, len(s.roomCache))
	for _, r := range s.roomCache {
		rs = append(rs, named{r.ID, r.Name, r.NameKey}) // configured persistent rooms are done: ensureRoom
	}
	s.mu.RUnlock()
	for _, u := range us {
		if k := NicknameKey(u.name); k != u.key {
			users = append(users, staleClaim{u.id, u.key, k})
		}
	}
	for _, r := range rs {
		if k := RoomNameKey(r.name); k != r.key {
			rooms = append(rooms, staleClaim{r.id, r.key, k})
		}
	}
	moved, kept := 0, 0
	for _, c := range users {
		err := s.moveClaim(ctx, s.nicks, c, false, func(ctx context.Context) error {
			_, _, err := s.modifyUser(ctx, c.id, func(u *userRecord) (op, error) {
				if u.NameKey != c.oldKey {
					return opKeep, nil
				}
				u.NameKey = c.newKey
				return opWrite, nil
			})
			return err
		})
		moved, kept = s.countMove(ctx, "user", c, err, moved, kept)
	}
	for _, c := range rooms {
		err := s.moveClaim(ctx, s.roomNames, c, false, func(ctx context.Context) error {
			return s.setRoomNameKey(ctx, c)
		})
		moved, kept = s.countMove(ctx, "room", c, err, moved, kept)
	}
	if moved+kept > 0 {
		s.log.Info("name claims re-keyed", "moved", moved, "kept_old_key", kept)
	}
	return ctx.Err()
}

func (s *Service) countMove(ctx context.Context, what string, c staleClaim, err error, moved, kept int) (int, int) {
	switch {
	case err == nil:
		return moved + 1, kept
	case errors.Is(err, errClaimHeld):
		s.log.Warn("name claim kept under its old key: a look-alike holds the new one", what, c.id)
		return moved, kept + 1
	case errors.Is(err, apierr.ErrNotFound), ctx.Err() != nil:
		return moved, kept
	default:
		s.log.Warn("re-key name claim", what, c.id, "err", err)
		return moved, kept
	}
}

// setRoomNameKey records c.newKey in the room, if it still names c.oldKey.
func (s *Service) setRoomNameKey(ctx context.Context, c staleClaim) error {
	_, _, err := s.rooms.modify(ctx, c.id, func(r *roomRecord) (op, error) {
		if r.NameKey != c.oldKey {
			return opKeep, nil
		}
		r.NameKey = c.newKey
		return opWrite, nil
	})
	return err
}

// moveClaim claims c.newKey for c.id in claims, lets record store it, and
// releases c.oldKey. With oldKey == newKey it only makes sure the claim
// exists. When another owner holds the new key it returns errClaimHeld and
// changes nothing, unless take is set: then the claim is taken over (the
// other owner's later release of it does nothing, since releases check
// the owner). It returns apierr.ErrNotFound when the record is gone (its new
// claim released again).
func (s *Service) moveClaim(ctx context.Context, claims KV, c staleClaim, take bool, record func(context.Context) error) error {
	if err := s.claim(ctx, claims, c.newKey, c.id, take); err != nil {
		return err
	}
	if c.oldKey == c.newKey {
		return nil
	}
	if err := record(ctx); err != nil {
		if errors.Is(err, apierr.ErrNotFound) {
			s.deleteIfOwned(context.WithoutCancel(ctx), claims, c.newKey, c.id)
		}
		return err
	}
	s.deleteIfOwned(ctx, claims, c.oldKey, c.id)
	return nil
}

// claim makes key map to owner in claims: creates it, accepts it when it
// already maps to owner, and otherwise returns errClaimHeld or, with take,
// overwrites it by compare-and-set.
func (s *Service) claim(ctx context.Context, claims KV, key, owner string, take bool) error {
	for range maxCASRetries {
		_, err := claims.Create(ctx, key, []byte(owner))
		if err == nil {
			return nil
		}
		if !errors.Is(err, apierr.ErrExists) {
			return fmt.Errorf("claim: %w", err)
		}
		e, err := claims.Get(ctx, key)
		if errors.Is(err, apierr.ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return fmt.Errorf("read claim: %w", err)
		}
		if string(e.Value) == owner {
			return nil
		}
		if !take {
			return errClaimHeld
		}
		_, err = claims.Update(ctx, key, []byte(owner), e.Revision)
		if err == nil {
			return nil
		}
		if !errors.Is(err, apierr.ErrConflict) && !errors.Is(err, apierr.ErrNotFound) {
			return fmt.Errorf("take claim: %w", err)
		}
	}
	return fmt.Errorf("claim: %w: too much contention", apierr.ErrUnavailable)
}
