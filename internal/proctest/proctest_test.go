package proctest_test

import (
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/proctest"
)

func TestStartWaitStop(t *testing.T) {
	p := proctest.Start(t, "sh", exec.Command("sh", "-c", "echo line 1; echo line 2; exec sleep 30"))
	re := regexp.MustCompile(`^line (\d)$`)
	if m := p.WaitLine(t, re, 5*time.Second); m[1] != "1" {
		t.Fatalf("first match = %q", m)
	}
	if m := p.WaitLine(t, re, 5*time.Second); m[1] != "2" {
		t.Fatalf("a line is returned once: second match = %q", m)
	}
	if m := p.Find(re); m[1] != "1" {
		t.Fatalf("Find = %q, want the first line", m)
	}
	if p.Exited() {
		t.Fatal("exited early")
	}
	if !p.Stop(t) || !p.Exited() {
		t.Fatal("not stopped by SIGTERM")
	}
	if p.Err() == nil {
		t.Fatal("a process ended by SIGTERM reports no error")
	}
}

func TestKill(t *testing.T) {
	p := proctest.Start(t, "sh", exec.Command("sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"))
	p.WaitLine(t, regexp.MustCompile(`^ready$`), 5*time.Second)
	p.Kill(t)
	select {
	case <-p.Done():
	default:
		t.Fatal("Kill returned before the process exited")
	}
}
