//go:build unix && race

package e2e_test

// raceEnabled reports whether the tests run with -race; the server binary
// is then built with -race too, so the browsers' traffic exercises it
// under the race detector.
const raceEnabled = true
