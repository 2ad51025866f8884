package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// stampReader reads a TCP connection with recvmsg and SO_TIMESTAMPNS, and
// keeps the kernel's receive time of what the last read returned: when
// the bytes reached this host's socket, not when this process, busy with
// thousands of other connections on one core, got round to reading them.
// For TCP the kernel reports one time a read, that of the last segment
// the read consumed (a segment merged into the one before it in the
// receive queue passes its time on), so a message read together with
// later ones is stamped as late as the latest of them: never earlier than
// it arrived.
type stampReader struct {
	rc  syscall.RawConn
	pre []byte // bytes read before stamping began (the WebSocket dialer's buffer)
	oob []byte

	// The current read's arguments and results, for readFn (one function
	// value for the connection's life instead of a closure a read).
	p       []byte
	n, oobn int
	err     error
	readFn  func(fd uintptr) bool
	stamp   int64 // Unix ns of the last read's data, from the kernel; 0 if it gave none
}

// newStampReader turns on receive timestamps on c (a *net.TCPConn) and
// returns a reader of it that serves pre first.
func newStampReader(c net.Conn, pre []byte) (*stampReader, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("receive timestamps: %T has no file descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("receive timestamps: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, fmt.Errorf("receive timestamps: %w", err)
	}
	if serr != nil {
		return nil, fmt.Errorf("receive timestamps: setsockopt SO_TIMESTAMPNS: %w", serr)
	}
	r := &stampReader{rc: rc, pre: pre, oob: make([]byte, syscall.CmsgSpace(16)*2)}
	r.readFn = r.recv
	return r, nil
}

func (r *stampReader) recv(fd uintptr) bool {
	r.n, r.oobn, _, _, r.err = syscall.Recvmsg(int(fd), r.p, r.oob, 0)
	return !errors.Is(r.err, syscall.EAGAIN)
}

// Read reads into p (waiting under the connection's read deadline) and
// records the data's receive time (arrival).
func (r *stampReader) Read(p []byte) (int, error) {
	if len(r.pre) > 0 {
		n := copy(p, r.pre)
		r.pre = r.pre[n:]
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	r.p = p
	err := r.rc.Read(r.readFn)
	r.p = nil
	if err != nil {
		return 0, err // closed, or the deadline passed
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.n == 0 {
		return 0, io.EOF
	}
	r.stamp, _ = parseStamp(r.oob[:r.oobn])
	return r.n, nil
}

// arrival is the receive time of the last read's data (Unix ns), or 0 if
// the kernel gave none.
func (r *stampReader) arrival() int64 { return r.stamp }

// parseStamp finds SCM_TIMESTAMPNS in oob and returns its time in Unix ns.
func parseStamp(oob []byte) (int64, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level != syscall.SOL_SOCKET || m.Header.Type != syscall.SCM_TIMESTAMPNS {
			continue
		}
		return timespecNanos(m.Data)
	}
	return 0, false
}

// timespecNanos decodes a struct timespec (two 64-bit words, or two
// 32-bit ones on 32-bit platforms) in the host's byte order.
func timespecNanos(b []byte) (int64, bool) {
	switch len(b) {
	case 16:
		return int64(binary.NativeEndian.Uint64(b))*1e9 + int64(binary.NativeEndian.Uint64(b[8:])), true //nolint:gosec // seconds and nanoseconds of a time
	case 8:
		return int64(int32(binary.NativeEndian.Uint32(b)))*1e9 + int64(int32(binary.NativeEndian.Uint32(b[4:]))), true //nolint:gosec // as above
	}
	return 0, false
}
