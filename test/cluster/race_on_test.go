//go:build unix && race

package cluster_test

// raceEnabled reports whether the tests run with -race; the chatrooms
// binary is then built with -race too.
const raceEnabled = true
