// Package httpapi is the ChatRooms HTTP API under /api: users, rooms and
// avatars, JSON in and out, with every error as {"error": code,
// "message": text} and the status its code calls for. routes.go lists the
// whole API on one page.
//
// Reading, writing and bearer tokens are internal/httpx's, the codes and
// their statuses internal/apierr's: a JSON body needs Content-Type application/json
// (else 415 unsupported_media_type), at most Config.MaxBody bytes (else
// 413 too_large), arriving at Config.Body's minimum rate (else 408
// request_timeout, connection closed); the Authorization scheme "Bearer"
// is matched in any case.
package httpapi
