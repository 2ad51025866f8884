package siocodec

import "errors"

// Errors of the packet codec (ParsePacket, Decoder, the Encode helpers,
// SplitArgs and EventName). They are returned wrapped with the position or
// argument they concern; check them with errors.Is. Every one of them from
// ParsePacket or Decoder.Add means the peer broke the protocol: the official
// server closes the connection, and so should callers.
var (
	// ErrUnknownType: the packet is empty or its first byte is not a
	// packet type '0'..'6'.
	ErrUnknownType = errors.New("socketio: unknown packet type")
	// ErrInvalidAttachments: a BINARY_EVENT or BINARY_ACK header lacks the
	// decimal attachment count and its '-'.
	ErrInvalidAttachments = errors.New("socketio: invalid attachment count")
	// ErrTooManyAttachments: the announced attachment count exceeds
	// DecoderOptions.MaxAttachments.
	ErrTooManyAttachments = errors.New("socketio: too many attachments")
	// ErrInvalidAckID: the ack id exceeds MaxAckID.
	ErrInvalidAckID = errors.New("socketio: ack id out of range")
	// ErrInvalidUTF8: the text packet is not valid UTF-8, or an argument to
	// EncodeEvent/EncodeAckArgs (a json.RawMessage) is not.
	ErrInvalidUTF8 = errors.New("socketio: invalid UTF-8")
	// ErrInvalidJSON: the payload (or a json.RawMessage argument) is not a
	// single valid JSON value.
	ErrInvalidJSON = errors.New("socketio: invalid JSON")
	// ErrTooDeep: the payload nests arrays and objects deeper than
	// DecoderOptions.MaxDepth, or an EncodeEvent argument nests []any and
	// map[string]any deeper than the encoder allows.
	ErrTooDeep = errors.New("socketio: JSON nested too deeply")
	// ErrInvalidPayload: the payload does not have the shape its packet type
	// requires (an event must be a non-empty array starting with a name, an
	// ack an array, CONNECT an object, CONNECT_ERROR an object or string,
	// DISCONNECT nothing), or is missing where one is required.
	ErrInvalidPayload = errors.New("socketio: invalid payload")
	// ErrReservedEvent: the event name is one the protocol reserves
	// (connect, connect_error, disconnect, disconnecting, newListener,
	// removeListener).
	ErrReservedEvent = errors.New("socketio: reserved event name")
	// ErrInvalidPlaceholder: a binary packet holds a placeholder whose num is
	// not an integer in [0, attachment count).
	ErrInvalidPlaceholder = errors.New("socketio: invalid attachment placeholder")
	// ErrUnexpectedBinary: Decoder.Add got a binary message while no
	// attachment was expected.
	ErrUnexpectedBinary = errors.New("socketio: binary message when no attachment is expected")
	// ErrUnexpectedText: Decoder.Add got a text message while attachments of
	// a binary packet were still expected.
	ErrUnexpectedText = errors.New("socketio: text message while attachments are expected")
	// ErrUnsupportedValue: an argument to EncodeEvent/EncodeAckArgs has no
	// JSON form (NaN, ±Inf).
	ErrUnsupportedValue = errors.New("socketio: unsupported value")
)
