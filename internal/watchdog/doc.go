// Package watchdog proves that a node's hot path still turns: it runs a
// round of named checks (a probe through the room-event delivery loop, a
// turn of each lock the chat path takes) every interval, and reports the
// node unready while a round does not complete in time, naming the check
// that is stuck. A deadlocked node then says so on /readyz (and, if it
// stays stuck, on /healthz) instead of answering 200 while nothing moves.
package watchdog
