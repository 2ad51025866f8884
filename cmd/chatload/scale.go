package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// The scale scenario (issue 13, "scale out, measured") runs against
// several chatrooms nodes sharing one NATS (-urls, -server-pids in the
// same order, -nats-pid):
//
//  1. creates users (-conns / -conns-per-user) with POST /api/users,
//     round-robin over the nodes;
//  2. opens -conns idle /chat WebSockets with the users' tokens, connection
//     j to node j mod nodes, from -procs client processes (this binary
//     re-executed: each stays under the open-file cap; the source
//     addresses of -local-addrs rotate so that none runs out of ports). A
//     connection counts once its current_room_changed has arrived;
//  3. after -settle, reads the RSS of every node and of NATS;
//  4. one more connection (the first user's, on the first node) sends one
//     message to the default room, where every user starts: how many of
//     the connections received it, and when (within -drain).

// scaleBufSize is a scale connection's read buffer: the lists on connect
// are read past (headOnly), the rest is small.
const scaleBufSize = 4 << 10

// parseNodes reads -urls and -server-pids (both scenarios that use them).
func (c *config) parseNodes(urls, pids string) []error {
	var errs []error
	if urls == "" {
		c.urls = []string{c.baseURL}
	} else {
		for _, u := range strings.Split(urls, ",") {
			u = strings.TrimSpace(u)
			if err := checkLoopbackURL(u); err != nil {
				errs = append(errs, fmt.Errorf("-urls: %w", err))
			}
			c.urls = append(c.urls, u)
		}
		c.baseURL = c.urls[0] // the HTTP calls of the chat scenario
	}
	if len(c.urls) > 64 {
		errs = append(errs, errors.New("-urls: at most 64 nodes"))
	}
	if pids != "" {
		for _, f := range strings.Split(pids, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || pid <= 0 {
				errs = append(errs, fmt.Errorf("-server-pids %q: not a pid", f))
				continue
			}
			c.serverPIDs = append(c.serverPIDs, pid)
		}
	}
	if c.scenario == "scale" {
		if c.connsPerUser < 1 || c.connsPerUser > 1000 {
			errs = append(errs, fmt.Errorf("-conns-per-user %d: want 1..1000", c.connsPerUser))
		}
		if len(c.serverPIDs) > 0 && len(c.serverPIDs) != len(c.urls) {
			errs = append(errs, fmt.Errorf("-server-pids: %d pids for %d nodes", len(c.serverPIDs), len(c.urls)))
		}
		if c.lists != "delta" && c.lists != "full" {
			errs = append(errs, fmt.Errorf("-lists %q: want delta or full", c.lists))
		}
		if c.worker && c.runID == "" {
			errs = append(errs, errors.New("-run-id: needed by a scale worker"))
		}
	}
	return errs
}

// nodeURL is the node of connection (or user) i: round-robin over -urls.
func (c *config) nodeURL(i int) string { return c.urls[i%len(c.urls)] }

// cpuPIDs are the servers whose CPU is measured: -server-pid, -server-pids.
func (c *config) cpuPIDs() []int {
	var pids []int
	if c.serverPID > 0 {
		pids = append(pids, c.serverPID)
	}
	return append(pids, c.serverPIDs...)
}

// sumCPU is the CPU time of the processes so far (those it cannot read
// count 0).
func sumCPU(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		if d, err := procCPU(pid); err == nil {
			sum += d
		}
	}
	return sum
}

// scaleConn is one idle connection of a worker.
type scaleConn struct {
	c        *rawConn
	node     int
	welcomed chan struct{} // closed at current_room_changed
	done     chan struct{} // closed when the read loop ends
	got      atomic.Int32  // receptions of the probe
	gotNano  atomic.Int64  // time of the first reception
	bytes    atomic.Int64  // WebSocket payload bytes received (lists included)
}

// dialChat opens a /chat connection with token on a small read buffer.
// lists "delta" asks for list deltas (docs/protocol.md), "full" for the
// whole lists.
func dialChat(ctx context.Context, target, token, lists string, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) (*rawConn, error) {
	auth := map[string]string{"token": token}
	if lists == "delta" {
		auth["lists"] = "delta"
	}
	tok, _ := json.Marshal(auth)
	d := ws.Dialer{NetDial: netDial, ReadBufferSize: scaleBufSize}
	conn, br, _, err := d.Dial(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	if br == nil {
		br = bufio.NewReaderSize(conn, scaleBufSize)
	}
	c := &rawConn{conn: conn, br: br, headOnly: 256, head: make([]byte, 256)}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := c.handshake(chatNamespace, tok); err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

var (
	evRoomChanged = []byte(`current_room_changed"`)
	evChatMessage = []byte(`chat_message"`)
)

// read reads sc until its connection ends: answers pings, notes the
// welcome and the probe (a chat_message whose content starts with marker).
func (sc *scaleConn) read(marker []byte) {
	defer close(sc.done)
	welcomed := false
	for {
		op, p, err := sc.c.readFrame()
		if err != nil {
			return
		}
		sc.bytes.Add(int64(sc.c.lastLen))
		if op != ws.OpText {
			continue
		}
		switch {
		case isPing(p):
			_ = sc.c.pong()
		case bytes.HasPrefix(p, evPrefix):
			ev := p[len(evPrefix):]
			switch {
			case !welcomed && bytes.HasPrefix(ev, evRoomChanged):
				welcomed = true
				close(sc.welcomed)
			case bytes.HasPrefix(ev, evChatMessage) && bytes.Contains(ev, marker):
				now := time.Now().UnixNano()
				if sc.got.Add(1) == 1 {
					sc.gotNano.Store(now)
				}
			}
		case bytes.HasPrefix(p, disconnectPrefix):
			return
		}
	}
}

func (sc *scaleConn) open() bool {
	select {
	case <-sc.done:
		return false
	default:
		return true
	}
}

// probeMarker is how the probe's content starts, as it appears in JSON.
func probeMarker(runID string) []byte { return []byte(`"content":"` + runID + `:probe`) }

// scaleWorker is one client process of the scale scenario. It reads
// -conns tokens (a line each) from stdin, opens the connections and
// reports "connected OK FAILED RETRIES PER_NODE FIRST_ERROR"; then answers
// each "count" line with "got RECEIVED DUPLICATES OPEN BYTES"; at the end of
// stdin it reports "recv NODE:UNIXNANO ..." and "alive N", closes its
// connections and exits.
func scaleWorker(ctx context.Context, cfg *config, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	in := bufio.NewScanner(stdin)
	tokens := make([]string, 0, cfg.conns)
	for len(tokens) < cfg.conns && in.Scan() {
		tokens = append(tokens, in.Text())
	}
	if len(tokens) < cfg.conns {
		return fmt.Errorf("scale worker: %d of %d tokens on stdin", len(tokens), cfg.conns)
	}
	marker := probeMarker(cfg.runID)
	d := newDialers(cfg.localAddrs)
	conns := make([]*scaleConn, len(tokens))
	perNode := make([]int, len(cfg.urls))
	var (
		mu                  sync.Mutex
		ok, failed, retries int
		firstErr            string
		wg                  sync.WaitGroup
		sem                 = make(chan struct{}, cfg.dialConc)
	)
	for i, tok := range tokens {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			mu.Lock()
			failed += len(tokens) - i
			mu.Unlock()
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			node := (cfg.connOffset + i) % len(cfg.urls)
			err := errors.New("not tried")
			for try := range dialAttempts {
				if try > 0 {
					mu.Lock()
					retries++
					mu.Unlock()
				}
				var c *rawConn
				if c, err = dialChat(ctx, wsURL(cfg.urls[node]), tok, cfg.lists, d.dial); err != nil {
					if ctx.Err() != nil {
						break
					}
					continue
				}
				sc := &scaleConn{c: c, node: node, welcomed: make(chan struct{}), done: make(chan struct{})}
				go sc.read(marker)
				t := time.NewTimer(60 * time.Second)
				select {
				case <-sc.welcomed:
					err = nil
				case <-sc.done:
					err = errors.New("connection ended before current_room_changed")
				case <-t.C:
					err = errors.New("no current_room_changed within 60s")
				case <-ctx.Done():
					err = context.Cause(ctx)
				}
				t.Stop()
				if err == nil {
					conns[i] = sc
					break
				}
				c.close()
				<-sc.done
				if ctx.Err() != nil {
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if firstErr == "" {
					firstErr = err.Error()
					log.Warn("connect failed", "attempts", dialAttempts, "err", err)
				}
				return
			}
			ok++
			perNode[node]++
		})
	}
	wg.Wait()
	nodes := make([]string, len(perNode))
	for i, n := range perNode {
		nodes[i] = strconv.Itoa(n)
	}
	fmt.Fprintf(stdout, "connected %d %d %d %s %s\n", ok, failed, retries, strings.Join(nodes, ","), strconv.Quote(firstErr))

	lines := make(chan string)
	go func() {
		defer close(lines)
		for in.Scan() {
			lines <- in.Text()
		}
	}()
	count := func() (got, dups, open int, bytes int64) {
		for _, sc := range conns {
			if sc == nil {
				continue
			}
			if n := int(sc.got.Load()); n > 0 {
				got++
				dups += n - 1
			}
			if sc.open() {
				open++
			}
			bytes += sc.bytes.Load()
		}
		return got, dups, open, bytes
	}
loop:
	for {
		select {
		case l, more := <-lines:
			if !more {
				break loop
			}
			if l == "count" {
				g, dup, open, bytes := count()
				fmt.Fprintf(stdout, "got %d %d %d %d\n", g, dup, open, bytes)
			}
		case <-ctx.Done():
			break loop
		}
	}
	_, _, alive, _ := count()
	var b strings.Builder
	b.WriteString("recv")
	for _, sc := range conns {
		if sc != nil && sc.got.Load() > 0 {
			fmt.Fprintf(&b, " %d:%d", sc.node, sc.gotNano.Load())
		}
	}
	fmt.Fprintln(stdout, b.String())
	fmt.Fprintf(stdout, "alive %d\n", alive)
	closeScale(conns)
	return nil
}

// closeScale closes the connections, 256 at a time, and waits for their
// read loops.
func closeScale(conns []*scaleConn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, sc := range conns {
		if sc == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sc.c.close()
			<-sc.done
		})
	}
	wg.Wait()
}

// scaleWorkerState is a running scale worker as the parent sees it.
type scaleWorkerState struct {
	*worker
	n, offset         int
	ok, failed, retry int
	firstErr          string
	got, dups, open   int
	bytes             int64
}

// ask sends a line to the worker and reads the answer line.
func (w *scaleWorkerState) ask(line string) (string, error) {
	if _, err := io.WriteString(w.stdin, line+"\n"); err != nil {
		return "", err
	}
	if !w.lines.Scan() {
		return "", fmt.Errorf("worker %d ended: %v", w.cmd.Process.Pid, w.lines.Err())
	}
	return w.lines.Text(), nil
}

// rssOf is VmRSS in KiB of each pid (0 when unreadable).
func rssOf(pids []int) []int64 {
	out := make([]int64, len(pids))
	for i, pid := range pids {
		if st, err := readProcStatus(pid); err == nil {
			out[i] = st.rssKiB
		}
	}
	return out
}

// pssOf is the proportional set size in KiB of each pid (0 when
// unreadable): like VmRSS, but a page shared by n processes counts 1/n in
// each, so the nodes' one executable file is counted once in a sum.
func pssOf(pids []int) []int64 {
	out := make([]int64, len(pids))
	for i, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)) //nolint:gosec // a /proc path built from a pid
		if err == nil {
			out[i] = parsePss(b)
		}
	}
	return out
}

// parsePss reads the Pss line of a /proc/<pid>/smaps_rollup, in KiB; 0
// if there is none.
func parsePss(b []byte) int64 {
	for _, line := range strings.Split(string(b), "\n") {
		if k, n, ok := procField(line); ok && k == "Pss" {
			return n
		}
	}
	return 0
}

func sum64(v []int64) int64 {
	var s int64
	for _, x := range v {
		s += x
	}
	return s
}

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

func mibs(kib []int64) []string {
	out := make([]string, len(kib))
	for i, k := range kib {
		out[i] = mib(k)
	}
	return out
}

func runScale(ctx context.Context, cfg *config, stdout io.Writer, log *slog.Logger) error {
	runID := newRunID()
	nNodes := len(cfg.urls)
	nUsers := (cfg.conns + cfg.connsPerUser - 1) / cfg.connsPerUser
	d := newDialers(cfg.localAddrs)
	hc := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: d.dial, MaxIdleConns: cfg.httpConc, MaxIdleConnsPerHost: cfg.httpConc, IdleConnTimeout: 30 * time.Second,
		},
	}
	defer hc.CloseIdleConnections()
	// One chatRun per node, for its post (and the sender's read loop).
	nodes := make([]*chatRun, nNodes)
	for k, u := range cfg.urls {
		c := *cfg
		c.baseURL = u
		nodes[k] = &chatRun{cfg: &c, log: log, runID: "-", http: hc}
	}
	pids := append(slices.Clone(cfg.serverPIDs), cfg.natsPID)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	fmt.Fprintf(w, "scale: %s run %s: %d nodes, %d users, %d connections (%d per user, lists %s), %d client processes, source addresses %d\n",
		time.Now().UTC().Format(time.RFC3339), runID, nNodes, nUsers, cfg.conns, cfg.connsPerUser, cfg.lists, cfg.procs, len(cfg.localAddrs))
	fmt.Fprintf(w, "scale: load average at start %s\n", loadAvg())
	rss0 := rssOf(pids)

	// 1. Users, round-robin over the nodes.
	tokens := make([]string, nUsers)
	var (
		mu        sync.Mutex
		failCodes = map[string]int{}
		nFailed   int
		firstErr  string
		created   atomic.Int64
	)
	maxFail := max(100, nUsers/100)
	start := time.Now()
	progress := time.NewTicker(10 * time.Second)
	stopProgress := make(chan struct{})
	go func() {
		for {
			select {
			case <-progress.C:
				log.Info("creating users", "created", created.Load(), "of", nUsers, "elapsed", time.Since(start).Round(time.Second))
			case <-stopProgress:
				return
			}
		}
	}()
	err := parallel(ctx, nUsers, cfg.httpConc, func(ctx context.Context, i int) error {
		r := nodes[i%nNodes]
		var out struct {
			Token string `json:"token"`
		}
		var (
			code string
			err  error
		)
		// A busy room record answers unavailable ("too much contention"):
		// retried with a growing, jittered pause, a bounded number of times.
		for attempt := range 6 {
			_, code, err = r.post(ctx, "/api/users", "", map[string]string{"username": fmt.Sprintf("%s-%d", runID, i)}, &out)
			if err == nil && code == "" {
				tokens[i] = out.Token
				created.Add(1)
				return nil
			}
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if code == "username_taken" { // an earlier attempt went through after all
				break
			}
			time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond << attempt) //nolint:gosec // retry jitter, not a secret
		}
		mu.Lock()
		defer mu.Unlock()
		if code == "" {
			code = "error"
		}
		failCodes[code]++
		nFailed++
		if firstErr == "" {
			firstErr = fmt.Sprintf("user %d on %s: %s %v", i, r.cfg.baseURL, code, err)
			log.Warn("create user failed", "detail", firstErr)
		}
		if nFailed > maxFail {
			return fmt.Errorf("create users: %d failed (first: %s)", nFailed, firstErr)
		}
		return nil
	})
	progress.Stop()
	close(stopProgress)
	usersTime := time.Since(start)
	fmt.Fprintf(w, "scale: create users: ok=%d failed=%d %s in %.1fs (%.0f/s)\n",
		created.Load(), nFailed, codes(failCodes), usersTime.Seconds(), float64(created.Load())/usersTime.Seconds())
	if firstErr != "" {
		fmt.Fprintf(w, "scale: first failed user: %s\n", firstErr)
	}
	if err != nil {
		return err
	}
	rss1 := rssOf(pids)

	// 2. Connections: j uses user j mod users (those created) on node j mod nodes.
	var connTokens []string
	for j := range cfg.conns {
		if t := tokens[j%nUsers]; t != "" {
			connTokens = append(connTokens, t)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	addrs := make([]string, len(cfg.localAddrs))
	for i, ip := range cfg.localAddrs {
		addrs[i] = ip.String()
	}
	var workers []*scaleWorkerState
	defer func() { // whatever happened: release the workers (bounded by their contexts)
		for _, sw := range workers {
			_ = sw.stdin.Close()
		}
		for _, sw := range workers {
			for sw.lines.Scan() {
			}
			_ = sw.cmd.Wait()
		}
	}()
	start = time.Now()
	offset := 0
	for i := range cfg.procs {
		n := len(connTokens) / cfg.procs
		if i < len(connTokens)%cfg.procs {
			n++
		}
		if n == 0 {
			continue
		}
		wk, err := spawnWorker(ctx, exe, "-worker", "-scenario", "scale",
			"-urls", strings.Join(cfg.urls, ","),
			"-conns", strconv.Itoa(n), "-conn-offset", strconv.Itoa(offset),
			"-local-addrs", strings.Join(addrs, ","),
			"-dial-concurrency", strconv.Itoa(cfg.dialConc),
			"-run-id", runID, "-lists", cfg.lists)
		if err != nil {
			return err
		}
		sw := &scaleWorkerState{worker: wk, n: n, offset: offset}
		workers = append(workers, sw)
		log.Info("worker started", "pid", wk.cmd.Process.Pid, "conns", n)
		bw := bufio.NewWriter(wk.stdin) // err is nil here
		for _, t := range connTokens[offset : offset+n] {
			if _, err = bw.WriteString(t); err == nil {
				err = bw.WriteByte('\n')
			}
			if err != nil {
				break
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return fmt.Errorf("tokens to worker %d: %w", wk.cmd.Process.Pid, err)
		}
		offset += n
	}
	ok, failed, retries := 0, 0, 0
	perNode := make([]int, nNodes)
	connFirstErr := ""
	for _, sw := range workers {
		if !sw.lines.Scan() {
			return fmt.Errorf("worker %d ended before reporting: %v", sw.cmd.Process.Pid, sw.lines.Err())
		}
		line := sw.lines.Text()
		var pn string
		if _, err := fmt.Sscanf(line, "connected %d %d %d %s", &sw.ok, &sw.failed, &sw.retry, &pn); err != nil {
			return fmt.Errorf("worker %d said %q: %w", sw.cmd.Process.Pid, line, err)
		}
		if i := strings.Index(line, `"`); i >= 0 {
			sw.firstErr, _ = strconv.Unquote(line[i:])
		}
		for k, f := range strings.Split(pn, ",") {
			if k < nNodes {
				n, _ := strconv.Atoi(f)
				perNode[k] += n
			}
		}
		ok, failed, retries = ok+sw.ok, failed+sw.failed, retries+sw.retry
		if connFirstErr == "" {
			connFirstErr = sw.firstErr
		}
	}
	connectTime := time.Since(start)
	log.Info("connections open", "ok", ok, "failed", failed, "elapsed", connectTime.Round(time.Millisecond))
	fmt.Fprintf(w, "scale: connect (lists received): ok=%d failed=%d retried=%d in %.1fs (%.0f/s); per node %v\n",
		ok, failed, retries, connectTime.Seconds(), float64(ok)/connectTime.Seconds(), perNode)
	if connFirstErr != "" {
		fmt.Fprintf(w, "scale: first failed connection: %s\n", connFirstErr)
	}

	// 3. Settle, then memory.
	select {
	case <-time.After(cfg.settle):
	case <-ctx.Done():
		return fmt.Errorf("scale: %w", context.Cause(ctx))
	}
	var rcvBytes int64 // by all the connections so far
	poll := func() (got, dups, open int, err error) {
		rcvBytes = 0
		for _, sw := range workers {
			l, err := sw.ask("count")
			if err != nil {
				return 0, 0, 0, err
			}
			if _, err := fmt.Sscanf(l, "got %d %d %d %d", &sw.got, &sw.dups, &sw.open, &sw.bytes); err != nil {
				return 0, 0, 0, fmt.Errorf("worker %d said %q: %w", sw.cmd.Process.Pid, l, err)
			}
			got, dups, open, rcvBytes = got+sw.got, dups+sw.dups, open+sw.open, rcvBytes+sw.bytes
		}
		return got, dups, open, nil
	}
	rss2, pss2 := rssOf(pids), pssOf(pids)
	_, _, openBefore, err := poll()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "scale: load average at measurement %s; open before the message %d; received so far %.1f MiB, %.1f KiB per connection (the lists on connect, list deltas, pings)\n",
		loadAvg(), openBefore, float64(rcvBytes)/(1<<20), float64(rcvBytes)/1024/float64(max(ok, 1)))

	// 4. The probe: the first user's own extra connection on the first node.
	sender := &chatClient{done: make(chan struct{}), welcomed: make(chan struct{}), pending: map[int]func([]byte){}}
	sendRun := nodes[0]
	if tokens[0] == "" {
		return errors.New("scale: the first user was not created")
	}
	sc, err := dialChat(ctx, wsURL(cfg.urls[0]), tokens[0], cfg.lists, d.dial)
	if err != nil {
		return fmt.Errorf("scale: sender: %w", err)
	}
	sender.c = sc
	go sendRun.readLoop(sender)
	defer func() {
		sendRun.stop.Store(true)
		sc.close()
		<-sender.done
	}()
	select {
	case <-sender.welcomed:
	case <-sender.done:
		return fmt.Errorf("scale: sender closed before current_room_changed: %s", sender.closeReasonSafe())
	case <-time.After(60 * time.Second):
		return errors.New("scale: sender: no current_room_changed within 60s")
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	cpu0 := sumCPU(pids)
	t0 := time.Now()
	a, err := sender.call(ctx, "send_message", fmt.Appendf(nil, `{"content":%q}`, runID+":probe"))
	ackTime := time.Since(t0)
	if err != nil {
		return fmt.Errorf("scale: send: %w", err)
	}
	if !a.OK {
		return fmt.Errorf("scale: send refused: %s", a.Error)
	}
	var got, dups int
	for time.Since(t0) < cfg.drain && ctx.Err() == nil {
		if got, dups, _, err = poll(); err != nil {
			return err
		}
		if got >= ok {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	waited := time.Since(t0)
	cpuDelivery := sumCPU(pids) - cpu0

	// Release the workers and collect the reception times.
	var lat []int64 // µs
	recvNode := make([]int, nNodes)
	lastNode := make([]int64, nNodes)
	alive := 0
	for _, sw := range workers {
		_ = sw.stdin.Close()
	}
	for _, sw := range workers {
		for sw.lines.Scan() {
			l := sw.lines.Text()
			if rest, ok := strings.CutPrefix(l, "recv"); ok {
				for _, f := range strings.Fields(rest) {
					ns, ts, _ := strings.Cut(f, ":")
					node, _ := strconv.Atoi(ns)
					nano, _ := strconv.ParseInt(ts, 10, 64)
					us := (nano - t0.UnixNano()) / 1000
					lat = append(lat, us)
					if node >= 0 && node < nNodes {
						recvNode[node]++
						lastNode[node] = max(lastNode[node], us)
					}
				}
			} else if n, err := strconv.Atoi(strings.TrimPrefix(l, "alive ")); err == nil {
				alive += n
			}
		}
		_ = sw.cmd.Wait()
	}
	workers = nil
	slices.Sort(lat)
	pct := func(q float64) float64 { // nearest rank, ms
		if len(lat) == 0 {
			return 0
		}
		i := int(math.Ceil(q*float64(len(lat)))) - 1
		return float64(lat[min(max(i, 0), len(lat)-1)]) / 1000
	}
	fmt.Fprintf(w, "scale: message acked in %.1f ms; received by %d of %d connections (duplicates %d) within %.1fs; still open at the end %d (of %d)\n",
		float64(ackTime.Microseconds())/1000, len(lat), ok, dups, waited.Seconds(), alive, ok)
	fmt.Fprintf(w, "scale: send -> delivery ms: first %.1f p50 %.1f p90 %.1f p99 %.1f last %.1f\n",
		pct(0), pct(0.5), pct(0.9), pct(0.99), pct(1))
	fmt.Fprintf(w, "scale: server CPU (nodes + NATS) from the send to the last poll: %.2fs over %.2fs\n", cpuDelivery.Seconds(), waited.Seconds())
	fmt.Fprintln(w, "scale: node  url  conns  received  last ms  RSS MiB: start  users  conns")
	for k := range nNodes {
		fmt.Fprintf(w, "scale: n%d  %s  %d  %d  %.1f  %s  %s  %s\n", k+1, cfg.urls[k], perNode[k], recvNode[k], float64(lastNode[k])/1000,
			mib(rss0[k]), mib(rss1[k]), mib(rss2[k]))
	}
	nats := len(pids) - 1
	fmt.Fprintf(w, "scale: NATS  RSS MiB: start %s  users %s  conns %s\n", mib(rss0[nats]), mib(rss1[nats]), mib(rss2[nats]))
	nodesRSS := sum64(rss2[:nats])
	total := sum64(rss2)
	perConn, perConnDelta := 0.0, 0.0
	if ok > 0 {
		perConn = float64(total) / float64(ok)
		perConnDelta = float64(total-sum64(rss1)) / float64(ok)
	}
	fmt.Fprintf(w, "scale: RSS total (nodes + NATS) %s MiB (nodes %s, per node %s on average); per connection %.1f KiB (growth from after the users: %.1f KiB)\n",
		mib(total), mib(nodesRSS), mib(nodesRSS/int64(max(nats, 1))), perConn, perConnDelta)
	pssTotal, pssPerConn := sum64(pss2), 0.0
	if ok > 0 {
		pssPerConn = float64(pssTotal) / float64(ok)
	}
	fmt.Fprintf(w, "scale: PSS total (nodes + NATS; a page shared by processes, such as the nodes' one executable, counted once) %s MiB; per connection %.1f KiB; PSS MiB of each: %s\n",
		mib(pssTotal), pssPerConn, strings.Join(mibs(pss2), " "))
	fmt.Fprintf(w, "RESULT scale nodes=%d conns=%d connected=%d received=%d duplicates=%d last_ms=%.1f p50_ms=%.1f rss_total_mib=%s rss_per_conn_kib=%.1f pss_total_mib=%s pss_per_conn_kib=%.1f\n",
		nNodes, cfg.conns, ok, len(lat), dups, pct(1), pct(0.5), mib(total), perConn, mib(pssTotal), pssPerConn)
	if failed > 0 || len(lat) < ok || dups > 0 {
		return fmt.Errorf("scale: %d connections failed, %d of %d did not receive the message, %d duplicates", failed, ok-len(lat), ok, dups)
	}
	return nil
}
