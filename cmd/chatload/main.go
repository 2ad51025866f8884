// Command chatload is the load generator of ChatRooms: it speaks Socket.IO
// over WebSocket to a server on this machine (loopback only) and measures
// two things against `chatrooms --protocol-test`:
//
//   - idle: the server's resident memory per idle connected WebSocket;
//   - broadcast: deliveries per second of a small event to one room;
//
// and one against the real chat service:
//
//   - chat: users created over HTTP, connected to /chat, switched into
//     rooms, senders at a list of rates; latency, loss, duplicates,
//     misrouting and list bytes (chat.go);
//   - scale: idle /chat connections spread over several nodes and client
//     processes, one message to all, memory per node (scale.go).
//
// Every loop is bounded in count and time, and the whole run by -timeout.
// See docs/measurements.md and scripts/measure.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "chatload:", err) // last-resort error
		os.Exit(1)
	}
}

// config is the whole command line. It is read-only after parseFlags.
type config struct {
	scenario   string
	baseURL    string
	timeout    time.Duration
	localAddrs []net.IP
	dialConc   int

	// idle
	conns     int
	procs     int
	serverPID int
	settle    time.Duration
	worker    bool // internal: this process is one of the idle clients

	// broadcast
	receivers   int
	senders     int
	duration    time.Duration
	maxMessages int64
	payload     int
	window      int
	room        string

	// chat
	users       int
	rooms       int
	roomSize    int
	rates       []int
	step        time.Duration
	drain       time.Duration
	pause       time.Duration
	httpConc    int
	jsonOut     string
	serverFlags string
	cpuProfile  string // a CPU profile of this process, for the whole run

	// scale (and chat: -urls spreads the connections over nodes)
	urls         []string
	serverPIDs   []int
	natsPID      int
	connsPerUser int
	lists        string // "delta" or "full"
	runID        string // internal: the scale worker's run
	connOffset   int    // internal: the scale worker's first connection index
}

func parseFlags(args []string, output io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("chatload", flag.ContinueOnError)
	fs.SetOutput(output)
	var local, rates, urls, pids string
	fs.StringVar(&c.scenario, "scenario", "", "idle, broadcast, chat or scale (required)")
	fs.StringVar(&c.baseURL, "url", "http://127.0.0.1:8080", "server base URL; must be a loopback address")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Minute, "hard bound on the whole run")
	fs.StringVar(&local, "local-addrs", "127.0.0.1", "comma-separated loopback source addresses, used round-robin (more addresses, more ephemeral ports)")
	fs.IntVar(&c.dialConc, "dial-concurrency", 64, "connections being opened at once (per process)")
	fs.IntVar(&c.conns, "conns", 1000, "idle: connections to open in total")
	fs.IntVar(&c.procs, "procs", 1, "idle: client processes to spread the connections over (this binary re-executed); 1 runs them in this process")
	fs.IntVar(&c.serverPID, "server-pid", 0, "pid of the server, to read its VmRSS from /proc (idle: required for the memory figure; broadcast: optional, for its CPU time)")
	fs.DurationVar(&c.settle, "settle", 5*time.Second, "idle: wait after the last connection before reading the server's RSS")
	fs.BoolVar(&c.worker, "worker", false, "internal: run as an idle client process driven by the parent over stdin/stdout")
	fs.IntVar(&c.receivers, "receivers", 1000, "broadcast: connections that join the room")
	fs.IntVar(&c.senders, "senders", 2, "broadcast: connections that emit to the room; chat: users that send_message, spread over the rooms")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "broadcast: how long the senders send")
	fs.Int64Var(&c.maxMessages, "max-messages", 1_000_000, "broadcast: most messages sent in total")
	fs.IntVar(&c.payload, "payload", 150, "broadcast: bytes of the event payload (a JSON string)")
	fs.IntVar(&c.window, "window", 1024, "broadcast: most messages the senders together may be ahead of the slowest receiver (bounds each receiver's server-side queue to about window × 175 bytes)")
	fs.StringVar(&c.room, "room", "bench", "broadcast: room name")
	fs.IntVar(&c.users, "users", 200, "chat: users created and connected")
	fs.IntVar(&c.rooms, "rooms", 2, "chat: rooms created")
	fs.IntVar(&c.roomSize, "room-size", 0, "chat: users switched into each room (default users/rooms)")
	fs.StringVar(&rates, "rates", "1000", "chat: comma-separated aggregate rates, in deliveries/s (messages/s × room size), one step each")
	fs.DurationVar(&c.step, "step", 10*time.Second, "chat: duration of each rate step")
	fs.DurationVar(&c.drain, "drain", 10*time.Second, "chat: after the last step, longest wait for the deliveries still owed (then they count as lost)")
	fs.DurationVar(&c.pause, "pause", 0, "chat: pause between the room switches and the first step, for the switches' list changes to arrive (a setup phase \"pause\": the lists a second received meanwhile, all clients, and the server's CPU)")
	fs.IntVar(&c.httpConc, "http-concurrency", 32, "chat: HTTP requests (user and room creation) at once")
	fs.StringVar(&c.jsonOut, "json", "", "chat: also write the figures to this JSON file")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of chatload itself (the whole run) to this file: is the generator the bottleneck?")
	fs.StringVar(&c.serverFlags, "server-flags", "", "chat: the flags the server was started with, copied into the report (e.g. its --limit-messages)")
	fs.StringVar(&urls, "urls", "", "scale, chat: comma-separated base URLs of the nodes; connections go round-robin over them (default: -url)")
	fs.StringVar(&pids, "server-pids", "", "scale, chat: comma-separated pids of the nodes, for their RSS (scale) and CPU (both; chat adds -server-pid)")
	fs.IntVar(&c.natsPID, "nats-pid", 0, "scale: pid of the NATS server, for its RSS")
	fs.IntVar(&c.connsPerUser, "conns-per-user", 1, "scale: connections per user (users = conns / this)")
	fs.StringVar(&c.lists, "lists", "delta", "chat and scale: how the connections get the user and room lists: delta (auth lists: delta, as the web client) or full (room_list_changed / user_list_changed)")
	fs.StringVar(&c.runID, "run-id", "", "internal: the run id of a scale worker")
	fs.IntVar(&c.connOffset, "conn-offset", 0, "internal: the global index of a scale worker's first connection")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var errs []error
	if c.scenario != "idle" && c.scenario != "broadcast" && c.scenario != "chat" && c.scenario != "scale" {
		errs = append(errs, fmt.Errorf("-scenario %q: want idle, broadcast, chat or scale", c.scenario))
	}
	errs = append(errs, c.parseNodes(urls, pids)...)
	if err := checkLoopbackURL(c.baseURL); err != nil {
		errs = append(errs, err)
	}
	for _, s := range strings.Split(local, ",") {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil || !ip.IsLoopback() {
			errs = append(errs, fmt.Errorf("-local-addrs %q: not a loopback IP", s))
			continue
		}
		c.localAddrs = append(c.localAddrs, ip)
	}
	positive := func(name string, v int64, max int64) {
		if v <= 0 || v > max {
			errs = append(errs, fmt.Errorf("-%s %d: want 1..%d", name, v, max))
		}
	}
	positive("dial-concurrency", int64(c.dialConc), 1024)
	positive("conns", int64(c.conns), 100_000)
	positive("procs", int64(c.procs), 64)
	positive("receivers", int64(c.receivers), 15_000)
	if c.scenario == "chat" {
		errs = append(errs, c.checkChat(rates)...)
	} else {
		positive("senders", int64(c.senders), 64)
	}
	positive("max-messages", c.maxMessages, 100_000_000)
	positive("payload", int64(c.payload), 60_000)
	positive("window", int64(c.window), 1_000_000)
	if c.payload < minPayload {
		errs = append(errs, fmt.Errorf("-payload %d: want at least %d", c.payload, minPayload))
	}
	if c.timeout <= 0 || c.duration <= 0 || c.duration >= c.timeout || c.settle < 0 {
		errs = append(errs, errors.New("-timeout and -duration must be positive, -duration below -timeout, -settle not negative"))
	}
	if c.room == "" {
		errs = append(errs, errors.New("-room must not be empty"))
	}
	if c.conns/c.procs > 15_000 {
		errs = append(errs, fmt.Errorf("%d connections per process would near the open-file cap: raise -procs", c.conns/c.procs))
	}
	return c, errors.Join(errs...)
}

// checkLoopbackURL refuses any target that is not on this machine.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "ws" {
		return fmt.Errorf("-url %q: want http:// or ws:// (loopback, no TLS)", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: the target must be a loopback IP (127.0.0.0/8 or ::1) or localhost", raw)
	}
	return nil
}

// wsURL is the Socket.IO WebSocket endpoint of baseURL.
func wsURL(baseURL string) string {
	u, _ := url.Parse(baseURL) // checked by parseFlags
	u.Scheme = "ws"
	u.Path = strings.TrimSuffix(u.Path, "/") + "/socket.io/"
	u.RawQuery = "EIO=4&transport=websocket"
	return u.String()
}

// dialers hands out net dial functions bound to the source addresses in
// turn, so many connections spread over several ephemeral port ranges.
type dialers struct {
	ds   []*net.Dialer
	next atomic.Uint64
}

func newDialers(ips []net.IP) *dialers {
	d := &dialers{}
	for _, ip := range ips {
		d.ds = append(d.ds, &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second})
	}
	return d
}

func (d *dialers) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := d.ds[d.next.Add(1)%uint64(len(d.ds))]
	return nd.DialContext(ctx, network, addr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.timeout, errors.New("chatload: -timeout reached"))
	defer cancel()
	if cfg.cpuProfile != "" {
		stopProfile, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile(log)
	}
	switch {
	case cfg.worker && cfg.scenario == "scale":
		return scaleWorker(ctx, cfg, stdin, stdout, log)
	case cfg.worker:
		return idleWorker(ctx, cfg, stdin, stdout, log)
	case cfg.scenario == "idle":
		return runIdle(ctx, cfg, stdout, log)
	case cfg.scenario == "chat":
		return runChat(ctx, cfg, stdout, log)
	case cfg.scenario == "scale":
		return runScale(ctx, cfg, stdout, log)
	default:
		return runBroadcast(ctx, cfg, stdout, log)
	}
}

// checkChat validates the chat scenario's flags and parses -rates.
func (c *config) checkChat(rates string) []error {
	var errs []error
	if c.lists != "delta" && c.lists != "full" {
		errs = append(errs, fmt.Errorf("-lists %q: want delta or full", c.lists))
	}
	if c.users < 2 || c.users > 15_000 {
		errs = append(errs, fmt.Errorf("-users %d: want 2..15000", c.users))
	}
	if c.rooms < 1 || c.rooms > c.users {
		errs = append(errs, fmt.Errorf("-rooms %d: want 1..users", c.rooms))
	}
	if c.roomSize == 0 && c.rooms > 0 {
		c.roomSize = c.users / c.rooms
	}
	if c.roomSize < 2 || c.rooms*c.roomSize > c.users {
		errs = append(errs, fmt.Errorf("-room-size %d: want at least 2, and rooms × room size within -users", c.roomSize))
	}
	if c.senders < 1 || c.senders > c.rooms*c.roomSize {
		errs = append(errs, fmt.Errorf("-senders %d: want 1..rooms × room size", c.senders))
	}
	if c.httpConc < 1 || c.httpConc > 1024 {
		errs = append(errs, fmt.Errorf("-http-concurrency %d: want 1..1024", c.httpConc))
	}
	for _, f := range strings.Split(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 10_000_000 {
			errs = append(errs, fmt.Errorf("-rates %q: want positive deliveries/s up to 10M", f))
			continue
		}
		c.rates = append(c.rates, n)
	}
	if len(c.rates) > 100 {
		errs = append(errs, errors.New("-rates: at most 100 steps"))
	}
	if c.step <= 0 || c.drain < 0 || c.pause < 0 || c.pause+time.Duration(len(c.rates))*c.step+c.drain >= c.timeout {
		errs = append(errs, errors.New("-step must be positive, -drain and -pause not negative, and -pause + steps × -step + -drain below -timeout"))
	}
	return errs
}

// startCPUProfile profiles this process into path until the returned
// function runs.
func startCPUProfile(path string) (func(*slog.Logger), error) {
	f, err := os.Create(path) //nolint:gosec // the path the operator gave -cpuprofile
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func(log *slog.Logger) {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Warn("cpu profile", "err", err)
		}
	}, nil
}
