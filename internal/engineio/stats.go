package engineio

import (
	"errors"
	"sync/atomic"
)

// CloseReasons are the labels Stats counts closed sessions by: a bounded
// set, whatever reason a close was given.
var CloseReasons = [...]string{
	"client",              // ErrClientClose
	"transport",           // ErrTransportClose: the connection was lost
	"ping_timeout",        // ErrPingTimeout
	"slow_consumer",       // ErrSlowConsumer
	"protocol_error",      // ErrParse, ErrTooLarge, ErrDuplicatePoll
	"server_shutdown",     // ErrServerShutdown
	"backend_unavailable", // ErrBackendUnavailable
	"closed_by_server",    // the application closed it (any other reason)
}

// closeReasonIndex is reason's index in CloseReasons.
func closeReasonIndex(reason error) int {
	switch {
	case errors.Is(reason, ErrClientClose):
		return 0
	case errors.Is(reason, ErrTransportClose):
		return 1
	case errors.Is(reason, ErrPingTimeout):
		return 2
	case errors.Is(reason, ErrSlowConsumer):
		return 3
	case errors.Is(reason, ErrParse), errors.Is(reason, ErrTooLarge), errors.Is(reason, ErrDuplicatePoll):
		return 4
	case errors.Is(reason, ErrServerShutdown):
		return 5
	case errors.Is(reason, ErrBackendUnavailable):
		return 6
	default:
		return 7
	}
}

// counters are the Server's running totals (Stats).
type counters struct {
	opened atomic.Uint64
	closed [len(CloseReasons)]atomic.Uint64
}

// Stats is a snapshot of a Server's sessions.
type Stats struct {
	Polling, WebSocket int    // open sessions by current transport
	Opened             uint64 // sessions opened since the start
	// Closed counts the sessions closed since the start, by reason, in
	// the order of CloseReasons.
	Closed [len(CloseReasons)]uint64
}

// Totals returns the sessions opened since the start and those closed,
// by reason in the order of CloseReasons: two reads of counters, no visit
// of the sessions. Safe for concurrent use.
func (srv *Server) Totals() (opened uint64, closed [len(CloseReasons)]uint64) {
	for i := range closed {
		closed[i] = srv.counters.closed[i].Load()
	}
	return srv.counters.opened.Load(), closed
}

// Stats counts the open sessions by transport (visiting each) and
// returns the totals. Safe for concurrent use; meant for a metrics
// scrape, not a hot path.
func (srv *Server) Stats() Stats {
	var st Stats
	// each collects the sessions under the shard locks and visits them
	// after (no session lock is taken under a shard's).
	srv.each(func(s *Session) {
		s.mu.Lock()
		t, closed := s.transport, s.closed
		s.mu.Unlock()
		switch {
		case closed:
		case t == WebSocket:
			st.WebSocket++
		default:
			st.Polling++
		}
	})
	st.Opened, st.Closed = srv.Totals()
	return st
}
