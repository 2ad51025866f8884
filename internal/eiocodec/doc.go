// Package eiocodec is the Engine.IO v4 wire format
// (https://socket.io/docs/v4/engine-io-protocol/), shared by the server
// (package engineio) and the clients (package sioclient, cmd/chatload):
// packets and their text encoding, long-polling payloads, and the
// WebSocket frames that carry them.
//
// Outbound data is a *Frame: an immutable packet encoded once into its
// final WebSocket frame bytes, so that one frame can be queued, unchanged,
// to any number of sessions. The Frame constructors (unmasked, for the
// server) and AppendClientFrame (masked, for clients) share the project's
// one WebSocket frame writer. Everything here is stateless and safe for
// concurrent use.
package eiocodec
