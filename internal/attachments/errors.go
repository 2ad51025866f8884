package attachments

import (
	"fmt"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/httpx"
)

// ErrNotFound: no such attachment, or it has expired. It wraps
// chat.ErrNotFound, so errors.Is holds for either.
var ErrNotFound = fmt.Errorf("attachments: not found: %w", chat.ErrNotFound)

// Client error codes of this package, besides chat's unauthorized,
// invalid_token, rate_limited, invalid_request, unavailable and
// internal_error, and httpx's request_timeout. Their HTTP statuses are
// in httpx's table.
const (
	// CodeTooLarge (413): the upload is over Config.MaxSize, or the image
	// would be stored in more than twice that.
	CodeTooLarge = httpx.CodeTooLarge
	// CodeUnsupportedType (415): not a PNG, JPEG, GIF or still WebP by
	// its bytes.
	CodeUnsupportedType = httpx.CodeUnsupportedType
	// CodeInvalidImage (422): undecodable, truncated, or over MaxSide,
	// MaxPixels, MaxGIFFrames or MaxGIFPixels.
	CodeInvalidImage = httpx.CodeInvalidImage
	// CodeNotFound (404): no such attachment, or it has expired.
	CodeNotFound = chat.CodeAttachmentNotFound
)
