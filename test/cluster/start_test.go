//go:build unix

package cluster_test

import (
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/proctest"
)

// togetherBound only tells a node that gave up or hangs from a busy
// machine; the time each node took is logged (the goal, 15 s, is what a
// quiet machine shows).
const togetherBound = 60 * time.Second

// Three nodes started at the same moment as a fresh three-server NATS
// cluster (as `docker compose up` starts them: nobody waits for anybody)
// all become ready, none gives up while the cluster elects its leaders
// and provisions the R3 buckets and streams.
func TestStartTogether(t *testing.T) {
	tp := newTopology(t, topoOptions{NoNginx: true})

	t0 := time.Now()
	for _, n := range tp.nodes {
		cmd := exec.Command(n.bin, n.args(tp)...)
		cmd.Env = cleanEnv()
		n.p = startProc(t, "node "+n.name, cmd)
	}
	for _, s := range tp.nats {
		s.start(t)
	}

	ready := map[string]time.Duration{}
	waitFor(t, togetherBound, "all three nodes ready", func() error {
		for _, n := range tp.nodes {
			if _, ok := ready[n.name]; ok {
				continue
			}
			if n.p.Exited() {
				t.Fatalf("node %s gave up: %v\n%s", n.name, n.p.Err(), proctest.Tail(n.p.Output(), 6000))
			}
			if code, err := tp.readyz(n); err == nil && code == http.StatusOK {
				ready[n.name] = time.Since(t0)
			}
		}
		if len(ready) < len(tp.nodes) {
			return fmt.Errorf("ready so far: %v", ready)
		}
		return nil
	})
	for _, n := range tp.nodes {
		t.Logf("node %s ready %.1f s after the start of everything", n.name, ready[n.name].Seconds())
	}
}
