// Package engineio implements the server side of the Engine.IO v4 protocol
// (https://socket.io/docs/v4/engine-io-protocol/) on top of
// github.com/gobwas/ws: the handshake, HTTP long-polling, the WebSocket
// transport, the polling→WebSocket upgrade, the server-driven heartbeat and
// the protocol's error responses.
//
// A Server hands every established Session to a Handler, which receives
// each message in order on one goroutine per session. Outbound data is a
// *Frame (eiocodec.Frame; the packet codec lives in package eiocodec): an
// immutable packet encoded once into its final WebSocket frame bytes, so
// that one broadcast frame is queued, unchanged, to any number of
// sessions. Each session has a bounded outbound queue drained by a single
// writer with one vectored write (net.Buffers); a session whose queue
// overflows is closed as a slow consumer.
package engineio
