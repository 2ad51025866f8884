package httpx_test

import (
	"strings"
	"testing"

	"github.com/chatrooms/chatrooms/internal/httpx"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		token  string // "" when refused
	}{
		{"Bearer abc", "abc"},
		{"bearer abc", "abc"},
		{"BEARER abc", "abc"},
		{"bEaReR abc", "abc"},
		{"Bearer    abc", "abc"},
		{"Bearer Zm9v-_.~+/YmFy==", "Zm9v-_.~+/YmFy=="},
		{"Bearer a=", "a="},
		{"Bearer dGVzdA", "dGVzdA"},
		{"", ""},
		{"Bearer", ""},
		{"Bearer ", ""},
		{"Bearer    ", ""},
		{"Bearerabc", ""},
		{"Bearer\tabc", ""},
		{"Basic abc", ""},
		{"Bearers abc", ""},
		{"Token abc", ""},
		{" Bearer abc", ""},
		{"Bearer a b", ""},
		{"Bearer abc ", ""},
		{"Bearer =", ""},
		{"Bearer ==abc", ""},
		{"Bearer a=b", ""},
		{"Bearer a,b", ""},
		{"Bearer a\"b", ""},
		{"Bearer ａbc", ""}, // fullwidth a
		{"Bearer abc\x00", ""},
		{"Bearer abc\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			token, ok := httpx.BearerToken(tt.header)
			if ok != (tt.token != "") || token != tt.token {
				t.Fatalf("BearerToken(%q) = %q, %v; want %q", tt.header, token, ok, tt.token)
			}
		})
	}
}

// FuzzBearerToken checks that an accepted header is exactly "bearer" in
// some case, spaces and a token68, and that any token68 is found again
// behind any spelling of the scheme.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  Zm9v==", "Basic abc", "Bearer", "Bearer a b", "Bearer ==", "BEARER x/y+z~", "Bearer\tabc", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := httpx.BearerToken(header)
		if !ok {
			if token != "" {
				t.Fatalf("refused %q but returned %q", header, token)
			}
			return
		}
		if token == "" || !strings.HasSuffix(header, token) {
			t.Fatalf("%q gave token %q", header, token)
		}
		prefix := strings.TrimSuffix(header, token)
		if !strings.EqualFold(strings.TrimRight(prefix, " "), "bearer") || len(prefix) <= len("bearer") {
			t.Fatalf("%q accepted with prefix %q", header, prefix)
		}
		if strings.TrimRight(token, "=") == "" || strings.ContainsAny(strings.TrimRight(token, "="), "= \t\r\n,\"") {
			t.Fatalf("%q gave token %q that is not a token68", header, token)
		}
		for _, scheme := range []string{"Bearer ", "bearer   ", "BEARER "} {
			if again, ok := httpx.BearerToken(scheme + token); !ok || again != token {
				t.Fatalf("%q: token %q not found again behind %q", header, token, scheme)
			}
		}
	})
}
