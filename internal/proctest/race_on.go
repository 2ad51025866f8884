//go:build race

package proctest

// RaceEnabled reports whether this binary was built with -race; binaries
// built for the test then get -race too.
const RaceEnabled = true
