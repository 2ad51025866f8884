package clientaddr

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Header names the forwarding header a Resolver reads.
type Header string

// The forwarding headers.
const (
	XForwardedFor Header = "X-Forwarded-For"
	Forwarded     Header = "Forwarded"
)

// ParseHeader accepts the two header names, in any case.
func ParseHeader(s string) (Header, error) {
	switch {
	case strings.EqualFold(s, string(XForwardedFor)):
		return XForwardedFor, nil
	case strings.EqualFold(s, string(Forwarded)):
		return Forwarded, nil
	}
	return "", fmt.Errorf("forwarding header %q: want X-Forwarded-For or Forwarded", s)
}

// ParsePrefixes reads a comma-separated list of CIDRs; a bare address
// stands for itself (/32 or /128). IPv4-mapped IPv6 prefixes are read as
// IPv4.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(f, "/") {
			var err error
			if p, err = netip.ParsePrefix(f); err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
			}
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("trusted proxy %q: zones are not supported", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Resolver finds client addresses. The zero value trusts no proxy and
// returns the peer's address. Safe for concurrent use; read-only after
// New.
type Resolver struct {
	trusted []netip.Prefix
	header  Header
}

// New returns a Resolver that believes header (default X-Forwarded-For)
// from peers within trusted. Only one header is read: a trusted proxy
// that sets one passes the other on as the client sent it.
func New(trusted []netip.Prefix, header Header) *Resolver {
	if header == "" {
		header = XForwardedFor
	}
	return &Resolver{trusted: trusted, header: header}
}

// Trusted reports whether a is a trusted proxy.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr is Resolve for an incoming request.
func (r *Resolver) ClientAddr(req *http.Request) netip.Addr {
	return r.Resolve(req.RemoteAddr, req.Header)
}

// Resolve returns the client's address given the peer's address
// ("ip:port" or "ip") and the request headers: the peer if it is not a
// trusted proxy; otherwise the right-most hop of the forwarding header
// that is not a trusted proxy; the left-most hop if all of them are; the
// last trusted hop before one that cannot be read (then nothing further
// left can be believed). An unreadable peer gives the zero Addr.
func (r *Resolver) Resolve(peer string, h http.Header) netip.Addr {
	addr := parsePeer(peer)
	if !addr.IsValid() || !r.Trusted(addr) {
		return addr
	}
	var hops []string
	if r.header == Forwarded {
		hops = forwardedFor(h.Values("Forwarded"))
	} else {
		for _, v := range h.Values("X-Forwarded-For") {
			for _, hop := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := parseNode(hops[i])
		if !hop.IsValid() {
			return addr
		}
		addr = hop
		if !r.Trusted(hop) {
			return hop
		}
	}
	return addr
}

// parsePeer reads http.Request.RemoteAddr: "ip:port", "[ip6]:port" or a
// bare address.
func parsePeer(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// parseNode reads one hop: "ip", "ip:port", "[ip6]" or "[ip6]:port" (the
// forms of X-Forwarded-For entries and RFC 7239 node names). "unknown",
// obfuscated identifiers ("_hidden") and anything else give the zero
// Addr.
func parseNode(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}
		}
		rest := s[end+1:]
		if rest != "" && !validPort(rest) {
			return netip.Addr{}
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}
		}
		return a.Unmap()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Addr{}
		}
		return a.Unmap()
	}
	if host, port, ok := strings.Cut(s, ":"); ok && validPort(":"+port) {
		if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
			return a
		}
	}
	return netip.Addr{}
}

// validPort accepts ":" followed by 1 to 5 digits, or an RFC 7239
// obfuscated port (":_x").
func validPort(s string) bool {
	if len(s) < 2 || s[0] != ':' {
		return false
	}
	p := s[1:]
	if p[0] == '_' {
		return true
	}
	if len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// forwardedFor returns the for= node of every element of the Forwarded
// header lines, in order (RFC 7239 §4: elements separated by commas,
// pairs by semicolons, values tokens or quoted strings). An element
// without for= gives "" (an unreadable hop).
func forwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, elem := range splitQuoted(line, ',') {
			node := ""
			for _, pair := range splitQuoted(elem, ';') {
				name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(name), "for") {
					node = unquote(strings.TrimSpace(value))
				}
			}
			if strings.TrimSpace(elem) == "" {
				continue // empty list elements are allowed and ignored
			}
			out = append(out, node)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double-quoted strings.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	start, quoted, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unquote removes the quotes and backslash escapes of a quoted string;
// a token is returned as it is; an unterminated quote gives "".
func unquote(s string) string {
	if len(s) == 0 || s[0] != '"' {
		return s
	}
	if len(s) < 2 || s[len(s)-1] != '"' {
		return ""
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Key is the rate-limit key of a client address: the address for IPv4,
// its /64 network for IPv6 (one host commonly holds a whole /64); the
// zero Addr gives "unknown".
func Key(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// KeyOf is Key of an address in text form (e.g. what ClientAddr
// returned, as String); text that is not an address gives "unknown".
func KeyOf(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Key(parsePeer(s))
	}
	return Key(a.Unmap())
}
