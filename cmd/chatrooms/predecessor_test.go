package main

import "testing"

func TestPredecessor(t *testing.T) {
	tests := []struct {
		embedded bool
		name     string
		id       string
		want     bool
	}{
		{true, "", "nb1c2d3e4-n0a1b2c3d", true},
		{true, "a", "b-n0a1b2c3d", true},
		{false, "a", "a-n0a1b2c3d", true},
		{false, "a", "b-n0a1b2c3d", false},
		{false, "a", "a-b-n0a1b2c3d", false}, // node "a-b", not "a"
		{false, "a-b", "a-b-n0a1b2c3d", true},
		{false, "a", "ab-n0a1b2c3d", false},
		{false, "", "n0a1b2c3d-n0a1b2c3e", false}, // random names: none
	}
	for _, tt := range tests {
		p := predecessor(tt.embedded, tt.name)
		got := p != nil && p(tt.id)
		if got != tt.want {
			t.Errorf("predecessor(embedded=%v, %q)(%q) = %v, want %v", tt.embedded, tt.name, tt.id, got, tt.want)
		}
	}
}
