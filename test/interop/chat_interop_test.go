//go:build unix

package interop_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/proctest"
)

// TestChatInterop runs the chat contract with the official socket.io-client
// against the real chat service (embedded NATS on a temporary data dir):
// the contract, then resume and idempotent sends (delivery.scenario.mjs).
func TestChatInterop(t *testing.T) {
	node := requireNode(t)
	bin := proctest.BuildChatrooms(t, buildTimeout)
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	p := proctest.Start(t, "chatrooms", cmd)
	m := p.WaitLine(t, listeningRE, startTimeout)
	if port, _ := strconv.Atoi(m[2]); port == 0 {
		t.Fatalf("the listening line reports port 0: %q", m[0])
	}
	url := "http://" + m[1]
	waitHealthy(t, url, startTimeout)

	ctx, cancel := context.WithTimeout(context.Background(), nodeTestTimeout)
	defer cancel()
	run := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "chat/chat.scenario.mjs", "chat/delivery.scenario.mjs")
	run.Env = append(os.Environ(), "SERVER_URL="+url, "NO_COLOR=1", "FORCE_COLOR=0")
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	run.Cancel = func() error { return syscall.Kill(-run.Process.Pid, syscall.SIGKILL) }
	run.WaitDelay = 5 * time.Second
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("chat scenario failed (%v):\n%s", err, out)
	}
	t.Logf("chat scenario passed:\n%s", summaryLines(string(out)))
}
