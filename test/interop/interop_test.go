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
	"bufio"
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
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	buildTimeout    = 5 * time.Minute
	startTimeout    = 20 * time.Second
	stopTimeout     = 15 * time.Second
	nodeTestTimeout = 4 * time.Minute
	stepTimeout     = 20 * time.Second
)

// TestInterop builds the server once, then runs the node:test files and the
// restart/reconnect scenario against it.
func TestInterop(t *testing.T) {
	node := requireNode(t)
	bin := buildServer(t)

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

// buildServer compiles cmd/chatrooms into a temporary directory (with -race
// when the tests run with -race).
func buildServer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not found on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "chatrooms")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/chatrooms/chatrooms/cmd/chatrooms")
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/chatrooms: %v\n%s", err, out)
	}
	return bin
}

// lineLog collects a process's output lines; safe for concurrent use. The
// reading goroutine never touches t: t.Log after the test ends panics.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// proc is a started child process whose stdout and stderr are read line by
// line into log and onto lines (buffered; lines beyond its capacity are only
// logged).
type proc struct {
	name  string
	cmd   *exec.Cmd
	log   lineLog
	lines chan string
	done  chan struct{} // closed when the process has exited
	err   error         // Wait's result, valid after done is closed
}

// startProc starts cmd in its own process group, registers a cleanup that
// stops it by PID, and dumps its output if the test failed.
func startProc(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	_ = w.Close() // the child holds the write end now
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.log.add(sc.Text())
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		<-readDone // all output read before Wait closes anything
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t) // after it, done is closed unless the process survived SIGKILL
		if strings.Contains(p.log.String(), "WARNING: DATA RACE") {
			t.Errorf("%s (pid %d) reported a data race", name, cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("--- output of %s (pid %d) ---\n%s", name, cmd.Process.Pid, p.log.String())
		}
	})
	return p
}

// stop sends SIGTERM to the process and, if it has not exited within
// stopTimeout, SIGKILL to its process group. It reports whether the process
// exited on SIGTERM. Idempotent.
func (p *proc) stop(t *testing.T) bool {
	t.Helper()
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(stopTimeout):
	}
	t.Errorf("%s (pid %d) did not exit within %v of SIGTERM; killing it", p.name, p.cmd.Process.Pid, stopTimeout)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Errorf("%s (pid %d) survived SIGKILL", p.name, p.cmd.Process.Pid)
	}
	return false
}

// waitLine returns the submatches of the first line matching re, failing the
// test if the process exits or nothing matches within d.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case line := <-p.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-p.done:
			// All output was read before done closed; check what is left.
			for len(p.lines) > 0 {
				if m := re.FindStringSubmatch(<-p.lines); m != nil {
					return m
				}
			}
			t.Fatalf("%s (pid %d) exited (%v) before printing a line matching %q", p.name, p.cmd.Process.Pid, p.err, re)
		case <-deadline:
			t.Fatalf("%s (pid %d) printed no line matching %q within %v", p.name, p.cmd.Process.Pid, re, d)
		}
	}
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
	*proc
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
	p := startProc(t, "chatrooms", cmd)
	deadline := time.Now().Add(startTimeout)
	m := p.waitLine(t, listeningRE, startTimeout)
	real := m[1]
	if port, _ := strconv.Atoi(m[2]); port == 0 {
		t.Fatalf("the listening line reports port 0: %q", m[0])
	}
	waitHealthy(t, "http://"+real, time.Until(deadline))
	return &server{proc: p, addr: real}
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
	client := startProc(t, "reconnect.mjs", cmd)
	m := client.waitLine(t, regexp.MustCompile(`^connected (\w+)$`), stepTimeout)
	t.Logf("client connected over %s", m[1])

	if !first.stop(t) {
		t.Fatalf("server did not stop on SIGTERM")
	}
	if first.err != nil {
		t.Errorf("server exited with %v after SIGTERM (want a clean exit)", first.err)
	}
	m = client.waitLine(t, regexp.MustCompile(`^disconnected (.+)$`), stepTimeout)
	t.Logf("client saw disconnect: %s", m[1])

	startServer(t, bin, addr)
	m = client.waitLine(t, regexp.MustCompile(`^reconnected (\w+)$`), stepTimeout)
	t.Logf("client reconnected over %s", m[1])

	select {
	case <-client.done:
	case <-time.After(stepTimeout):
		t.Fatalf("reconnect.mjs did not exit within %v after reconnecting", stepTimeout)
	}
	if client.err != nil {
		t.Fatalf("reconnect.mjs failed after reconnecting: %v", client.err)
	}
}
