package attachments

import (
	"fmt"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// ErrNotFound reports no such attachment, or one that has expired. It wraps
// apierr.ErrNotFound, so errors.Is holds for either.
//
// The client errors of this package are apierr's: too_large (413, the
// upload is over Config.MaxSize, or the image would be stored in more
// than twice that), unsupported_type (415, not a PNG, JPEG, GIF or still
// WebP by its bytes), invalid_image (422, undecodable, truncated, or over
// MaxSide, MaxPixels, MaxGIFFrames or MaxGIFPixels) and
// attachment_not_found (404), besides unauthorized, rate_limited,
// invalid_request, request_timeout, unavailable and internal_error.
var ErrNotFound = fmt.Errorf("attachments: not found: %w", apierr.ErrNotFound)
