package chat

import (
	"strings"
	"testing"
)

func TestValidKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"u123", true},
		{"a.b.c", true},
		{"A-z_0=9", true},
		{strings.Repeat("k", MaxKeyLen), true},
		{"", false},
		{strings.Repeat("k", MaxKeyLen+1), false},
		{".a", false},
		{"a.", false},
		{"a..b", false},
		{"a b", false},
		{"a*", false},
		{"a>", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := ValidKey(tt.key); got != tt.want {
			t.Errorf("ValidKey(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestValidSubject(t *testing.T) {
	tests := []struct {
		s         string
		wildcards bool
		want      bool
	}{
		{"typing.room1", false, true},
		{"typing.*", true, true},
		{"typing.>", true, true},
		{"typing.*", false, false},
		{"typing.>.x", true, false},
		{"a..b", true, false},
		{"", true, false},
		{"a=b", false, false}, // '=' is a key byte, not a subject byte
		{strings.Repeat("s", MaxKeyLen+1), false, false},
	}
	for _, tt := range tests {
		if got := ValidSubject(tt.s, tt.wildcards); got != tt.want {
			t.Errorf("ValidSubject(%q, %v) = %v, want %v", tt.s, tt.wildcards, got, tt.want)
		}
	}
}
