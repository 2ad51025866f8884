package eiocodec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// fuzzMaxPackets is low so that the fuzzer reaches the packet limit.
const fuzzMaxPackets = 8

// FuzzDecodePayload feeds DecodePayload real polling bodies (the golden
// vectors) and malformed ones. Like nats-server's parser fuzz test it also
// feeds each input in two parts: DecodePayload is not incremental, so the
// parts are decoded on their own, which exercises every truncation the
// fuzzer finds; and where the whole body decodes, splitting it at a record
// separator must give the same packets in two payloads. For every body that
// decodes, re-encoding the packets and decoding again must be stable.
func FuzzDecodePayload(f *testing.F) {
	v := loadVectors(f)
	for _, p := range v.Payloads {
		f.Add([]byte(p.Payload))
	}
	for _, p := range v.Invalid {
		if p.PayloadB64 != "" {
			f.Add(mustB64(f, p.PayloadB64))
		} else {
			f.Add([]byte(p.Payload))
		}
	}
	for _, s := range []string{
		"4\xff\xfe\xfd",              // invalid UTF-8 text
		"\xc3\x28",                   // invalid UTF-8 type byte
		"b",                          // lone b: empty binary
		"b!!!",                       // not base64
		"bAQIDBA",                    // unpadded base64
		"bAQ\nID\rBA==",              // line breaks inside base64
		"b====",                      // only padding
		"99999999999999999999999999", // huge type digits
		"\x1e\x1e",                   // only separators
		"4a\x1e\x1e4b",               // empty record
		strings.Repeat("2\x1e", fuzzMaxPackets) + "2", // one over the limit
		"4" + strings.Repeat("\x00", 64),
		"b" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 100)),
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		pkts, err := decodeAll(body, fuzzMaxPackets)
		if !bytes.Equal(body, orig) {
			t.Fatalf("DecodePayload modified its input")
		}

		// Parts: never panic, only ErrParse.
		mid := len(body) / 2
		for _, part := range [][]byte{body[:mid], body[mid:]} {
			if _, err := decodeAll(part, fuzzMaxPackets); err != nil && !errors.Is(err, ErrParse) {
				t.Fatalf("DecodePayload(%q): error %v is not ErrParse", part, err)
			}
		}

		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("DecodePayload(%q): error %v is not ErrParse", body, err)
			}
			if len(pkts) > fuzzMaxPackets {
				t.Fatalf("delivered %d packets, over the limit", len(pkts))
			}
			return
		}

		records := bytes.Count(body, []byte{recordSeparator}) + 1
		if len(pkts) != records || len(pkts) > fuzzMaxPackets {
			t.Fatalf("DecodePayload(%q): %d packets from %d records (limit %d)", body, len(pkts), records, fuzzMaxPackets)
		}
		for _, p := range pkts {
			if p.Type > Noop || (p.Binary && p.Type != Message) {
				t.Fatalf("DecodePayload(%q): impossible packet %s", body, pktString(p))
			}
			if !p.Binary && bytes.IndexByte(p.Data, recordSeparator) >= 0 {
				t.Fatalf("DecodePayload(%q): text packet %s holds a separator", body, pktString(p))
			}
		}

		// Split at the separator nearest the middle: two payloads that
		// decode to the same packets.
		if i := nearestSeparator(body, mid); i >= 0 {
			left, err1 := decodeAll(body[:i], fuzzMaxPackets)
			right, err2 := decodeAll(body[i+1:], fuzzMaxPackets)
			if err1 != nil || err2 != nil {
				t.Fatalf("DecodePayload(%q) ok, but its parts %q, %q fail: %v, %v", body, body[:i], body[i+1:], err1, err2)
			}
			if joined := append(left, right...); !samePackets(joined, pkts) {
				t.Fatalf("parts of %q decode to %s, whole to %s", body, pktsString(joined), pktsString(pkts))
			}
		}

		// Re-encode, decode again: same packets, and the encoding is a
		// fixed point.
		enc := AppendPayload(nil, framesFor(pkts))
		again, err := decodeAll(enc, fuzzMaxPackets)
		if err != nil {
			t.Fatalf("re-encoded %q as %q, which fails to decode: %v", body, enc, err)
		}
		if !samePackets(again, pkts) {
			t.Fatalf("%q decodes to %s; re-encoded %q decodes to %s", body, pktsString(pkts), enc, pktsString(again))
		}
		if enc2 := AppendPayload(nil, framesFor(again)); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %q then %q", enc, enc2)
		}
	})
}

// nearestSeparator returns the index of the record separator in b closest
// to mid, or -1.
func nearestSeparator(b []byte, mid int) int {
	dist := func(i int) int {
		if i < mid {
			return mid - i
		}
		return i - mid
	}
	best := -1
	for i, c := range b {
		if c != recordSeparator {
			continue
		}
		if best < 0 || dist(i) < dist(best) {
			best = i
		}
	}
	return best
}

func samePackets(a, b []Packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !samePacket(a[i], b[i]) {
			return false
		}
	}
	return true
}
