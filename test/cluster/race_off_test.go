//go:build unix && !race

package cluster_test

// raceEnabled reports whether the tests run with -race; see race_on_test.go.
const raceEnabled = false
