//go:build unix

package cluster_test

import (
	"github.com/chatrooms/chatrooms/internal/proctest"

	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeNames are the chat nodes' --node-name values, as in
// deploy/compose.yaml: Engine.IO session ids start with "a.", "b.", "c.".
var nodeNames = []string{"a", "b", "c"}

// topoOptions configures a topology. Zero fields take the defaults shown.
type topoOptions struct {
	// Grace is the nodes' --presence-grace (default 3s).
	Grace time.Duration
	// NoNginx leaves the load balancer out.
	NoNginx bool
}

// topology is the deployed system on loopback ports: three NATS servers,
// three chat nodes and nginx. Every field is fixed at start, so that a
// stopped process can be started again where the others expect it.
type topology struct {
	t     *testing.T
	dir   string
	opts  topoOptions
	nats  []*natsServer
	nodes []*chatNode
	lb    *nginx
	http  *http.Client
}

// startTopology starts the NATS cluster, the chat nodes and nginx, and
// waits until each is ready: JetStream has a meta leader seen by all
// three servers, every node's /readyz answers 200, nginx proxies.
func startTopology(t *testing.T, opts topoOptions) *topology {
	t.Helper()
	tp := newTopology(t, opts)
	tp.start()
	return tp
}

// start starts every process, in order, each once the one before is
// ready: NATS, the nodes, nginx.
func (tp *topology) start() {
	tp.t.Helper()
	for _, s := range tp.nats {
		s.start(tp.t)
	}
	tp.waitNATS(startTimeout)
	for _, n := range tp.nodes {
		n.start(tp.t, tp)
	}
	for _, n := range tp.nodes {
		tp.waitReady(n, startTimeout)
	}
	if tp.lb != nil {
		tp.lb.start(tp.t, tp)
	}
}

// newTopology lays out the processes (binaries, ports, directories)
// without starting any.
func newTopology(t *testing.T, opts topoOptions) *topology {
	t.Helper()
	if opts.Grace == 0 {
		opts.Grace = 3 * time.Second
	}
	natsBin, chatBin := binaries(t)
	tp := &topology{
		t:    t,
		dir:  t.TempDir(),
		opts: opts,
		http: &http.Client{Timeout: 10 * time.Second},
	}
	ports := freePorts(t, 3*3+3+1) // per NATS server client, route, monitor; per node HTTP; nginx
	for i := range 3 {
		tp.nats = append(tp.nats, &natsServer{
			bin:      natsBin,
			name:     fmt.Sprintf("nats-%d", i+1),
			port:     ports[3*i],
			route:    ports[3*i+1],
			monitor:  ports[3*i+2],
			storeDir: filepath.Join(tp.dir, fmt.Sprintf("nats-%d", i+1)),
		})
	}
	for _, s := range tp.nats {
		s.routes = tp.routeURLs()
	}
	for i, name := range nodeNames {
		tp.nodes = append(tp.nodes, &chatNode{
			bin:     chatBin,
			name:    name,
			port:    ports[9+i],
			dataDir: filepath.Join(tp.dir, "node-"+name),
		})
	}
	if !opts.NoNginx {
		tp.lb = &nginx{port: ports[12], prefix: filepath.Join(tp.dir, "nginx")}
	}
	return tp
}

// routeURLs is the --routes value every NATS server gets: all three.
func (tp *topology) routeURLs() string {
	var urls []string
	for _, s := range tp.nats {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", s.route))
	}
	return strings.Join(urls, ",")
}

// natsURLs is the --nats-url value every node gets: all three servers.
func (tp *topology) natsURLs() string {
	var urls []string
	for _, s := range tp.nats {
		urls = append(urls, s.clientURL())
	}
	return strings.Join(urls, ",")
}

// node returns the chat node called name.
func (tp *topology) node(name string) *chatNode {
	for _, n := range tp.nodes {
		if n.name == name {
			return n
		}
	}
	tp.t.Fatalf("no node %q", name)
	return nil
}

// natsServer is one nats-server process of the cluster.
type natsServer struct {
	bin, name            string
	port, route, monitor int
	storeDir, routes     string
	p                    *proctest.Proc
	started              time.Time
}

func (s *natsServer) clientURL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// args are the flags deploy/compose.yaml gives nats-server, with
// loopback addresses and this server's ports.
func (s *natsServer) args() []string {
	return []string{
		"--name", s.name,
		"--addr", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--http_port", strconv.Itoa(s.monitor),
		"--jetstream",
		"--store_dir", s.storeDir,
		"--cluster_name", "chatrooms",
		"--cluster", fmt.Sprintf("nats://127.0.0.1:%d", s.route),
		"--routes", s.routes,
		// Clients keep to the URLs they were given: without it they
		// learn every server's client URL from the one they reach,
		// and one node cannot be cut off from NATS on its own.
		"--no_advertise",
	}
}

// start runs nats-server.
func (s *natsServer) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(s.bin, s.args()...)
	if os.Getenv("CLUSTER_TEST_NATS_TRACE") != "" {
		cmd.Args = append(cmd.Args, "-DV")
	}
	s.p = startProc(t, s.name, cmd)
	s.started = time.Now()
}

// routeSettle is how long after its start a server may still open and
// drop duplicate route connections: it retries the routes it could not
// reach at first (the others were not listening yet) after 1 s.
const routeSettle = 1500 * time.Millisecond

// jsz is the part of a server's /jsz answer the harness reads.
type jsz struct {
	Meta *struct {
		Leader string `json:"leader"`
		Size   int    `json:"cluster_size"`
	} `json:"meta_cluster"`
}

// metaLeader returns the JetStream meta leader as this server sees it.
func (s *natsServer) metaLeader(c *http.Client) (string, error) {
	res, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/jsz", s.monitor))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var j jsz
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&j); err != nil {
		return "", fmt.Errorf("%s /jsz: %w", s.name, err)
	}
	if j.Meta == nil || j.Meta.Leader == "" {
		return "", fmt.Errorf("%s: no meta leader", s.name)
	}
	if j.Meta.Size != 3 {
		return "", fmt.Errorf("%s: meta cluster size %d, want 3", s.name, j.Meta.Size)
	}
	return j.Meta.Leader, nil
}

// leaderless returns the streams that have no leader as this server
// sees them.
func (s *natsServer) leaderless(c *http.Client) ([]string, error) {
	res, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/jsz?accounts=true&streams=true", s.monitor))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var j struct {
		Accounts []struct {
			Streams []struct {
				Name    string `json:"name"`
				Cluster *struct {
					Leader string `json:"leader"`
				} `json:"cluster"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&j); err != nil {
		return nil, fmt.Errorf("%s /jsz: %w", s.name, err)
	}
	var out []string
	for _, a := range j.Accounts {
		for _, st := range a.Streams {
			if st.Cluster == nil || st.Cluster.Leader == "" {
				out = append(out, st.Name)
			}
		}
	}
	return out, nil
}

// healthy reports whether the server's /healthz says JetStream is
// current (streams caught up).
func (s *natsServer) healthy(c *http.Client) error {
	res, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", s.monitor))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s /healthz: %d %s", s.name, res.StatusCode, body)
	}
	return nil
}

// waitNATS waits until every running server agrees on one JetStream meta
// leader in a cluster of three, reports itself healthy, and sees a leader
// for every stream (after a restart, /healthz says ok before the streams
// have elected theirs).
func (tp *topology) waitNATS(d time.Duration) {
	tp.t.Helper()
	c := &http.Client{Timeout: time.Second}
	waitFor(tp.t, d, "JetStream meta leader", func() error {
		leader := ""
		for _, s := range tp.nats {
			if s.p == nil || s.p.Exited() {
				continue
			}
			l, err := s.metaLeader(c)
			if err != nil {
				return err
			}
			if leader != "" && l != leader {
				return fmt.Errorf("servers disagree on the meta leader: %s, %s", leader, l)
			}
			leader = l
			if err := s.healthy(c); err != nil {
				return err
			}
			if up := time.Since(s.started); up < routeSettle {
				return fmt.Errorf("%s up for %v only", s.name, up)
			}
			if l, err := s.leaderless(c); err != nil || len(l) > 0 {
				return fmt.Errorf("%s: streams without a leader: %v %v", s.name, l, err)
			}
		}
		return nil
	})
}

// chatNode is one chatrooms process.
type chatNode struct {
	bin, name, dataDir string
	port               int
	// natsURL, when set, replaces the URLs of all three NATS servers
	// (to cut one node off from NATS by killing its only server).
	natsURL string
	p       *proctest.Proc
	id      string // presence identity of the current run, from its log
}

func (n *chatNode) url() string { return fmt.Sprintf("http://127.0.0.1:%d", n.port) }

// listeningRE matches the "listening" log line; nodeIDRE the node=
// attribute every line of the chat service carries.
var (
	listeningRE = regexp.MustCompile(`msg=listening.*\baddr=(\S+)`)
	nodeIDRE    = regexp.MustCompile(`\bnode=(\S+)`)
)

// testOnlyFlags are the node flags the tests add to those of
// deploy/compose.yaml: a data directory per node (unused with
// --nats-url), short timings, more logging, no per-address limits
// (every test client comes from 127.0.0.1), and no limit on room
// switches, room creations or typing (scenarios switch, create and type
// as fast as they can; the limits themselves are tested in
// cmd/chatrooms). Room creations were limited to 3 at once per user, all
// nodes together, so 1 per node with three: two creations of one user
// that nginx, round-robin among parallel scenarios, sent to the same
// node got 429 for the second, where http-contract expected 409 (a
// fresh-clone CI beside a CPU hog). The message limit stays: the
// rate-limit scenario checks it is shared across nodes.
var testOnlyFlags = []string{"--data-dir", "--presence-grace", "--shutdown-grace", "--log-level",
	"--limit-new-users", "--limit-handshakes", "--max-sessions-per-addr", "--limit-addr-uploads",
	"--limit-room-switches", "--limit-room-creations", "--limit-typing"}

// args are the flags deploy/compose.yaml gives a node, with loopback
// addresses, plus testOnlyFlags.
func (n *chatNode) args(tp *topology) []string {
	natsURL := n.natsURL
	if natsURL == "" {
		natsURL = tp.natsURLs()
	}
	return []string{
		"--addr", fmt.Sprintf("127.0.0.1:%d", n.port),
		"--node-name", n.name,
		"--nats-url", natsURL,
		"--nats-replicas", "3",
		"--trusted-proxies", "127.0.0.1", // nginx
		"--metrics-addr", "127.0.0.1:0", // Prometheus's scrape target
		"--data-dir", n.dataDir,
		"--presence-grace", tp.opts.Grace.String(),
		"--shutdown-grace", "5s",
		"--log-level", "info",
		"--limit-new-users", "off",
		"--limit-handshakes", "off",
		"--max-sessions-per-addr", "0",
		"--limit-addr-uploads", "off",
		"--limit-room-switches", "off",
		"--limit-room-creations", "off",
		"--limit-typing", "off",
	}
}

// start runs the node on its fixed port, connected to every NATS server
// with replication factor 3.
func (n *chatNode) start(t *testing.T, tp *topology) {
	t.Helper()
	cmd := exec.Command(n.bin, n.args(tp)...)
	cmd.Env = cleanEnv()
	n.p = startProc(t, "node "+n.name, cmd)
	m := n.p.WaitLine(t, listeningRE, startTimeout)
	if want := fmt.Sprintf("127.0.0.1:%d", n.port); m[1] != want {
		t.Fatalf("node %s listens on %s, want %s", n.name, m[1], want)
	}
	if id := n.p.Find(nodeIDRE); id != nil {
		n.id = id[1]
	}
}

// cleanEnv is the test's environment without CHATROOMS_* variables, so
// that only the flags configure a node.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATROOMS_") {
			env = append(env, kv)
		}
	}
	return env
}

// readyz returns the status of the node's GET /readyz.
func (tp *topology) readyz(n *chatNode) (int, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	res, err := c.Get(n.url() + "/readyz")
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// waitReady waits until the node's /readyz answers 200.
func (tp *topology) waitReady(n *chatNode, d time.Duration) {
	tp.t.Helper()
	waitFor(tp.t, d, "node "+n.name+" ready", func() error {
		if n.p.Exited() {
			tp.t.Fatalf("node %s exited: %v\n%s", n.name, n.p.Err(), proctest.Tail(n.p.Output(), 6000))
		}
		code, err := tp.readyz(n)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("/readyz %d", code)
		}
		return nil
	})
}
