package clientaddr

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"unicode"
)

// FuzzResolve feeds arbitrary forwarding headers (seeded with real ones)
// to both header modes behind a trusted and an untrusted peer. Whatever
// the header, the answer is the untrusted peer itself, or a valid,
// zone-less address that is the trusted peer or appears in the header.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"198.51.100.7",
		"1.1.1.1, 198.51.100.7, 10.0.0.9",
		"[2001:db8::1]:443, ::ffff:198.51.100.7",
		"for=192.0.2.60;proto=http;by=203.0.113.43",
		`for="[2001:db8:cafe::17]:4711", for=unknown, for=_hidden`,
		`for="1.1.1.1, 2.2.2.2";by=x, for=192.0.2.1`,
		`for="\"\\`,
		",,;;==\"\"",
		"fe80::1%eth0",
	} {
		f.Add(s)
	}
	trusted, _ := ParsePrefixes("10.0.0.0/8, fd00::/8")
	f.Fuzz(func(t *testing.T, header string) {
		h := http.Header{"X-Forwarded-For": {header}, "Forwarded": {header}}
		for _, mode := range []Header{XForwardedFor, Forwarded} {
			r := New(trusted, mode)
			if got := r.Resolve("203.0.113.9:1", h); got != netip.MustParseAddr("203.0.113.9") {
				t.Fatalf("%s %q from an untrusted peer gave %s", mode, header, got)
			}
			got := r.Resolve("10.0.0.2:1", h)
			if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
				t.Fatalf("%s %q gave %v", mode, header, got)
			}
			if got != netip.MustParseAddr("10.0.0.2") && !mentions(header, got) {
				t.Fatalf("%s %q gave %s, which it does not hold", mode, header, got)
			}
			_ = Key(got)
		}
	})
}

// mentions reports whether one of the fragments of s between
// separators (and with escapes removed) reads as a.
func mentions(s string, a netip.Addr) bool {
	s = strings.ReplaceAll(s, `\`, "")
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(",;=\"", r) }) {
		var b netip.Addr
		if ap, err := netip.ParseAddrPort(tok); err == nil {
			b = ap.Addr()
		} else if x, err := netip.ParseAddr(strings.Trim(tok, "[]")); err == nil {
			b = x
		}
		if b.Unmap() == a {
			return true
		}
	}
	return false
}
