//go:build !linux

package engineio

import (
	"errors"
	"net"
)

var errWouldBlock = errors.New("engineio: write would block")

// vecWriter has no non-blocking write here: every write goes through
// Session.writeLoop.
type vecWriter struct{ bufs net.Buffers }

func newVecWriter() *vecWriter { return &vecWriter{} }

func (w *vecWriter) writeNow(net.Conn) (int, error) { return 0, errWouldBlock }
