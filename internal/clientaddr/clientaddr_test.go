package clientaddr

import (
	"net/http"
	"net/netip"
	"testing"
)

func mustPrefixes(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePrefixes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // prefixes joined by space
		bad  bool
	}{
		{in: "", want: ""},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: " 172.28.0.0/24 , 127.0.0.1 ", want: "172.28.0.0/24 127.0.0.1/32"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "::1", want: "::1/128"},
		{in: "fd00::/8", want: "fd00::/8"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "10.0.0.0/33", bad: true},
		{in: "example.com", bad: true},
		{in: "10.0.0.0/8,nope", bad: true},
		{in: "fe80::1%eth0", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePrefixes(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParsePrefixes(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := ""
			for i, p := range got {
				if i > 0 {
					s += " "
				}
				s += p.String()
			}
			if s != tc.want {
				t.Fatalf("ParsePrefixes(%q) = %q, want %q", tc.in, s, tc.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	trusted := "10.0.0.0/8, 127.0.0.1, fd00::/8"
	for _, tc := range []struct {
		name   string
		header Header
		peer   string
		xff    []string
		fwd    []string
		want   string
	}{
		{name: "untrusted peer, no header", peer: "203.0.113.9:5555", want: "203.0.113.9"},
		{name: "untrusted peer's X-Forwarded-For is ignored", peer: "203.0.113.9:5555", xff: []string{"1.2.3.4"}, want: "203.0.113.9"},
		{name: "untrusted peer's Forwarded is ignored", header: Forwarded, peer: "203.0.113.9:5555", fwd: []string{"for=1.2.3.4"}, want: "203.0.113.9"},
		{name: "trusted peer, no header", peer: "10.0.0.2:80", want: "10.0.0.2"},
		{name: "trusted peer, one hop", peer: "10.0.0.2:80", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "right-most untrusted hop wins over a spoofed left one", peer: "10.0.0.2:80", xff: []string{"1.1.1.1, 198.51.100.7"}, want: "198.51.100.7"},
		{name: "trusted hops are skipped", peer: "10.0.0.2:80", xff: []string{"1.1.1.1, 198.51.100.7, 10.9.9.9"}, want: "198.51.100.7"},
		{name: "several header lines in order", peer: "10.0.0.2:80", xff: []string{"1.1.1.1", "198.51.100.7, 10.0.0.3"}, want: "198.51.100.7"},
		{name: "all hops trusted: the left-most", peer: "127.0.0.1:80", xff: []string{"10.0.0.7, 10.0.0.8"}, want: "10.0.0.7"},
		{name: "hop with port", peer: "10.0.0.2:80", xff: []string{"198.51.100.7:4711"}, want: "198.51.100.7"},
		{name: "IPv6 hop", peer: "10.0.0.2:80", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
		{name: "bracketed IPv6 hop with port", peer: "10.0.0.2:80", xff: []string{"[2001:db8::1]:443"}, want: "2001:db8::1"},
		{name: "IPv4-mapped hop", peer: "10.0.0.2:80", xff: []string{"::ffff:198.51.100.7"}, want: "198.51.100.7"},
		{name: "garbage hop: the last trusted one", peer: "10.0.0.2:80", xff: []string{"198.51.100.7, nonsense"}, want: "10.0.0.2"},
		{name: "garbage behind a trusted hop", peer: "10.0.0.2:80", xff: []string{"evil, 10.0.0.5"}, want: "10.0.0.5"},
		{name: "empty trailing hop", peer: "10.0.0.2:80", xff: []string{"198.51.100.7,"}, want: "10.0.0.2"},
		{name: "IPv6 trusted peer", peer: "[fd00::2]:80", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "IPv4-mapped trusted peer", peer: "[::ffff:10.0.0.2]:80", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "X-Forwarded-For is not read when Forwarded is configured", header: Forwarded, peer: "10.0.0.2:80", xff: []string{"198.51.100.7"}, want: "10.0.0.2"},
		{name: "Forwarded is not read when X-Forwarded-For is configured", peer: "10.0.0.2:80", fwd: []string{"for=198.51.100.7"}, want: "10.0.0.2"},
		{name: "Forwarded", header: Forwarded, peer: "10.0.0.2:80", fwd: []string{"for=192.0.2.60;proto=http;by=203.0.113.43"}, want: "192.0.2.60"},
		{name: "Forwarded, several elements", header: Forwarded, peer: "10.0.0.2:80", fwd: []string{"for=1.1.1.1, for=192.0.2.43;proto=https, for=10.0.0.9"}, want: "192.0.2.43"},
		{name: "Forwarded, quoted IPv6 with port", header: Forwarded, peer: "10.0.0.2:80", fwd: []string{`For="[2001:db8:cafe::17]:4711"`}, want: "2001:db8:cafe::17"},
		{name: "Forwarded, quoted comma does not split", header: Forwarded, peer: "10.0.0.2:80", fwd: []string{`for="1.1.1.1, 2.2.2.2";by=x, for=192.0.2.1`}, want: "192.0.2.1"},
		{name: "Forwarded, unknown", header: Forwarded, peer: "10.0.0.2:80", fwd: []string{"for=192.0.2.1, for=unknown"}, want: "10.0.0.2"},
		{name: "Forwarded, obfuscated", header: Forwarded, peer: "10.0.0.2:80", fwd: []string{"for=_hidden"}, want: "10.0.0.2"},
		{name: "Forwarded, element without for", header: Forwarded, peer: "10.0.0.2:80", fwd: []string{"for=192.0.2.1, proto=https"}, want: "10.0.0.2"},
		{name: "Forwarded, two lines", header: Forwarded, peer: "10.0.0.2:80", fwd: []string{"for=1.1.1.1", "for=192.0.2.1;proto=http"}, want: "192.0.2.1"},
		{name: "Forwarded, IPv4 with port", header: Forwarded, peer: "10.0.0.2:80", fwd: []string{`for="192.0.2.1:8080"`}, want: "192.0.2.1"},
		{name: "unreadable peer", peer: "@", xff: []string{"1.2.3.4"}, want: "invalid IP"},
		{name: "peer without port", peer: "203.0.113.9", want: "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.xff {
				h.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.fwd {
				h.Add("Forwarded", v)
			}
			r := New(mustPrefixes(t, trusted), tc.header)
			if got := r.Resolve(tc.peer, h).String(); got != tc.want {
				t.Fatalf("Resolve(%q, %v) = %s, want %s", tc.peer, h, got, tc.want)
			}
		})
	}
}

func TestZeroResolverTrustsNobody(t *testing.T) {
	var r *Resolver
	h := http.Header{"X-Forwarded-For": {"1.2.3.4"}}
	if got := r.Resolve("127.0.0.1:1", h).String(); got != "127.0.0.1" {
		t.Fatalf("nil Resolver: %s", got)
	}
	if got := (&Resolver{}).Resolve("127.0.0.1:1", h).String(); got != "127.0.0.1" {
		t.Fatalf("zero Resolver: %s", got)
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":         "198.51.100.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::ffff":   "2001:db8:1:2::/64",
		"::ffff:198.51.100.7":  "198.51.100.7",
		"198.51.100.7:80":      "198.51.100.7",
		"nonsense":             "unknown",
		"":                     "unknown",
	} {
		if got := KeyOf(in); got != want {
			t.Errorf("KeyOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	for in, want := range map[string]Header{"x-forwarded-for": XForwardedFor, "Forwarded": Forwarded} {
		if got, err := ParseHeader(in); err != nil || got != want {
			t.Errorf("ParseHeader(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseHeader("X-Real-IP"); err == nil {
		t.Error("X-Real-IP accepted")
	}
}
