package main

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/chatrooms/chatrooms/internal/natstest"
	"github.com/chatrooms/chatrooms/internal/proctest"
)

// readyRe matches the ready line and captures its URL and LAN URLs.
var readyRe = regexp.MustCompile(`level=INFO msg="ChatRooms is ready: (http://\S+)"(?: lan="?([^"\n]*)"?)?\n`)

// runUntilReady runs run() with args (and env) until its ready line,
// and returns the log up to it, the ready line's URL and LAN URLs; the
// server is stopped at cleanup.
func runUntilReady(t *testing.T, env map[string]string, args ...string) (logs, ready string, lan []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("server did not stop:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := out.String()
		if loc := readyRe.FindStringSubmatchIndex(s); loc != nil {
			m := readyRe.FindStringSubmatch(s)
			return s[:loc[1]], m[1], strings.Fields(m[2])
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("run returned before ready: %v\n%s", err, s)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line:\n%s", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listenPort is the port of the "listening" line of logs.
func listenPort(t *testing.T, logs string) string {
	t.Helper()
	m := regexp.MustCompile(`msg=listening addr=\S+:(\d+)`).FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no listening line:\n%s", logs)
	}
	return m[1]
}

func TestReadyLine(t *testing.T) {
	tests := []struct {
		name string
		addr string
		// host is the ready URL's host; lan whether LAN URLs may follow,
		// v4only whether they must all be IPv4.
		host        string
		lan, v4only bool
	}{
		{"loopback IP", "127.0.0.1:0", "127.0.0.1", false, false},
		{"host name", "localhost:0", "localhost", false, false},
		{"port only", ":0", "localhost", true, false},
		{"IPv4 wildcard", "0.0.0.0:0", "localhost", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs, ready, lan := runUntilReady(t, nil, "--addr", tt.addr, "--data-dir", t.TempDir())
			port := listenPort(t, logs)
			if want := "http://" + net.JoinHostPort(tt.host, port); ready != want {
				t.Errorf("ready URL %s, want %s", ready, want)
			}
			if !tt.lan && len(lan) > 0 {
				t.Errorf("LAN URLs %q for %s", lan, tt.addr)
			}
			for _, l := range lan {
				u, err := url.Parse(l)
				if err != nil || u.Port() != port {
					t.Errorf("LAN URL %q: want the port %s", l, port)
					continue
				}
				ip := net.ParseIP(u.Hostname())
				if ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() || tt.v4only && ip.To4() == nil {
					t.Errorf("LAN URL %q: not a LAN address here", l)
				}
			}
			checkStartupLog(t, logs)
			if !strings.Contains(logs, `msg="nats: embedded server, in this process"`) ||
				!strings.Contains(logs, `auth="secret token, loopback only"`) ||
				!regexp.MustCompile(`node_connects_to=127\.0\.0\.1:\d+`).MatchString(logs) {
				t.Errorf("no line says NATS is embedded and how the node reaches it:\n%s", logs)
			}
		})
	}
}

// checkStartupLog checks that start-up says little at info: the NATS
// server's banner only at debug, a few lines before the ready line,
// which is last.
func checkStartupLog(t *testing.T, logs string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(logs, "\n"), "\n")
	if strings.Contains(logs, "msg=nats-server") || strings.Contains(logs, "JETSTREAM") {
		t.Errorf("the embedded NATS server logs at info:\n%s", logs)
	}
	if len(lines) > 4 {
		t.Errorf("%d start-up lines at info, want at most 4:\n%s", len(lines), logs)
	}
	if !strings.Contains(lines[len(lines)-1], "ChatRooms is ready") {
		t.Errorf("the ready line is not the last:\n%s", logs)
	}
}

func TestReadyLineExternalNATS(t *testing.T) {
	natsURL, _ := natstest.StartServer(t, func(o *natsserver.Options) {
		o.Username, o.Password = "chat", "s3cret-pw"
	})
	withCreds := strings.Replace(natsURL, "nats://", "nats://chat:s3cret-pw@", 1)
	logs, ready, _ := runUntilReady(t, nil, "--addr", "127.0.0.1:0", "--nats-url", withCreds)
	if want := "http://127.0.0.1:" + listenPort(t, logs); ready != want {
		t.Errorf("ready URL %s, want %s", ready, want)
	}
	checkStartupLog(t, logs)
	if strings.Contains(logs, "s3cret") || strings.Contains(logs, "chat:") {
		t.Errorf("the log shows the NATS user or password:\n%s", logs)
	}
	hostPort := strings.TrimPrefix(natsURL, "nats://")
	if !strings.Contains(logs, `msg="nats: external servers" `) || !strings.Contains(logs, "@"+hostPort) ||
		strings.Contains(logs, "embedded") {
		t.Errorf("no line names the external NATS (%s):\n%s", hostPort, logs)
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// busyPort is a loopback address a listener holds until cleanup.
func busyPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String()
}

func TestStartupErrors(t *testing.T) {
	tests := []struct {
		name string
		// args are given after --addr 127.0.0.1:0 --data-dir (a new
		// temporary directory); setup may return more.
		args  []string
		env   map[string]string
		setup func(t *testing.T) []string
		code  int
		want  []string // in the error
	}{
		{name: "port in use", setup: func(t *testing.T) []string {
			return []string{"--addr", busyPort(t)}
		}, code: exitRuntime, want: []string{"the port is in use", "--addr (env CHATROOMS_ADDR)"}},
		{name: "metrics port in use", setup: func(t *testing.T) []string {
			return []string{"--metrics-addr", busyPort(t)}
		}, code: exitRuntime, want: []string{"the port is in use", "--metrics-addr"}},
		{name: "bad flag value", args: []string{"--ping-interval", "soon"},
			code: exitConfig, want: []string{`invalid value "soon" for flag -ping-interval`, "chatrooms -h"}},
		{name: "unknown flag", args: []string{"--colour"},
			code: exitConfig, want: []string{"-colour", "chatrooms -h"}},
		{name: "bad env value", env: map[string]string{"CHATROOMS_MAX_PAYLOAD": "lots"},
			code: exitConfig, want: []string{`CHATROOMS_MAX_PAYLOAD="lots"`}},
		{name: "two bad values", args: []string{"--addr", ":99999", "--log-format", "xml"},
			code: exitConfig, want: []string{"bad port", `log-format "xml"`}},
		{name: "invalid combination", args: []string{"--nats-replicas", "3"},
			code: exitConfig, want: []string{"nats-replicas above 1 needs --nats-url"}},
		{name: "bad start timeout", args: []string{"--nats-start-timeout", "0s"},
			code: exitConfig, want: []string{"nats-start-timeout"}},
		{name: "missing rooms file", args: []string{"--rooms-file", "/nonexistent/rooms.json"},
			code: exitConfig, want: []string{"rooms file /nonexistent/rooms.json", "--rooms-file"}},
		{name: "data dir is a file", setup: func(t *testing.T) []string {
			f := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"--data-dir", f}
		}, code: exitRuntime, want: []string{"is not a writable directory", "--data-dir (env CHATROOMS_DATA_DIR)"}},
		{name: "data dir read-only", setup: func(t *testing.T) []string {
			if os.Geteuid() == 0 {
				t.Skip("root writes to read-only directories")
			}
			d := t.TempDir()
			if err := os.Chmod(d, 0o500); err != nil { //nolint:gosec // a directory, read-only on purpose
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(d, 0o700) }) //nolint:gosec // a directory: rwx for its owner
			return []string{"--data-dir", filepath.Join(d, "data")}
		}, code: exitRuntime, want: []string{"is not a writable directory", "permission denied"}},
		{name: "external NATS unreachable", setup: func(t *testing.T) []string {
			return []string{"--nats-url", "nats://chat:s3cret-pw@" + closedPort(t), "--nats-start-timeout", "1s"}
		}, code: exitRuntime, want: []string{"NATS unreachable", "did not answer within 1s", "connection refused", "--nats-url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tt.args...)
			if tt.setup != nil {
				args = append(args, tt.setup(t)...)
			}
			out := &syncBuffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			began := time.Now()
			err := run(ctx, args, func(k string) string { return tt.env[k] }, out)
			if took := time.Since(began); took > 10*time.Second {
				t.Errorf("took %s to fail", took)
			}
			if err == nil {
				t.Fatalf("run succeeded:\n%s", out.String())
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error of several lines:\n%s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "s3cret") || strings.Contains(out.String(), "s3cret") {
				t.Errorf("the NATS password shows: %q\n%s", msg, out.String())
			}
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit code %d, want %d (error %q)", got, tt.code, msg)
			}
			if strings.Contains(out.String(), "Usage of") {
				t.Errorf("the usage was printed for an error:\n%s", out.String())
			}
		})
	}
}

// TestDataDirInUse: a second server on a running one's data dir stops
// with one line; once the first has stopped, the dir is free again.
func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	first := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, func(string) string { return "" }, first)
	}()
	for deadline := time.Now().Add(30 * time.Second); !readyRe.MatchString(first.String()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("first server not ready:\n%s", first.String())
		}
	}
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, func(string) string { return "" }, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "is in use by another chatrooms (pid ") || exitCode(err) != exitRuntime {
		t.Errorf("second server on the same data dir: %v (exit code %d)", err, exitCode(err))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("first server: %v", err)
	}
	runUntilReady(t, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"none", nil, 0},
		{"help", configLoadHelp(t), 0},
		{"config", configError(errors.New("x")), exitConfig},
		{"wrapped runtime", &startupError{code: exitRuntime, msg: "x"}, exitRuntime},
		{"other", errors.New("serve: boom"), exitRuntime},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

// configLoadHelp is run's result for -h, which prints the usage.
func configLoadHelp(t *testing.T) error {
	t.Helper()
	out := &syncBuffer{}
	err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, out)
	if !strings.Contains(out.String(), "-nats-start-timeout") {
		t.Errorf("-h printed no usage:\n%s", out.String())
	}
	return err
}

// TestBinaryExit runs the built binary: what main prints and its exit
// code, for a runtime and a configuration error.
func TestBinaryExit(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "chatrooms")
	bctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := proctest.Build(bctx, bin, proctest.ChatroomsPkg, false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"port in use", []string{"--addr", busyPort(t)}, exitRuntime, "the port is in use"},
		{"bad flag", []string{"--max-payload", "big"}, exitConfig, `invalid value "big" for flag -max-payload`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"--data-dir", t.TempDir()}, tt.args...)...)
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.code {
				t.Fatalf("exit %v, want code %d\nstderr: %s", err, tt.code, stderr.String())
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "chatrooms: ") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr %q: want one line saying %q", stderr.String(), tt.want)
			}
		})
	}
}
