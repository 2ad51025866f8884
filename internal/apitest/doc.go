// Package apitest is a client of the chat service's public API for the
// tests that run a whole server: JSON requests to the HTTP API, user
// registration, image uploads, a user's /chat socket with its greeting,
// acked calls and messages, and the HTTP contract (status and error code of
// every endpoint) that one node and the cluster behind nginx must both
// keep. The single-node tests (cmd/chatrooms) and the cluster tests
// (test/cluster) share it, so that a check tightened for one is tightened
// for both.
//
// Every helper takes the *testing.T of the test that uses it and fails that
// test; Request returns errors instead, for goroutines. Each wait is
// bounded by StepTimeout.
package apitest
