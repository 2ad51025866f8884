// Package testserver is the protocol test-mode server: a raw Engine.IO echo
// endpoint at /engine.io/ and a Socket.IO endpoint at /socket.io/ whose
// namespaces behave as the official protocol test suites and the interop
// tests expect. It is started by `chatrooms --protocol-test`.
package testserver
