package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/siocodec"
	"github.com/gobwas/ws"
)

// rawConn is a lean Socket.IO-over-WebSocket connection for the broadcast
// scenario: no event decoding, no per-message allocation on the read path.
// Reads happen on one goroutine; writes are serialised by wmu.
type rawConn struct {
	conn net.Conn
	br   *bufio.Reader
	sr   *stampReader // under br when receive times are kept (dialNamespace's stamp); else nil

	wmu  sync.Mutex
	wbuf []byte

	// headOnly > 0: a text frame bigger than the read buffer is returned
	// cut to its first headOnly bytes (in head); lastLen is the length of
	// the last frame returned, whole. Both belong to the reading goroutine.
	headOnly int
	head     []byte
	lastLen  int
}

// readBufSize is the read buffer of a raw connection: big enough to take a
// whole batch of small frames per read system call.
const readBufSize = 64 << 10

// maxFrame caps one received frame (a chat user list of thousands of users
// is hundreds of KiB).
const maxFrame = 16 << 20

// dialRaw opens a WebSocket to the Socket.IO endpoint at wsURL, reads the
// Engine.IO open packet and connects to namespace "/".
func dialRaw(ctx context.Context, wsURL string, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) (*rawConn, error) {
	return dialNamespace(ctx, wsURL, netDial, "/", nil, false)
}

// dialNamespace is dialRaw for namespace nsp with the CONNECT payload auth
// (raw JSON, nil for none); a CONNECT_ERROR answer refuses. With stamp,
// the connection is read through a stampReader, which keeps the kernel's
// receive time of what each read returned (rawConn.arrival).
func dialNamespace(ctx context.Context, wsURL string, netDial func(ctx context.Context, network, addr string) (net.Conn, error), nsp string, auth []byte, stamp bool) (*rawConn, error) {
	d := ws.Dialer{NetDial: netDial, ReadBufferSize: readBufSize}
	conn, br, _, err := d.Dial(ctx, wsURL)
	if err != nil {
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	c := &rawConn{conn: conn, br: br}
	if stamp {
		var pre []byte
		if br != nil { // the server's first bytes, read with the handshake's answer
			pre, _ = br.Peek(br.Buffered())
			pre = append([]byte(nil), pre...)
			ws.PutReader(br)
		}
		if c.sr, err = newStampReader(conn, pre); err != nil {
			_ = conn.Close()
			return nil, err
		}
		c.br = bufio.NewReaderSize(c.sr, readBufSize)
	} else if br == nil {
		c.br = bufio.NewReaderSize(conn, readBufSize)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := c.handshake(nsp, auth); err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

// handshake reads the Engine.IO open packet, connects to namespace nsp
// with the CONNECT payload auth and waits for the answer.
func (c *rawConn) handshake(nsp string, auth []byte) error {
	msg, err := c.readText()
	if err != nil {
		return fmt.Errorf("read engine.io open: %w", err)
	}
	if p, err := eiocodec.DecodePacket(msg); err != nil || p.Type != eiocodec.Open {
		return fmt.Errorf("expected engine.io open, got %.64q", msg)
	}
	connect := sioHeader(nil, siocodec.Connect, nsp, siocodec.NoID)
	if err := c.writeText(append(connect, auth...)); err != nil {
		return fmt.Errorf("send connect: %w", err)
	}
	// The answer that accepts: a CONNECT with the {"sid":...} object.
	return c.await(string(append(connect[:len(connect):len(connect)], '{')), "await connect")
}

// join joins room through the test server's "join" event and waits for
// its ack (true).
func (c *rawConn) join(room string) error {
	data, _, err := siocodec.EncodeEvent("join", room)
	if err != nil {
		return fmt.Errorf("send join: %w", err)
	}
	if err := c.writeText(append(sioHeader(nil, siocodec.Event, "/", 0), data...)); err != nil {
		return fmt.Errorf("send join: %w", err)
	}
	return c.await(string(append(sioHeader(nil, siocodec.Ack, "/", 0), "[true]"...)), "await join ack")
}

// sioHeader appends the Engine.IO message type and the header of a
// Socket.IO packet of type t for namespace nsp with ack id id (siocodec.NoID
// for none), such as "42/chat," or "430": what the raw connections send
// before a payload and match received packets against.
func sioHeader(dst []byte, t siocodec.PacketType, nsp string, id int64) []byte {
	dst = eiocodec.AppendPacket(dst, eiocodec.Message, nil)
	return siocodec.AppendPacket(dst, &siocodec.Packet{Type: t, Namespace: nsp, ID: id})
}

// isConnectError reports whether msg is a Socket.IO CONNECT_ERROR.
func isConnectError(msg []byte) bool {
	e, err := eiocodec.DecodePacket(msg)
	if err != nil || e.Type != eiocodec.Message {
		return false
	}
	p, err := siocodec.ParsePacket(e.Data, siocodec.DecoderOptions{})
	return err == nil && p.Type == siocodec.ConnectError
}

// isPing reports whether p is an Engine.IO ping (not an upgrade probe).
func isPing(p []byte) bool {
	pkt, err := eiocodec.DecodePacket(p)
	return err == nil && pkt.Type == eiocodec.Ping && len(pkt.Data) == 0
}

// pongPacket answers an Engine.IO ping.
var pongPacket = eiocodec.AppendPacket(nil, eiocodec.Pong, nil)

// pong answers an Engine.IO ping.
func (c *rawConn) pong() error { return c.writeText(pongPacket) }

// await reads text messages until one starts with prefix, answering
// pings and skipping other events.
func (c *rawConn) await(prefix, what string) error {
	for range 64 {
		msg, err := c.readText()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		switch {
		case len(msg) >= len(prefix) && string(msg[:len(prefix)]) == prefix:
			return nil
		case isConnectError(msg):
			return fmt.Errorf("%s: connect refused: %s", what, msg)
		case isPing(msg):
			if err := c.pong(); err != nil {
				return fmt.Errorf("%s: send pong: %w", what, err)
			}
		}
	}
	return fmt.Errorf("%s: no answer within 64 messages", what)
}

// arrival is the kernel's receive time (Unix ns) of the read that gave
// the last frame readFrame returned, or 0 when the connection keeps no
// receive times or the kernel gave none.
func (c *rawConn) arrival() int64 {
	if c.sr == nil {
		return 0
	}
	return c.sr.arrival()
}

// readText returns the next text message (a copy), for the handshake.
func (c *rawConn) readText() ([]byte, error) {
	for {
		op, payload, err := c.readFrame()
		if err != nil {
			return nil, err
		}
		if op == ws.OpText {
			return append([]byte(nil), payload...), nil
		}
	}
}

// closeInfo is the error readFrame returns for a close frame.
type closeInfo struct {
	code   ws.StatusCode
	reason string
}

func (ci *closeInfo) Error() string { return fmt.Sprintf("websocket close %d %q", ci.code, ci.reason) }

// readFrame returns the next data frame's opcode and payload. The payload
// aliases the read buffer and is valid until the next call. WebSocket
// pings are answered here; a close frame ends with a *closeInfo error.
// Fragmented messages are not expected from the server and are refused.
func (c *rawConn) readFrame() (ws.OpCode, []byte, error) {
	for {
		b, err := c.br.Peek(2)
		if err != nil {
			return 0, nil, err
		}
		if b[0]&0x80 == 0 {
			return 0, nil, errors.New("fragmented frame not supported")
		}
		op := ws.OpCode(b[0] & 0x0f)
		if b[1]&0x80 != 0 {
			return 0, nil, errors.New("masked frame from server")
		}
		hdr, n := 2, int64(b[1]&0x7f)
		switch n {
		case 126:
			hdr = 4
		case 127:
			hdr = 10
		}
		if hdr > 2 {
			if b, err = c.br.Peek(hdr); err != nil {
				return 0, nil, err
			}
			if hdr == 4 {
				n = int64(binary.BigEndian.Uint16(b[2:4]))
			} else if u := binary.BigEndian.Uint64(b[2:10]); u <= maxFrame {
				n = int64(u)
			} else { // past maxFrame, or past int64 (RFC 6455 wants the top bit clear)
				return 0, nil, fmt.Errorf("frame of %d bytes exceeds %d", u, maxFrame)
			}
		}
		if n > maxFrame {
			return 0, nil, fmt.Errorf("frame of %d bytes exceeds %d", n, maxFrame)
		}
		var payload []byte
		if total := hdr + int(n); total <= c.br.Size() {
			if b, err = c.br.Peek(total); err != nil {
				return 0, nil, err
			}
			payload = b[hdr:]
			_, _ = c.br.Discard(total)
		} else if c.headOnly > 0 && op == ws.OpText {
			// Only the head of a big text frame is wanted: keep it, read
			// past the rest without allocating.
			_, _ = c.br.Discard(hdr)
			c.head = c.head[:min(int(n), c.headOnly)]
			if _, err := io.ReadFull(c.br, c.head); err != nil {
				return 0, nil, err
			}
			if _, err := c.br.Discard(int(n) - len(c.head)); err != nil {
				return 0, nil, err
			}
			payload = c.head
		} else {
			_, _ = c.br.Discard(hdr)
			payload = make([]byte, n)
			if _, err := io.ReadFull(c.br, payload); err != nil {
				return 0, nil, err
			}
		}
		c.lastLen = int(n)
		switch op {
		case ws.OpPing:
			if err := c.writeFrame(ws.OpPong, payload); err != nil {
				return 0, nil, err
			}
		case ws.OpPong:
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(payload)
			return 0, nil, &closeInfo{code: code, reason: reason}
		default:
			return op, payload, nil
		}
	}
}

// writeText writes one Engine.IO text packet.
func (c *rawConn) writeText(pkt []byte) error { return c.writeFrame(ws.OpText, pkt) }

func (c *rawConn) writeFrame(op ws.OpCode, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = eiocodec.AppendClientFrame(c.wbuf[:0], op, payload)
	return c.flushLocked()
}

// writeBatch writes pre-framed bytes (from eiocodec.AppendClientFrame) in
// one call.
func (c *rawConn) writeBatch(frames []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(frames)
	return err
}

func (c *rawConn) flushLocked() error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(c.wbuf)
	return err
}

// close sends a close frame (bounded) and closes the connection.
func (c *rawConn) close() {
	c.wmu.Lock()
	c.wbuf = eiocodec.AppendClientFrame(c.wbuf[:0], ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.conn.Write(c.wbuf)
	c.wmu.Unlock()
	_ = c.conn.Close()
}
