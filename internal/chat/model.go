package chat

import (
	"crypto/rand"
	"encoding/base32"
	"maps"
	"slices"
	"strings"
)

// Message types.
const (
	MessageText   = 0
	MessageJoined = 1
	MessageLeft   = 2
)

// User is a user as clients see it. It never carries the token.
type User struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	AvatarURL   string   `json:"avatar_url"`
	Online      bool     `json:"online"`
	CurrentRoom *RoomRef `json:"current_room"`
	CreatedAt   int64    `json:"created_at"`
}

// RoomRef names a room inside a User.
type RoomRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// JoinSeq is the seq of the join notice that began the user's
	// membership (0 when unknown). Not sent to clients: Authenticate fills
	// it in, for the transport to keep earlier events from a new socket.
	JoinSeq uint64 `json:"-"`
}

// Room is a room as clients see it.
type Room struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Persistent  bool   `json:"persistent"`
	AvatarURL   string `json:"avatar_url"`
	MemberCount int    `json:"member_count"`
}

// Message is a room event as clients see it: a text message (type 0, with
// Sender and Content) or a join/leave notice (types 1 and 2, with User).
type Message struct {
	ID         string      `json:"id"`
	RoomID     string      `json:"room_id"`
	Seq        uint64      `json:"seq"`
	Type       int         `json:"type"`
	Timestamp  int64       `json:"timestamp"`
	Sender     *User       `json:"sender,omitempty"`
	User       *User       `json:"user,omitempty"`
	Content    string      `json:"content,omitempty"`
	Attachment *Attachment `json:"attachment,omitempty"`
	// ClientID is the sender's idempotency key of a text message, when
	// one was given (MessageInput.ClientID).
	ClientID string `json:"client_id,omitempty"`
	// Duplicate is set on SendMessage's answer when the send repeated an
	// earlier one's ClientID: the Message is that earlier one, and nothing
	// new was stored or delivered. Never sent to clients as a field.
	Duplicate bool `json:"-"`
}

// Attachment is an image carried by a text message.
type Attachment struct {
	ID           string `json:"id"`
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	ContentType  string `json:"content_type"`
	Alt          string `json:"alt,omitempty"`
}

// userRecord is the stored form of a user (bucket "users", key = id).
type userRecord struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	NameKey   string `json:"name_key"`
	TokenHash string `json:"token_hash"`
	// TokenNamesUser: the token is "<ID>.<secret>" (Register) and nothing
	// else stores its hash. False for records from before that form, whose
	// token the tokens bucket maps to ID.
	TokenNamesUser bool   `json:"token_names_user,omitempty"`
	CreatedAt      int64  `json:"created_at"`
	Room           string `json:"room"`
	// JoinSeq is the seq of the join notice that began the user's
	// membership of Room (0 for records older than it): what a resume may
	// replay starts there.
	JoinSeq uint64 `json:"join_seq,omitempty"`
	// Sessions counts the user's live connections per node.
	Sessions map[string]int `json:"sessions,omitempty"`
	// OfflineSince is when the last connection dropped (unix ms); 0 while
	// online or never connected yet (then CreatedAt counts).
	OfflineSince int64 `json:"offline_since,omitempty"`
}

// roomRecord is the stored form of a room (bucket "rooms", key = id).
type roomRecord struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	NameKey     string   `json:"name_key"`
	Description string   `json:"description"`
	Persistent  bool     `json:"persistent"`
	CreatedAt   int64    `json:"created_at"`
	CreatedBy   string   `json:"created_by,omitempty"`
	Members     []string `json:"members"`
}

// clone returns a deep copy of u (its sessions map its own).
func (u *userRecord) clone() *userRecord {
	c := *u
	c.Sessions = maps.Clone(u.Sessions)
	return &c
}

// clone returns a deep copy of r (its member list its own).
func (r *roomRecord) clone() *roomRecord {
	c := *r
	c.Members = slices.Clone(r.Members)
	return &c
}

func (r *roomRecord) hasMember(id string) bool {
	for _, m := range r.Members {
		if m == id {
			return true
		}
	}
	return false
}

func (r *roomRecord) withoutMember(id string) []string {
	out := make([]string, 0, len(r.Members))
	for _, m := range r.Members {
		if m != id {
			out = append(out, m)
		}
	}
	return out
}

// logEvent is the stored form of a room event (room log).
type logEvent struct {
	Type       int         `json:"type"`
	ID         string      `json:"id"`
	TS         int64       `json:"ts"`
	User       User        `json:"user"`
	Content    string      `json:"content,omitempty"`
	Attachment *Attachment `json:"attachment,omitempty"`
	ClientID   string      `json:"client_id,omitempty"`
}

// message turns a stored event into the client form.
func (e *logEvent) message(room string, seq uint64) Message {
	m := Message{ID: e.ID, RoomID: room, Seq: seq, Type: e.Type, Timestamp: e.TS}
	u := e.User
	if e.Type == MessageText {
		m.Sender, m.Content, m.Attachment, m.ClientID = &u, e.Content, e.Attachment, e.ClientID
	} else {
		m.User = &u
	}
	return m
}

// UserAvatarURL and RoomAvatarURL are where the avatars are served.
func UserAvatarURL(id string) string { return "/api/avatars/users/" + id + ".svg" }

// RoomAvatarURL is the avatar URL of room id.
func RoomAvatarURL(id string) string { return "/api/avatars/rooms/" + id + ".svg" }

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns prefix followed by 80 random bits in lowercase base32.
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])
}

// ValidID reports whether id could be an id the server issues: a user,
// room, node or attachment id is 1 to 64 of A-Z a-z 0-9 _ -. It keeps
// junk out of KV keys and URLs; whether the id exists is the store's to
// say.
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) < 0
}
