package chattest

import (
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
)

// NodeTTL is the lifetime of an Env's nodes entries, as package
// cluster's DefaultNodeTTL.
const NodeTTL = 15 * time.Second

// Env is everything a chat.Service consumes, in memory, on one fake
// Clock: several services given the same Env share their state like
// nodes sharing one NATS cluster.
type Env struct {
	Clock *Clock
	// The buckets; Nodes has a TTL of NodeTTL.
	Users, Nicks, Tokens, Rooms, RoomNames, Nodes *KV
	Log                                           *Log
	Signals                                       *Signals
	Files                                         *Files
}

// NewEnv returns empty stores on a NewClock.
func NewEnv() *Env {
	c := NewClock()
	return &Env{
		Clock:     c,
		Users:     NewKV("users", c, 0),
		Nicks:     NewKV("nicks", c, 0),
		Tokens:    NewKV("tokens", c, 0),
		Rooms:     NewKV("rooms", c, 0),
		RoomNames: NewKV("roomnames", c, 0),
		Nodes:     NewKV("nodes", c, NodeTTL),
		Log:       NewLog(c),
		Signals:   NewSignals(),
		Files:     NewFiles(c),
	}
}

// Stores returns the buckets as chat.New takes them.
func (e *Env) Stores() chat.Stores {
	return chat.Stores{Users: e.Users, Nicks: e.Nicks, Tokens: e.Tokens, Rooms: e.Rooms, RoomNames: e.RoomNames, Nodes: e.Nodes}
}

// KVs returns every bucket, for a test that fails them all at once.
func (e *Env) KVs() []*KV {
	return []*KV{e.Users, e.Nicks, e.Tokens, e.Rooms, e.RoomNames, e.Nodes}
}
