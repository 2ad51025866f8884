package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// MessageInput is what a user sends: text, an image uploaded before, or
// both.
type MessageInput struct {
	Content      string
	AttachmentID string
	Alt          string
	// ClientID, when not nil, makes the send idempotent: 1 to
	// ClientIDMaxLen characters of [A-Za-z0-9_-] (else invalid_request;
	// an empty one included). See SendMessage.
	ClientID *string
}

// ClientIDMaxLen is the longest MessageInput.ClientID.
const ClientIDMaxLen = 64

// validClientID reports whether id is 1..ClientIDMaxLen characters of
// [A-Za-z0-9_-].
func validClientID(id string) bool {
	if id == "" || len(id) > ClientIDMaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// SendMessage appends a message to the user's current room and returns it
// with its sequence number; every member receives it. An attachment must
// have been uploaded by the same user and not have expired.
//
// With in.ClientID, a second send of the same user with the same
// ClientID within the log's duplicate window (two minutes), on any node,
// stores and delivers nothing and returns the first send's Message (its
// room, even if the user moved since, its id and seq) with Duplicate set.
// The repeat is checked like any send (content, attachment, rate limit)
// before the log can tell it is one; once it is, its rate-limit token is
// given back, so retrying costs no allowance. Its content is not
// compared with the original's.
func (s *Service) SendMessage(ctx context.Context, userID string, in MessageInput) (Message, error) {
	var clientID string
	if in.ClientID != nil {
		if clientID = *in.ClientID; !validClientID(clientID) {
			return Message{}, apierr.New(apierr.CodeInvalidRequest, "client_id must be 1 to %d characters of A-Z a-z 0-9 _ -", ClientIDMaxLen)
		}
	}
	var content string
	if in.AttachmentID == "" || strings.TrimSpace(in.Content) != "" {
		var err error
		if content, err = NormalizeMessage(in.Content); err != nil {
			return Message{}, apierr.New(apierr.CodeInvalidMessage, "message: %s", reason(err))
		}
	}
	var att *Attachment
	if in.AttachmentID != "" {
		var err error
		if att, err = s.attachment(ctx, userID, in.AttachmentID, in.Alt); err != nil {
			return Message{}, err
		}
	}
	ok, wait, undoLimit := s.limits.Take(userID)
	if !ok {
		return Message{}, apierr.RateLimited("you are sending messages too fast", wait)
	}
	u, err := s.freshUser(ctx, userID)
	if errors.Is(err, apierr.ErrNotFound) {
		return Message{}, apierr.New(apierr.CodeUnauthorized, "not logged in")
	}
	if err != nil {
		return Message{}, fmt.Errorf("get user: %w", err)
	}
	if u.Room == "" {
		return Message{}, apierr.New(apierr.CodeRoomNotFound, "you are in no room")
	}
	view := s.userView(u)
	view.Online = true
	ev := logEvent{Type: MessageText, ID: newID("m"), TS: s.now(), User: view, Content: content, Attachment: att, ClientID: clientID}
	b, err := json.Marshal(&ev)
	if err != nil {
		return Message{}, fmt.Errorf("encode message: %w", err)
	}
	var seq uint64
	if clientID == "" {
		seq, err = s.events.Append(ctx, u.Room, b)
	} else {
		var dup *LogEntry
		// The log deduplicates on this id; a user id never contains ':'.
		seq, dup, err = s.events.AppendOnce(ctx, u.Room, userID+":"+clientID, b)
		if err == nil && dup != nil {
			undoLimit()
			return duplicateMessage(dup, clientID)
		}
		if errors.Is(err, apierr.ErrNotFound) {
			// A repeat whose original has left the log already (its
			// room's event limit, or the room's deletion).
			undoLimit()
			return Message{}, apierr.New(apierr.CodeInvalidRequest, "client_id was used by a message that is no longer stored")
		}
	}
	if err != nil {
		return Message{}, fmt.Errorf("append message: %w", err)
	}
	s.stopTyping(ctx, userID)
	return ev.message(u.Room, seq), nil
}

// duplicateMessage is SendMessage's answer to a repeated client id: the
// stored original, marked Duplicate.
func duplicateMessage(e *LogEntry, clientID string) (Message, error) {
	var ev logEvent
	if err := json.Unmarshal(e.Data, &ev); err != nil {
		return Message{}, fmt.Errorf("decode the original of client id %q (seq %d): %w", clientID, e.Seq, err)
	}
	m := ev.message(e.Room, e.Seq)
	m.Duplicate = true
	return m, nil
}

// attachment checks that the user may send attachment id and returns it
// as messages carry it.
func (s *Service) attachment(ctx context.Context, userID, id, rawAlt string) (*Attachment, error) {
	notFound := apierr.New(apierr.CodeAttachmentNotFound, "no such attachment, or it expired")
	if s.files == nil || !ValidID(id) {
		return nil, notFound
	}
	// The text alternative follows the rules of a room description: one
	// line of printable text, at most RoomDescriptionMaxLen characters.
	alt, err := NormalizeRoomDescription(rawAlt)
	if err != nil {
		return nil, apierr.New(apierr.CodeInvalidMessage, "image description: %s", reason(err))
	}
	info, err := s.files.Lookup(ctx, id)
	switch {
	case errors.Is(err, apierr.ErrNotFound):
		return nil, notFound
	case err != nil:
		return nil, fmt.Errorf("look up attachment: %w", err)
	case info.Owner != userID || !info.ExpiresAt.After(s.cfg.Now()):
		return nil, notFound
	}
	att := info.Attachment
	att.Alt = alt
	return &att, nil
}

// typingSignal is what nodes exchange about typing.
type typingSignal struct {
	User   User `json:"user"`
	Typing bool `json:"typing"`
}

// Typing tells the other members of the user's room that they started or
// stopped typing. A start expires by itself after TypingTTL unless renewed;
// a renewal within TypingFanout of the last start passed on is not passed
// on again; a stop is passed on only if a start was.
func (s *Service) Typing(ctx context.Context, userID string, typing bool) error {
	view, room, ok := s.cachedUser(userID)
	if !ok {
		return apierr.New(apierr.CodeUnauthorized, "not logged in")
	}
	now := s.cfg.Now()
	s.typingMu.Lock()
	st := s.typing[userID]
	stoppedIn := "" // a room where the user stopped typing (moved away, or said so)
	if st != nil && (st.room != room || !typing) {
		st.timer.Stop()
		delete(s.typing, userID)
		stoppedIn = st.room
		st = nil
	}
	publish := false
	if typing {
		if st == nil {
			st = &typingState{room: room}
			s.typing[userID] = st
			// The expiry outlives this call: it keeps ctx's values, not
			// its end.
			base := context.WithoutCancel(ctx)
			st.timer = s.cfg.Clock.AfterFunc(s.cfg.TypingTTL, func() { s.expireTyping(base, userID, st) })
		} else {
			st.timer.Reset(s.cfg.TypingTTL)
		}
		if st.sent.IsZero() || now.Sub(st.sent) >= s.cfg.TypingFanout {
			st.sent = now
			publish = true
		}
	}
	s.typingMu.Unlock()
	if stoppedIn != "" {
		err := s.publishTyping(ctx, stoppedIn, view, false)
		if !typing {
			return err
		}
	}
	if !publish {
		return nil
	}
	return s.publishTyping(ctx, room, view, true)
}

func (s *Service) expireTyping(base context.Context, userID string, st *typingState) {
	s.typingMu.Lock()
	if s.typing[userID] != st {
		s.typingMu.Unlock()
		return
	}
	delete(s.typing, userID)
	s.typingMu.Unlock()
	if view, _, ok := s.cachedUser(userID); ok {
		ctx, cancel := context.WithTimeout(base, 5*time.Second)
		defer cancel()
		_ = s.publishTyping(ctx, st.room, view, false)
	}
}

// stopTyping ends the user's typing indicator, if any (a sent message
// ends it).
func (s *Service) stopTyping(ctx context.Context, userID string) {
	s.typingMu.Lock()
	st := s.typing[userID]
	if st != nil {
		st.timer.Stop()
		delete(s.typing, userID)
	}
	s.typingMu.Unlock()
	if st == nil {
		return
	}
	if view, _, ok := s.cachedUser(userID); ok {
		_ = s.publishTyping(ctx, st.room, view, false)
	}
}

// cachedUser returns the user's client view and room from the watched
// cache (typing indicators need no fresher read).
func (s *Service) cachedUser(userID string) (User, string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.userCache[userID]
	if u == nil {
		return User{}, "", false
	}
	return s.userViewLocked(u), u.Room, true
}

func (s *Service) publishTyping(ctx context.Context, room string, u User, typing bool) error {
	b, err := json.Marshal(typingSignal{User: u, Typing: typing})
	if err != nil {
		return fmt.Errorf("encode typing: %w", err)
	}
	if err := s.sig.Publish(ctx, "typing."+room, b); err != nil {
		return fmt.Errorf("publish typing: %w", err)
	}
	return nil
}

func (s *Service) onTypingSignal(subject string, data []byte) {
	const prefix = "typing."
	if len(subject) <= len(prefix) {
		return
	}
	var sig typingSignal
	if err := json.Unmarshal(data, &sig); err != nil {
		return
	}
	s.listener.Typing(subject[len(prefix):], sig.User, sig.Typing)
}
