package main

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStampReader: what a stampReader returns carries the kernel's
// receive time, which lies between the write's start and the read's
// end; bytes given to it first come first; a closed peer reads as EOF and
// a passed deadline as a timeout.
func TestStampReader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	r, err := newStampReader(client, []byte("pre"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := r.Read(buf); err != nil || string(buf[:n]) != "pre" || r.arrival() != 0 {
		t.Fatalf("first read %q, %v, arrival %d; want the bytes given first, no time", buf[:n], err, r.arrival())
	}
	// The kernel turns receive times on a little after the first socket
	// asks (net_enable_timestamp defers it to a work queue): until then
	// reads carry none.
	for end := time.Now().Add(30 * time.Second); r.arrival() == 0; {
		if time.Now().After(end) {
			t.Fatal("no read carried a receive time within 30 s")
		}
		if _, err := server.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	for i, msg := range []string{"hello", "world!"} {
		before := time.Now().UnixNano()
		if _, err := server.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		after := int64(0)
		if i == 1 {
			// Read late: once the bytes are seen in the socket's queue, the
			// time given is at most that moment's, whenever they are read.
			after = waitQueued(t, client, len(msg))
			time.Sleep(20 * time.Millisecond)
		}
		n, err := r.Read(buf)
		if after == 0 {
			after = time.Now().UnixNano()
		}
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, msg)
		}
		if a := r.arrival(); a < before || a > after {
			t.Errorf("read %d: arrival %d not within the write's start %d and %d (the read's end, or when the bytes were seen queued)", i, a, before, after)
		}
	}

	_ = client.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := r.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v, want a timeout", err)
	}
	_ = client.SetReadDeadline(time.Time{})
	_ = server.Close()
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("read after the peer closed: %d, %v; want EOF", n, err)
	}
}

// TestParseStamp: SCM_TIMESTAMPNS is found among control messages and
// decoded; anything else gives no time.
func TestParseStamp(t *testing.T) {
	cmsg := func(level, typ int32, data []byte) []byte {
		b := make([]byte, syscall.CmsgSpace(len(data)))
		// struct cmsghdr: a size_t length, then level and type (int).
		switch syscall.SizeofCmsghdr {
		case 16:
			binary.NativeEndian.PutUint64(b, uint64(syscall.CmsgLen(len(data))))
			binary.NativeEndian.PutUint32(b[8:], uint32(level))
			binary.NativeEndian.PutUint32(b[12:], uint32(typ))
		case 12:
			binary.NativeEndian.PutUint32(b, uint32(syscall.CmsgLen(len(data))))
			binary.NativeEndian.PutUint32(b[4:], uint32(level))
			binary.NativeEndian.PutUint32(b[8:], uint32(typ))
		default:
			t.Skipf("cmsghdr of %d bytes", syscall.SizeofCmsghdr)
		}
		copy(b[syscall.CmsgLen(0):], data)
		return b
	}
	ts := make([]byte, 16)
	binary.NativeEndian.PutUint64(ts, 1_700_000_000)
	binary.NativeEndian.PutUint64(ts[8:], 123_456_789)
	ts32 := make([]byte, 8)
	binary.NativeEndian.PutUint32(ts32, 1_700_000_000)
	binary.NativeEndian.PutUint32(ts32[4:], 5)
	const want = 1_700_000_000_123_456_789
	for _, tc := range []struct {
		name   string
		oob    []byte
		want   int64
		wantOK bool
	}{
		{"timestamp", cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, ts), want, true},
		{"after another message", append(cmsg(syscall.SOL_SOCKET, syscall.SCM_RIGHTS, make([]byte, 4)), cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, ts)...), want, true},
		{"32-bit timespec", cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, ts32), 1_700_000_000_000_000_005, true},
		{"none", nil, 0, false},
		{"other level", cmsg(syscall.IPPROTO_TCP, syscall.SCM_TIMESTAMPNS, ts), 0, false},
		{"short data", cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, ts[:12]), 0, false},
		{"truncated", cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, ts)[:20], 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseStamp(tc.oob)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("parseStamp = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// waitQueued waits (bounded) until c's receive queue holds n bytes
// (SIOCINQ) and returns the time it saw them.
func waitQueued(t *testing.T, c net.Conn, n int) int64 {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		queued, ierr := 0, error(nil)
		if err := rc.Control(func(fd uintptr) { queued, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ierr != nil {
			t.Fatal(err, ierr)
		}
		if queued >= n {
			return time.Now().UnixNano()
		}
	}
	t.Fatalf("%d bytes not queued within 30 s", n)
	return 0
}
