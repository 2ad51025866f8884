package chat

// Identity: registration (nickname and token), authentication, logout
// and the removal of expired users.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Register claims a nickname and creates a user in the default room. It
// returns the user and their secret token (shown once, stored hashed).
//
// The token is the user's id, a dot and 256 random bits: the user's record
// holds its hash (TokenNamesUser), so registering writes no token entry
// and authenticating reads the (cached) record only. The id in it is
// public and proves nothing; the secret part does. Tokens issued before
// this form (no dot) are still looked up in the tokens bucket.
func (s *Service) Register(ctx context.Context, raw string) (User, string, error) {
	name, err := NormalizeNickname(raw)
	if err != nil {
		return User{}, "", apierr.New(apierr.CodeInvalidUsername, "the nickname %s", reason(err))
	}
	key := NicknameKey(name)
	id := newID("u")
	var tb [32]byte
	_, _ = rand.Read(tb[:])
	token := id + "." + base64.RawURLEncoding.EncodeToString(tb[:])
	th := hashToken(token)

	_, nickErr := s.nicks.Create(ctx, key, []byte(id))
	switch {
	case errors.Is(nickErr, apierr.ErrExists):
		return User{}, "", apierr.New(apierr.CodeUsernameTaken, "the nickname %q is taken", name)
	case nickErr != nil:
		return User{}, "", fmt.Errorf("claim nickname: %w", nickErr)
	}
	// From here on a failure releases the nickname again.
	undo := func() {
		// Best effort: a failure leaves a claim the sweeper cannot see,
		// so log it loudly.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.nicks.Delete(uctx, key, 0); err != nil {
			s.log.Error("release nickname after failed registration", "user", id, "err", err)
		}
	}
	// A store that is failing would hold the answer up for the undo's
	// own timeouts: then it runs behind the answer.
	rollback := func(err error) {
		if errors.Is(err, apierr.ErrUnavailable) || ctx.Err() != nil {
			go undo()
			return
		}
		undo()
	}
	// The join notice comes first, so that the record is written once,
	// with its room and the seq its membership begins at.
	now := s.now()
	rec := &userRecord{ID: id, Name: name, NameKey: key, TokenHash: th, TokenNamesUser: true, CreatedAt: now, OfflineSince: now}
	room := s.DefaultRoomID()
	_, joinSeq, err := s.joinRoom(ctx, rec, room)
	if err != nil {
		rollback(err)
		return User{}, "", fmt.Errorf("enter default room: %w", err)
	}
	rec.Room, rec.JoinSeq = room, joinSeq
	rev, err := s.users.create(ctx, id, rec)
	if err != nil {
		rollback(err)
		leave := func() {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if lerr := s.leaveRoom(lctx, rec, room); lerr != nil {
				s.log.Warn("leave after failed registration", "user", id, "err", lerr)
			}
		}
		if errors.Is(err, apierr.ErrUnavailable) || ctx.Err() != nil {
			go leave()
		} else {
			leave()
		}
		return User{}, "", fmt.Errorf("create user: %w", err)
	}
	s.wroteUser(id, rec, rev, true)
	s.log.Info("user registered", "user", id)
	return s.userView(rec), token, nil
}

// Authenticate returns the user a token belongs to: for a token of the
// form "<user id>.<secret>", the user whose record holds its hash (from
// the cache, no store request when the record is there); for an older
// token, the user the tokens bucket names.
func (s *Service) Authenticate(ctx context.Context, token string) (User, error) {
	invalid := apierr.New(apierr.CodeUnauthorized, "missing or invalid token")
	if token == "" || len(token) > 128 {
		return User{}, invalid
	}
	id, _, named := strings.Cut(token, ".")
	if !named {
		e, err := s.tokens.Get(ctx, hashToken(token))
		if errors.Is(err, apierr.ErrNotFound) {
			return User{}, invalid
		}
		if err != nil {
			return User{}, fmt.Errorf("look up token: %w", err)
		}
		id = string(e.Value)
	} else if !ValidID(id) {
		return User{}, invalid
	}
	u, err := s.freshUser(ctx, id)
	if errors.Is(err, apierr.ErrNotFound) {
		return User{}, invalid
	}
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	// A token naming its user must match the record's hash; a record
	// whose token is in the tokens bucket accepts only that token.
	if named && (!u.TokenNamesUser || subtle.ConstantTimeCompare([]byte(u.TokenHash), []byte(hashToken(token))) != 1) {
		return User{}, invalid
	}
	v := s.userView(u)
	if v.CurrentRoom != nil && v.CurrentRoom.ID == u.Room {
		v.CurrentRoom.JoinSeq = u.JoinSeq
	}
	return v, nil
}

// Logout removes the user everywhere: their room membership (with a leave
// notice), nickname and token; their sockets on every node are closed.
func (s *Service) Logout(ctx context.Context, userID string) error {
	if !s.removeUser(ctx, userID, false) {
		return apierr.New(apierr.CodeUnauthorized, "not logged in")
	}
	return nil
}

// removeUser deletes the user record (the commit point; when onlyExpired,
// only if still offline past the grace period at that revision), then
// leaves their room and frees nickname and token. It reports whether this
// call removed the user.
func (s *Service) removeUser(ctx context.Context, userID string, onlyExpired bool) bool {
	var gone userRecord
	_, _, err := s.modifyUser(ctx, userID, func(u *userRecord) (op, error) {
		if onlyExpired && !s.expired(u) {
			return opKeep, errNotExpired
		}
		gone = *u
		return opDelete, nil
	})
	if err != nil {
		if !errors.Is(err, errNotExpired) && !errors.Is(err, apierr.ErrNotFound) {
			s.log.Warn("remove user", "user", userID, "err", err)
		}
		return false
	}
	// The nickname and token go first: once the user's room shows them
	// gone (a leave notice, the room deleted), their nickname is free.
	s.deleteIfOwned(ctx, s.nicks, gone.NameKey, userID)
	if !gone.TokenNamesUser { // a token from before tokens named their user
		s.deleteIfOwned(ctx, s.tokens, gone.TokenHash, userID)
	}
	if gone.Room != "" {
		if err := s.leaveRoom(ctx, &gone, gone.Room); err != nil {
			s.log.Warn("leave room on removal", "user", userID, "room", gone.Room, "err", err)
		}
	}
	s.limits.Forget(userID)
	s.log.Info("user removed", "user", userID, "expired", onlyExpired)
	return true
}

var errNotExpired = errors.New("user not expired")

// deleteIfOwned deletes key if it still maps to owner.
func (s *Service) deleteIfOwned(ctx context.Context, kv KV, key, owner string) {
	if key == "" {
		return
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return
	}
	if string(e.Value) == owner {
		if err := kv.Delete(ctx, key, e.Revision); err != nil && !errors.Is(err, apierr.ErrConflict) {
			s.log.Warn("release key", "owner", owner, "err", err)
		}
	}
}

// expired reports whether u has been offline for longer than the grace
// period (sessions on dead nodes do not count).
func (s *Service) expired(u *userRecord) bool {
	s.mu.RLock()
	online := s.onlineLocked(u)
	s.mu.RUnlock()
	return !online && u.OfflineSince > 0 && s.now()-u.OfflineSince >= s.cfg.Grace.Milliseconds()
}
