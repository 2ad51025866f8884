package engineio

import (
	"github.com/chatrooms/chatrooms/internal/eiocodec"

	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// upgrader performs WebSocket handshakes; Engine.IO negotiates no
// extension, so frames with RSV bits are protocol errors.
var upgrader = ws.HTTPUpgrader{Timeout: 10 * time.Second}

// hijacked returns a reader over conn that first yields whatever the HTTP
// server had already buffered, then drops the buffer.
func hijacked(conn net.Conn, rw *bufio.ReadWriter) io.Reader {
	if rw == nil || rw.Reader.Buffered() == 0 {
		return conn
	}
	b, _ := rw.Peek(rw.Reader.Buffered())
	return io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn)
}

// openWebSocket handles a new session that starts on WebSocket.
func (srv *Server) openWebSocket(w http.ResponseWriter, r *http.Request) {
	s := srv.newSession(r, WebSocket)
	if srv.sessions.Load() >= int64(srv.cfg.MaxSessions) {
		writeError(w, http.StatusServiceUnavailable, codeBadRequest)
		return
	}
	conn, rw, _, err := upgrader.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		srv.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	if !srv.register(s) {
		_ = conn.Close()
		return
	}
	rd := hijacked(conn, rw)
	s.mu.Lock()
	s.conn = conn
	s.handlers = 1 // the read loop
	// The answer to the handshake: the client waits for it (SendAnswer).
	if s.enqueueLocked(eiocodec.NewTextFrame(eiocodec.Open, srv.openPacket(s.id, false))) == nil {
		s.promoteLocked(true)
	}
	s.mu.Unlock()
	s.startHeartbeat()
	srv.h.OnOpen(s)
	srv.wg.Add(1)
	s.startReading(conn, rd, &frameReader{pong: s.sendControl})
}

// startReading reads the WebSocket: through the shared readiness poller
// when it is available and nothing was buffered at the upgrade, so an idle
// connection costs no goroutine; otherwise on a goroutine of its own.
func (s *Session) startReading(conn net.Conn, rd io.Reader, fr *frameReader) {
	if _, direct := rd.(net.Conn); direct {
		if p := sharedPoller(); p != nil && s.armPoll(p, conn, fr) {
			return
		}
	}
	go s.readFrames(conn, rd, fr)
}

// upgradeWebSocket handles a WebSocket that wants to take over a polling
// session: the probe (2probe/3probe), then the switch on 5.
func (srv *Server) upgradeWebSocket(w http.ResponseWriter, r *http.Request, s *Session) {
	conn, rw, _, err := upgrader.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return
	}
	s.mu.Lock()
	ok := !s.closed && s.transport == Polling && !s.probing
	if ok {
		s.probing = true
		s.probeConn = conn
	}
	s.mu.Unlock()
	if !ok {
		// Already upgraded or upgrading: accept, then close, as the
		// reference server does.
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write(closeFrameFor(ErrClientClose).WebSocket())
		_ = conn.Close()
		return
	}
	srv.wg.Add(1)
	go s.probe(conn, hijacked(conn, rw))
}

// probe runs the upgrade handshake on conn; on success it becomes the
// session's read loop.
func (s *Session) probe(conn net.Conn, rd io.Reader) {
	fail := func() {
		s.mu.Lock()
		s.probing, s.upgrading, s.probeConn = false, false, nil
		s.mu.Unlock()
		_ = conn.Close()
		s.srv.wg.Done()
	}
	_ = conn.SetReadDeadline(time.Now().Add(s.srv.cfg.UpgradeTimeout))
	var fr frameReader
	for {
		msg, op, err := fr.next(rd, conn, s.srv.cfg.MaxPayload)
		if err != nil || op != ws.OpText {
			fail()
			return
		}
		p, err := eiocodec.DecodePacket(msg)
		if err != nil {
			fail()
			return
		}
		switch {
		case p.Type == eiocodec.Ping && bytes.Equal(p.Data, probe):
			_ = conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
			if _, err := conn.Write(frameProbe.WebSocket()); err != nil {
				fail()
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				fail()
				return
			}
			s.upgrading = true
			if s.poll != nil { // release the held GET with a noop
				close(s.poll)
				s.poll = nil
			}
			s.mu.Unlock()
		case p.Type == eiocodec.Upgrade:
			s.mu.Lock()
			if s.closed || !s.upgrading {
				s.mu.Unlock()
				fail()
				return
			}
			s.transport = WebSocket
			s.conn = conn
			s.upgrading, s.probing, s.probeConn = false, false, nil
			s.handlers++
			if s.poll != nil {
				close(s.poll)
				s.poll = nil
			}
			if len(s.queue) > 0 {
				s.wakeLocked()
			}
			s.mu.Unlock()
			_ = conn.SetReadDeadline(time.Time{})
			fr.pong = s.sendControl
			s.startReading(conn, rd, &fr) // this probe goroutine ends here
			return
		case p.Type == eiocodec.Noop:
		default:
			fail()
			return
		}
	}
}

func (s *Session) sendControl(f *Frame) { _ = s.Send(f) }

// readFrames delivers messages from the WebSocket until it fails or the
// session closes; the caller has counted this goroutine in s.handlers and
// in the server's WaitGroup.
func (s *Session) readFrames(conn net.Conn, rd io.Reader, fr *frameReader) {
	defer s.srv.wg.Done()
	defer s.leaveHandler()
	for s.readOne(conn, rd, fr) {
	}
}

// readOne reads and delivers one message. It reports false when reading
// must stop: the connection failed or the session is closed.
func (s *Session) readOne(conn net.Conn, rd io.Reader, fr *frameReader) bool {
	msg, op, err := fr.next(rd, conn, s.srv.cfg.MaxPayload)
	if err != nil {
		s.close(readErrReason(err), err == errPeerClose || err == ErrParse || err == ErrTooLarge)
		return false
	}
	if op == ws.OpBinary {
		s.deliver(eiocodec.Packet{Type: eiocodec.Message, Data: msg, Binary: true})
		return !s.isClosed.Load()
	}
	p, err := eiocodec.DecodePacket(msg)
	if err != nil {
		s.close(ErrParse, true)
		return false
	}
	s.deliver(p)
	return !s.isClosed.Load()
}

var errPeerClose = fmt.Errorf("%w: websocket close frame", ErrClientClose)

func readErrReason(err error) error {
	switch err {
	case errPeerClose:
		return ErrClientClose
	case ErrParse, ErrTooLarge:
		return err
	}
	return ErrTransportClose
}

// frameReader assembles WebSocket messages from frames, answering pings.
type frameReader struct {
	// pong answers a ping frame; nil writes it straight to the connection
	// (only during the upgrade probe, when no writer owns it yet).
	pong func(f *Frame)
	hdr  [ws.MaxHeaderSize]byte
	frag []byte // fragmented message so far
	op   ws.OpCode
}

// next returns the next complete data message and its opcode. Control
// frames are handled here: ping is answered, close returns errPeerClose.
func (fr *frameReader) next(rd io.Reader, conn net.Conn, max int64) ([]byte, ws.OpCode, error) {
	for {
		h, err := ws.ReadHeaderBuffer(rd, fr.hdr[:0:len(fr.hdr)])
		if err != nil {
			return nil, 0, err
		}
		state := ws.StateServerSide
		if fr.frag != nil {
			state = state.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return nil, 0, ErrParse
		}
		// +1: maxPayload counts the Engine.IO data, not the type digit.
		if h.Length > max+1 || int64(len(fr.frag))+h.Length > max+1 {
			return nil, 0, ErrTooLarge
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(rd, payload); err != nil {
			return nil, 0, err
		}
		ws.Cipher(payload, h.Mask, 0)
		switch h.OpCode {
		case ws.OpPing:
			f := eiocodec.NewControlFrame(ws.OpPong, payload)
			if fr.pong != nil {
				fr.pong(f)
			} else {
				_, _ = conn.Write(f.WebSocket())
			}
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			return nil, 0, errPeerClose
		case ws.OpContinuation:
			fr.frag = append(fr.frag, payload...)
			if !h.Fin {
				continue
			}
			msg, op := fr.frag, fr.op
			fr.frag = nil
			if op == ws.OpText && !utf8.Valid(msg) {
				return nil, 0, ErrParse
			}
			return msg, op, nil
		default: // text or binary
			if !h.Fin {
				fr.frag, fr.op = payload, h.OpCode
				continue
			}
			if h.OpCode == ws.OpText && !utf8.Valid(payload) {
				return nil, 0, ErrParse
			}
			return payload, h.OpCode, nil
		}
	}
}
