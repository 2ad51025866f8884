package attachments

import (
	"fmt"

	"github.com/chatrooms/chatrooms/internal/chat"
)

// ErrNotFound: no such attachment, or it has expired. It wraps
// chat.ErrNotFound, so errors.Is holds for either.
var ErrNotFound = fmt.Errorf("attachments: not found: %w", chat.ErrNotFound)

// Client error codes of this package, besides chat's unauthorized,
// invalid_token, rate_limited, invalid_request, unavailable and
// internal_error.
const (
	// CodeTooLarge (413): the upload is over Config.MaxSize, or the image
	// would be stored in more than twice that.
	CodeTooLarge = "too_large"
	// CodeUnsupportedType (415): not a PNG, JPEG, GIF or still WebP by
	// its bytes.
	CodeUnsupportedType = "unsupported_type"
	// CodeInvalidImage (422): undecodable, truncated, or over MaxSide,
	// MaxPixels, MaxGIFFrames or MaxGIFPixels.
	CodeInvalidImage = "invalid_image"
	// CodeNotFound (404): no such attachment, or it has expired.
	CodeNotFound = "attachment_not_found"
)
