package chattest

import (
	"slices"
	"sync"

	"github.com/chatrooms/chatrooms/internal/chat"
)

var _ chat.Listener = (*Recorder)(nil)

// Recorder is a chat.Listener that records what it is told. Safe for
// concurrent use; the zero value is ready.
type Recorder struct {
	mu           sync.Mutex
	events       []chat.Message
	typing       []TypingEvent
	removed      []string
	usersChanged int
	roomsChanged int
}

// TypingEvent is one Listener.Typing call.
type TypingEvent struct {
	Room   string
	User   chat.User
	Typing bool
}

// RoomEvent implements chat.Listener.
func (r *Recorder) RoomEvent(m *chat.Message) {
	r.mu.Lock()
	r.events = append(r.events, *m)
	r.mu.Unlock()
}

// UsersChanged implements chat.Listener.
func (r *Recorder) UsersChanged() {
	r.mu.Lock()
	r.usersChanged++
	r.mu.Unlock()
}

// RoomsChanged implements chat.Listener.
func (r *Recorder) RoomsChanged() {
	r.mu.Lock()
	r.roomsChanged++
	r.mu.Unlock()
}

// UserRemoved implements chat.Listener.
func (r *Recorder) UserRemoved(userID string) {
	r.mu.Lock()
	r.removed = append(r.removed, userID)
	r.mu.Unlock()
}

// Typing implements chat.Listener.
func (r *Recorder) Typing(room string, user chat.User, typing bool) {
	r.mu.Lock()
	r.typing = append(r.typing, TypingEvent{room, user, typing})
	r.mu.Unlock()
}

// Events returns the room events received so far, in order.
func (r *Recorder) Events() []chat.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// TypingEvents returns the typing calls received so far, in order.
func (r *Recorder) TypingEvents() []TypingEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.typing)
}

// Removed returns the ids UserRemoved was called with, in order.
func (r *Recorder) Removed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.removed)
}

// Changes returns how many UsersChanged and RoomsChanged calls came.
func (r *Recorder) Changes() (users, rooms int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.usersChanged, r.roomsChanged
}
