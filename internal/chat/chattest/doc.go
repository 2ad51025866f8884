// Package chattest holds in-memory fakes of the interfaces package chat
// consumes (KV, Log, Signals, Files, Listener) and a fake Clock that
// drives their timers and the service's, for fast tests of the chat rules
// without NATS.
//
// The fakes keep the contracts documented in package chat, as package
// cluster implements them on JetStream: a KV's revisions are one sequence
// for the bucket, Create fails on a live key, Update and Delete compare
// revisions, deletions leave markers that watches report, and a bucket
// with a TTL expires entries on the Clock; the Log numbers events across
// rooms and deduplicates AppendOnce ids for a window. Each fake can be
// told to fail (FailWith) to test how callers handle store errors.
package chattest
