package sioclient

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Close reasons reported by Client.Err, and errors of the other methods.
// Check them with errors.Is: reasons are often wrapped with details.
var (
	// ErrClosed: the Client was closed by its own Close.
	ErrClosed = errors.New("sioclient: client closed")
	// ErrServerDisconnect: the server sent a Socket.IO DISCONNECT for the
	// namespace ("io server disconnect").
	ErrServerDisconnect = errors.New("sioclient: server disconnected the socket")
	// ErrTransportClose: the WebSocket or the Engine.IO session closed: a
	// close frame (see *CloseError), an Engine.IO close packet, EOF or a
	// failed read or write.
	ErrTransportClose = errors.New("sioclient: transport closed")
	// ErrPingTimeout: no Engine.IO ping arrived within pingInterval +
	// pingTimeout, as the official client reckons it.
	ErrPingTimeout = errors.New("sioclient: ping timeout")
	// ErrEventOverflow: the inbox held Options.EventBuffer events that
	// nobody took with Next or Events. The Client closes instead of
	// blocking its reader, so a test that forgets to read fails loudly.
	ErrEventOverflow = errors.New("sioclient: event buffer full, events are not being read")
	// ErrProtocol: the server sent something this client cannot parse.
	ErrProtocol = errors.New("sioclient: protocol error")
	// ErrMessageTooBig: a message exceeded Options.MaxMessage.
	ErrMessageTooBig = errors.New("sioclient: message too big")
)

// ConnectError is returned by Dial when the server answers the namespace
// CONNECT with CONNECT_ERROR (connect_error in the JavaScript client).
type ConnectError struct {
	// Message is the refusal's message, e.g. "invalid_token" or
	// "Invalid namespace".
	Message string
	// Data is the refusal's optional data, raw JSON; nil when absent.
	Data json.RawMessage
}

func (e *ConnectError) Error() string {
	if len(e.Data) > 0 {
		return fmt.Sprintf("sioclient: connect refused: %s (data %s)", e.Message, e.Data)
	}
	return "sioclient: connect refused: " + e.Message
}

// CloseError is the WebSocket close frame the server sent. It matches
// ErrTransportClose with errors.Is.
type CloseError struct {
	Code   int    // WebSocket status code, e.g. 1001 (going away)
	Reason string // the frame's reason text, e.g. "server shutting down"
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("sioclient: websocket closed by server: %d %q", e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrTransportClose) hold for a *CloseError.
func (e *CloseError) Is(target error) bool { return target == ErrTransportClose }
