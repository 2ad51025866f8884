// Package webui serves the built web client: a single-page application
// whose index.html loads content-hashed bundles from /assets/.
//
// Handler serves the files of an fs.FS (in production web.Dist(), embedded
// in the binary) with the Content-Type of their extension, long-lived
// caching for /assets/ (whose names change with their content) and
// revalidation for everything else; a navigation to a path the client
// routes itself (no file, no extension, Accept: text/html) gets index.html.
// Every response carries a Content-Security-Policy and the other security
// headers in Config. When the FS has no index.html (the client was not
// built), pages answer 503 with a short explanation instead.
//
// The HTTP API and Socket.IO keep their own, more specific routes on the
// same mux; this handler is registered at "/".
package webui
