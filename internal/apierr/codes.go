package apierr

// Client error codes, each with its HTTP status. A Socket.IO
// acknowledgement or connect_error carries the same code.
const (
	// CodeInvalidRequest (400): malformed JSON, unknown fields, trailing
	// data, wrong types, or arguments out of range.
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidUsername (400): the nickname breaks the nickname rules.
	CodeInvalidUsername = "invalid_username"
	// CodeUsernameTaken (409): the nickname, or a look-alike, is in use.
	CodeUsernameTaken = "username_taken"
	// CodeInvalidRoom (400): a room name or description breaks the rules.
	CodeInvalidRoom = "invalid_room"
	// CodeRoomNameTaken (409): a room of that name, or a look-alike, exists.
	CodeRoomNameTaken = "room_name_taken"
	// CodeRoomNotFound (404): no such room.
	CodeRoomNotFound = "room_not_found"
	// CodeInvalidMessage (400): a message or image description breaks
	// the message rules.
	CodeInvalidMessage = "invalid_message"
	// CodeUnauthorized (401): a missing, invalid or expired token on an
	// HTTP request or an event.
	CodeUnauthorized = "unauthorized"
	// CodeInvalidToken (401): a Socket.IO CONNECT with a missing or bad
	// token.
	CodeInvalidToken = "invalid_token"
	// CodeUnsupportedMediaType (415): a JSON request without Content-Type
	// application/json.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeTooLarge (413): a request body or an upload over its limit, or
	// an image that would be stored in more than twice the upload limit.
	CodeTooLarge = "too_large"
	// CodeRequestTimeout (408): the request body arrived too slowly.
	CodeRequestTimeout = "request_timeout"
	// CodeRateLimited (429): a limit was reached; see RateLimited.
	CodeRateLimited = "rate_limited"
	// CodeUnsupportedType (415): an upload that is not a PNG, JPEG, GIF or
	// still WebP by its bytes.
	CodeUnsupportedType = "unsupported_type"
	// CodeInvalidImage (422): an undecodable or truncated image, or one
	// over the size, pixel or frame limits.
	CodeInvalidImage = "invalid_image"
	// CodeAttachmentNotFound (404): no such attachment, it has expired,
	// or someone else uploaded it.
	CodeAttachmentNotFound = "attachment_not_found"
	// CodeNotFound (404): no such endpoint or avatar.
	CodeNotFound = "not_found"
	// CodeUnavailable (503): the store (NATS) cannot be reached; nothing
	// was changed.
	CodeUnavailable = "unavailable"
	// CodeInternal (500): anything else; the cause is logged, never shown.
	CodeInternal = "internal_error"
)

// statuses maps every client error code to its HTTP status. The numbers
// are net/http's Status constants, written out so that the chat rules,
// which use this package, do not depend on net/http.
var statuses = map[string]int{
	CodeInvalidRequest:       400, // Bad Request
	CodeInvalidUsername:      400,
	CodeUsernameTaken:        409, // Conflict
	CodeInvalidRoom:          400,
	CodeRoomNameTaken:        409,
	CodeRoomNotFound:         404, // Not Found
	CodeInvalidMessage:       400,
	CodeUnauthorized:         401, // Unauthorized
	CodeInvalidToken:         401,
	CodeUnsupportedMediaType: 415, // Unsupported Media Type
	CodeTooLarge:             413, // Content Too Large
	CodeRequestTimeout:       408, // Request Timeout
	CodeRateLimited:          429, // Too Many Requests
	CodeUnsupportedType:      415,
	CodeInvalidImage:         422, // Unprocessable Content
	CodeAttachmentNotFound:   404,
	CodeNotFound:             404,
	CodeUnavailable:          503, // Service Unavailable
	CodeInternal:             500, // Internal Server Error
}

// Status returns the HTTP status of a client error code; an unknown code
// is 500 Internal Server Error.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return 500
}
