package chattest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
)

var _ chat.Log = (*Log)(nil)

// DupWindow is how long Log.AppendOnce remembers an id, as the ROOMS
// stream does.
const DupWindow = 2 * time.Minute

// Log is an in-memory chat.Log with the semantics of package cluster's
// room log: one sequence across rooms (so a room's seqs have gaps),
// AppendOnce deduplicating ids for DupWindow on the Clock from any room,
// and, with MaxPerRoom, each room keeping only its latest events (a
// repeat whose original was dropped gets ErrNotFound). Follow delivers on
// one goroutine per call. Safe for concurrent use; get one from NewLog.
type Log struct {
	clock chat.Clock

	mu         sync.Mutex
	seq        uint64
	maxPerRoom int
	events     []chat.LogEntry // stored, by seq
	ids        map[string]dupID
	followers  map[*logFollower]struct{}
	fail       func(op, room string) error
}

type dupID struct {
	seq uint64
	at  time.Time
}

// NewLog returns an empty log on clock (nil: real time).
func NewLog(clock chat.Clock) *Log {
	if clock == nil {
		clock = realClock{}
	}
	return &Log{clock: clock, ids: map[string]dupID{}, followers: map[*logFollower]struct{}{}}
}

// SetMaxPerRoom makes each room keep at most n events (0: no limit),
// dropping its oldest first.
func (l *Log) SetMaxPerRoom(n int) {
	l.mu.Lock()
	l.maxPerRoom = n
	l.mu.Unlock()
}

// FailWith makes every later call consult fn first (op "append",
// "append_once", "follow" or "since", and the room; "" for follow): an
// error from fn fails the call, which stores nothing. Nil stops it.
func (l *Log) FailWith(fn func(op, room string) error) {
	l.mu.Lock()
	l.fail = fn
	l.mu.Unlock()
}

func (l *Log) begin(ctx context.Context, op, room string, checkRoom bool) error {
	if checkRoom && !chat.ValidKey(room) {
		return fmt.Errorf("room log: %s: room %q: %w", op, room, ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("room log: %s %q: %w", op, room, err)
	}
	l.mu.Lock()
	if l.fail != nil {
		if err := l.fail(op, room); err != nil {
			l.mu.Unlock()
			return fmt.Errorf("room log: %s %q: %w", op, room, err)
		}
	}
	return nil
}

// Append implements chat.Log.
func (l *Log) Append(ctx context.Context, room string, data []byte) (uint64, error) {
	if err := l.begin(ctx, "append", room, true); err != nil {
		return 0, err
	}
	defer l.mu.Unlock()
	return l.appendLocked(room, data), nil
}

// AppendOnce implements chat.Log.
func (l *Log) AppendOnce(ctx context.Context, room, id string, data []byte) (uint64, *chat.LogEntry, error) {
	if id == "" {
		return 0, nil, errors.New("room log: append once: empty id")
	}
	if err := l.begin(ctx, "append_once", room, true); err != nil {
		return 0, nil, err
	}
	defer l.mu.Unlock()
	now := l.clock.Now()
	if d, ok := l.ids[id]; ok && now.Sub(d.at) < DupWindow {
		i, found := l.findLocked(d.seq)
		if !found {
			return 0, nil, fmt.Errorf("room log: append once to %q: the original of %q: %w", room, id, apierr.ErrNotFound)
		}
		e := l.events[i]
		e.Data = slices.Clone(e.Data)
		return d.seq, &e, nil
	}
	seq := l.appendLocked(room, data)
	l.ids[id] = dupID{seq: seq, at: now}
	return seq, nil, nil
}

func (l *Log) findLocked(seq uint64) (int, bool) {
	return slices.BinarySearchFunc(l.events, seq, func(e chat.LogEntry, seq uint64) int {
		switch {
		case e.Seq < seq:
			return -1
		case e.Seq > seq:
			return 1
		}
		return 0
	})
}

func (l *Log) appendLocked(room string, data []byte) uint64 {
	l.seq++
	e := chat.LogEntry{Room: room, Seq: l.seq, Time: l.clock.Now(), Data: slices.Clone(data)}
	l.events = append(l.events, e)
	if l.maxPerRoom > 0 {
		n := 0
		for _, x := range l.events {
			if x.Room == room {
				n++
			}
		}
		for i := 0; n > l.maxPerRoom; {
			if l.events[i].Room == room {
				l.events = slices.Delete(l.events, i, i+1)
				n--
				continue
			}
			i++
		}
	}
	for f := range l.followers {
		f.push(e)
	}
	return l.seq
}

// Follow implements chat.Log.
func (l *Log) Follow(ctx context.Context, fn func(chat.LogEntry)) error {
	if err := l.begin(ctx, "follow", "", false); err != nil {
		return err
	}
	f := &logFollower{wake: make(chan struct{}, 1)}
	l.followers[f] = struct{}{}
	l.mu.Unlock()
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		delete(l.followers, f)
		l.mu.Unlock()
	}()
	go f.run(ctx, fn)
	return nil
}

// Since implements chat.Log.
func (l *Log) Since(ctx context.Context, room string, after uint64, max int) ([]chat.LogEntry, error) {
	if err := l.begin(ctx, "since", room, true); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	out := []chat.LogEntry{}
	for _, e := range l.events {
		if len(out) >= max {
			break
		}
		if e.Room == room && e.Seq > after {
			e.Data = slices.Clone(e.Data)
			out = append(out, e)
		}
	}
	return out, nil
}

// Events returns the stored events of room (all rooms if ""), in order.
func (l *Log) Events(room string) []chat.LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []chat.LogEntry
	for _, e := range l.events {
		if room == "" || e.Room == room {
			out = append(out, e)
		}
	}
	return out
}

// DropRoom forgets every stored event of room (the stream's limits or an
// operator dropped them).
func (l *Log) DropRoom(room string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = slices.DeleteFunc(l.events, func(e chat.LogEntry) bool { return e.Room == room })
}

// logFollower is one Follow: a queue drained by one goroutine.
type logFollower struct {
	mu    sync.Mutex
	queue []chat.LogEntry
	wake  chan struct{}
}

func (f *logFollower) push(e chat.LogEntry) {
	e.Data = slices.Clone(e.Data)
	f.mu.Lock()
	f.queue = append(f.queue, e)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *logFollower) run(ctx context.Context, fn func(chat.LogEntry)) {
	for {
		f.mu.Lock()
		q := f.queue
		f.queue = nil
		f.mu.Unlock()
		for _, e := range q {
			if ctx.Err() != nil {
				return
			}
			fn(e)
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
	}
}
