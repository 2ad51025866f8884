package siocodec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// PacketType is a Socket.IO v5 packet type, the first byte of a text packet
// ('0'+type). Values are plain constants, safe to share.
type PacketType byte

// Socket.IO v5 packet types.
const (
	Connect PacketType = iota
	Disconnect
	Event
	Ack
	ConnectError
	BinaryEvent
	BinaryAck
)

var packetTypeNames = [...]string{
	Connect:      "CONNECT",
	Disconnect:   "DISCONNECT",
	Event:        "EVENT",
	Ack:          "ACK",
	ConnectError: "CONNECT_ERROR",
	BinaryEvent:  "BINARY_EVENT",
	BinaryAck:    "BINARY_ACK",
}

// String returns the protocol name of t, such as "BINARY_EVENT".
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// IsBinary reports whether t is BinaryEvent or BinaryAck, the types whose
// header announces an attachment count.
func (t PacketType) IsBinary() bool { return t == BinaryEvent || t == BinaryAck }

// NoID is Packet.ID when a packet carries no ack id.
const NoID int64 = -1

// MaxAckID is the largest ack id accepted: 2^53-1, the largest integer a
// JavaScript peer represents exactly.
const MaxAckID int64 = 1<<53 - 1

// Defaults for the zero fields of DecoderOptions.
const (
	DefaultMaxAttachments = 10
	DefaultMaxDepth       = 32
)

// maxEncodeDepth bounds the nesting of []any and map[string]any that
// EncodeEvent walks itself, so a cyclic []any fails instead of recursing
// forever.
const maxEncodeDepth = 1000

// Packet is one decoded or to-be-encoded Socket.IO packet.
//
// A Packet is a plain value with no internal synchronisation: share it
// between goroutines only read-only. Its zero value is a CONNECT to "/" with
// ack id 0; set ID to NoID when there is no ack id.
type Packet struct {
	Type PacketType
	// Namespace starts with '/' and contains no ','; ParsePacket sets "/"
	// when the packet names none, and AppendPacket omits "/" and "".
	Namespace string
	// ID is the ack id in [0, MaxAckID], or NoID (-1) when absent.
	ID int64
	// Data is the raw JSON payload exactly as received (trailing JSON
	// whitespace trimmed), or nil when absent. For binary packets it keeps
	// the {"_placeholder":true,"num":N} objects; see ResolvePlaceholder.
	Data json.RawMessage
	// Attachments are the binary attachments of a BinaryEvent or
	// BinaryAck, in placeholder order. Decoder fills them; ParsePacket does
	// not. AppendPacket announces len(Attachments) in the header.
	Attachments [][]byte
	// AttachmentCount is the attachment count announced in the header of a
	// binary packet, as ParsePacket read it; 0 for other types.
	AttachmentCount int
}

// String returns the packet's text encoding followed by the number of
// attachments, for logs and test failures.
func (p *Packet) String() string {
	s := string(AppendPacket(nil, p))
	if len(p.Attachments) > 0 {
		s += fmt.Sprintf(" +%d attachments", len(p.Attachments))
	}
	return s
}

// DecoderOptions limits what ParsePacket and Decoder accept. The zero value
// selects the defaults; a DecoderOptions is a plain value, safe to copy and
// share.
type DecoderOptions struct {
	// MaxAttachments caps the attachment count of binary packets;
	// values <= 0 select DefaultMaxAttachments (10).
	MaxAttachments int
	// MaxDepth caps the nesting of arrays and objects in the payload (the
	// outer array of an event counts 1); values <= 0 select
	// DefaultMaxDepth (32).
	MaxDepth int
}

func (o DecoderOptions) withDefaults() DecoderOptions {
	if o.MaxAttachments <= 0 {
		o.MaxAttachments = DefaultMaxAttachments
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	return o
}

// ParsePacket decodes one text packet,
// <type>[<attachments>-][/<nsp>,][<ackId>][<json>], and validates it as the
// official socket.io-parser v4 does: the payload must be valid UTF-8 JSON
// within opts.MaxDepth, of the shape its type requires, events must not use
// a reserved name, and every placeholder of a binary packet must point at
// one of its announced attachments. Deviations from the JavaScript parser
// are all stricter: EVENT, ACK and CONNECT_ERROR need a payload, the
// payload may not start with whitespace, placeholder nums must be integers,
// and the attachment count must be a plain decimal number.
//
// The returned Packet's Data aliases text (no copy), and Attachments is nil:
// a Decoder collects them. Errors wrap one of the codec's sentinels.
// ParsePacket is safe for concurrent use.
func ParsePacket(text []byte, opts DecoderOptions) (Packet, error) {
	opts = opts.withDefaults()
	p := Packet{Namespace: "/", ID: NoID}
	if len(text) == 0 || text[0] < '0' || text[0] > '0'+byte(BinaryAck) {
		return p, parseError(0, ErrUnknownType)
	}
	if !utf8.Valid(text) {
		return p, parseError(0, ErrInvalidUTF8)
	}
	p.Type = PacketType(text[0] - '0')
	i := 1

	if p.Type.IsBinary() {
		start, n := i, 0
		for ; i < len(text) && isDigit(text[i]); i++ {
			if n > (math.MaxInt-9)/10 {
				return p, parseError(start, ErrTooManyAttachments)
			}
			n = n*10 + int(text[i]-'0')
			if n > opts.MaxAttachments {
				return p, parseError(start, ErrTooManyAttachments)
			}
		}
		if i == start || i == len(text) || text[i] != '-' {
			return p, parseError(i, ErrInvalidAttachments)
		}
		i++
		p.AttachmentCount = n
	}

	if i < len(text) && text[i] == '/' {
		end := bytes.IndexByte(text[i:], ',')
		if end < 0 {
			end = len(text) - i
		}
		if nsp := text[i : i+end]; string(nsp) != "/" {
			p.Namespace = string(nsp)
		}
		i += end
		if i < len(text) {
			i++ // the ','
		}
	}

	if i < len(text) && isDigit(text[i]) {
		start := i
		var id int64
		for ; i < len(text) && isDigit(text[i]); i++ {
			id = id*10 + int64(text[i]-'0')
			if id > MaxAckID {
				return p, parseError(start, ErrInvalidAckID)
			}
		}
		p.ID = id
	}

	data := trimRightSpace(text[i:])
	if len(data) == 0 {
		if i < len(text) || p.Type == Event || p.Type == BinaryEvent ||
			p.Type == Ack || p.Type == BinaryAck || p.Type == ConnectError {
			// Whitespace alone is not JSON; these types need a payload.
			return p, parseError(i, ErrInvalidPayload)
		}
		return p, nil
	}
	if err := checkPayload(p.Type, data, p.AttachmentCount, opts); err != nil {
		return p, parseError(i, err)
	}
	p.Data = json.RawMessage(data)
	return p, nil
}

func parseError(off int, err error) error {
	return fmt.Errorf("parse packet at byte %d: %w", off, err)
}

// checkPayload validates a non-empty payload (no trailing whitespace) for
// packet type t. Cheap checks come first: the leading byte rules out most
// garbage, and the depth scan runs before encoding/json sees the bytes.
func checkPayload(t PacketType, data []byte, attachments int, opts DecoderOptions) error {
	c := data[0]
	var ok bool
	switch t {
	case Connect:
		ok = c == '{'
	case ConnectError:
		ok = c == '{' || c == '"'
	case Event, BinaryEvent, Ack, BinaryAck:
		ok = c == '['
	}
	if !ok {
		return ErrInvalidPayload
	}
	if err := checkDepth(data, opts.MaxDepth); err != nil {
		return err
	}
	if !json.Valid(data) {
		return ErrInvalidJSON
	}
	if t == Event || t == BinaryEvent {
		if err := checkEventName(data); err != nil {
			return err
		}
	}
	if t.IsBinary() {
		return checkPlaceholders(data, attachments)
	}
	return nil
}

// checkDepth reports ErrTooDeep as soon as data opens more than limit
// arrays or objects, ignoring brackets inside strings. It allocates nothing
// and stops at the first bracket too deep, so a 10^5-deep payload costs a
// couple of memchr-speed passes, never a parse tree.
func checkDepth(data []byte, limit int) error {
	if bytes.Count(data, []byte{'['})+bytes.Count(data, []byte{'{'}) <= limit {
		return nil // too few brackets to nest deeper, strings or not
	}
	depth := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			j := skipString(data, i)
			if j < 0 {
				return nil // unterminated string: json.Valid rejects it
			}
			i = j - 1
		case '[', '{':
			depth++
			if depth > limit {
				return ErrTooDeep
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// checkEventName checks the first element of a valid JSON array: a string
// that is not a reserved name, or a number (accepted by the JavaScript
// parser too).
func checkEventName(data []byte) error {
	i := skipSpace(data, 1)
	if i >= len(data) {
		return ErrInvalidPayload
	}
	switch c := data[i]; {
	case c == '"':
		j := skipString(data, i)
		if j < 0 {
			return ErrInvalidPayload
		}
		if isReservedQuoted(data[i:j]) {
			return ErrReservedEvent
		}
		return nil
	case c == '-' || isDigit(c):
		return nil
	default:
		return ErrInvalidPayload
	}
}

// isReserved reports whether name is an event name the protocol reserves.
func isReserved[T string | []byte](name T) bool {
	switch string(name) {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

// Decoder reassembles Socket.IO packets from the Engine.IO messages of one
// connection: a binary packet arrives as its text part followed by one
// binary message per attachment. Feed it every message in order.
//
// A Decoder is not safe for concurrent use; give each connection its own.
// The zero value is ready to use with the default DecoderOptions.
type Decoder struct {
	opts    DecoderOptions
	pending *Packet // binary packet waiting for attachments
}

// NewDecoder returns a Decoder applying opts.
func NewDecoder(opts DecoderOptions) *Decoder {
	return &Decoder{opts: opts}
}

// Add feeds one Engine.IO message. It returns the completed packet, or nil
// and no error while attachments of a binary packet are still expected.
// A binary message when no attachment is expected (ErrUnexpectedBinary), a
// text message while one is (ErrUnexpectedText) and any ParsePacket error
// are errors; after an error the Decoder forgets any partial packet.
//
// A binary packet keeps its wire type BinaryEvent or BinaryAck (the
// JavaScript decoder reports EVENT or ACK). Add takes ownership of data:
// the returned packet's Data and Attachments alias the messages passed in,
// so callers must not reuse them.
func (d *Decoder) Add(data []byte, binary bool) (*Packet, error) {
	if binary {
		p := d.pending
		if p == nil {
			return nil, fmt.Errorf("decode packet: %w", ErrUnexpectedBinary)
		}
		p.Attachments = append(p.Attachments, data)
		if len(p.Attachments) < p.AttachmentCount {
			return nil, nil
		}
		d.pending = nil
		return p, nil
	}
	if d.pending != nil {
		d.pending = nil
		return nil, fmt.Errorf("decode packet: %w", ErrUnexpectedText)
	}
	p, err := ParsePacket(data, d.opts)
	if err != nil {
		return nil, err
	}
	if p.AttachmentCount > 0 {
		p.Attachments = make([][]byte, 0, p.AttachmentCount)
		d.pending = &p
		return nil, nil
	}
	return &p, nil
}

// Pending returns how many attachments the Decoder still expects before it
// completes the current binary packet; 0 when it is between packets.
func (d *Decoder) Pending() int {
	if d.pending == nil {
		return 0
	}
	return d.pending.AttachmentCount - len(d.pending.Attachments)
}

// Reset drops any partially received binary packet.
func (d *Decoder) Reset() { d.pending = nil }

// AppendPacket appends the text encoding of p to dst and returns the
// extended buffer; it allocates only when dst must grow. The attachment
// count written for binary types is len(p.Attachments), and an Event or Ack
// with attachments is written as BinaryEvent or BinaryAck, as the official
// encoder does; the caller sends the attachments as binary messages after
// the text. The namespace "/" is omitted, and so is an ID below 0.
//
// p must be well formed (a known type, a namespace starting with '/'
// without ',', Data valid JSON); AppendPacket does not check it. It is safe
// for concurrent use as long as nobody modifies p.
func AppendPacket(dst []byte, p *Packet) []byte {
	t := p.Type
	if len(p.Attachments) > 0 {
		switch t {
		case Event:
			t = BinaryEvent
		case Ack:
			t = BinaryAck
		}
	}
	dst = append(dst, '0'+byte(t))
	if t.IsBinary() {
		dst = strconv.AppendInt(dst, int64(len(p.Attachments)), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.ID >= 0 {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// EncodeEvent builds the payload of an EVENT: the JSON array
// [event, args...], and the attachments it refers to. Each []byte argument,
// also inside []any and map[string]any arguments, becomes an attachment and
// a {"_placeholder":true,"num":N} placeholder, numbered in order; a
// json.RawMessage is inserted verbatim after validation (empty means null);
// strings, bools, numbers and nil are written directly, like JSON.stringify
// (no HTML escaping); anything else goes through encoding/json (where a
// []byte field is base64, not an attachment). Map keys are sorted.
//
// Send the result with AppendPacket: with attachments it becomes a
// BINARY_EVENT. The attachments alias the caller's slices. Reserved event
// names fail with ErrReservedEvent. EncodeEvent is safe for concurrent use.
func EncodeEvent(event string, args ...any) (data json.RawMessage, attachments [][]byte, err error) {
	if isReserved(event) {
		return nil, nil, fmt.Errorf("encode event %q: %w", event, ErrReservedEvent)
	}
	buf := make([]byte, 0, 8+len(event)+estimateArgs(args))
	buf = append(buf, '[')
	buf = appendString(buf, event)
	buf, attachments, err = appendArgs(buf, attachments, args, true)
	if err != nil {
		return nil, nil, fmt.Errorf("encode event %q: %w", event, err)
	}
	return buf, attachments, nil
}

// EncodeAckArgs builds the payload of an ACK, the JSON array [args...],
// with the same rules as EncodeEvent. It is safe for concurrent use.
func EncodeAckArgs(args ...any) (data json.RawMessage, attachments [][]byte, err error) {
	buf := make([]byte, 0, 8+estimateArgs(args))
	buf = append(buf, '[')
	buf, attachments, err = appendArgs(buf, attachments, args, false)
	if err != nil {
		return nil, nil, fmt.Errorf("encode ack: %w", err)
	}
	return buf, attachments, nil
}

// appendArgs appends ",arg" for each argument (no comma before the first
// one unless comma) and the closing ']'.
func appendArgs(buf []byte, atts [][]byte, args []any, comma bool) ([]byte, [][]byte, error) {
	for i, a := range args {
		if comma {
			buf = append(buf, ',')
		}
		comma = true
		var err error
		buf, atts, err = appendValue(buf, atts, a, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("argument %d: %w", i, err)
		}
	}
	return append(buf, ']'), atts, nil
}

// estimateArgs guesses the encoded size of args, so the common case
// allocates the payload once.
func estimateArgs(args []any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v) + 3
		case json.RawMessage:
			n += len(v) + 1
		case []byte:
			n += 32
		default:
			n += 24
		}
	}
	return n
}

// SplitArgs returns the elements of the top-level JSON array data, each as
// a raw subslice of data (capacity-limited, so appending to one never
// overwrites the next). An event's elements are its name and arguments; an
// ack's are its arguments. Elements are not re-validated token by token:
// data should come from ParsePacket, which validated it; malformed structure
// still fails with ErrInvalidPayload and never panics. SplitArgs is safe for
// concurrent use.
func SplitArgs(data json.RawMessage) ([]json.RawMessage, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, fmt.Errorf("split args: %w", ErrInvalidPayload)
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		if skipSpace(data, i+1) != len(data) {
			return nil, fmt.Errorf("split args: %w", ErrInvalidPayload)
		}
		return []json.RawMessage{}, nil
	}
	// Commas bound the element count (those in strings over-count).
	n := 1 + bytes.Count(data, []byte{','})
	out := make([]json.RawMessage, 0, min(n, 64))
	for {
		j := skipValue(data, i)
		if j < 0 {
			return nil, fmt.Errorf("split args: %w", ErrInvalidPayload)
		}
		out = append(out, json.RawMessage(data[i:j:j]))
		i = skipSpace(data, j)
		if i >= len(data) {
			return nil, fmt.Errorf("split args: %w", ErrInvalidPayload)
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			if skipSpace(data, i+1) != len(data) {
				return nil, fmt.Errorf("split args: %w", ErrInvalidPayload)
			}
			return out, nil
		default:
			return nil, fmt.Errorf("split args: %w", ErrInvalidPayload)
		}
	}
}

// EventName returns the name of an event payload, its first element: the
// decoded string, or for a numeric name (which JavaScript peers may send)
// the number as JavaScript prints it ("1", "-1500", "1e+21", "Infinity"). A payload that is not an array or
// whose first element is neither fails with ErrInvalidPayload. Reserved
// names are returned as they are (ParsePacket already refused them).
// EventName is safe for concurrent use.
func EventName(data json.RawMessage) (string, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return "", fmt.Errorf("event name: %w", ErrInvalidPayload)
	}
	i = skipSpace(data, i+1)
	j := skipValue(data, i)
	if j < 0 {
		return "", fmt.Errorf("event name: %w", ErrInvalidPayload)
	}
	v := data[i:j]
	switch c := v[0]; {
	case c == '"':
		s, err := unquote(v)
		if err != nil {
			return "", fmt.Errorf("event name: %w", ErrInvalidPayload)
		}
		return s, nil
	case c == '-' || isDigit(c):
		// Out of range is fine: JSON.parse makes it ±Infinity or 0.
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return "", fmt.Errorf("event name: %w", ErrInvalidPayload)
		}
		if math.IsInf(f, 0) {
			if f > 0 {
				return "Infinity", nil
			}
			return "-Infinity", nil
		}
		b, err := appendFloat(nil, f)
		if err != nil {
			return "", fmt.Errorf("event name: %w", ErrInvalidPayload)
		}
		return string(b), nil
	default:
		return "", fmt.Errorf("event name: %w", ErrInvalidPayload)
	}
}

// --- JSON scanning helpers. They never index out of range on any input.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-whitespace byte of b at or
// after i (len(b) if none).
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func trimRightSpace(b []byte) []byte {
	n := len(b)
	for n > 0 && isSpace(b[n-1]) {
		n--
	}
	return b[:n]
}

// skipString returns the index just past the string starting at b[i]
// (which must be '"'), or -1 if it is not terminated.
func skipString(b []byte, i int) int {
	start := i + 1
	for i = start; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		i += j
		// The quote is escaped if an odd number of backslashes precede it.
		k := i
		for k > start && b[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at b[i]
// (no leading whitespace), or -1 if none starts there or it is not closed.
// It matches brackets but does not validate tokens.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '[', '{':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	case ',', ']', '}', ':':
		return -1
	default: // number or literal
		for i < len(b) {
			switch b[i] {
			case ',', ']', '}', ':', '[', '{', '"', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// unquote decodes the JSON string literal q (quotes included), allocating
// only for the result.
func unquote(q []byte) (string, error) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", ErrInvalidJSON
	}
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", ErrInvalidJSON
	}
	return s, nil
}

// isReservedQuoted is isReserved for a JSON string literal.
func isReservedQuoted(q []byte) bool {
	if len(q) >= 2 && bytes.IndexByte(q, '\\') < 0 {
		return isReserved(q[1 : len(q)-1])
	}
	s, err := unquote(q)
	return err == nil && isReserved(s)
}
