package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/testserver"
	"github.com/chatrooms/chatrooms/internal/testserver/protocoltest"
)

func startServer(t *testing.T) string {
	t.Helper()
	return protocoltest.StartTestMode(t, testserver.Config{
		PingInterval: 25 * time.Second,
		PingTimeout:  20 * time.Second,
	}).Base
}

func runArgs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(""), &out, &errOut)
	t.Logf("stdout:\n%s", out.String())
	if err != nil {
		t.Logf("stderr:\n%s", errOut.String())
	}
	return out.String(), err
}

func TestIdleInProcess(t *testing.T) {
	url := startServer(t)
	out, err := runArgs(t, "-scenario", "idle", "-url", url, "-conns", "50",
		"-server-pid", strconv.Itoa(os.Getpid()), "-settle", "10ms",
		"-local-addrs", "127.0.0.1,127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "RESULT idle conns=50 ") || !strings.Contains(out, "still_open_at_end=50") {
		t.Fatalf("unexpected report:\n%s", out)
	}
}

func TestBroadcastSmall(t *testing.T) {
	url := startServer(t)
	out, err := runArgs(t, "-scenario", "broadcast", "-url", url, "-receivers", "20", "-senders", "2",
		"-duration", "300ms", "-max-messages", "2000", "-window", "32")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "lost=0 dropped=0") || !strings.Contains(out, "order_errors=0 malformed=0") {
		t.Fatalf("unexpected report:\n%s", out)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		s    int
		seq  int64
		size int
	}{{0, 1, 16}, {7, 123456789, 150}, {63, 999999999, 1000}} {
		p := payloadFor(nil, tt.s, tt.seq, tt.size)
		if len(p) != tt.size {
			t.Fatalf("len = %d, want %d", len(p), tt.size)
		}
		s, seq, ok := parseID(p)
		if !ok || s != tt.s || seq != tt.seq {
			t.Fatalf("parseID(%q) = %d, %d, %v", p, s, seq, ok)
		}
	}
	if _, _, ok := parseID([]byte("s0x-000000001-abc")); ok {
		t.Fatal("parseID accepted a bad sender")
	}
}

func TestFlagsRefuseNonLoopback(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"loopback", []string{"-scenario", "idle", "-url", "http://127.0.0.1:1"}, true},
		{"other loopback", []string{"-scenario", "idle", "-url", "http://127.9.9.9:1"}, true},
		{"localhost", []string{"-scenario", "broadcast", "-url", "ws://localhost:1"}, true},
		{"ipv6 loopback", []string{"-scenario", "idle", "-url", "http://[::1]:1"}, true},
		{"private address", []string{"-scenario", "idle", "-url", "http://10.0.0.1:1"}, false},
		{"public name", []string{"-scenario", "idle", "-url", "http://example.com"}, false},
		{"tls", []string{"-scenario", "idle", "-url", "https://127.0.0.1:1"}, false},
		{"non-loopback source", []string{"-scenario", "idle", "-local-addrs", "192.168.1.2"}, false},
		{"no scenario", []string{}, false},
		{"too many per process", []string{"-scenario", "idle", "-conns", "20000"}, false},
		{"split over processes", []string{"-scenario", "idle", "-conns", "20000", "-procs", "2"}, true},
		{"tiny payload", []string{"-scenario", "broadcast", "-payload", "3"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, &bytes.Buffer{})
			if (err == nil) != tt.ok {
				t.Fatalf("parseFlags(%q) error = %v, want ok=%v", tt.args, err, tt.ok)
			}
		})
	}
}
