package chat

import (
	"context"
	"time"
)

// Entry is one key-value entry. Deleted entries appear only in watches.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
	Deleted  bool
}

// KV is one key-value bucket with compare-and-set semantics. Keys are
// non-empty strings of [A-Za-z0-9_=.-]. Implementations are safe for
// concurrent use, and every method reads or writes the authoritative state
// (no cache): two callers racing on Create or on Update of one revision
// get exactly one winner.
type KV interface {
	// Get returns the entry, or an error wrapping apierr.ErrNotFound.
	Get(ctx context.Context, key string) (Entry, error)
	// Create stores a new key; an existing key gives apierr.ErrExists.
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	// Update replaces the value if the key is still at revision rev;
	// otherwise apierr.ErrConflict (apierr.ErrNotFound if it is gone).
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
	// Delete removes the key if it is still at revision rev (0: whatever
	// its revision); otherwise apierr.ErrConflict. Deleting a missing key is not
	// an error when rev is 0.
	Delete(ctx context.Context, key string, rev uint64) error
	// Keys lists the current keys.
	Keys(ctx context.Context) ([]string, error)
	// Watch calls fn with every current entry, then with the changes
	// (Deleted set for deletions and purges), in revision order, until ctx
	// ends. A key changed again before its change was delivered may be
	// passed once, with its latest value (buckets keep one revision a
	// key): fn always ends up with the current value; onReady runs once after the initial entries. Watch returns
	// once the watch is established; fn and onReady run on one goroutine.
	Watch(ctx context.Context, fn func(Entry), onReady func()) error
}

// LogEntry is one event read from the room log.
type LogEntry struct {
	Room string
	// Seq is the event's sequence number, increasing within a room (and
	// across rooms: gaps within one room are normal).
	Seq  uint64
	Time time.Time
	Data []byte
}

// Log is the durable, ordered log of room events (messages, joins,
// leaves). Safe for concurrent use.
type Log interface {
	// Append stores data as the next event of room and returns its
	// sequence number once it is durably stored.
	Append(ctx context.Context, room string, data []byte) (uint64, error)
	// AppendOnce is Append with an idempotency key id (not empty): the
	// first AppendOnce of id stores data and returns its seq with a nil
	// dup; a repeat of id within the duplicate window (at least two
	// minutes), from any node and to any room, stores nothing and returns
	// the first one's stored event as dup (its Room, Seq and Data).
	AppendOnce(ctx context.Context, room, id string, data []byte) (seq uint64, dup *LogEntry, err error)
	// Follow calls fn, on one goroutine and in order, for every event
	// appended after Follow was called, until ctx ends. It returns once
	// following has started.
	Follow(ctx context.Context, fn func(LogEntry)) error
	// Since returns up to max events of room with Seq > after, in order.
	Since(ctx context.Context, room string, after uint64, max int) ([]LogEntry, error)
}

// Signals carries ephemeral, best-effort notifications between nodes
// (typing, logouts); nothing is stored. Safe for concurrent use.
type Signals interface {
	// Publish sends data on subject (tokens of [A-Za-z0-9_-] joined by '.').
	Publish(ctx context.Context, subject string, data []byte) error
	// Subscribe calls fn for every message on subjects matching pattern
	// ('*' one token, '>' the rest) until ctx ends. fn runs on one
	// goroutine per subscription.
	Subscribe(ctx context.Context, pattern string, fn func(subject string, data []byte)) error
}

// FileInfo is an uploaded file as the service checks it before a message
// carries it: who uploaded it, until when, and the Attachment itself (its
// Alt empty: the sender gives that).
type FileInfo struct {
	Attachment
	Owner     string // user id of the uploader
	ExpiresAt time.Time
}

// Files looks up uploaded files (images attached to messages). Safe for
// concurrent use.
type Files interface {
	// Lookup returns the file, or an error wrapping apierr.ErrNotFound when it is
	// unknown or expired.
	Lookup(ctx context.Context, id string) (FileInfo, error)
}
