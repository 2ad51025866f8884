package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/chatrooms/chatrooms/internal/config"
)

// Exit codes of chatrooms (README, "Start-up and exit codes").
const (
	// exitRuntime: the configuration is valid but the server could not
	// start or stopped on an error: the port is in use, the data
	// directory is not writable, NATS cannot be reached. The same
	// command may work later (a supervisor may restart it).
	exitRuntime = 1
	// exitConfig: a flag or environment value is malformed, out of
	// range, or combined with one it excludes. Restarting the same
	// command cannot help.
	exitConfig = 2
)

// startupError is an error of one line that says what went wrong and
// what to do about it; main prints it and exits with code.
type startupError struct {
	code int
	msg  string
	err  error
}

func (e *startupError) Error() string { return e.msg }
func (e *startupError) Unwrap() error { return e.err }

// exitCode is the process's exit code for run's result: 0 for none (or
// -h), the startupError's code, exitRuntime for any other error.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if se, ok := errors.AsType[*startupError](err); ok {
		return se.code
	}
	return exitRuntime
}

// oneLine joins the lines of a message (errors.Join puts one error a
// line) with "; ".
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}

// configError is a bad flag or environment value, or an invalid
// combination (config.Load).
func configError(err error) error {
	return &startupError{code: exitConfig, err: err,
		msg: oneLine(err.Error()) + " (chatrooms -h lists the flags and their environment variables)"}
}

// roomsFileError is a rooms file that cannot be read or parsed: a
// configuration error.
func roomsFileError(file string, err error) error {
	return &startupError{code: exitConfig, err: err,
		msg: fmt.Sprintf("rooms file %s: %s: correct it, or --rooms-file (env CHATROOMS_ROOMS_FILE)", file, oneLine(err.Error()))}
}

// listenError explains a failed listen on addr, the value of --flag.
func listenError(flag, addr string, err error) error {
	how := fmt.Sprintf("--%s (env %s)", flag, config.EnvName(flag))
	var msg string
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		msg = fmt.Sprintf("cannot listen on %s: the port is in use (another chatrooms?): stop what uses it, or choose another port with %s", addr, how)
	case errors.Is(err, syscall.EACCES):
		msg = fmt.Sprintf("cannot listen on %s: permission denied (ports below 1024 need privileges): choose a port from 1024 up with %s, or grant the binary CAP_NET_BIND_SERVICE", addr, how)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		msg = fmt.Sprintf("cannot listen on %s: no such address on this machine: give one of its addresses, or only a port (:8080) for all of them, with %s", addr, how)
	default:
		msg = fmt.Sprintf("cannot listen on %s: %v: check %s", addr, err, how)
	}
	return &startupError{code: exitRuntime, msg: msg, err: err}
}

// prepareDataDir makes sure the embedded NATS server can write under
// dir (creating it if missing), so that a mistake there is one clear
// line rather than an error from deep inside JetStream, and locks it
// against a second chatrooms on the same directory (two embedded
// servers on one store corrupt it, and each would retire the other's
// sessions as an earlier life of its own). unlock releases the lock;
// call it once the embedded server is down.
func prepareDataDir(dir string) (unlock func(), err error) {
	fail := func(err error) error {
		return &startupError{code: exitRuntime, err: err, msg: fmt.Sprintf(
			"data dir %s is not a writable directory (%v): give user %d write access to it, or choose another with --data-dir (env CHATROOMS_DATA_DIR)",
			dir, err, os.Getuid())}
	}
	// dir is the operator's --data-dir: no traversal to guard against.
	if err := os.MkdirAll(filepath.Join(dir, "nats"), 0o750); err != nil { //nolint:gosec // see above
		return nil, fail(err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return nil, fail(err)
	}
	_ = f.Close()
	if err := os.Remove(f.Name()); err != nil { //nolint:gosec // the file just created
		return nil, fail(err)
	}
	unlock, holder, err := lockFile(filepath.Join(dir, "chatrooms.lock"))
	if errors.Is(err, errLocked) {
		return nil, &startupError{code: exitRuntime, err: err, msg: fmt.Sprintf(
			"data dir %s is in use by another chatrooms (pid %s): stop that one, or give this one its own --data-dir (env CHATROOMS_DATA_DIR)",
			dir, holder)}
	}
	if err != nil {
		return nil, fail(err)
	}
	return unlock, nil
}

// errLocked: another process (or another run in this one) holds the lock.
var errLocked = errors.New("locked")

// natsUnreachableError explains that start-up gave up on NATS.
func natsUnreachableError(cfg *config.Config, err error) error {
	what := strings.TrimPrefix(oneLine(err.Error()), "cluster: ")
	if cfg.NATSURL == "" {
		return &startupError{code: exitRuntime, err: err, msg: what +
			": the embedded NATS server did not answer; see the lines above, or try again with --log-level debug"}
	}
	return &startupError{code: exitRuntime, err: err, msg: what +
		": start the NATS servers or correct --nats-url (env CHATROOMS_NATS_URL; empty embeds a server); --nats-start-timeout sets how long to wait"}
}

// readyURLs are the addresses a browser can open for a listener on
// ln, opened for addr (--addr): the host given, with ln's real port;
// for none or an unspecified one (":8080", "0.0.0.0:8080"), localhost,
// and in lan the machine's network addresses (IPv4 only for 0.0.0.0).
func readyURLs(addr string, ln net.Addr) (local string, lan []string) {
	host, _, _ := net.SplitHostPort(addr)
	_, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return "http://" + ln.String(), nil
	}
	ip := net.ParseIP(host)
	if host != "" && (ip == nil || !ip.IsUnspecified()) {
		return "http://" + net.JoinHostPort(host, port), nil
	}
	v4only := ip != nil && ip.To4() != nil
	for _, a := range lanAddrs() {
		if v4only && a.To4() == nil {
			continue
		}
		lan = append(lan, "http://"+net.JoinHostPort(a.String(), port))
	}
	return "http://" + net.JoinHostPort("localhost", port), lan
}

// lanAddrs are the addresses of the machine's interfaces that are up,
// other machines could reach: no loopback, link-local or multicast
// ones. IPv4 first.
func lanAddrs() []net.IP {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || !n.IP.IsGlobalUnicast() {
				continue // also link-local, loopback, multicast
			}
			ips = append(ips, n.IP)
		}
	}
	slices.SortStableFunc(ips, func(a, b net.IP) int {
		a4, b4 := a.To4() != nil, b.To4() != nil
		switch {
		case a4 && !b4:
			return -1
		case b4 && !a4:
			return 1
		}
		return 0
	})
	return ips
}
