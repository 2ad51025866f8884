package engineio

import (
	"github.com/chatrooms/chatrooms/internal/eiocodec"

	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// closeLinger is how long a session closed by the client over polling
// stays known, to answer a GET that crossed the close packet.
const closeLinger = time.Second

// Transport names a session's current transport.
type Transport uint8

// Transports.
const (
	Polling Transport = iota
	WebSocket
)

func (t Transport) String() string {
	if t == WebSocket {
		return "websocket"
	}
	return "polling"
}

// Session is one Engine.IO connection. Its methods are safe for concurrent
// use.
type Session struct {
	srv        *Server
	id         string
	remoteAddr string
	value      atomic.Value
	isClosed   atomic.Bool

	// Under mu. The one-byte fields sit together (a Session is one of the
	// few things every idle connection holds: no padding between them).
	mu         sync.Mutex
	ctx        context.Context // made by Context, on demand
	cancel     context.CancelCauseFunc
	transport  Transport
	closed     bool
	finalized  bool
	writing    bool  // websocket: a writer owns conn
	posting    bool  // polling: a POST is being handled
	upgrading  bool  // upgrade: the probe was answered; the upgrade packet may come
	probing    bool  // upgrade: a probe WebSocket is open (probeConn)
	lingerNoop bool  // closed by the client over polling; one more GET gets a noop
	rstate     uint8 // the poller reader's state (pollread.go)
	rtoken     uint32
	// Under srv.writers.mu (writepool.go): the number of the session's
	// entry in the write pool's queues (0: in none), whether that entry is
	// in replies, whether the next push goes there, and the count of
	// entries taken from ready before it may go to replies again.
	poolReply  bool
	replyNext  bool
	replyNow   bool // replyNext is for an answer to a connection step (SendAnswer)
	poolTicket uint64
	replyAgain int
	closeErr   error
	handlers   int // goroutines that may still call OnMessage
	queue      []*Frame
	spare      []*Frame
	queued     int64
	// websocket
	conn    net.Conn
	closeWS *Frame // close frame the writer sends last, when closing
	// polling
	poll chan struct{} // non-nil while a GET is held; closed to release it
	// upgrade
	probeConn net.Conn
	// WebSocket reading through the poller (see pollread.go)
	rpoll *poller
	rconn net.Conn
	rfr   *frameReader
	// closeHooks run when the session starts closing (AfterClose).
	closeHooks []*closeHook
	// heartbeat
	timer    *time.Timer
	nextPing monoTime // when the next ping is due
	pingDue  monoTime // when the outstanding ping was due; 0 if none
}

// monoTime is a point on the process's monotonic clock: the time since
// the package's start (8 bytes where a time.Time takes 24, in every
// session). It is never 0 for a time taken after start-up.
type monoTime time.Duration

var monoEpoch = time.Now()

func monoNow() monoTime { return monoTime(time.Since(monoEpoch)) }

// add returns t + d.
func (t monoTime) add(d time.Duration) monoTime { return t + monoTime(d) }

// sub returns t - u.
func (t monoTime) sub(u monoTime) time.Duration { return time.Duration(t - u) }

// ID is the session id. Transport is the current transport.
func (s *Session) ID() string { return s.id }

// Transport returns the transport in use.
func (s *Session) Transport() Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// RemoteAddr is the client's address (Config.ClientAddr of the handshake
// request, or its RemoteAddr). Nothing else of the handshake is kept: an
// idle session holds as little as it can.
func (s *Session) RemoteAddr() string { return s.remoteAddr }

type closeHook struct{ f func(reason error) }

// AfterClose arranges for f to be called with the close reason as soon as
// the session starts closing, which may be while a handler is still
// running (Handler.OnClose waits for the handlers to return). f must not
// block. If the session is already closing, f is called at once. The
// returned stop unregisters f and reports whether it did so before f was
// called. Unlike context.AfterFunc on Context, nothing stays on the
// session once f is unregistered or has run.
func (s *Session) AfterClose(f func(reason error)) (stop func() bool) {
	h := &closeHook{f: f}
	s.mu.Lock()
	if s.closed {
		reason := s.closeErr
		s.mu.Unlock()
		f(reason)
		return func() bool { return false }
	}
	s.closeHooks = append(s.closeHooks, h)
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.closeHooks {
			if x == h {
				s.closeHooks = slices.Delete(s.closeHooks, i, i+1)
				if len(s.closeHooks) == 0 {
					s.closeHooks = nil
				}
				return true
			}
		}
		return false
	}
}

// Context ends when the session closes; its cause is the close reason.
// It is made on the first call (most sessions never need one: each
// costs about 100 bytes for the session's whole life), already ended if
// the session has closed.
func (s *Session) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancelCause(context.Background())
		if s.closed {
			s.cancel(s.closeErr)
		}
	}
	return s.ctx
}

// SetValue stores an application value; Value returns it (nil if none).
func (s *Session) SetValue(v any) { s.value.Store(&v) }

// Value returns what SetValue stored, or nil.
func (s *Session) Value() any {
	if p, ok := s.value.Load().(*any); ok {
		return *p
	}
	return nil
}

// Send queues frames, atomically and in order, for delivery. It never
// blocks on the network. If the queue would exceed the configured limit the
// session is closed with ErrSlowConsumer, which Send returns; after close it
// returns ErrSessionClosed.
func (s *Session) Send(frames ...*Frame) error { return s.send(sendPlain, frames) }

// SendReply is Send for a reply to the client's request (an ack), which
// the client is waiting for: a WebSocket session waiting for the write
// pool is written ahead of the sessions that only have broadcasts
// waiting, with everything queued before the reply (the order of a
// session's frames never changes). Under a broadcast load it saves the
// reply a round of the pool (docs/measurements.md, "Replies first").
func (s *Session) SendReply(frames ...*Frame) error { return s.send(sendReply, frames) }

// SendAnswer is SendReply for the answer to a step of the client's
// connection (the Socket.IO CONNECT answer, its first lists), which
// comes once a connection: it is also written while the write pool
// pauses between rounds (Config.WriteInterval), not at the next round.
func (s *Session) SendAnswer(frames ...*Frame) error { return s.send(sendAnswer, frames) }

// How send queues frames.
const (
	sendPlain = iota
	sendReply
	sendAnswer
)

// send is Send, SendReply or SendAnswer.
func (s *Session) send(how int, frames []*Frame) error {
	s.mu.Lock()
	err := s.enqueueLocked(frames...)
	if how != sendPlain && err == nil {
		s.promoteLocked(how == sendAnswer)
	}
	s.mu.Unlock()
	if err == ErrSlowConsumer {
		s.close(ErrSlowConsumer, false)
	}
	return err
}

// promoteLocked moves a WebSocket session waiting for the write pool
// ahead of those with only broadcasts waiting (SendReply; now: SendAnswer).
// s.mu is held.
func (s *Session) promoteLocked(now bool) {
	if s.transport == WebSocket && s.writing && s.conn != nil {
		s.srv.writers.promote(s, now)
	}
}

// enqueueLocked queues frames and wakes the transport. s.mu is held.
func (s *Session) enqueueLocked(frames ...*Frame) error {
	if s.closed {
		return ErrSessionClosed
	}
	var n int64
	for _, f := range frames {
		n += int64(f.Size())
	}
	if s.queued+n > s.srv.cfg.WriteQueue {
		return ErrSlowConsumer
	}
	s.queue = append(s.queue, frames...)
	s.queued += n
	s.wakeLocked()
	return nil
}

// wakeLocked starts the websocket writer or releases a held poll.
func (s *Session) wakeLocked() {
	if s.transport == WebSocket {
		if !s.writing && s.conn != nil {
			s.writing = true
			s.srv.writers.push(s)
		}
		return
	}
	if s.poll != nil {
		close(s.poll)
		s.poll = nil
	}
}

// takeLocked removes and returns the queued frames.
func (s *Session) takeLocked() []*Frame {
	q := s.queue
	s.queue = s.spare[:0]
	s.spare = nil
	s.queued = 0
	return q
}

// recycleLocked keeps a drained queue's array for reuse unless it is big.
func (s *Session) recycleLocked(q []*Frame) {
	if cap(q) <= 256 {
		clear(q)
		s.spare = q[:0]
	}
}

// bufsPool recycles the vectors writers gather frames into: writers come
// and go with bursts, so a per-writer slice would be garbage each time.
var bufsPool = sync.Pool{New: func() any { return new(net.Buffers) }}

// writeLoop is the session's websocket writer, on a goroutine of its own,
// while s.writing is true and the write pool handed the session over (a
// full socket, a close): it first writes pending, the unwritten rest of
// batch, then drains the whole queue with one vectored write per round,
// each under the write deadline, and sends the close frame last.
func (s *Session) writeLoop(pending net.Buffers, batch []*Frame) {
	defer s.srv.wg.Done()
	ages := make([]time.Duration, 0, framesWrittenChunk) // written's scratch
	if len(pending) > 0 {
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
		if _, err := pending.WriteTo(conn); err != nil {
			s.writeFailed()
			return
		}
		s.srv.written(batch, ages)
	}
	bp := bufsPool.Get().(*net.Buffers)
	bufs := (*bp)[:0]
	defer func() {
		clear(bufs)
		if cap(bufs) <= 1024 {
			*bp = bufs[:0]
			bufsPool.Put(bp)
		}
	}()
	for {
		s.mu.Lock()
		conn := s.conn
		if len(s.queue) == 0 {
			final := s.closeWS
			if s.closed && final != nil {
				s.closeWS = nil
				s.mu.Unlock()
				_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = conn.Write(final.WebSocket())
				_ = conn.Close()
				s.mu.Lock()
			}
			s.writing = false
			s.mu.Unlock()
			return
		}
		batch := s.takeLocked()
		s.mu.Unlock()

		bufs = bufs[:0]
		for _, f := range batch {
			bufs = append(bufs, f.WebSocket())
		}
		_ = conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
		b := bufs
		_, err := b.WriteTo(conn)
		clear(bufs)
		if err == nil {
			s.srv.written(batch, ages)
		}

		s.mu.Lock()
		s.recycleLocked(batch)
		s.mu.Unlock()
		if err != nil {
			s.writeFailed()
			return
		}
	}
}

// writeFailed gives up the writer role after a failed write and drops the
// connection.
func (s *Session) writeFailed() {
	s.mu.Lock()
	s.writing = false
	s.mu.Unlock()
	s.close(ErrTransportClose, false)
}

// Close closes the session gracefully: what is queued is still delivered,
// then the transport closes. Handler.OnClose receives ErrClosedByServer.
func (s *Session) Close() { s.close(ErrClosedByServer, true) }

// CloseWithReason is Close with the reason passed to Handler.OnClose.
func (s *Session) CloseWithReason(reason error) { s.close(reason, true) }

// close marks the session closed for reason. Graceful closes let queued
// frames drain first; abrupt ones drop the connection at once. A second
// call can only turn a graceful close into an abrupt one.
func (s *Session) close(reason error, graceful bool) {
	s.mu.Lock()
	if s.closed {
		conn := s.conn
		s.mu.Unlock()
		if !graceful && conn != nil {
			_ = conn.Close()
		}
		return
	}
	s.closed = true
	s.isClosed.Store(true)
	s.closeErr = reason
	cancel := s.cancel // nil if Context was never asked for
	s.srv.counters.closed[closeReasonIndex(reason)].Add(1)
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.probeConn != nil {
		_ = s.probeConn.Close()
	}
	conn := s.conn
	if s.transport == WebSocket && conn != nil {
		if graceful {
			s.closeWS = closeFrameFor(reason)
			if !s.writing {
				s.writing = true
				s.srv.wg.Add(1)
				go s.writeLoop(nil, nil)
			}
			conn = nil
		}
	} else if s.poll != nil {
		close(s.poll)
		s.poll = nil
	} else if reason == ErrClientClose && s.transport == Polling {
		// The client's GET may still be on its way: answer it with a
		// noop rather than an unknown-sid error, then forget the session.
		s.lingerNoop = true
	}
	linger := s.lingerNoop
	hooks := s.closeHooks
	s.closeHooks = nil
	fin := s.handlers == 0 && !s.finalized
	if fin {
		s.finalized = true
	}
	// An armed poller reader is not reading: stop it here. A running one
	// stops by itself.
	idleReader := s.rstate == readerArmed
	if idleReader {
		s.rstate = readerDone
	}
	s.mu.Unlock()
	if idleReader {
		s.releasePollReader()
	}
	if linger {
		time.AfterFunc(closeLinger, func() { s.srv.remove(s) })
	} else {
		s.srv.remove(s)
	}
	if cancel != nil {
		cancel(reason)
	}
	for _, h := range hooks {
		h.f(reason)
	}
	if conn != nil {
		_ = conn.Close()
	}
	if fin {
		go s.finalize()
	}
}

func closeFrameFor(reason error) *Frame {
	code, text := ws.StatusNormalClosure, ""
	switch reason {
	case ErrServerShutdown:
		code, text = ws.StatusGoingAway, "server shutting down"
	case ErrSlowConsumer:
		code, text = ws.StatusPolicyViolation, "slow consumer"
	case ErrParse:
		code, text = ws.StatusProtocolError, "parse error"
	case ErrTooLarge:
		code, text = ws.StatusMessageTooBig, "message too big"
	case ErrBackendUnavailable:
		code, text = ws.StatusCode(1013), "backend unavailable, reconnect" // 1013 Try Again Later (IANA registry)
	}
	return eiocodec.NewControlFrame(ws.OpClose, ws.NewCloseFrameBody(code, text))
}

// leaveHandler undoes a handlers++ (a goroutine that calls OnMessage, counted
// under s.mu while the session is open) and finalizes a closed session whose
// last handler left. Handler.OnClose runs on a goroutine of its own: the
// caller may be close() itself (releasing an idle poller reader), called
// from Send by a broadcaster that holds its own locks.
func (s *Session) leaveHandler() {
	s.mu.Lock()
	s.handlers--
	fin := s.closed && s.handlers == 0 && !s.finalized
	if fin {
		s.finalized = true
	}
	s.mu.Unlock()
	if fin {
		go s.finalize()
	}
}

func (s *Session) finalize() {
	defer s.srv.wg.Done()
	s.srv.h.OnClose(s, s.closeErr)
}

// deliver hands one inbound packet to the handler or the heartbeat.
func (s *Session) deliver(p eiocodec.Packet) {
	switch p.Type {
	case eiocodec.Message:
		if !s.isClosed.Load() {
			s.srv.h.OnMessage(s, p.Data, p.Binary)
		}
	case eiocodec.Pong:
		s.onPong()
	case eiocodec.Close:
		s.close(ErrClientClose, true)
	case eiocodec.Ping:
		// v3 clients ping; answer so they stay happy.
		_ = s.Send(framePong)
	}
}

// startHeartbeat schedules the first ping.
func (s *Session) startHeartbeat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextPing = monoNow().add(s.srv.cfg.PingInterval)
	s.timer = time.AfterFunc(s.srv.cfg.PingInterval, s.onTimer)
}

// onTimer sends a due ping, or closes the session when the outstanding
// ping's timeout has passed.
func (s *Session) onTimer() {
	now := monoNow()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.pingDue != 0 {
		if s.expiredLocked(now) {
			s.mu.Unlock()
			s.close(ErrPingTimeout, false)
			return
		}
		s.timer.Reset(s.pingDue.add(s.srv.cfg.PingTimeout).sub(now))
		s.mu.Unlock()
		return
	}
	if now < s.nextPing {
		s.timer.Reset(s.nextPing.sub(now))
		s.mu.Unlock()
		return
	}
	// The timeout runs from when the ping is sent: a timer that fires
	// late (a loaded machine) must not eat the client's time to answer.
	s.pingDue = max(s.nextPing, now)
	err := s.enqueueLocked(framePing)
	s.timer.Reset(s.pingDue.add(s.srv.cfg.PingTimeout).sub(now))
	s.mu.Unlock()
	if err == ErrSlowConsumer {
		s.close(err, false)
	}
}

// expiredLocked reports whether the outstanding ping went unanswered for
// pingTimeout, measured from when it was due (not when the timer fired).
func (s *Session) expiredLocked(now monoTime) bool {
	return s.pingDue != 0 && now >= s.pingDue.add(s.srv.cfg.PingTimeout)
}

// pollingAbsentLocked reports whether a long-polling client has not polled
// for pingInterval + pingTimeout: the ping that was due by then could not
// have reached it, whether or not the timer has fired yet.
func (s *Session) pollingAbsentLocked(now monoTime) bool {
	return s.pingDue == 0 && s.poll == nil && now >= s.nextPing.add(s.srv.cfg.PingTimeout)
}

func (s *Session) onPong() {
	now := monoNow()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.pingDue == 0 {
		return
	}
	s.pingDue = 0
	s.nextPing = now.add(s.srv.cfg.PingInterval)
	s.timer.Reset(s.srv.cfg.PingInterval)
}
