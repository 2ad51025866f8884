//go:build unix && !race

package e2e_test

// raceEnabled reports whether the tests run with -race.
const raceEnabled = false
