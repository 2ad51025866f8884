//go:build unix

package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockFile takes an exclusive advisory lock (flock) on path, created if
// missing, and writes this process's id into it. The lock lasts until
// unlock, or the process's end. If another open file holds it, it
// returns errLocked and the holder's pid as written there ("?" if none).
func lockFile(path string) (unlock func(), holder string, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) //nolint:gosec // the data dir's own lock file
	if err != nil {
		return nil, "", err
	}
	fd := int(f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path) //nolint:gosec // as above
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(b))
			if pid == "" {
				pid = "?"
			}
			return nil, pid, errLocked
		}
		return nil, "", err
	}
	if err := f.Truncate(0); err != nil {
		_ = f.Close()
		return nil, "", err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		_ = f.Close()
		return nil, "", err
	}
	return func() { _ = f.Close() }, "", nil
}
