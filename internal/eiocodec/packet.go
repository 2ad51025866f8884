package eiocodec

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/gobwas/ws"
)

// PacketType is an Engine.IO packet type.
type PacketType byte

// Engine.IO v4 packet types.
const (
	Open PacketType = iota
	Close
	Ping
	Pong
	Message
	Upgrade
	Noop
)

// recordSeparator joins packets in a long-polling payload.
const recordSeparator = '\x1e'

// Frame is one outbound Engine.IO packet, encoded once at construction into
// its complete WebSocket frame. It is immutable, so one Frame may be queued
// to any number of sessions at once and is safe for concurrent use.
type Frame struct {
	// ws is the whole WebSocket frame: header, then for text packets the
	// type digit and data, for binary messages the raw bytes.
	ws     []byte
	hdr    int // length of the WebSocket header within ws
	binary bool
	// origin is when the event the frame carries began (Unix
	// nanoseconds; 0: not stamped), for latency measured at the write.
	origin int64
}

// SetOrigin stamps f with when the event it carries began (e.g. when a
// chat message was sent), so that the server can time it to the socket
// write. Call it before f is queued anywhere: a queued Frame is shared.
func (f *Frame) SetOrigin(t time.Time) { f.origin = t.UnixNano() }

// Origin is what SetOrigin stamped, in Unix nanoseconds, or 0.
func (f *Frame) Origin() int64 { return f.origin }

// NewTextFrame returns a frame for a text packet of type t carrying data.
// data is copied.
func NewTextFrame(t PacketType, data []byte) *Frame {
	n := 1 + len(data)
	hs := headerSize(n, false)
	b := appendHeader(make([]byte, 0, hs+n), ws.OpText, n, nil)
	b = append(b, '0'+byte(t))
	b = append(b, data...)
	return &Frame{ws: b, hdr: hs}
}

// NewMessageFrame returns a text message (type 4) frame carrying data.
func NewMessageFrame(data []byte) *Frame { return NewTextFrame(Message, data) }

// NewMessageFrameString is NewMessageFrame for a string.
func NewMessageFrameString(data string) *Frame {
	n := 1 + len(data)
	hs := headerSize(n, false)
	b := appendHeader(make([]byte, 0, hs+n), ws.OpText, n, nil)
	b = append(b, '0'+byte(Message))
	b = append(b, data...)
	return &Frame{ws: b, hdr: hs}
}

// NewBinaryFrame returns a binary message frame carrying data (copied).
func NewBinaryFrame(data []byte) *Frame {
	hs := headerSize(len(data), false)
	return &Frame{ws: appendFrame(make([]byte, 0, hs+len(data)), ws.OpBinary, data), hdr: hs, binary: true}
}

// NewControlFrame returns a WebSocket control frame (ws.OpClose,
// ws.OpPing or ws.OpPong) carrying payload (copied), such as a close frame
// with ws.NewCloseFrameBody. It is not an Engine.IO packet: Packet returns
// the payload, and it has no polling form.
func NewControlFrame(op ws.OpCode, payload []byte) *Frame {
	hs := headerSize(len(payload), false)
	return &Frame{ws: appendFrame(make([]byte, 0, hs+len(payload)), op, payload), hdr: hs}
}

// Binary reports whether f is a binary message.
func (f *Frame) Binary() bool { return f.binary }

// Packet returns the Engine.IO packet as sent over WebSocket: the type digit
// and data for text packets, the raw bytes for binary ones. Callers must not
// modify it.
func (f *Frame) Packet() []byte { return f.ws[f.hdr:] }

// Size is the number of bytes f occupies on a WebSocket.
func (f *Frame) Size() int { return len(f.ws) }

// WebSocket returns the complete WebSocket frame, header included, as
// written to a connection. Callers must not modify it.
func (f *Frame) WebSocket() []byte { return f.ws }

// AppendPolling appends f in long-polling encoding: text packets as they
// are, binary ones as "b" followed by standard base64.
func (f *Frame) AppendPolling(dst []byte) []byte {
	p := f.Packet()
	if !f.binary {
		return append(dst, p...)
	}
	dst = append(dst, 'b')
	return base64.StdEncoding.AppendEncode(dst, p)
}

// Packet is one decoded inbound Engine.IO packet.
type Packet struct {
	Type   PacketType
	Data   []byte // for binary messages, the raw bytes
	Binary bool
}

// AppendPacket appends the text encoding of a packet of type t carrying
// data: the type digit, then data. It is what goes into a WebSocket text
// frame, or one record of a polling payload.
func AppendPacket(dst []byte, t PacketType, data []byte) []byte {
	dst = append(dst, '0'+byte(t))
	return append(dst, data...)
}

// DecodePacket decodes one text packet as received over WebSocket or inside
// a polling payload (without the "b" form). The returned Data aliases p.
func DecodePacket(p []byte) (Packet, error) {
	if len(p) == 0 {
		return Packet{}, fmt.Errorf("%w: empty packet", ErrParse)
	}
	t := p[0] - '0'
	if t > byte(Noop) {
		return Packet{}, fmt.Errorf("%w: unknown packet type %q", ErrParse, p[0])
	}
	return Packet{Type: PacketType(t), Data: p[1:]}, nil
}

// DecodePayload splits a long-polling request body into packets and calls fn
// for each, in order, stopping at the first error. Binary packets ("b" +
// base64) are decoded. At most maxPackets packets are accepted. Data passed
// to fn aliases body or a fresh buffer; fn may retain it.
func DecodePayload(body []byte, maxPackets int, fn func(Packet) error) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty payload", ErrParse)
	}
	for n := 0; ; n++ {
		if n >= maxPackets {
			return fmt.Errorf("%w: more than %d packets in one payload", ErrParse, maxPackets)
		}
		rec := body
		i := bytes.IndexByte(body, recordSeparator)
		if i >= 0 {
			rec, body = body[:i], body[i+1:]
		}
		var p Packet
		if len(rec) > 0 && rec[0] == 'b' {
			data := make([]byte, base64.StdEncoding.DecodedLen(len(rec)-1))
			m, err := base64.StdEncoding.Decode(data, rec[1:])
			if err != nil {
				return fmt.Errorf("%w: bad base64 in binary packet: %v", ErrParse, err)
			}
			p = Packet{Type: Message, Data: data[:m], Binary: true}
		} else {
			var err error
			if p, err = DecodePacket(rec); err != nil {
				return err
			}
		}
		if err := fn(p); err != nil {
			return err
		}
		if i < 0 {
			return nil
		}
	}
}

// AppendPayload appends frames in long-polling encoding, joined by the
// record separator.
func AppendPayload(dst []byte, frames []*Frame) []byte {
	for i, f := range frames {
		if i > 0 {
			dst = append(dst, recordSeparator)
		}
		dst = f.AppendPolling(dst)
	}
	return dst
}
