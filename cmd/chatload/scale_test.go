package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/natstest"
	"github.com/chatrooms/chatrooms/internal/proctest"
)

// waitReady waits (at most 60 s) until url/readyz answers 200.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(url + "/readyz") // bounded by the loop
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 60s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScaleScenario runs the scale scenario small: two real nodes (built
// binary) on one external NATS, 200 users and connections from two client
// processes (the chatload binary, built, re-executing itself), and checks
// that the one message reached every connection exactly once and that the
// connections split evenly over the nodes. Timing is not asserted.
func TestScaleScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the server")
	}
	bin := proctest.BuildChatrooms(t, 5*time.Minute)
	load := filepath.Join(t.TempDir(), "chatload")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := proctest.Build(ctx, load, "github.com/chatrooms/chatrooms/cmd/chatload", proctest.RaceEnabled); err != nil {
		t.Fatal(err)
	}
	natsURL, _ := natstest.StartServer(t)
	var urls, pids []string
	for _, name := range []string{"n1", "n2"} {
		cmd := exec.Command(bin, "--nats-url", natsURL, "--node-name", name, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(),
			"--limit-new-users", "off", "--limit-handshakes", "off", "--max-sessions-per-addr", "0", "--presence-grace", "10m")
		p := proctest.Start(t, name, cmd)
		url := "http://" + p.WaitLine(t, listeningRE, 60*time.Second)[1]
		waitReady(t, url)
		urls = append(urls, url)
		pids = append(pids, strconv.Itoa(p.PID()))
	}
	cmd := exec.CommandContext(ctx, load, "-scenario", "scale", "-urls", strings.Join(urls, ","),
		"-server-pids", strings.Join(pids, ","), "-nats-pid", strconv.Itoa(os.Getpid()),
		"-conns", "200", "-procs", "2", "-local-addrs", "127.0.0.2,127.0.0.3",
		"-dial-concurrency", "16", "-http-concurrency", "8", "-settle", "100ms", "-drain", "60s", "-timeout", "4m")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("chatload:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"RESULT scale nodes=2 conns=200 connected=200 received=200 duplicates=0 ",
		"create users: ok=200 failed=0",
		"per node [100 100]",
		"still open at the end 200 (of 200)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in the output", want)
		}
	}
	for i, u := range urls { // each node delivered to its own 100
		if !strings.Contains(string(out), "scale: n"+strconv.Itoa(i+1)+"  "+u+"  100  100  ") {
			t.Errorf("node n%d (%s): not 100 connections and 100 receptions", i+1, u)
		}
	}
}

func TestParsePss(t *testing.T) {
	const rollup = `55d4c5a4e000-7ffd1a5f1000 ---p 00000000 00:00 0                          [rollup]
Rss:               91404 kB
Pss:               80123 kB
Pss_Dirty:         76540 kB
Pss_Anon:          76540 kB
Shared_Clean:      14000 kB
`
	for _, tc := range []struct {
		name string
		in   string
		want int64
	}{
		{"rollup", rollup, 80123},
		{"no Pss line", "Rss: 10 kB\n", 0},
		{"Pss_Anon alone is not Pss", "Pss_Anon: 5 kB\n", 0},
		{"garbled", "Pss: lots\n", 0},
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parsePss([]byte(tc.in)); got != tc.want {
				t.Errorf("parsePss = %d, want %d", got, tc.want)
			}
		})
	}
	if got := pssOf([]int{os.Getpid()})[0]; got <= 0 {
		t.Errorf("pssOf(this process) = %d KiB, want above 0", got)
	}
}
