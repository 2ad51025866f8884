// Package cluster keeps ChatRooms' shared state in NATS JetStream, so
// that several stateless chat nodes can serve the same users and rooms.
//
// Start either embeds a nats-server (the default: JetStream files under
// Options.DataDir/nats; unless Options.ListenAddr, a loopback port of the
// system's choosing that only this node can use, with a secret token) or connects to an existing NATS server or
// cluster (Options.NATSURL), reconnecting forever. It then creates or
// updates, idempotently:
//
//   - the key-value buckets users, nicks, tokens, rooms, roomnames,
//     nodes (whose entries expire after Options.NodeTTL) and attachmeta
//     (attachment metadata, expiring after Options.AttachmentRetention),
//     each a KV that implements chat.KV with compare-and-set on
//     JetStream's expected-last-subject-sequence;
//   - the object store attachments (stream OBJ_attachments: images and
//     thumbnails, expiring a tenth, at most a minute, after the
//     metadata that points to them; at most Options.AttachmentMaxBytes),
//     read and written through Objects,
//     which implements attachments.Blobs;
//   - the ROOMS stream on chat.room.> (file storage, limits retention:
//     Options.RoomsMaxAge and Options.RoomsMaxMsgsPerSubject, oldest
//     discarded, two-minute Nats-Msg-Id duplicate window), read and
//     written through Log, which implements chat.Log.
//
// Signals implements chat.Signals on core NATS subjects under chat.sig.,
// which are not stored.
//
// Errors wrap apierr's storage outcomes: jetstream.ErrKeyNotFound and
// ErrObjectNotFound become apierr.ErrNotFound, ErrKeyExists
// apierr.ErrExists, a "wrong last sequence" answer to Update or Delete
// apierr.ErrConflict, and timeouts, missing responders and a closed or
// reconnecting connection apierr.ErrUnavailable.
// Keys and room names are validated, never encoded: anything outside
// [A-Za-z0-9_=.-] is refused with ErrInvalidKey or ErrInvalidSubject.
//
// Close drains the connection, then stops the embedded server. Package
// natstest starts embedded clusters and standalone servers for tests.
package cluster
