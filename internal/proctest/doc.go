// Package proctest runs programs as child processes for tests that need
// real processes (the interop, browser and multi-node tests): it builds
// the chatrooms binary, starts a process in its own process group with
// its output collected line by line, waits for lines, and stops it by its
// PID when the test ends, failing the test on a data-race report.
package proctest
