package main

import (
	"runtime"
	"testing"
)

func TestAtLeastTwoProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	tests := []struct {
		name   string
		before int
		env    string
		want   int
	}{
		{"one CPU", 1, "", 2},
		{"one CPU, GOMAXPROCS set", 1, "1", 1},
		{"several CPUs", 3, "", 3},
	}
	for _, tt := range tests {
		runtime.GOMAXPROCS(tt.before)
		atLeastTwoProcs(func(k string) string {
			if k == "GOMAXPROCS" {
				return tt.env
			}
			return ""
		})
		if got := runtime.GOMAXPROCS(0); got != tt.want {
			t.Errorf("%s: GOMAXPROCS %d, want %d", tt.name, got, tt.want)
		}
	}
}
