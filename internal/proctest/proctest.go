package proctest

import (
	"bufio"
	"context"
	"fmt"
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

// ChatroomsPkg is the server's package path.
const ChatroomsPkg = "github.com/chatrooms/chatrooms/cmd/chatrooms"

// StopTimeout is how long Stop waits after SIGTERM, and Kill after SIGKILL.
const StopTimeout = 15 * time.Second

// Build compiles the Go package pkg into out, with -race if race, bounded
// by ctx.
func Build(ctx context.Context, out, pkg string, race bool) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go not found on PATH: %w", err)
	}
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, goBin, args...) //nolint:gosec // the go tool building a package of this module for a test
	cmd.WaitDelay = 5 * time.Second
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// BuildChatrooms builds the server into a temporary directory of t (with
// -race when the test binary has it, so the server runs under the race
// detector too), failing the test on error, and returns the binary's path.
func BuildChatrooms(t testing.TB, timeout time.Duration) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chatrooms")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := Build(ctx, bin, ChatroomsPkg, RaceEnabled); err != nil {
		t.Fatal(err)
	}
	return bin
}

// Proc is a started child process. Its methods are safe for concurrent use.
type Proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done is closed

	mu     sync.Mutex
	lines  []string
	cursor int // WaitLine looks from here on
}

// Option adjusts Start.
type Option func(*options)

type options struct {
	dumpDir   string
	tailBytes int
}

// DumpTo writes the process's whole output to dir/<name>.log if the test
// failed (dir may be empty: no dump).
func DumpTo(dir string) Option { return func(o *options) { o.dumpDir = dir } }

// LogTail limits the output logged for a failed test to its last n bytes
// (default: all of it).
func LogTail(n int) Option { return func(o *options) { o.tailBytes = n } }

// Start starts cmd in its own process group, collecting its stdout and
// stderr. When the test ends the process is stopped (SIGTERM, then SIGKILL
// to its group), a data-race report in its output fails the test, and if
// the test failed its output is logged. The reading goroutine never
// touches t: t.Log after the test ends panics.
func Start(t testing.TB, name string, cmd *exec.Cmd, opts ...Option) *Proc {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
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
	p := &Proc{name: name, cmd: cmd, done: make(chan struct{})}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
	}()
	go func() {
		<-readDone // all output read before Wait closes anything
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(t)
		out := p.Output()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("%s (pid %d) reported a data race", name, p.PID())
		}
		if !t.Failed() {
			return
		}
		if o.dumpDir != "" {
			_ = os.WriteFile(filepath.Join(o.dumpDir, strings.ReplaceAll(name, " ", "-")+".log"), []byte(out), 0o644) //nolint:gosec // a test's log for the developer or CI artifacts, no secret
		}
		if o.tailBytes > 0 {
			out = Tail(out, o.tailBytes)
		}
		t.Logf("--- output of %s (pid %d) ---\n%s", name, p.PID(), out)
	})
	return p
}

// Name is the name given to Start.
func (p *Proc) Name() string { return p.name }

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error; valid once Done is closed.
func (p *Proc) Err() error { return p.err }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output is everything the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Find returns the submatches of the first output line matching re, or nil.
func (p *Proc) Find(re *regexp.Regexp) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.lines {
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
	}
	return nil
}

// next returns the submatches of the first line at or after the cursor
// matching re, moving the cursor past it.
func (p *Proc) next(re *regexp.Regexp) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := p.cursor; i < len(p.lines); i++ {
		if m := re.FindStringSubmatch(p.lines[i]); m != nil {
			p.cursor = i + 1
			return m
		}
	}
	return nil
}

// WaitLine returns the submatches of the next output line matching re
// (each line is returned at most once), failing the test if the process
// exits first or nothing matches within d.
func (p *Proc) WaitLine(t testing.TB, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for range max(int(d/(20*time.Millisecond)), 0) + 1 {
		if m := p.next(re); m != nil {
			return m
		}
		if p.Exited() {
			if m := p.next(re); m != nil { // all output is read before done closes
				return m
			}
			t.Fatalf("%s (pid %d) exited (%v) before printing a line matching %q:\n%s", p.name, p.PID(), p.err, re, Tail(p.Output(), 6000))
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s (pid %d) printed no line matching %q within %v:\n%s", p.name, p.PID(), re, d, Tail(p.Output(), 6000))
	return nil
}

// Stop sends SIGTERM and waits; after StopTimeout it fails the test and
// kills the process group. It reports whether the process exited on
// SIGTERM. Idempotent.
func (p *Proc) Stop(t testing.TB) bool {
	t.Helper()
	if p.Exited() {
		return true
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(StopTimeout):
	}
	t.Errorf("%s (pid %d) did not exit within %v of SIGTERM; killing it", p.name, p.PID(), StopTimeout)
	p.Kill(t)
	return false
}

// Kill sends SIGKILL to the process group and waits for the process.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(StopTimeout):
		t.Errorf("%s (pid %d) survived SIGKILL", p.name, p.PID())
	}
}

// Tail returns the last n bytes of s, marked as cut when it is.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
