//go:build linux

package engineio

import (
	"errors"
	"net"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errWouldBlock: the socket's send buffer took nothing.
var errWouldBlock = errors.New("engineio: write would block")

// vecWriter makes non-blocking vectored writes for one write-pool worker,
// reusing its vectors: a write allocates nothing.
type vecWriter struct {
	bufs net.Buffers
	iov  []unix.Iovec
	n    int
	err  error
	fn   func(fd uintptr) bool // w.write, bound once
	ages []time.Duration       // Server.written's scratch
}

func newVecWriter() *vecWriter {
	w := &vecWriter{bufs: make(net.Buffers, 0, 16), ages: make([]time.Duration, 0, framesWrittenChunk)}
	w.fn = w.write
	return w
}

// write is the syscall.RawConn.Write callback: one writev, retried on
// EINTR, and never a wait for writability (it always reports done).
//
// It is a raw system call (the runtime is not told): the descriptor is
// non-blocking, so writev copies what fits and returns, never sleeps.
// Told, the runtime let sysmon hand the P of a writev it saw twice to
// another thread, and the writer then queued for a P again: under the
// chat benchmark sysmon woke 1,700 times a second for that (3 % of the
// core), 140 times with the raw call.
func (w *vecWriter) write(fd uintptr) bool {
	for {
		//nolint:gosec // G103: writev(2) takes the iovec array; w.iov stays referenced (and its buffers alive) until the call returns
		r, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
		if e == unix.EINTR {
			continue
		}
		w.n, w.err = int(r), nil
		if e != 0 {
			w.n, w.err = 0, e
		}
		return true
	}
}

// writeNow writes w.bufs to conn with one writev that never waits: it
// returns the bytes written, possibly fewer than asked (errWouldBlock if
// none). A connection without a descriptor reports errWouldBlock, so that
// the caller falls back to a blocking write.
func (w *vecWriter) writeNow(conn net.Conn) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, errWouldBlock
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	w.iov = w.iov[:0]
	for _, b := range w.bufs {
		if len(b) > 0 {
			v := unix.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			w.iov = append(w.iov, v)
		}
	}
	if len(w.iov) == 0 {
		return 0, nil
	}
	err = rc.Write(w.fn)
	clear(w.iov) // keep no frame alive
	switch {
	case err != nil:
		return 0, err
	case w.err == unix.EAGAIN:
		return 0, errWouldBlock
	case w.err != nil:
		return 0, w.err
	case w.n <= 0:
		return 0, errWouldBlock
	}
	return w.n, nil
}
