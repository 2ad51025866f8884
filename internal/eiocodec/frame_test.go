package eiocodec

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

// readFrame reads one whole frame from r, payload still masked, as the
// deprecated ws.ReadFrame did, but refuses a payload past 1 MiB (the
// tests' frames are at most 70,000 bytes) instead of allocating it.
func readFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > 1<<20 {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes", h.Length)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return ws.Frame{}, err
	}
	return ws.Frame{Header: h, Payload: payload}, nil
}

// AppendClientFrame writes what a server accepts from a client: one final
// frame, masked, with the shortest length encoding; appendFrame the same
// unmasked; NewControlFrame a close frame a client parses back.
func TestAppendFrame(t *testing.T) {
	for _, masked := range []bool{false, true} {
		for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
			t.Run(fmt.Sprintf("masked=%v/%d", masked, n), func(t *testing.T) {
				payload := bytes.Repeat([]byte{'x'}, n)
				dst := []byte("prefix")
				if masked {
					dst = AppendClientFrame(dst, ws.OpBinary, payload)
				} else {
					dst = appendFrame(dst, ws.OpBinary, payload)
				}
				if !bytes.HasPrefix(dst, []byte("prefix")) {
					t.Fatalf("dst prefix lost")
				}
				r := bytes.NewReader(dst[len("prefix"):])
				fr, err := readFrame(r)
				if err != nil {
					t.Fatalf("readFrame: %v", err)
				}
				if r.Len() != 0 {
					t.Fatalf("%d bytes after the frame", r.Len())
				}
				h := fr.Header
				if !h.Fin || h.OpCode != ws.OpBinary || h.Masked != masked || h.Rsv != 0 || h.Length != int64(n) {
					t.Fatalf("header %+v", h)
				}
				if got, want := len(dst)-len("prefix")-n, headerSize(n, masked); got != want {
					t.Errorf("header of %d bytes, want %d", got, want)
				}
				if masked {
					fr = ws.UnmaskFrameInPlace(fr)
				}
				if !bytes.Equal(fr.Payload, payload) {
					t.Fatalf("payload differs")
				}
			})
		}
	}
}

func TestNewControlFrame(t *testing.T) {
	f := NewControlFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusGoingAway, "server shutting down"))
	fr, err := readFrame(bytes.NewReader(f.WebSocket()))
	if err != nil {
		t.Fatal(err)
	}
	code, reason := ws.ParseCloseFrameData(fr.Payload)
	if fr.Header.OpCode != ws.OpClose || code != ws.StatusGoingAway || reason != "server shutting down" {
		t.Fatalf("got %v %d %q", fr.Header.OpCode, code, reason)
	}
	if !bytes.Equal(f.Packet(), fr.Payload) || f.Binary() {
		t.Fatalf("Packet() %q, Binary() %v", f.Packet(), f.Binary())
	}
}

func TestAppendPacket(t *testing.T) {
	if got := AppendPacket([]byte("x"), Message, []byte("hello")); string(got) != "x4hello" {
		t.Fatalf("AppendPacket = %q", got)
	}
	if got := AppendPacket(nil, Pong, nil); string(got) != "3" {
		t.Fatalf("AppendPacket = %q", got)
	}
}
