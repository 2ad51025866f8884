package main

import (
	"runtime"
	"testing"
)

func TestEnoughProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	tests := []struct {
		name   string
		before int
		env    string
		want   int
	}{
		{"one CPU", 1, "", minProcs},
		{"two CPUs", 2, "", minProcs},
		{"one CPU, GOMAXPROCS set", 1, "1", 1},
		{"two CPUs, GOMAXPROCS set", 2, "2", 2},
		{"as many CPUs", minProcs, "", minProcs},
		{"more CPUs", 8, "", 8},
	}
	for _, tt := range tests {
		runtime.GOMAXPROCS(tt.before)
		enoughProcs(func(k string) string {
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
