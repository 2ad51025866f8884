package eiocodec

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// vectors is testdata/payloads.json; see its comment for the format.
type vectors struct {
	Comment  string `json:"comment"`
	Payloads []struct {
		Name    string         `json:"name"`
		Source  string         `json:"source"`
		Payload string         `json:"payload"`
		Packets []vectorPacket `json:"packets"`
	} `json:"payloads"`
	Invalid []struct {
		Name       string `json:"name"`
		Payload    string `json:"payload"`
		PayloadB64 string `json:"payload_b64"`
		Delivered  int    `json:"delivered"`
		MaxPackets int    `json:"max_packets"`
	} `json:"invalid"`
	Frames []struct {
		Name         string     `json:"name"`
		Constructor  string     `json:"constructor"`
		Type         PacketType `json:"type"`
		Data         string     `json:"data"`
		DataB64      string     `json:"data_b64"`
		Polling      string     `json:"polling"`
		WebSocketHex string     `json:"websocket_hex"`
	} `json:"frames"`
}

type vectorPacket struct {
	Type    PacketType `json:"type"`
	Binary  bool       `json:"binary"`
	Data    string     `json:"data"`
	DataB64 string     `json:"data_b64"`
}

// vectorMaxPackets is the packet limit the vectors assume unless they say.
const vectorMaxPackets = 16

func loadVectors(t testing.TB) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/payloads.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("testdata/payloads.json: %v", err)
	}
	return v
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("bad base64 %q in vectors: %v", s, err)
	}
	return b
}

func (vp vectorPacket) packet(t testing.TB) Packet {
	t.Helper()
	p := Packet{Type: vp.Type, Binary: vp.Binary, Data: []byte(vp.Data)}
	if vp.Binary {
		p.Data = mustB64(t, vp.DataB64)
	}
	return p
}

// decodeAll runs DecodePayload and collects the packets it delivered, also
// those before an error.
func decodeAll(body []byte, maxPackets int) ([]Packet, error) {
	var pkts []Packet
	err := DecodePayload(body, maxPackets, func(p Packet) error {
		pkts = append(pkts, p)
		return nil
	})
	return pkts, err
}

// frameFor builds the frame that carries p back to a client.
func frameFor(p Packet) *Frame {
	if p.Binary {
		return NewBinaryFrame(p.Data)
	}
	return NewTextFrame(p.Type, p.Data)
}

func framesFor(pkts []Packet) []*Frame {
	frames := make([]*Frame, len(pkts))
	for i, p := range pkts {
		frames[i] = frameFor(p)
	}
	return frames
}

func samePacket(a, b Packet) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

// pktString formats a packet for failure messages.
func pktString(p Packet) string {
	if p.Binary {
		return fmt.Sprintf("binary%v", p.Data)
	}
	return fmt.Sprintf("%d%q", p.Type, p.Data)
}

func pktsString(pkts []Packet) string {
	s := make([]string, len(pkts))
	for i, p := range pkts {
		s[i] = pktString(p)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestDecodePayloadVectors(t *testing.T) {
	for _, v := range loadVectors(t).Payloads {
		t.Run(v.Name, func(t *testing.T) {
			got, err := decodeAll([]byte(v.Payload), vectorMaxPackets)
			if err != nil {
				t.Fatalf("DecodePayload(%q): %v", v.Payload, err)
			}
			if len(got) != len(v.Packets) {
				t.Fatalf("DecodePayload(%q) = %s, want %d packets", v.Payload, pktsString(got), len(v.Packets))
			}
			for i, vp := range v.Packets {
				if want := vp.packet(t); !samePacket(got[i], want) {
					t.Errorf("packet %d = %s, want %s", i, pktString(got[i]), pktString(want))
				}
			}
			// The payloads are canonical: encoding the packets gives them back.
			if enc := AppendPayload(nil, framesFor(got)); string(enc) != v.Payload {
				t.Errorf("AppendPayload = %q, want %q", enc, v.Payload)
			}
		})
	}
}

func TestDecodePayloadInvalid(t *testing.T) {
	for _, v := range loadVectors(t).Invalid {
		t.Run(v.Name, func(t *testing.T) {
			body := []byte(v.Payload)
			if v.PayloadB64 != "" {
				body = mustB64(t, v.PayloadB64)
			}
			max := v.MaxPackets
			if max == 0 {
				max = vectorMaxPackets
			}
			got, err := decodeAll(body, max)
			if !errors.Is(err, ErrParse) {
				t.Fatalf("DecodePayload(%q) error = %v, want ErrParse", body, err)
			}
			if len(got) != v.Delivered {
				t.Errorf("DecodePayload(%q) delivered %s before the error, want %d packets", body, pktsString(got), v.Delivered)
			}
		})
	}
}

func TestDecodePacket(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Packet
		err  bool
	}{
		{in: "0{}", want: Packet{Type: Open, Data: []byte("{}")}},
		{in: "1", want: Packet{Type: Close, Data: []byte{}}},
		{in: "2probe", want: Packet{Type: Ping, Data: []byte("probe")}},
		{in: "3", want: Packet{Type: Pong, Data: []byte{}}},
		{in: "4hello", want: Packet{Type: Message, Data: []byte("hello")}},
		{in: "4\x1e", want: Packet{Type: Message, Data: []byte("\x1e")}}, // WebSocket frames are not split
		{in: "5", want: Packet{Type: Upgrade, Data: []byte{}}},
		{in: "6", want: Packet{Type: Noop, Data: []byte{}}},
		{in: "", err: true},
		{in: "7", err: true},
		{in: "9", err: true},
		{in: "/", err: true}, // '0'-1
		{in: "abc", err: true},
		{in: "bAQIDBA==", err: true}, // the "b" form exists only in polling payloads
		{in: "\xff", err: true},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := DecodePacket([]byte(tc.in))
			if tc.err {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("DecodePacket(%q) = %s, %v; want ErrParse", tc.in, pktString(got), err)
				}
				return
			}
			if err != nil || !samePacket(got, tc.want) {
				t.Fatalf("DecodePacket(%q) = %s, %v; want %s", tc.in, pktString(got), err, pktString(tc.want))
			}
		})
	}
}

// DecodePacket's Data aliases its input, as documented.
func TestDecodePacketAliases(t *testing.T) {
	in := []byte("4hello")
	p, err := DecodePacket(in)
	if err != nil {
		t.Fatal(err)
	}
	in[1] = 'j'
	if string(p.Data) != "jello" {
		t.Fatalf("Data = %q after changing the input, want it to alias the input", p.Data)
	}
}

// An error from the callback stops decoding and is returned as is.
func TestDecodePayloadCallbackError(t *testing.T) {
	stop := errors.New("stop")
	var seen []string
	err := DecodePayload([]byte("4a\x1e4b\x1e4c"), vectorMaxPackets, func(p Packet) error {
		seen = append(seen, string(p.Data))
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("error = %v, want the callback's error unwrapped", err)
	}
	if strings.Join(seen, ",") != "a,b" {
		t.Fatalf("delivered %v, want a,b", seen)
	}
}

// maxPackets is an inclusive limit.
func TestDecodePayloadMaxPackets(t *testing.T) {
	body := []byte(strings.Repeat("4x\x1e", 9) + "4x") // 10 packets
	for _, tc := range []struct {
		max, delivered int
		ok             bool
	}{
		{max: 10, delivered: 10, ok: true},
		{max: 11, delivered: 10, ok: true},
		{max: 9, delivered: 9},
		{max: 1, delivered: 1},
		{max: 0, delivered: 0},
	} {
		got, err := decodeAll(body, tc.max)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrParse)) || len(got) != tc.delivered {
			t.Errorf("maxPackets %d: delivered %d, err %v; want %d, ok=%v", tc.max, len(got), err, tc.delivered, tc.ok)
		}
	}
}

// Binary data is decoded into a buffer of its own: the body may be reused.
func TestDecodePayloadBinaryOwnsData(t *testing.T) {
	body := []byte("bAQIDBA==")
	got, err := decodeAll(body, 1)
	if err != nil {
		t.Fatal(err)
	}
	copy(body, "XXXXXXXXX")
	if !bytes.Equal(got[0].Data, []byte{1, 2, 3, 4}) {
		t.Fatalf("binary data %v changed with the body", got[0].Data)
	}
}

func TestFrameVectors(t *testing.T) {
	for _, v := range loadVectors(t).Frames {
		t.Run(v.Name, func(t *testing.T) {
			var f *Frame
			var packet []byte
			switch v.Constructor {
			case "text":
				f = NewTextFrame(v.Type, []byte(v.Data))
				packet = append([]byte{'0' + byte(v.Type)}, v.Data...)
			case "message":
				f = NewMessageFrame([]byte(v.Data))
				packet = []byte("4" + v.Data)
			case "message_string":
				f = NewMessageFrameString(v.Data)
				packet = []byte("4" + v.Data)
			case "binary":
				packet = mustB64(t, v.DataB64)
				f = NewBinaryFrame(packet)
			default:
				t.Fatalf("unknown constructor %q", v.Constructor)
			}
			if got := hex.EncodeToString(f.WebSocket()); got != v.WebSocketHex {
				t.Errorf("WebSocket frame %s, want %s", got, v.WebSocketHex)
			}
			if got := AppendPayload(nil, []*Frame{f}); string(got) != v.Polling {
				t.Errorf("polling %q, want %q", got, v.Polling)
			}
			if !bytes.Equal(f.Packet(), packet) || f.Binary() != (v.Constructor == "binary") || f.Size() != len(f.WebSocket()) {
				t.Errorf("Packet %q Binary %v Size %d; want %q, %v, %d",
					f.Packet(), f.Binary(), f.Size(), packet, v.Constructor == "binary", len(f.WebSocket()))
			}
		})
	}
}

// Every constructor produces one valid, final, unmasked server frame with
// the shortest length encoding (RFC 6455 §5.2), for payload lengths around
// the 7-bit, 16-bit and 64-bit boundaries.
func TestFrameEncoding(t *testing.T) {
	constructors := []struct {
		name string
		op   ws.OpCode
		new  func([]byte) *Frame
		wire func([]byte) []byte // the frame payload for data
	}{
		{"NewMessageFrame", ws.OpText, NewMessageFrame, func(d []byte) []byte { return append([]byte("4"), d...) }},
		{"NewMessageFrameString", ws.OpText, func(d []byte) *Frame { return NewMessageFrameString(string(d)) },
			func(d []byte) []byte { return append([]byte("4"), d...) }},
		{"NewTextFrame", ws.OpText, func(d []byte) *Frame { return NewTextFrame(Ping, d) },
			func(d []byte) []byte { return append([]byte("2"), d...) }},
		{"NewBinaryFrame", ws.OpBinary, NewBinaryFrame, func(d []byte) []byte { return d }},
	}
	for _, c := range constructors {
		for _, n := range []int{0, 1, 124, 125, 126, 127, 1000, 65534, 65535, 65536, 70000} {
			t.Run(fmt.Sprintf("%s/%d", c.name, n), func(t *testing.T) {
				data := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), n/26+1)[:n]
				f := c.new(data)
				want := bytes.Clone(c.wire(data))
				r := bytes.NewReader(f.WebSocket())
				fr, err := readFrame(r)
				if err != nil {
					t.Fatalf("readFrame: %v", err)
				}
				if r.Len() != 0 {
					t.Fatalf("%d bytes after the frame", r.Len())
				}
				h := fr.Header
				if !h.Fin || h.OpCode != c.op || h.Masked || h.Rsv != 0 || h.Length != int64(len(want)) {
					t.Fatalf("header %+v, want Fin, %v, unmasked, no RSV, length %d", h, c.op, len(want))
				}
				if err := ws.CheckHeader(h, ws.StateClientSide); err != nil {
					t.Fatalf("a client would reject the header: %v", err)
				}
				hs := 2
				switch {
				case len(want) > 65535:
					hs = 10
				case len(want) > 125:
					hs = 4
				}
				if got := len(f.WebSocket()) - len(want); got != hs {
					t.Errorf("header of %d bytes, want %d (shortest encoding)", got, hs)
				}
				if !bytes.Equal(fr.Payload, want) || !bytes.Equal(f.Packet(), want) {
					t.Fatalf("payload differs from the packet")
				}
				// The frame owns a copy of data.
				if n > 0 {
					data[0] ^= 0xff
					if !bytes.Equal(f.Packet(), want) {
						t.Fatalf("frame changed with its input")
					}
				}
			})
		}
	}
}

func TestAppendPayload(t *testing.T) {
	hello := NewMessageFrameString("hello")
	bin := NewBinaryFrame([]byte{1, 2, 3, 4})
	for _, tc := range []struct {
		name   string
		dst    string
		frames []*Frame
		want   string
	}{
		{"nothing", "", nil, ""},
		{"nothing keeps dst", "prefix", nil, "prefix"},
		{"one", "", []*Frame{hello}, "4hello"},
		{"appends to dst", "x", []*Frame{hello}, "x4hello"},
		{"joined", "", []*Frame{hello, NewTextFrame(Ping, nil), hello}, "4hello\x1e2\x1e4hello"},
		{"binary", "", []*Frame{hello, bin}, "4hello\x1ebAQIDBA=="},
		{"binary first", "", []*Frame{bin, bin}, "bAQIDBA==\x1ebAQIDBA=="},
		{"empty binary", "", []*Frame{NewBinaryFrame(nil), NewTextFrame(Noop, nil)}, "b\x1e6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dst []byte
			if tc.dst != "" {
				dst = []byte(tc.dst)
			}
			if got := AppendPayload(dst, tc.frames); string(got) != tc.want {
				t.Fatalf("AppendPayload = %q, want %q", got, tc.want)
			}
		})
	}
}

// Text-only payloads are decoded without allocating.
func TestDecodePayloadAllocs(t *testing.T) {
	body := []byte("4hello\x1e2\x1e4" + strings.Repeat("x", 150))
	n := 0
	fn := func(Packet) error { n++; return nil }
	if a := testing.AllocsPerRun(100, func() {
		if err := DecodePayload(body, vectorMaxPackets, fn); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("DecodePayload allocated %v times per text-only payload, want 0", a)
	}
}

// benchPayload is a polling body as a chat client sends it: eight 150-byte
// Socket.IO events, a pong and a 64-byte binary attachment.
func benchPayload() []byte {
	event := `42["message",{"room":"general","text":"` + strings.Repeat("lorem ipsum ", 8) + `","ts":1719830000}]`
	event = event[:150]
	parts := make([]string, 0, 10)
	for range 8 {
		parts = append(parts, "4"+event)
	}
	parts = append(parts, "3", "b"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xab}, 64)))
	return []byte(strings.Join(parts, "\x1e"))
}

func BenchmarkDecodePayload(b *testing.B) {
	body := benchPayload()
	n := 0
	fn := func(Packet) error { n++; return nil }
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodePayload(body, vectorMaxPackets, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	pkts, err := decodeAll(benchPayload(), vectorMaxPackets)
	if err != nil {
		b.Fatal(err)
	}
	frames := framesFor(pkts)
	dst := AppendPayload(nil, frames)
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendPayload(dst[:0], frames)
	}
}

var sinkFrame *Frame

func BenchmarkNewMessageFrame(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 150)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sinkFrame = NewMessageFrame(data)
	}
}
