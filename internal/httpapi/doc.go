// Package httpapi is the ChatRooms HTTP API under /api: users, rooms and
// avatars, JSON in and out, with every error as {"error": code,
// "message": text} and the status its code calls for. routes.go lists the
// whole API on one page.
package httpapi
