// Package avatar generates the default avatars of users and rooms as small,
// deterministic SVG documents: an identicon for a user, derived from the
// user id, and the initials of a room's name on a colour derived from the
// name.
//
// The output is safe to serve as image/svg+xml even though room names are
// user input: it contains no script, no event-handler attribute, no link
// and no external reference, and all text is XML-escaped. Serve it with
// ContentType, and for defence in depth with a Content-Security-Policy of
// "default-src 'none'; style-src 'unsafe-inline'" and
// X-Content-Type-Options: nosniff, so that even an SVG opened directly in
// a browser tab can run nothing. Everything here is pure and safe for
// concurrent use.
package avatar
