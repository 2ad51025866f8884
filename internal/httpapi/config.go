package httpapi

import (
	"net/http"
	"time"

	"github.com/chatrooms/chatrooms/internal/attachments"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/httpx"
)

// ClientConfig is the answer of GET /api/config: the server's limits a
// client checks before sending (for an error in words before the upload)
// or times its own state by (the typing indicators). The server enforces
// every one of them whatever a client does.
type ClientConfig struct {
	// MaxUploadBytes is the largest image upload accepted.
	MaxUploadBytes int64 `json:"max_upload_bytes"`
	// MaxImageSide is the largest width or height of an image, in pixels.
	MaxImageSide int `json:"max_image_side"`
	// MaxImagePixels is the largest width × height of an image.
	MaxImagePixels int64 `json:"max_image_pixels"`
	// MaxMessageChars is the most characters a message may have.
	MaxMessageChars int `json:"max_message_chars"`
	// TypingTTLMillis is how long after its last start the server ends a
	// typing indicator (and sends typing: false).
	TypingTTLMillis int64 `json:"typing_ttl_ms"`
	// TypingFanoutMillis is the least time between two typing starts of
	// one user that the server passes on to the room.
	TypingFanoutMillis int64 `json:"typing_fanout_ms"`
}

// The chat service's defaults for the typing indicator (chat.Config),
// which cmd/chatrooms does not change unless --typing-fanout is given.
const (
	defaultTypingTTL    = 5 * time.Second
	defaultTypingFanout = 3 * time.Second
)

// defaultClientConfig is the configuration of a server started with the
// default flags: the limits as the attachments and chat packages define them.
func defaultClientConfig() ClientConfig {
	return ClientConfig{
		MaxUploadBytes:     attachments.DefaultMaxSize,
		MaxImageSide:       attachments.MaxSide,
		MaxImagePixels:     attachments.MaxPixels,
		MaxMessageChars:    chat.MessageMaxLen,
		TypingTTLMillis:    defaultTypingTTL.Milliseconds(),
		TypingFanoutMillis: defaultTypingFanout.Milliseconds(),
	}
}

// clientConfig answers GET /api/config; no token needed (the login page
// may read it too).
func (a *API) clientConfig(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, defaultClientConfig())
}
