package siocodec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatrooms/chatrooms/internal/siocodec"
)

// packetFuzzSeeds returns real packets (the golden vectors, valid and not)
// with their attachments, plus inputs aimed at the limits.
func packetFuzzSeeds(t testing.TB) (texts []string, bins [][][]byte) {
	valid, invalid := loadPacketVectors(t)
	for _, v := range append(valid, invalid...) {
		texts = append(texts, v.Wire)
		bins = append(bins, v.binaries())
	}
	extra := []string{
		"2" + nested(40, `"x"`),
		"2[\"x\",\"\xff\"]",
		"2/\xe2\x82,[\"x\"]",
		`29007199254740992["x"]`,
		`42abc[1]`,
		`2["x",{"a":"]}"}]`,
		`51-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":"splice"}]`,
		`52-["x",{"a":{"_placeholder":true,"num":1}},[{"_placeholder":true,"num":0}]]`,
	}
	for _, s := range extra {
		texts = append(texts, s)
		bins = append(bins, nil)
	}
	return texts, bins
}

// checkParsed asserts the properties every successfully parsed packet has,
// whatever the input: a valid type, a '/' namespace without ',', an ack id
// in range, a payload of the right shape that the helpers accept, and an
// encoding that parses back to the same packet.
func checkParsed(t *testing.T, opts siocodec.DecoderOptions, p siocodec.Packet) {
	t.Helper()
	if p.Type > siocodec.BinaryAck {
		t.Fatalf("type %d", p.Type)
	}
	if !strings.HasPrefix(p.Namespace, "/") || strings.Contains(p.Namespace, ",") {
		t.Fatalf("namespace %q", p.Namespace)
	}
	if p.ID < siocodec.NoID || p.ID > siocodec.MaxAckID {
		t.Fatalf("id %d", p.ID)
	}
	if p.Data != nil && !json.Valid(p.Data) {
		t.Fatalf("invalid JSON data %q", p.Data)
	}
	switch p.Type {
	case siocodec.Event, siocodec.BinaryEvent, siocodec.Ack, siocodec.BinaryAck:
		args, err := siocodec.SplitArgs(p.Data)
		if err != nil {
			t.Fatalf("SplitArgs(%s): %v", p.Data, err)
		}
		for _, a := range args {
			if !json.Valid(a) {
				t.Fatalf("SplitArgs(%s) element %q", p.Data, a)
			}
		}
		if p.Type == siocodec.Event || p.Type == siocodec.BinaryEvent {
			if _, err := siocodec.EventName(p.Data); err != nil {
				t.Fatalf("EventName(%s): %v", p.Data, err)
			}
		}
	}
	// ParsePacket leaves Attachments empty; AppendPacket announces
	// len(Attachments), so supply as many as the header promised.
	p.Attachments = make([][]byte, p.AttachmentCount)
	for i := range p.Attachments {
		p.Attachments[i] = []byte{byte(i)}
	}
	text := siocodec.AppendPacket(nil, &p)
	q, err := siocodec.ParsePacket(text, opts)
	if err != nil {
		t.Fatalf("re-parse %q: %v", text, err)
	}
	q.Attachments = p.Attachments
	if d := samePacket(&q, &p); d != "" {
		t.Fatalf("round trip %q: %s", text, d)
	}
	if again := siocodec.AppendPacket(nil, &q); !bytes.Equal(again, text) {
		t.Fatalf("re-encode %q gives %q", text, again)
	}
}

func FuzzParsePacket(f *testing.F) {
	texts, _ := packetFuzzSeeds(f)
	for _, s := range texts {
		f.Add([]byte(s))
	}
	opts := siocodec.DecoderOptions{}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The whole input, then each half on its own (a packet cut short
		// or starting mid-way), as nats-server's parser fuzz test does.
		h := len(data) / 2
		for _, in := range [][]byte{data, data[:h], data[h:]} {
			p, err := siocodec.ParsePacket(in, opts)
			if want := referenceValid(in, siocodec.DefaultMaxAttachments, siocodec.DefaultMaxDepth); want != (err == nil) {
				t.Fatalf("ParsePacket(%q) error = %v; the reference decoder says valid=%v", in, err, want)
			}
			if err != nil {
				continue
			}
			// Data is the input's tail, trailing whitespace trimmed.
			if !bytes.HasSuffix(bytes.TrimRight(in, " \t\r\n"), p.Data) {
				t.Fatalf("data %q is not the tail of %q", p.Data, in)
			}
			checkParsed(t, opts, p)
		}
		// The read helpers must never panic, whatever they are given.
		_, _ = siocodec.SplitArgs(data)
		_, _ = siocodec.EventName(data)
		_, _ = siocodec.ResolvePlaceholder(data, [][]byte{{1}, {2}})
	})
}

func FuzzDecoder(f *testing.F) {
	texts, bins := packetFuzzSeeds(f)
	for i, s := range texts {
		f.Add([]byte(s), bytes.Join(bins[i], nil), uint8(len(bins[i])))
	}
	opts := siocodec.DecoderOptions{MaxAttachments: 4}
	f.Fuzz(func(t *testing.T, text, bin []byte, nbin uint8) {
		// Sequence 1: the text, then bin cut into nbin%5 binary messages.
		n := int(nbin % 5)
		msgs := []fuzzMsg{{text, false}}
		for i := range n {
			msgs = append(msgs, fuzzMsg{bin[i*len(bin)/n : (i+1)*len(bin)/n], true})
		}
		runDecoder(t, opts, msgs)
		// Sequence 2: the text split in two, first half as text and the
		// second as its binary part; then the halves the other way round.
		h := len(text) / 2
		runDecoder(t, opts, []fuzzMsg{{text[:h], false}, {text[h:], true}})
		runDecoder(t, opts, []fuzzMsg{{text[h:], true}, {text[:h], false}, {bin, true}})
	})
}

type fuzzMsg struct {
	data   []byte
	binary bool
}

// runDecoder feeds msgs to one Decoder, checks each completed packet round
// trips, and checks the Decoder is consistent afterwards.
func runDecoder(t *testing.T, opts siocodec.DecoderOptions, msgs []fuzzMsg) {
	t.Helper()
	d := siocodec.NewDecoder(opts)
	for _, m := range msgs {
		// Copies: the Decoder keeps what it is given.
		p, err := d.Add(bytes.Clone(m.data), m.binary)
		if err != nil {
			if p != nil || d.Pending() != 0 {
				t.Fatalf("error %v with packet %v, %d pending", err, p, d.Pending())
			}
			continue
		}
		if p == nil {
			if d.Pending() == 0 {
				t.Fatal("no packet and nothing pending")
			}
			continue
		}
		if d.Pending() != 0 {
			t.Fatalf("packet %v returned with %d pending", p, d.Pending())
		}
		checkPacketRoundTrip(t, opts, p)
	}
	// Between packets a good text packet decodes; mid-packet it is refused
	// and the Decoder starts over.
	wasPending := d.Pending() > 0
	p, err := d.Add([]byte(`2["ok"]`), false)
	switch {
	case wasPending && !errors.Is(err, siocodec.ErrUnexpectedText):
		t.Fatalf("text mid-packet: %v, %v", p, err)
	case !wasPending && (err != nil || p == nil):
		t.Fatalf("text between packets: %v, %v", p, err)
	case d.Pending() != 0:
		t.Fatalf("%d pending after a text packet", d.Pending())
	}
}

// referenceValid is a slow, obviously-written validator: the header parsed
// the plain way and the payload decoded into a tree by encoding/json, then
// checked as the official parser checks it. The codec's byte scanners must
// agree with it on every input.
func referenceValid(text []byte, maxAttachments, maxDepth int) bool {
	if len(text) == 0 || text[0] < '0' || text[0] > '6' || !utf8.Valid(text) {
		return false
	}
	typ, i := text[0]-'0', 1
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	count := 0
	if typ == 5 || typ == 6 {
		j := i
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		if j == i || j == len(text) || text[j] != '-' {
			return false
		}
		n, err := strconv.ParseUint(string(text[i:j]), 10, 64)
		if err != nil || n > uint64(maxAttachments) {
			return false
		}
		count, i = int(n), j+1
	}
	if i < len(text) && text[i] == '/' {
		if k := bytes.IndexByte(text[i:], ','); k < 0 {
			i = len(text)
		} else {
			i += k + 1
		}
	}
	if i < len(text) && isDigit(text[i]) {
		j := i
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		id, err := strconv.ParseUint(string(text[i:j]), 10, 64)
		if err != nil || id > uint64(siocodec.MaxAckID) {
			return false
		}
		i = j
	}
	rest := text[i:]
	payload := bytes.TrimRight(rest, " \t\r\n")
	if len(payload) == 0 {
		return len(rest) == 0 && (typ == 0 || typ == 1)
	}
	if c := payload[0]; c == ' ' || c == '\t' || c == '\r' || c == '\n' || !json.Valid(payload) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || treeDepth(v) > maxDepth {
		return false
	}
	switch typ {
	case 0:
		_, ok := v.(map[string]any)
		return ok
	case 1:
		return false
	case 4:
		switch v.(type) {
		case string, map[string]any:
			return true
		}
		return false
	case 2, 5:
		a, ok := v.([]any)
		if !ok || len(a) == 0 {
			return false
		}
		switch name := a[0].(type) {
		case json.Number:
		case string:
			switch name {
			case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
				return false
			}
		default:
			return false
		}
	case 3, 6:
		if _, ok := v.([]any); !ok {
			return false
		}
	}
	return (typ != 5 && typ != 6) || referencePlaceholders(v, count)
}

func treeDepth(v any) int {
	d := 0
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			d = max(d, treeDepth(e))
		}
		return d + 1
	case map[string]any:
		for _, e := range x {
			d = max(d, treeDepth(e))
		}
		return d + 1
	}
	return 0
}

// referencePlaceholders mirrors _reconstructPacket of socket.io-parser,
// requiring integer nums.
func referencePlaceholders(v any, n int) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !referencePlaceholders(e, n) {
				return false
			}
		}
	case map[string]any:
		if x["_placeholder"] == true {
			num, ok := x["num"].(json.Number)
			if !ok {
				return false
			}
			f, err := strconv.ParseFloat(string(num), 64)
			return err == nil && f == math.Trunc(f) && f >= 0 && f < float64(n)
		}
		for _, e := range x {
			if !referencePlaceholders(e, n) {
				return false
			}
		}
	}
	return true
}
