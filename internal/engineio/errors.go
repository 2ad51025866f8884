package engineio

import (
	"errors"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
)

// Close reasons passed to Handler.OnClose. Check them with errors.Is.
var (
	// ErrClientClose: the client sent a close packet or closed the WebSocket.
	ErrClientClose = errors.New("engineio: client closed the session")
	// ErrTransportClose: the connection was lost.
	ErrTransportClose = errors.New("engineio: transport closed")
	// ErrPingTimeout: no pong arrived within pingTimeout of a ping.
	ErrPingTimeout = errors.New("engineio: ping timeout")
	// ErrSlowConsumer: the session's outbound queue overflowed.
	ErrSlowConsumer = errors.New("engineio: slow consumer, outbound queue full")
	// ErrParse: the client sent a malformed packet or payload. It is
	// eiocodec.ErrParse, which the codec's errors wrap.
	ErrParse = eiocodec.ErrParse
	// ErrTooLarge: a message or polling body exceeded maxPayload.
	ErrTooLarge = errors.New("engineio: payload too large")
	// ErrServerShutdown: the server is shutting down.
	ErrServerShutdown = errors.New("engineio: server shutting down")
	// ErrDuplicatePoll: a second GET arrived while one was pending.
	ErrDuplicatePoll = errors.New("engineio: overlapping polling requests")
	// ErrClosedByServer: the application closed the session.
	ErrClosedByServer = errors.New("engineio: closed by server")
	// ErrBackendUnavailable: the node lost what it needs to serve (its
	// NATS connection); the client should reconnect, elsewhere if it can.
	ErrBackendUnavailable = errors.New("engineio: backend unavailable")
	// ErrSessionClosed is returned by Session.Send after the session closed.
	ErrSessionClosed = errors.New("engineio: session closed")
)

// Protocol error codes sent in HTTP error bodies, as the reference server does.
const (
	codeUnknownTransport   = 0
	codeUnknownSID         = 1
	codeBadHandshakeMethod = 2
	codeBadRequest         = 3
	codeForbidden          = 4
	codeUnsupportedVersion = 5
)

var codeMessages = [...]string{
	codeUnknownTransport:   "Transport unknown",
	codeUnknownSID:         "Session ID unknown",
	codeBadHandshakeMethod: "Bad handshake method",
	codeBadRequest:         "Bad request",
	codeForbidden:          "Forbidden",
	codeUnsupportedVersion: "Unsupported protocol version",
}
