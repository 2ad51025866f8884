package chat

import "strings"

// MaxKeyLen bounds the keys of KV and the room names of Log, and Signals
// subjects; longer ones are refused rather than stored.
const MaxKeyLen = 1024

// ValidKey reports whether key is a key KV and Log accept: 1..MaxKeyLen
// bytes of [A-Za-z0-9_=.-], neither starting nor ending with '.' nor
// holding "..". Such keys are also valid NATS subject tokens. The
// implementations of the interfaces (package cluster, chattest's fakes)
// check keys with it.
func ValidKey(key string) bool {
	if key == "" || len(key) > MaxKeyLen || key[0] == '.' || key[len(key)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(key); i++ {
		b := key[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9',
			b == '_', b == '=', b == '-':
			prevDot = false
		case b == '.':
			if prevDot {
				return false
			}
			prevDot = true
		default:
			return false
		}
	}
	return true
}

// ValidSubject reports whether s is a Signals subject: tokens of
// [A-Za-z0-9_-] joined by '.', at most MaxKeyLen bytes; with wildcards (a
// Subscribe pattern) a token may also be '*', and the last one '>'.
func ValidSubject(s string, wildcards bool) bool {
	if s == "" || len(s) > MaxKeyLen {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		if wildcards && (t == "*" || (t == ">" && i == len(tokens)-1)) {
			continue
		}
		if t == "" {
			return false
		}
		for j := 0; j < len(t); j++ {
			b := t[j]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
				return false
			}
		}
	}
	return true
}
