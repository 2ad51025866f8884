//go:build unix && race

package interop_test

// raceEnabled reports whether the tests run with -race; the server binary
// is then built with -race too, so real client traffic exercises it under
// the race detector.
const raceEnabled = true
