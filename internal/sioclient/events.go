package sioclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/chatrooms/chatrooms/internal/siocodec"
)

// ErrAckSent is returned by Event.Ack the second time.
var ErrAckSent = errors.New("sioclient: ack already sent")

// ErrNoAck is returned by Event.Ack when the server asked for no ack.
var ErrNoAck = errors.New("sioclient: no ack requested")

// Event is one event received from the server. It is a plain value, safe
// to copy and to read from several goroutines; Ack may be called from any
// goroutine, once.
type Event struct {
	// Name is the event name.
	Name string
	// Args are the arguments after the name, raw JSON. In binary events
	// they keep {"_placeholder":true,"num":N} objects: use Binary.
	Args []json.RawMessage
	// Attachments are the binary attachments, in placeholder order.
	Attachments [][]byte

	ack *eventAck // nil when the server asked for no ack
}

type eventAck struct {
	c    *Client
	id   int64
	sent atomic.Bool
}

// WantsAck reports whether the server asked for an acknowledgement (the
// server emitted with a callback, e.g. emitWithAck).
func (e Event) WantsAck() bool { return e.ack != nil }

// Ack answers the server's request with args, encoded as for Emit ([]byte
// becomes an attachment). It fails with ErrNoAck if no ack was requested,
// ErrAckSent the second time, and the close reason once the Client closed.
func (e Event) Ack(args ...any) error {
	if e.ack == nil {
		return fmt.Errorf("sioclient: ack %q: %w", e.Name, ErrNoAck)
	}
	if !e.ack.sent.CompareAndSwap(false, true) {
		return fmt.Errorf("sioclient: ack %q: %w", e.Name, ErrAckSent)
	}
	data, atts, err := siocodec.EncodeAckArgs(args...)
	if err != nil {
		return fmt.Errorf("sioclient: ack %q: %w", e.Name, err)
	}
	c := e.ack.c
	if err := c.send(&siocodec.Packet{Type: siocodec.Ack, Namespace: c.opts.Namespace, ID: e.ack.id, Data: data, Attachments: atts}); err != nil {
		return fmt.Errorf("sioclient: ack %q: %w", e.Name, err)
	}
	return nil
}

// Arg decodes argument i into v with encoding/json.
func (e Event) Arg(i int, v any) error { return decodeArg(e.Args, i, v) }

// Binary returns the attachment that argument i stands for, if it is a
// placeholder.
func (e Event) Binary(i int) ([]byte, bool) { return binaryArg(e.Args, e.Attachments, i) }

// Ack is the server's acknowledgement of EmitWithAck. It is a plain value,
// safe to copy and share read-only.
type Ack struct {
	// Args are the ack's arguments, raw JSON (placeholders kept).
	Args []json.RawMessage
	// Attachments are the binary attachments, in placeholder order.
	Attachments [][]byte
}

// Arg decodes argument i into v with encoding/json.
func (a Ack) Arg(i int, v any) error { return decodeArg(a.Args, i, v) }

// Binary returns the attachment that argument i stands for, if it is a
// placeholder.
func (a Ack) Binary(i int) ([]byte, bool) { return binaryArg(a.Args, a.Attachments, i) }

func decodeArg(args []json.RawMessage, i int, v any) error {
	if i < 0 || i >= len(args) {
		return fmt.Errorf("sioclient: argument %d of %d: missing", i, len(args))
	}
	if err := json.Unmarshal(args[i], v); err != nil {
		return fmt.Errorf("sioclient: argument %d: %w", i, err)
	}
	return nil
}

func binaryArg(args []json.RawMessage, atts [][]byte, i int) ([]byte, bool) {
	if i < 0 || i >= len(args) {
		return nil, false
	}
	return siocodec.ResolvePlaceholder(args[i], atts)
}

// Next returns the oldest received event called name ("" matches any
// name), waiting until one arrives, ctx ends or the Client closes. Events
// of other names stay in the inbox, in order, for later calls; they count
// against Options.EventBuffer until taken. Events received before the
// Client closed are still returned after it closed; then Next fails with
// the close reason. Next may be called from several goroutines.
func (c *Client) Next(ctx context.Context, name string) (Event, error) {
	for {
		e, ok, wake := c.in.take(name)
		if ok {
			return e, nil
		}
		select {
		case <-c.done: // closed and nothing left that matches
			if e, ok, _ := c.in.take(name); ok {
				return e, nil
			}
			return Event{}, fmt.Errorf("sioclient: next %q: %w", name, c.err)
		default:
		}
		select {
		case <-wake:
		case <-c.done:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("sioclient: next %q: %w", name, context.Cause(ctx))
		}
	}
}

// Events returns a channel that yields every received event in order. It
// shares the inbox with Next: an event goes to whichever takes it first,
// so use one or the other. The channel is unbuffered (the inbox is the
// buffer: while nobody receives, events pile up there until
// ErrEventOverflow closes the Client). It is closed after the Client has
// closed and every earlier event was received, or when Close is called.
// Every call returns the same channel.
func (c *Client) Events() <-chan Event {
	c.eventsOnce.Do(func() {
		c.events = make(chan Event)
		go func() {
			defer close(c.events)
			for {
				// Next returns at once when the Client is closed.
				e, err := c.Next(context.Background(), "")
				if err != nil {
					return
				}
				select {
				case c.events <- e:
				case <-c.userClosed:
					return
				}
			}
		}()
	})
	return c.events
}

// inbox holds received events until Next takes them; at most max.
type inbox struct {
	mu     sync.Mutex
	list   []Event
	max    int
	wakeCh chan struct{} // closed (and replaced) when an event arrives or the Client closes
}

func (in *inbox) init(max int) {
	in.max = max
	in.wakeCh = make(chan struct{})
}

// push appends e; false when the inbox is full.
func (in *inbox) push(e Event) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.list) >= in.max {
		return false
	}
	in.list = append(in.list, e)
	in.wakeLocked()
	return true
}

// take removes and returns the oldest event called name ("" for any);
// otherwise it returns the channel that the next push will close.
func (in *inbox) take(name string) (Event, bool, <-chan struct{}) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, e := range in.list {
		if name == "" || e.Name == name {
			in.list = slices.Delete(in.list, i, i+1)
			return e, true, nil
		}
	}
	return Event{}, false, in.wakeCh
}

func (in *inbox) wake() {
	in.mu.Lock()
	in.wakeLocked()
	in.mu.Unlock()
}

func (in *inbox) wakeLocked() {
	close(in.wakeCh)
	in.wakeCh = make(chan struct{})
}
