package httpapi

import (
	"cmp"
	"net/http"

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

// NewClientConfig is the client configuration of a chat service and an
// attachments service configured with chatCfg and filesCfg, as their
// Config methods report them (defaults applied).
func NewClientConfig(chatCfg chat.Config, filesCfg attachments.Config) ClientConfig {
	return ClientConfig{
		MaxUploadBytes:     filesCfg.MaxSize,
		MaxImageSide:       attachments.MaxSide,
		MaxImagePixels:     attachments.MaxPixels,
		MaxMessageChars:    chat.MessageMaxLen,
		TypingTTLMillis:    chatCfg.TypingTTL.Milliseconds(),
		TypingFanoutMillis: chatCfg.TypingFanout.Milliseconds(),
	}
}

// withDefaults fills the zero fields with the attachments and chat
// packages' defaults.
func (c ClientConfig) withDefaults() ClientConfig {
	c.MaxUploadBytes = cmp.Or(c.MaxUploadBytes, attachments.DefaultMaxSize)
	c.MaxImageSide = cmp.Or(c.MaxImageSide, attachments.MaxSide)
	c.MaxImagePixels = cmp.Or(c.MaxImagePixels, attachments.MaxPixels)
	c.MaxMessageChars = cmp.Or(c.MaxMessageChars, chat.MessageMaxLen)
	c.TypingTTLMillis = cmp.Or(c.TypingTTLMillis, chat.DefaultTypingTTL.Milliseconds())
	c.TypingFanoutMillis = cmp.Or(c.TypingFanoutMillis, chat.DefaultTypingFanout.Milliseconds())
	return c
}

// clientConfig answers GET /api/config; no token needed (the login page
// may read it too).
func (a *API) clientConfig(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, a.cfg.Client)
}
