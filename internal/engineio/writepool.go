package engineio

import (
	"net"
	"runtime"
	"sync"
	"time"
)

// writePool writes the queues of WebSocket sessions that have frames to
// send, with a few goroutines (at most GOMAXPROCS-2) instead of one per
// session: a broadcast to N sessions makes N sessions ready, not N
// goroutines runnable. The workers write without blocking (vecWriter);
// they yield to the scheduler every yieldEvery sessions, so that a
// goroutine woken meanwhile (a NATS reply, a client's message, a timer)
// runs within a few hundred microseconds instead of behind every write of
// the broadcast. A session whose socket buffer is full, or that is
// closing, is handed to a goroutine of its own (Session.writeLoop), which
// waits for the socket under the write deadline; the pool never waits on a
// client.
type writePool struct {
	srv      *Server
	max      int
	interval time.Duration // Config.WriteInterval

	mu      sync.Mutex
	ready   poolQueue // sessions with frames to write, first come first written
	replies poolQueue // sessions with a reply waiting: written before ready's
	ticket  uint64    // the last entry's number
	workers int

	// replyKick wakes a worker pausing between two rounds (interval) to
	// write the answers to connection steps that came meanwhile
	// (Session.SendAnswer), with the other replies waiting.
	replyKick chan struct{}
}

// poolEntry is a session waiting in a poolQueue. An entry whose ticket is
// no longer its session's poolTicket is stale (the session was moved to
// replies) and is skipped.
type poolEntry struct {
	s      *Session
	ticket uint64
}

// poolQueue is a FIFO of entries: q[head:].
type poolQueue struct {
	q     []poolEntry
	head  int
	taken int // entries ever taken off the front, stale ones included
}

func (q *poolQueue) len() int { return len(q.q) - q.head }

// add appends e. When the array is full and at least half of it taken,
// the waiting entries move to its front first: a queue that never empties
// (a pool busy for minutes) keeps its array instead of growing a new one,
// copying everything, each time it fills.
func (q *poolQueue) add(e poolEntry) {
	if len(q.q) == cap(q.q) && q.head > 0 && q.head >= len(q.q)/2 {
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q = q.q[:n]
		q.head = 0
	}
	q.q = append(q.q, e)
}

// take returns the first live entry's session, or nil when there is none
// (then the queue is emptied, keeping a small array). p.mu is held.
func (q *poolQueue) take() *Session {
	for q.head < len(q.q) {
		e := q.q[q.head]
		q.q[q.head] = poolEntry{}
		q.head++
		q.taken++
		if e.s.poolTicket == e.ticket {
			e.s.poolTicket, e.s.poolReply = 0, false
			return e.s
		}
	}
	if cap(q.q) > 4096 { // let a burst's big array go
		q.q = nil
	} else {
		q.q = q.q[:0]
	}
	q.head = 0
	return nil
}

// yieldEvery is how many sessions a worker writes between two yields.
const yieldEvery = 32

func newWritePool(srv *Server) *writePool {
	return &writePool{srv: srv, max: poolWorkers(runtime.GOMAXPROCS(0)), interval: srv.cfg.WriteInterval, replyKick: make(chan struct{}, 1)}
}

// poolWorkers is how many workers the pool runs with procs Ps: two Ps
// are left to the rest of the process. Go consults the network poller
// when a P runs out of work (or from sysmon, only every 10 ms or so):
// with every P busy writing, a goroutine woken by the network (a NATS
// reply, the embedded NATS server reading a publish, a client's message)
// waited for sysmon, and a JetStream publish, two such hops, took 4-8 ms
// at the median under a 200,000 deliveries/s load instead of under 1 ms
// (docs/measurements.md, "A P left to the network"). With one P left,
// the handlers, NATS and the fan-out ran on one thread against the
// writers' on a one-core machine, and a room switch waited for its
// share of the core behind the writes ("Three Ps on one core"; the
// server runs with at least three Ps, cmd/chatrooms enoughProcs).
func poolWorkers(procs int) int {
	return max(1, procs-2)
}

// push queues s, whose writer role (s.writing) the caller took, and
// starts a worker if fewer than max are running. A session that got a
// reply while a worker was writing it (s.replyNext) goes to replies.
func (p *writePool) push(s *Session) {
	p.mu.Lock()
	p.ticket++
	s.poolTicket = p.ticket
	e := poolEntry{s: s, ticket: p.ticket}
	now := s.replyNext && s.replyNow
	if s.replyNext {
		s.replyNext, s.replyNow, s.poolReply = false, false, true
		p.replies.add(e)
	} else {
		p.ready.add(e)
	}
	start := p.workers < p.max
	if start {
		p.workers++
		p.srv.wg.Add(1)
	}
	p.mu.Unlock()
	if now {
		p.kick()
	}
	if start {
		go p.run()
	}
}

// kick wakes a worker that pauses between rounds, if one does, to write
// the replies waiting (an answer to a connection step among them).
func (p *writePool) kick() {
	select {
	case p.replyKick <- struct{}{}:
	default:
	}
}

// promote moves s, whose writer role is taken (s.writing, s.mu held), to
// replies: a reply to the client's request (an ack) was just queued on
// it, and the client is waiting for it, whereas a
// session in ready may only have broadcasts waiting. Its frames keep
// their order: the whole queue is written, sooner. A session that is not
// waiting in ready is being written (by a worker, which pushes it to
// replies if more is queued, or by its own writeLoop, whose socket is
// full: then the mark waits for its next push).
//
// A session goes ahead at most once a round: once taken from replies, it
// is not moved again until the sessions then waiting in ready have been
// taken (s.replyAgain); meanwhile its replies go at its turn. A client
// that floods requests to have acks always waiting gets at most one
// write a round more than the others, and never holds up the ready ones.
//
// now (Session.SendAnswer: the answer to a connection step, which comes
// once a connection) also wakes a worker pausing between rounds to write
// it, and is not held to once a round.
func (p *writePool) promote(s *Session, now bool) {
	p.mu.Lock()
	kick := false
	switch {
	case !now && p.ready.taken < s.replyAgain:
	case s.poolReply:
		kick = now
	case s.poolTicket == 0:
		s.replyNext = true
		s.replyNow = s.replyNow || now
	default:
		p.ticket++
		s.poolTicket, s.poolReply = p.ticket, true
		p.replies.add(poolEntry{s: s, ticket: p.ticket})
		kick = now
		// Its entry in ready is stale now. When it is the last one (the
		// usual case: queued and promoted by one SendReply or
		// SendAnswer) it goes, so that stale entries do not count as
		// sessions waiting in ready (readyLen, replyAgain) while a
		// worker pauses and nothing takes them.
		if q := &p.ready; len(q.q) > q.head && q.q[len(q.q)-1].s == s {
			q.q[len(q.q)-1] = poolEntry{}
			q.q = q.q[:len(q.q)-1]
		}
	}
	p.mu.Unlock()
	if kick {
		p.kick()
	}
}

// pop takes the first session waiting for a reply, else the first ready
// one; or returns nil and retires the calling worker when there is none.
func (p *writePool) pop() *Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.takeReplyLocked(); s != nil {
		return s
	}
	if s := p.ready.take(); s != nil {
		return s
	}
	p.workers--
	return nil
}

// popReply takes the first session waiting for a reply, or returns nil.
func (p *writePool) popReply() *Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.takeReplyLocked()
}

func (p *writePool) takeReplyLocked() *Session {
	s := p.replies.take()
	if s != nil {
		s.replyAgain = p.ready.taken + p.ready.len()
	}
	return s
}

// readyLen is the number of entries waiting (a moved session's old entry
// included: a round may end one session early).
func (p *writePool) readyLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready.len() + p.replies.len()
}

// run is a worker. With an interval, it goes round the ready sessions in
// rounds (the sessions waiting when a round begins) that begin at least
// an interval apart: a session that is written to again and again is
// written about once an interval, with everything queued meanwhile, not
// once a frame. The answer to a connection step does not wait for the
// next round: the worker writes the replies waiting when one comes while
// it pauses (pause). A worker that finds nothing to write ends, so a
// frame to an idle server still goes at once.
func (p *writePool) run() {
	defer p.srv.wg.Done()
	w := newVecWriter()
	left := 0 // sessions left in this round
	var start time.Time
	for n := 1; ; n++ {
		if p.interval > 0 && left <= 0 {
			if !start.IsZero() {
				if d := p.interval - time.Since(start); d > 0 {
					p.pause(w, d)
				}
			}
			start = time.Now()
			left = p.readyLen()
		}
		s := p.pop()
		if s == nil {
			return
		}
		left--
		if again := s.writeReady(w); again {
			p.push(s)
		}
		if n%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
}

// pause waits d between two rounds. When the answer to a connection
// step comes meanwhile (SendAnswer), it writes the sessions with a reply
// waiting: a connecting client waits for the open packet, then for the
// CONNECT answer, then for its lists, each a round of the pacing, and
// 2,000 of them took a second longer to connect (docs/measurements.md,
// "Answers between rounds"). Acks keep their place at the head of the
// next round: written at once, each would be a write of its own at
// 200,000 deliveries/s.
// A shutdown ends the pause (Server.Shutdown kicks): the sessions are
// closing, and the worker hands them to their writeLoops at once.
func (p *writePool) pause(w *vecWriter, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		if p.srv.closing.Load() {
			p.kick() // passed on: another worker may be pausing too
			return
		}
		select {
		case <-t.C:
			return
		case <-p.replyKick:
			for s := p.popReply(); s != nil; s = p.popReply() {
				if again := s.writeReady(w); again {
					p.push(s)
				}
			}
		}
	}
}

// writeReady writes what s has queued without blocking (through w), on a
// pool worker that holds s's writer role. It returns true if more was queued
// meanwhile (the caller queues s again, behind the sessions already
// waiting). Otherwise the role is released, or handed to a writeLoop
// goroutine when the socket could not take everything or s is closing.
func (s *Session) writeReady(w *vecWriter) (again bool) {
	s.mu.Lock()
	conn := s.conn
	if s.closed || len(s.queue) == 0 || len(s.queue) > maxIovecs {
		if s.closed || len(s.queue) > 0 {
			s.mu.Unlock()
			s.handOff(nil, nil)
			return false
		}
		s.writing = false
		s.mu.Unlock()
		return false
	}
	batch := s.takeLocked()
	s.mu.Unlock()

	bufs := w.bufs[:0]
	for _, f := range batch {
		bufs = append(bufs, f.WebSocket())
	}
	w.bufs = bufs
	n, err := w.writeNow(conn)
	if err != nil && err != errWouldBlock {
		clear(bufs)
		s.writeFailed()
		return false
	}
	if rest := unwritten(bufs, n); len(rest) > 0 {
		// The socket is full: a goroutine of its own waits for it (under
		// the write deadline) and finishes this batch first.
		pending := append(net.Buffers(nil), rest...)
		clear(bufs)
		s.handOff(pending, batch)
		return false
	}
	clear(bufs)
	s.srv.written(batch, w.ages)

	s.mu.Lock()
	s.recycleLocked(batch)
	more := len(s.queue) > 0
	closing := s.closed
	if !more && !closing {
		s.writing = false
	}
	s.mu.Unlock()
	if closing {
		s.handOff(nil, nil)
		return false
	}
	return more
}

// handOff passes s's writer role to a goroutine of its own, which first
// writes pending (the rest of batch) and then goes on as writeLoop.
func (s *Session) handOff(pending net.Buffers, batch []*Frame) {
	s.srv.wg.Add(1)
	go s.writeLoop(pending, batch)
}

// maxIovecs bounds the frames of one non-blocking writev (the kernel's
// IOV_MAX is 1024); a longer queue goes through writeLoop, whose
// net.Buffers write splits it.
const maxIovecs = 1024

// unwritten returns what is left of bufs after n bytes were written,
// sharing bufs' arrays.
func unwritten(bufs net.Buffers, n int) net.Buffers {
	for len(bufs) > 0 {
		if n < len(bufs[0]) {
			if n > 0 {
				bufs[0] = bufs[0][n:]
			}
			return bufs
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	return nil
}
