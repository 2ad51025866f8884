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
//
// TestChaos (chaos_test.go) is built only with -tags chaos: `make chaos`
// runs it for CHAOS_DURATION (5m; .ci/run: 40s). Twelve users in three
// rooms send with client_ids through nginx while their clients drop,
// reload and move at random and resume each time, and a node is killed,
// a NATS server is killed and the nodes are restarted one by one. It
// checks that every member got every acked message of its room once and
// in seq order (a recovered: false excuses what it declares missed) and
// that no client_id made two messages, and prints
//
//	chaos: sent=N acked=N delivered=N lost=N duplicated=N gaps=N
package cluster_test

import (
	"errors"
	"github.com/chatrooms/chatrooms/internal/proctest"

	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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
		fmt.Fprintln(os.Stderr, "cluster tests:", err) // no logger in TestMain
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
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		errs := make([]error, 2)
		var wg sync.WaitGroup
		wg.Go(func() { errs[0] = proctest.Build(ctx, natsServer, "github.com/nats-io/nats-server/v2", false) })
		wg.Go(func() { errs[1] = proctest.Build(ctx, chatrooms, proctest.ChatroomsPkg, proctest.RaceEnabled) })
		wg.Wait()
		buildErr = errors.Join(errs...)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return natsServer, chatrooms
}

// startProc starts a process of the topology; its output is dumped to
// $CLUSTER_TEST_DUMP (if set) when the test fails.
func startProc(t *testing.T, name string, cmd *exec.Cmd) *proctest.Proc {
	t.Helper()
	return proctest.Start(t, name, cmd, proctest.DumpTo(os.Getenv("CLUSTER_TEST_DUMP")), proctest.LogTail(12000))
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
