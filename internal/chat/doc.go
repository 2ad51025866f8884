// Package chat is the ChatRooms domain: users and their nicknames and
// tokens, rooms and membership, messages, typing and presence. It keeps no
// shared state of its own: every decision is a compare-and-set on the
// key-value buckets and every room event goes through the room log, both
// declared here as small interfaces (KV, Log, Signals) and implemented on
// NATS JetStream by package cluster. It imports no transport. Its timers
// and tickers come from a Clock (real time unless Config.Clock says
// otherwise). Package chattest has in-memory fakes of these interfaces
// and a fake Clock, for tests of the rules without NATS (fake_*_test.go).
package chat
