//go:build unix

// Package e2e_test drives the real web client in Debian's Chromium
// (through playwright-core, from Node's built-in test runner) against the
// chatrooms binary with the client embedded.
//
// Prerequisites, none optional (a missing one fails the test, it never
// skips): the client built into web/dist (make web), node >= 20 on PATH,
// npm ci --prefix e2e, and Chromium at /usr/bin/chromium (apt-get install
// chromium) or at $E2E_CHROMIUM. make e2e does the first two; .ci/run all.
//
// E2E_SCREENSHOTS=dir keeps the screenshots the scenarios take (make
// screenshots writes them to docs/screenshots); by default they go to a
// temporary directory. E2E_FILES=glob runs only the scenario files it
// matches (E2E_FILES=delivery.test.mjs).
package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	startTimeout    = 30 * time.Second
	nodeTestTimeout = 8 * time.Minute
)

// TestE2E builds the server with the embedded client, starts it with a
// fresh data directory and runs every *.test.mjs file against it.
func TestE2E(t *testing.T) {
	node, chromium := requireTools(t)
	bin := proctest.BuildChatrooms(t, buildTimeout) // with the client embedded from web/dist
	srv := startServer(t, bin)
	checkServesClient(t, srv.url)
	runScenarios(t, node, chromium, srv.url)
}

// requireTools fails (never skips) unless everything the scenarios need is
// installed, and returns the paths of node and Chromium.
func requireTools(t *testing.T) (node, chromium string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found on PATH (%v); install Node.js >= 20", err)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("e2e/node_modules is missing or incomplete (%v); run: npm ci --prefix e2e", err)
	}
	chromium = os.Getenv("E2E_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if fi, err := os.Stat(chromium); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("no Chromium executable at %s (%v); run: apt-get install chromium (or set E2E_CHROMIUM)", chromium, err)
	}
	if _, err := os.Stat(filepath.Join("..", "web", "dist", "index.html")); err != nil {
		t.Fatalf("the web client is not built (%v); run: make web", err)
	}
	return node, chromium
}

type server struct {
	*proctest.Proc
	url string
}

// listeningRE matches the server's "listening" log line (slog text format)
// and captures its addr=HOST:PORT attribute (optionally quoted).
var listeningRE = regexp.MustCompile(`listening.*\baddr="?([^\s"]+:(\d+))"?`)

// startServer starts the binary on a random loopback port with a fresh
// data directory, waits for the "listening" line and for /readyz, and
// registers a cleanup that stops it by PID.
func startServer(t *testing.T, bin string) *server {
	t.Helper()
	// Every browser of the suite signs up from 127.0.0.1.
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--shutdown-grace", "5s", "--limit-new-users", "off")
	p := proctest.Start(t, "chatrooms", cmd)
	t.Cleanup(func() { // runs before proctest's own cleanup
		if p.Stop(t) && p.Err() != nil {
			t.Errorf("chatrooms (pid %d) exited with %v after SIGTERM (want a clean exit)", p.PID(), p.Err())
		}
	})

	deadline := time.Now().Add(startTimeout)
	m := p.WaitLine(t, listeningRE, startTimeout)
	if port, _ := strconv.Atoi(m[2]); port == 0 {
		t.Fatalf("the listening line reports port 0: %q", m[0])
	}
	s := &server{Proc: p, url: "http://" + m[1]}
	waitReady(t, s.url, time.Until(deadline))
	return s
}

// waitReady polls GET /readyz (NATS and its buckets answer) until 200 or d
// elapses.
func waitReady(t *testing.T, base string, d time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/readyz")
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
	t.Fatalf("GET %s/readyz did not answer 200 within %v: %v", base, d, last)
}

// checkServesClient checks the wiring the browsers rely on: / is the
// built client with its security headers, a client route falls back to
// it, and the API and health routes keep their own handlers.
func checkServesClient(t *testing.T, base string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	tests := []struct {
		path, accept string
		status       int
		contentType  string
		body         string // substring
	}{
		{"/", "text/html", 200, "text/html", "<script"},
		{"/some/client/route", "text/html", 200, "text/html", "<script"},
		{"/assets/does-not-exist.js", "*/*", 404, "text/plain", ""},
		{"/api/health", "text/html", 200, "text/plain", "OK"},
		{"/api/no-such-endpoint", "text/html", 404, "application/json", "not_found"},
		{"/healthz", "text/html", 200, "text/plain", "OK"},
		{"/readyz", "text/html", 200, "text/plain", "ready"},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(http.MethodGet, base+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", tt.accept)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) || !bytes.Contains(body, []byte(tt.body)) {
			t.Errorf("GET %s: %s %q, want %d %s containing %q; body:\n%.300s", tt.path, resp.Status, resp.Header.Get("Content-Type"), tt.status, tt.contentType, tt.body, body)
		}
		if tt.contentType == "text/html" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tt.path, resp.Header.Get("Content-Security-Policy"))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// runScenarios runs node's test runner over every *.test.mjs file, one file
// at a time. Node and Chromium get a temporary directory of their own as
// TMPDIR and HOME, so each launch's fresh profile (and Chromium's crash
// database) lives there, nothing touches the real home directory, and any
// browser process left behind can be found by it and stopped by PID.
func runScenarios(t *testing.T, node, chromium, baseURL string) {
	t.Helper()
	// E2E_FILES (a glob, e.g. delivery.test.mjs) runs some of the files only.
	pattern := os.Getenv("E2E_FILES")
	if pattern == "" {
		pattern = "*.test.mjs"
	}
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s files in e2e (err %v)", pattern, err)
	}
	tmp := t.TempDir()
	shots := os.Getenv("E2E_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if !filepath.IsAbs(shots) {
		shots = filepath.Join("..", shots) // relative to the repository root
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	t.Cleanup(func() { stopLeftovers(t, tmp) })

	ctx, cancel := context.WithTimeout(context.Background(), nodeTestTimeout)
	defer cancel()
	args := append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(),
		"BASE_URL="+baseURL,
		"E2E_CHROMIUM="+chromium,
		"SCREENSHOT_DIR="+shots,
		"TMPDIR="+tmp,
		"HOME="+tmp,
		"NO_COLOR=1", "FORCE_COLOR=0",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// node --test runs each file in a child process: stop the whole group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node --test: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }) // no-op once the group is gone
	err = cmd.Wait()
	took := time.Since(start).Round(100 * time.Millisecond)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("node --test did not finish within %v:\n%s", nodeTestTimeout, out.String())
	case err != nil:
		t.Fatalf("node --test failed after %v (%v):\n%s", took, err, out.String())
	default:
		t.Logf("node --test passed in %v (screenshots in %s):\n%s", took, shots, out.String())
	}
}

// stopLeftovers kills, by PID, every process still running whose command
// line names dir: Chromium processes (their --user-data-dir is under it)
// that a killed or crashed test run left behind. Playwright starts the
// browser in a process group of its own, so stopping node's group does not
// reach it.
func stopLeftovers(t *testing.T, dir string) {
	t.Helper()
	for range 2 {
		pids := processesMentioning(dir)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			t.Logf("stopping leftover browser process %d", pid)
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
				_ = syscall.Kill(-pid, syscall.SIGKILL) // the browser and its helpers
			} else {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if pids := processesMentioning(dir); len(pids) > 0 {
		t.Errorf("browser processes %v survived SIGKILL", pids)
	}
}

// processesMentioning lists the PIDs whose /proc/PID/cmdline contains s.
func processesMentioning(s string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
