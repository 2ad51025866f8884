package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// runIdle opens cfg.conns Socket.IO connections to namespace "/", spread
// over cfg.procs client processes, and reports how much the server's
// resident memory grew per connection once they are all connected.
func runIdle(ctx context.Context, cfg *config, stdout io.Writer, log *slog.Logger) error {
	var before procStatus
	if cfg.serverPID > 0 {
		var err error
		if before, err = readProcStatus(cfg.serverPID); err != nil {
			return err
		}
	}
	load0 := loadAvg()
	start := time.Now()
	var (
		ok, failed, retries int
		firstErr            string
		release             func() (alive int, err error)
	)
	if cfg.procs == 1 {
		g := openIdle(ctx, cfg, cfg.conns, log)
		ok, failed, retries, firstErr = len(g.clients), g.failed, g.retries, g.firstErr
		release = func() (int, error) { return g.close(), nil }
	} else {
		ws, err := startWorkers(ctx, cfg, log)
		if err != nil {
			return err
		}
		for _, w := range ws {
			ok += w.ok
			failed += w.failed
			retries += w.retries
			if firstErr == "" {
				firstErr = w.firstErr
			}
		}
		release = func() (int, error) { return releaseWorkers(ws) }
	}
	connectTime := time.Since(start)
	log.Info("connections open", "ok", ok, "failed", failed, "retries", retries, "elapsed", connectTime.Round(time.Millisecond))

	select {
	case <-time.After(cfg.settle):
	case <-ctx.Done():
		_, _ = release()
		return fmt.Errorf("idle: %w", context.Cause(ctx))
	}
	var after procStatus
	var statusErr error
	if cfg.serverPID > 0 {
		after, statusErr = readProcStatus(cfg.serverPID)
	}
	alive, relErr := release()

	w := bufio.NewWriter(stdout)
	defer w.Flush()
	fmt.Fprintf(w, "idle: connections=%d failed=%d retried_dials=%d procs=%d connect_time=%s still_open_at_end=%d\n",
		ok, failed, retries, cfg.procs, connectTime.Round(time.Millisecond), alive)
	fmt.Fprintf(w, "idle: load average at start %s, at measurement %s\n", load0, loadAvg())
	if firstErr != "" {
		fmt.Fprintf(w, "idle: first failed dial: %s\n", firstErr)
	}
	if statusErr != nil {
		return statusErr
	}
	if cfg.serverPID > 0 && ok > 0 {
		perConn := float64(after.rssKiB-before.rssKiB) / float64(ok)
		perAnon := float64(after.anonKiB-before.anonKiB) / float64(ok)
		fmt.Fprintf(w, "idle: server pid=%d VmRSS before=%d KiB after=%d KiB (RssAnon %d -> %d KiB) threads %d -> %d open_fds %d -> %d\n",
			cfg.serverPID, before.rssKiB, after.rssKiB, before.anonKiB, after.anonKiB,
			before.threads, after.threads, before.fds, after.fds)
		fmt.Fprintf(w, "RESULT idle conns=%d rss_per_conn_kib=%.2f anon_per_conn_kib=%.2f\n", ok, perConn, perAnon)
	}
	if relErr != nil {
		return relErr
	}
	if failed > 0 || alive < ok {
		return fmt.Errorf("idle: %d connections failed, %d of %d closed before the end", failed, ok-alive, ok)
	}
	return nil
}

// idleGroup is the connections of one process.
type idleGroup struct {
	clients  []*sioclient.Client
	failed   int
	retries  int
	firstErr string
}

// dialAttempts bounds the tries of one connection.
const dialAttempts = 3

// openIdle dials n clients, cfg.dialConc at a time. Failures are counted,
// not retried.
func openIdle(ctx context.Context, cfg *config, n int, log *slog.Logger) *idleGroup {
	g := &idleGroup{}
	d := newDialers(cfg.localAddrs)
	opts := sioclient.Options{NetDial: d.dial, DialTimeout: 15 * time.Second, EventBuffer: 64}
	var mu sync.Mutex
	sem := make(chan struct{}, cfg.dialConc)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			mu.Lock()
			g.failed += n - i
			mu.Unlock()
			wg.Wait()
			return g
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var (
				c   *sioclient.Client
				err error
			)
			// A busy server may miss the test server's 1 s connect
			// timeout; try again, a bounded number of times.
			for try := range dialAttempts {
				if c, err = sioclient.Dial(ctx, cfg.baseURL, opts); err == nil || ctx.Err() != nil {
					break
				}
				if try+1 < dialAttempts {
					mu.Lock()
					g.retries++
					mu.Unlock()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				g.failed++
				if g.firstErr == "" {
					g.firstErr = err.Error()
					log.Warn("dial failed", "attempts", dialAttempts, "err", err)
				}
				return
			}
			g.clients = append(g.clients, c)
		})
	}
	wg.Wait()
	return g
}

// close closes every client (bounded: Close waits at most about a second
// per client, done in parallel) and returns how many were still open.
func (g *idleGroup) close() int {
	alive := 0
	for _, c := range g.clients {
		if c.Err() == nil {
			alive++
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range g.clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = c.Close()
		})
	}
	wg.Wait()
	return alive
}

// idleWorker is one client process of the idle scenario. It reports
// "connected OK FAILED FIRST_ERROR" on stdout, holds the connections until
// stdin closes (or ctx ends), then reports "alive N" and exits.
func idleWorker(ctx context.Context, cfg *config, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	g := openIdle(ctx, cfg, cfg.conns, log)
	fmt.Fprintf(stdout, "connected %d %d %d %s\n", len(g.clients), g.failed, g.retries, strconv.Quote(g.firstErr))
	released := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(released)
	}()
	select {
	case <-released:
	case <-ctx.Done():
	}
	fmt.Fprintf(stdout, "alive %d\n", g.close())
	return nil
}

// worker is a running idle client process.
type worker struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	lines    *bufio.Scanner
	ok       int
	failed   int
	retries  int
	firstErr string
}

// startWorkers re-executes this binary cfg.procs times and waits until
// every worker has opened its share of the connections.
func startWorkers(ctx context.Context, cfg *config, log *slog.Logger) ([]*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	addrs := make([]string, len(cfg.localAddrs))
	for i, ip := range cfg.localAddrs {
		addrs[i] = ip.String()
	}
	var ws []*worker
	fail := func(err error) ([]*worker, error) {
		_, _ = releaseWorkers(ws)
		return nil, err
	}
	for i := range cfg.procs {
		n := cfg.conns / cfg.procs
		if i < cfg.conns%cfg.procs {
			n++
		}
		// The worker's own -timeout is a little shorter than ours, so it
		// ends first if the parent is stuck.
		w, err := spawnWorker(ctx, exe, "-worker", "-scenario", "idle",
			"-url", cfg.baseURL,
			"-conns", strconv.Itoa(n),
			"-local-addrs", strings.Join(addrs, ","),
			"-dial-concurrency", strconv.Itoa(cfg.dialConc))
		if err != nil {
			return fail(err)
		}
		log.Info("worker started", "pid", w.cmd.Process.Pid, "conns", n)
		ws = append(ws, w)
	}
	for _, w := range ws {
		if !w.lines.Scan() {
			return fail(fmt.Errorf("worker %d ended before reporting: %v", w.cmd.Process.Pid, w.lines.Err()))
		}
		var quoted string
		if _, err := fmt.Sscanf(w.lines.Text(), "connected %d %d %d %s", &w.ok, &w.failed, &w.retries, &quoted); err != nil {
			return fail(fmt.Errorf("worker %d said %q: %w", w.cmd.Process.Pid, w.lines.Text(), err))
		}
		if i := strings.Index(w.lines.Text(), `"`); i >= 0 {
			w.firstErr, _ = strconv.Unquote(w.lines.Text()[i:])
		}
	}
	return ws, nil
}

// spawnWorker starts exe (this binary) with args and a -timeout a little
// shorter than ctx's, so that the worker ends first if the parent is stuck;
// its stdin and stdout are pipes to the parent, its stderr ours.
func spawnWorker(ctx context.Context, exe string, args ...string) (*worker, error) {
	dl, _ := ctx.Deadline()
	args = append(args, "-timeout", (time.Until(dl) - 2*time.Second).Round(time.Second).String())
	cmd := exec.CommandContext(ctx, exe, args...) //nolint:gosec // re-executes this very binary with our own flags
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	lines := bufio.NewScanner(out)
	lines.Buffer(make([]byte, 64<<10), 16<<20) // a scale worker's report lines are long
	return &worker{cmd: cmd, stdin: stdin, lines: lines}, nil
}

// releaseWorkers tells every worker to close its connections, collects
// how many were still open and waits for the processes to exit (the
// exec.Cmd's context and WaitDelay bound that).
func releaseWorkers(ws []*worker) (int, error) {
	for _, w := range ws {
		_ = w.stdin.Close()
	}
	alive := 0
	var firstErr error
	for _, w := range ws {
		for w.lines.Scan() {
			var n int
			if _, err := fmt.Sscanf(w.lines.Text(), "alive %d", &n); err == nil {
				alive += n
			}
		}
		if err := w.cmd.Wait(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("worker %d: %w", w.cmd.Process.Pid, err)
		}
	}
	return alive, firstErr
}

// loadAvg is the machine's 1-, 5- and 15-minute load average, to tell
// whether other work shared the cores during a run.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// procStatus is what /proc/<pid> tells about a process's memory.
type procStatus struct {
	rssKiB, anonKiB int64
	threads         int64
	fds             int
}

// procField reads a "Key:  N kB" (or "Key: N") line of a /proc file; n
// is 0 when the value is not a number.
func procField(line string) (key string, n int64, ok bool) {
	k, v, ok := strings.Cut(line, ":")
	if !ok {
		return "", 0, false
	}
	n, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return k, n, true
}

func readProcStatus(pid int) (procStatus, error) {
	var st procStatus
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)) //nolint:gosec // a /proc path built from a pid
	if err != nil {
		return st, fmt.Errorf("read server status: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, n, ok := procField(line)
		if !ok {
			continue
		}
		switch k {
		case "VmRSS":
			st.rssKiB = n
		case "RssAnon":
			st.anonKiB = n
		case "Threads":
			st.threads = n
		}
	}
	if st.rssKiB == 0 {
		return st, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		st.fds = len(ents)
	}
	return st, nil
}
