//go:build !linux

package engineio

import (
	"errors"
	"net"
	"time"
)

var errWouldBlock = errors.New("engineio: write would block")

// vecWriter has no non-blocking write here: every write goes through
// Session.writeLoop.
type vecWriter struct {
	bufs net.Buffers
	ages []time.Duration // Server.written's scratch
}

func newVecWriter() *vecWriter {
	return &vecWriter{ages: make([]time.Duration, 0, framesWrittenChunk)}
}

func (w *vecWriter) writeNow(net.Conn) (int, error) { return 0, errWouldBlock }
