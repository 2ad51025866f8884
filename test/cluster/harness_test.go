//go:build unix

// Package cluster_test runs ChatRooms as it is deployed: three nats-server
// processes routed into one JetStream cluster, three chatrooms processes
// (nodes a, b and c, --nats-url of all three servers, --nats-replicas 3)
// and nginx in front of them with deploy/nginx.conf.template, all on
// 127.0.0.1 ports picked at random, every process a child of the test
// stopped by its PID. It checks the chat rules across nodes, races between
// nodes, node and NATS server failures, and the load balancer's session
// stickiness.
//
// Prerequisites (the tests fail, never skip, without them): Go on PATH
// (the binaries are built from this module), nginx at /usr/sbin/nginx
// (`apt-get install -y nginx-light`, which .ci/run does), and for the
// official-client check Node.js with `npm ci --prefix test/interop`.
//
//	go test ./test/cluster/
//
// On failure the output of every process of the failed test is logged
// (its tail). For more: CLUSTER_TEST_DUMP=DIR writes each failed test's
// process logs whole into DIR, and CLUSTER_TEST_NATS_TRACE=1 runs the NATS
// servers with -DV (debug and protocol trace).
package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on every wait of the harness.
const (
	buildTimeout = 5 * time.Minute
	startTimeout = 30 * time.Second
	stopTimeout  = 15 * time.Second
)

// binDir holds the binaries built once for the whole package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chatrooms-cluster-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster tests:", err) //nolint:forbidigo // no logger in TestMain
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// binaries builds nats-server (the version go.mod pins, as a tool) and
// chatrooms (with -race when the tests run with it, so real cluster
// traffic runs under the race detector) once, concurrently, and returns
// their paths.
func binaries(t *testing.T) (natsServer, chatrooms string) {
	t.Helper()
	natsServer = filepath.Join(binDir, "nats-server")
	chatrooms = filepath.Join(binDir, "chatrooms")
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("go not found on PATH: %w", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		chatArgs := []string{"build", "-o", chatrooms}
		if raceEnabled {
			chatArgs = append(chatArgs, "-race")
		}
		chatArgs = append(chatArgs, "github.com/chatrooms/chatrooms/cmd/chatrooms")
		builds := [][]string{
			{"build", "-o", natsServer, "github.com/nats-io/nats-server/v2"},
			chatArgs,
		}
		errs := make([]error, len(builds))
		var wg sync.WaitGroup
		for i, args := range builds {
			wg.Go(func() {
				cmd := exec.CommandContext(ctx, goBin, args...)
				cmd.WaitDelay = 5 * time.Second
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && buildErr == nil {
				buildErr = err
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return natsServer, chatrooms
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

// find returns the submatches of the first line matching re, or nil.
func (l *lineLog) find(re *regexp.Regexp) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
	}
	return nil
}

// proc is a started child process in its own process group whose stdout
// and stderr are collected line by line.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  lineLog
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done is closed
}

// startProc starts cmd in its own process group and registers a cleanup
// that stops it by its PID and, if the test failed, logs its output.
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
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.log.add(sc.Text())
		}
	}()
	go func() {
		<-readDone // all output read before Wait closes anything
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if strings.Contains(p.log.String(), "WARNING: DATA RACE") {
			t.Errorf("%s (pid %d) reported a data race", name, p.pid())
		}
		if dir := os.Getenv("CLUSTER_TEST_DUMP"); dir != "" && t.Failed() {
			_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".log"), []byte(p.log.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("--- output of %s (pid %d) ---\n%s", name, p.pid(), tail(p.log.String(), 12000))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits; after stopTimeout it sends SIGKILL to the
// process group. It reports whether the process exited on SIGTERM.
// Idempotent.
func (p *proc) stop(t *testing.T) bool {
	t.Helper()
	if p.exited() {
		return true
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(stopTimeout):
	}
	t.Errorf("%s (pid %d) did not exit within %v of SIGTERM; killing it", p.name, p.pid(), stopTimeout)
	p.kill(t)
	return false
}

// kill sends SIGKILL to the process group and waits for the process.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Errorf("%s (pid %d) survived SIGKILL", p.name, p.pid())
	}
}

// waitLine returns the submatches of the first output line matching re,
// failing the test if the process exits or nothing matches within d.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for range max(int(d/(20*time.Millisecond)), 0) + 1 {
		if m := p.log.find(re); m != nil {
			return m
		}
		if p.exited() {
			if m := p.log.find(re); m != nil {
				return m
			}
			t.Fatalf("%s (pid %d) exited (%v) before printing a line matching %q:\n%s", p.name, p.pid(), p.err, re, tail(p.log.String(), 6000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) printed no line matching %q within %v:\n%s", p.name, p.pid(), re, d, tail(p.log.String(), 6000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s (pid %d) printed no line matching %q within %v", p.name, p.pid(), re, d)
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. Ports are fixed before the processes start because every
// NATS server lists every route, nginx lists every node, and a restarted
// process must come back where the others expect it.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve a port: %v", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// waitFor polls cond every 50 ms until it returns nil, failing after d
// with the last error.
func waitFor(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for range max(int(d/(50*time.Millisecond)), 0) + 1 {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, d, err)
}
