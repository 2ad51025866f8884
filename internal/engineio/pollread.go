package engineio

import "net"

// Reader states of a WebSocket read through the poller.
const (
	readerArmed   = iota + 1 // waiting for readability
	readerRunning            // a goroutine is reading
	readerDone               // stopped; s.handlers and the WaitGroup released
)

// armPoll hands reading of conn to the poller. The caller has counted the
// reader in s.handlers and the server's WaitGroup; from now on the reader
// exists only while data is being read. It reports false (and changes
// nothing) if the poller refused the connection.
func (s *Session) armPoll(p *poller, conn net.Conn, fr *frameReader) bool {
	s.mu.Lock()
	s.rpoll, s.rconn, s.rfr = p, conn, fr
	s.rstate = readerArmed
	tok, err := p.add(conn, s.onReadable)
	if err != nil {
		s.rpoll, s.rconn, s.rfr, s.rstate = nil, nil, nil, 0
		s.mu.Unlock()
		return false
	}
	s.rtoken = tok
	s.mu.Unlock()
	return true
}

// onReadable reads what arrived, then re-arms; it runs on a goroutine the
// poller started. One-shot registration keeps it from overlapping itself.
func (s *Session) onReadable() {
	s.mu.Lock()
	if s.rstate != readerArmed {
		s.mu.Unlock()
		return
	}
	s.rstate = readerRunning
	conn, fr := s.rconn, s.rfr
	s.mu.Unlock()
	for {
		if !s.readOne(conn, conn, fr) {
			s.stopPollReader()
			return
		}
		// Keep reading while a message is half read or more bytes wait.
		if fr.frag == nil && pendingBytes(conn) == 0 {
			break
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.stopPollReader()
		return
	}
	s.rstate = readerArmed
	err := s.rpoll.rearm(conn, s.rtoken) // under s.mu: close() cannot interleave
	s.mu.Unlock()
	if err != nil {
		s.close(ErrTransportClose, false)
	}
}

// stopPollReader ends the poller reader: unregister and release.
func (s *Session) stopPollReader() {
	s.mu.Lock()
	if s.rstate == readerDone {
		s.mu.Unlock()
		return
	}
	s.rstate = readerDone
	s.mu.Unlock()
	s.releasePollReader()
}

// releasePollReader unregisters the stopped reader and releases what it
// held; the caller has just set readerDone.
func (s *Session) releasePollReader() {
	s.mu.Lock()
	p, conn, tok := s.rpoll, s.rconn, s.rtoken
	s.mu.Unlock()
	p.remove(conn, tok)
	s.srv.wg.Done()
	s.leaveHandler()
}
