// Package sioclient is a small Socket.IO v5 client over the Engine.IO v4
// WebSocket transport only (no long-polling, no reconnection). It exists
// for the project's own integration tests and the load generator: one
// Client is one WebSocket connected to one namespace.
//
// Dial performs the whole handshake (WebSocket upgrade, Engine.IO open,
// Socket.IO CONNECT) and returns a connected Client, or a *ConnectError
// when the server refuses the namespace. After that one reader goroutine
// per Client answers pings, reassembles binary packets, resolves acks and
// stores every received event in a bounded inbox that Next and Events read.
// A Client that nobody reads is closed with ErrEventOverflow rather than
// blocking its reader or growing without bound.
package sioclient
