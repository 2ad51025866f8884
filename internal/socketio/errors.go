package socketio

import "errors"

// Errors of the server side.
var (
	// ErrConnectTimeout closes a connection that joined no namespace in time.
	ErrConnectTimeout = errors.New("socketio: no namespace joined within the connect timeout")
	// ErrForcedClose closes a connection that broke the protocol's state
	// rules (e.g. an event for a namespace it has not joined).
	ErrForcedClose = errors.New("socketio: connection closed for a protocol violation")
	// ErrSocketClosed: the socket is disconnected.
	ErrSocketClosed = errors.New("socketio: socket disconnected")
	// ErrAckTimeout: the client did not acknowledge in time.
	ErrAckTimeout = errors.New("socketio: ack timeout")
	// ErrTooManyAcks: too many acks are pending on the socket.
	ErrTooManyAcks = errors.New("socketio: too many pending acks")
	// ErrNoAck: the client did not ask for an ack.
	ErrNoAck = errors.New("socketio: no ack requested")
	// ErrAckSent: the ack was already sent.
	ErrAckSent = errors.New("socketio: ack already sent")
)

// errConnectReturned ends a connect handler's context once it returns.
var errConnectReturned = errors.New("socketio: connect handler returned")
