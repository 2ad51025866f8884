package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// rawConn is a lean Socket.IO-over-WebSocket connection for the broadcast
// scenario: no event decoding, no per-message allocation on the read path.
// Reads happen on one goroutine; writes are serialised by wmu.
type rawConn struct {
	conn net.Conn
	br   *bufio.Reader

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
	return dialNamespace(ctx, wsURL, netDial, []byte("40"), "40{")
}

// dialNamespace is dialRaw with the namespace CONNECT packet to send and
// the prefix of the answer that accepts it (a "44" CONNECT_ERROR refuses).
func dialNamespace(ctx context.Context, wsURL string, netDial func(ctx context.Context, network, addr string) (net.Conn, error), connectPkt []byte, okPrefix string) (*rawConn, error) {
	d := ws.Dialer{NetDial: netDial, ReadBufferSize: readBufSize}
	conn, br, _, err := d.Dial(ctx, wsURL)
	if err != nil {
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	if br == nil {
		br = bufio.NewReaderSize(conn, readBufSize)
	}
	c := &rawConn{conn: conn, br: br}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := c.handshake(connectPkt, okPrefix); err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

func (c *rawConn) handshake(connectPkt []byte, okPrefix string) error {
	msg, err := c.readText()
	if err != nil {
		return fmt.Errorf("read engine.io open: %w", err)
	}
	if len(msg) == 0 || msg[0] != '0' {
		return fmt.Errorf("expected engine.io open, got %.64q", msg)
	}
	if err := c.writeText(connectPkt); err != nil {
		return fmt.Errorf("send connect: %w", err)
	}
	return c.await(okPrefix, "await connect")
}

// join joins room through the test server's "join" event and waits for
// its ack (true).
func (c *rawConn) join(room string) error {
	if err := c.writeText(fmt.Appendf(nil, `420["join",%q]`, room)); err != nil {
		return fmt.Errorf("send join: %w", err)
	}
	return c.await("430[true]", "await join ack")
}

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
		case len(msg) > 1 && msg[0] == '4' && msg[1] == '4':
			return fmt.Errorf("%s: connect refused: %s", what, msg)
		case len(msg) == 1 && msg[0] == '2':
			if err := c.writeText([]byte{'3'}); err != nil {
				return fmt.Errorf("%s: send pong: %w", what, err)
			}
		}
	}
	return fmt.Errorf("%s: no answer within 64 messages", what)
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
			} else {
				n = int64(binary.BigEndian.Uint64(b[2:10]))
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
	c.wbuf = appendFrame(c.wbuf[:0], op, payload)
	return c.flushLocked()
}

// writeBatch writes pre-framed bytes (from appendFrame) in one call.
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
	c.wbuf = appendFrame(c.wbuf[:0], ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.conn.Write(c.wbuf)
	c.wmu.Unlock()
	_ = c.conn.Close()
}

// appendFrame appends a masked client-to-server WebSocket frame (FIN set).
func appendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	dst = append(dst, 0x80|byte(op))
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}
