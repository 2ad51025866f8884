package natstest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/chatrooms/chatrooms/internal/cluster"
)

// readyTimeout bounds every wait of this package: server start, cluster
// formation, cluster.Start and Close.
const readyTimeout = 30 * time.Second

// Start starts a cluster.Cluster on an embedded JetStream server whose
// files live in t.TempDir(), listening on a random 127.0.0.1 port (see
// ClientURL), and closes it in t.Cleanup. Each opt edits the Options
// first: set DataDir to reuse a directory, NodeTTL for short expiries.
// Logs go to t.Log at the level named by $NATSTEST_LOG (debug, info,
// warn: the default, error).
func Start(t testing.TB, opts ...func(*cluster.Options)) *cluster.Cluster {
	t.Helper()
	o := cluster.Options{
		DataDir:    t.TempDir(),
		ListenAddr: "127.0.0.1:-1",
		Name:       "natstest",
		Logger:     Logger(t),
	}
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	c, err := cluster.Start(ctx, o)
	if err != nil {
		t.Fatalf("natstest: start cluster: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("natstest: close cluster: %v", err)
		}
	})
	return c
}

// StartServer starts a standalone nats-server with JetStream (files in
// t.TempDir()) on a random 127.0.0.1 port, as an external NATS for
// cluster.Options.NATSURL, and returns its client URL and a stop
// function, also run in t.Cleanup. stop is idempotent and waits for the
// shutdown. Each opt edits the server options before the start (auth,
// TLS, a fixed port to restart on).
func StartServer(t testing.TB, opts ...func(*server.Options)) (url string, stop func()) {
	t.Helper()
	o := &server.Options{
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoSigs:     true,
		NoLog:      true,
	}
	for _, opt := range opts {
		opt(o)
	}
	s := runServer(t, o)
	return s.ClientURL(), stopFunc(t, s)
}

// Node is one server of a StartCluster cluster.
type Node struct {
	// Name is the server's name.
	Name string
	// URL is the server's client URL.
	URL string
	// Stop shuts the server down and waits; idempotent, and run in
	// t.Cleanup anyway.
	Stop func()
}

// StartCluster starts n JetStream servers routed to each other on
// 127.0.0.1 (random ports) as one cluster, waits until JetStream has a
// meta leader that sees all n, and returns them. Their client URLs
// joined by commas (URLs) make a cluster.Options.NATSURL. A "cluster"
// of one is a standalone server.
func StartCluster(t testing.TB, n int) []Node {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: cluster of %d servers", n)
	}
	if n == 1 {
		// A JetStream cluster of one never elects a meta leader: run
		// the server standalone.
		url, stop := StartServer(t, func(o *server.Options) { o.ServerName = "natstest-1" })
		return []Node{{Name: "natstest-1", URL: url, Stop: stop}}
	}
	routePorts := freePorts(t, n)
	routes := make([]*url.URL, n)
	for i, p := range routePorts {
		routes[i] = &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)}
	}
	servers := make([]*server.Server, n)
	nodes := make([]Node, n)
	for i := range n {
		name := fmt.Sprintf("natstest-%d", i+1)
		o := &server.Options{
			ServerName: name,
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Routes:     routes,
		}
		o.Cluster.Name = "natstest"
		o.Cluster.Host = "127.0.0.1"
		o.Cluster.Port = routePorts[i]
		s := runServer(t, o)
		servers[i] = s
		nodes[i] = Node{Name: name, URL: s.ClientURL(), Stop: stopFunc(t, s)}
	}
	waitFor(t, "cluster of "+fmt.Sprint(n)+" to form", func() error {
		leaders := 0
		for _, s := range servers {
			if got := s.NumRemotes(); got != n-1 {
				return fmt.Errorf("%s has %d routed peers, want %d", s.Name(), got, n-1)
			}
			if !s.JetStreamIsCurrent() {
				return fmt.Errorf("%s: JetStream meta group not current", s.Name())
			}
			if s.JetStreamIsLeader() {
				leaders++
				if peers := s.JetStreamClusterPeers(); len(peers) != n {
					return fmt.Errorf("meta leader %s sees %d JetStream peers, want %d", s.Name(), len(peers), n)
				}
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d JetStream meta leaders", leaders)
		}
		return nil
	})
	return nodes
}

// URLs joins the nodes' client URLs with commas.
func URLs(nodes []Node) string {
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.URL
	}
	return strings.Join(urls, ",")
}

func runServer(t testing.TB, o *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		t.Fatalf("natstest: server %s not ready after %s", o.ServerName, readyTimeout)
	}
	return s
}

func stopFunc(t testing.TB, s *server.Server) func() {
	stop := sync.OnceFunc(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	t.Cleanup(stop)
	return stop
}

// freePorts reserves n distinct free TCP ports on 127.0.0.1 and releases
// them for the caller to listen on (route ports must be known before any
// server starts, as every server lists all routes).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: reserve a port: %v", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// waitFor polls check until it returns nil, failing t after readyTimeout
// with the last error.
func waitFor(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: waiting for %s: %v", what, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Logger returns a logger writing to t.Log at the level named by
// $NATSTEST_LOG (default warn), silent once the test's cleanups have run
// (late lines from background goroutines would otherwise panic).
func Logger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if v := os.Getenv("NATSTEST_LOG"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			t.Fatalf("natstest: NATSTEST_LOG=%q: %v", v, err)
		}
	}
	w := &testWriter{t: t}
	t.Cleanup(w.stop) // registered first, so it runs last
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
