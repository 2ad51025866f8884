//go:build unix

// Package interop_test runs the official socket.io-client (Node.js) against
// the chatrooms binary in --protocol-test mode.
//
// Prerequisites: node >= 20 on PATH and `npm ci --prefix test/interop`.
// They are not optional: when either is missing the test fails, it does not
// skip. Run with:
//
//	npm ci --prefix test/interop
//	go test ./test/interop/
package interop_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/proctest"
)

const (
	buildTimeout    = 5 * time.Minute
	startTimeout    = 20 * time.Second
	nodeTestTimeout = 4 * time.Minute
	stepTimeout     = 20 * time.Second
)

// TestInterop builds the server once, then runs the node:test files and the
// restart/reconnect scenario against it.
func TestInterop(t *testing.T) {
	node := requireNode(t)
	bin := proctest.BuildChatrooms(t, buildTimeout)

	t.Run("node-test", func(t *testing.T) {
		srv := startServer(t, bin, "127.0.0.1:0")
		runNodeTests(t, node, srv.url())
	})

	t.Run("reconnect", func(t *testing.T) {
		for _, mode := range []string{"websocket", "polling", "default"} {
			t.Run(mode, func(t *testing.T) { testReconnect(t, node, bin, mode) })
		}
	})
}

// requireNode fails (never skips) unless node and the npm dependencies are
// installed, and returns the path of node.
func requireNode(t *testing.T) string {
	t.Helper()
	const hint = "install Node.js >= 20 and run: npm ci --prefix test/interop"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found on PATH (%v); %s", err, hint)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "socket.io-client", "package.json")); err != nil {
		t.Fatalf("test/interop/node_modules is missing or incomplete (%v); run: npm ci --prefix test/interop", err)
	}
	return node
}

// serverFlags run the test-mode server as the protocol suites do (pingInterval
// 300 ms, so every test crosses several heartbeats) but with a 2 s pingTimeout
// instead of 200 ms: these tests check interoperability, not timing, and a
// 500 ms liveness window turns any scheduling hiccup on a loaded machine into
// a "ping timeout" disconnect (observed at load average ~10 on 2 CPUs, with
// the Node reference server as well). The 200 ms timing is covered by the
// official protocol suites.
var serverFlags = []string{"--protocol-test", "--ping-timeout", "2s"}

// server is a running chatrooms --protocol-test process.
type server struct {
	*proctest.Proc
	addr string
}

func (s *server) url() string { return "http://" + s.addr }

// listeningRE matches the server's "listening" log line (slog text format)
// and captures its addr=HOST:PORT attribute (optionally quoted).
var listeningRE = regexp.MustCompile(`listening.*\baddr="?([^\s"]+:(\d+))"?`)

// startServer starts the binary on addr (may end in :0), waits for the log
// line that carries the real address, then for GET /healthz to answer 200.
func startServer(t *testing.T, bin, addr string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", addr}, serverFlags...)...)
	p := proctest.Start(t, "chatrooms", cmd)
	deadline := time.Now().Add(startTimeout)
	m := p.WaitLine(t, listeningRE, startTimeout)
	real := m[1]
	if port, _ := strconv.Atoi(m[2]); port == 0 {
		t.Fatalf("the listening line reports port 0: %q", m[0])
	}
	waitHealthy(t, "http://"+real, time.Until(deadline))
	return &server{Proc: p, addr: real}
}

// waitHealthy polls GET /healthz until it answers 200 or d elapses.
func waitHealthy(t *testing.T, base string, d time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s/healthz did not answer 200 within %v: %v", base, d, last)
}

// runNodeTests runs every *.test.mjs file with node's built-in test runner.
func runNodeTests(t *testing.T, node, serverURL string) {
	t.Helper()
	files, err := filepath.Glob("*.test.mjs")
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.test.mjs files in test/interop (err %v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), nodeTestTimeout)
	defer cancel()
	args := append([]string{"--test", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(), "SERVER_URL="+serverURL, "NO_COLOR=1", "FORCE_COLOR=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// node --test runs each file in a child process: stop the whole group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node --test: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }) // no-op once the group is gone
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("node --test did not finish within %v:\n%s", nodeTestTimeout, out.String())
	case err != nil:
		t.Fatalf("node --test failed (%v):\n%s", err, out.String())
	default:
		t.Logf("node --test passed:\n%s", summaryLines(out.String()))
	}
}

// summaryLines keeps node's "ℹ tests/pass/fail ..." totals.
func summaryLines(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "ℹ ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return port
}

// testReconnect connects reconnect.mjs, stops the server with SIGTERM, starts
// a new one on the same port and expects the client to reconnect on its own.
func testReconnect(t *testing.T, node, bin, mode string) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	first := startServer(t, bin, addr)

	cmd := exec.Command(node, "reconnect.mjs")
	cmd.Env = append(os.Environ(),
		"SERVER_URL="+first.url(),
		"TRANSPORTS="+mode,
		"RECONNECT_TIMEOUT_MS="+strconv.Itoa(int((3*stepTimeout)/time.Millisecond)),
		"NO_COLOR=1",
	)
	client := proctest.Start(t, "reconnect.mjs", cmd)
	m := client.WaitLine(t, regexp.MustCompile(`^connected (\w+)$`), stepTimeout)
	t.Logf("client connected over %s", m[1])

	if !first.Stop(t) {
		t.Fatalf("server did not stop on SIGTERM")
	}
	if err := first.Err(); err != nil {
		t.Errorf("server exited with %v after SIGTERM (want a clean exit)", err)
	}
	m = client.WaitLine(t, regexp.MustCompile(`^disconnected (.+)$`), stepTimeout)
	t.Logf("client saw disconnect: %s", m[1])

	startServer(t, bin, addr)
	m = client.WaitLine(t, regexp.MustCompile(`^reconnected (\w+)$`), stepTimeout)
	t.Logf("client reconnected over %s", m[1])

	select {
	case <-client.Done():
	case <-time.After(stepTimeout):
		t.Fatalf("reconnect.mjs did not exit within %v after reconnecting", stepTimeout)
	}
	if err := client.Err(); err != nil {
		t.Fatalf("reconnect.mjs failed after reconnecting: %v", err)
	}
}
