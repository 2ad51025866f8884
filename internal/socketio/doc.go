// Package socketio implements the server side of the Socket.IO v5 protocol
// (https://socket.io/docs/v4/socket-io-protocol/, used by Socket.IO v3 and
// v4 clients) over package engineio, with the packet codec of package
// siocodec: namespaces with an auth hook that may refuse a connection,
// events, acknowledgements in both directions, rooms local to this node,
// and broadcasts that are encoded once and queued, as the same bytes, to
// every recipient.
//
// Lock order (see LOCKS.md): a namespace's room shard lock may be held
// while a Socket's or an engineio.Session's lock is taken, never the
// reverse; no lock of this package is held while a handler runs.
package socketio
