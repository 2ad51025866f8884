package siocodec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatrooms/chatrooms/internal/siocodec"
)

// packetVector is one entry of testdata/packets/vectors.json.
type packetVector struct {
	Name        string          `json:"name"`
	Source      string          `json:"source"`
	Wire        string          `json:"wire"`
	Binary      [][]int         `json:"binary"`
	Type        string          `json:"type"`
	Nsp         string          `json:"nsp"`
	ID          *int64          `json:"id"`
	Data        json.RawMessage `json:"data"`
	Attachments int             `json:"attachments"`
	Encoded     *string         `json:"encoded"`
	Err         string          `json:"err"`
}

func (v packetVector) binaries() [][]byte {
	out := make([][]byte, len(v.Binary))
	for i, b := range v.Binary {
		out[i] = make([]byte, len(b))
		for j, c := range b {
			out[i][j] = byte(c)
		}
	}
	return out
}

// codecSentinels maps the error names used in the vectors to the sentinels.
var codecSentinels = map[string]error{
	"ErrUnknownType":        siocodec.ErrUnknownType,
	"ErrInvalidAttachments": siocodec.ErrInvalidAttachments,
	"ErrTooManyAttachments": siocodec.ErrTooManyAttachments,
	"ErrInvalidAckID":       siocodec.ErrInvalidAckID,
	"ErrInvalidUTF8":        siocodec.ErrInvalidUTF8,
	"ErrInvalidJSON":        siocodec.ErrInvalidJSON,
	"ErrTooDeep":            siocodec.ErrTooDeep,
	"ErrInvalidPayload":     siocodec.ErrInvalidPayload,
	"ErrReservedEvent":      siocodec.ErrReservedEvent,
	"ErrInvalidPlaceholder": siocodec.ErrInvalidPlaceholder,
	"ErrUnexpectedBinary":   siocodec.ErrUnexpectedBinary,
	"ErrUnexpectedText":     siocodec.ErrUnexpectedText,
}

func loadPacketVectors(t testing.TB) (valid, invalid []packetVector) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "packets", "vectors.json"))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var file struct {
		Valid   []packetVector `json:"valid"`
		Invalid []packetVector `json:"invalid"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("decode vectors: %v", err)
	}
	return file.Valid, file.Invalid
}

// decodeAll feeds text and then each attachment to a fresh Decoder and
// returns the packet completed by the last message.
func decodeAll(t testing.TB, opts siocodec.DecoderOptions, text []byte, bins [][]byte) (*siocodec.Packet, error) {
	t.Helper()
	d := siocodec.NewDecoder(opts)
	p, err := d.Add(text, false)
	if err != nil {
		return nil, err
	}
	for i, b := range bins {
		if p != nil {
			t.Fatalf("packet complete after %d of %d attachments", i, len(bins))
		}
		if p, err = d.Add(b, true); err != nil {
			return nil, err
		}
	}
	if p == nil {
		t.Fatalf("packet incomplete after %d attachments; %d pending", len(bins), d.Pending())
	}
	return p, nil
}

// samePacket reports how got differs from want, or "" if they are equal.
// Attachments are compared by content; a nil and an empty Data differ.
func samePacket(got, want *siocodec.Packet) string {
	var diffs []string
	if got.Type != want.Type {
		diffs = append(diffs, "type "+got.Type.String()+" != "+want.Type.String())
	}
	if got.Namespace != want.Namespace {
		diffs = append(diffs, "namespace "+got.Namespace+" != "+want.Namespace)
	}
	if got.ID != want.ID {
		diffs = append(diffs, "id differs")
	}
	if !bytes.Equal(got.Data, want.Data) || (got.Data == nil) != (want.Data == nil) {
		diffs = append(diffs, "data "+string(got.Data)+" != "+string(want.Data))
	}
	if got.AttachmentCount != want.AttachmentCount {
		diffs = append(diffs, "attachment count differs")
	}
	if len(got.Attachments) != len(want.Attachments) {
		diffs = append(diffs, "number of attachments differs")
	} else {
		for i := range got.Attachments {
			if !bytes.Equal(got.Attachments[i], want.Attachments[i]) {
				diffs = append(diffs, "attachment differs")
			}
		}
	}
	return strings.Join(diffs, "; ")
}

// checkPacketRoundTrip encodes p (as decoded from the wire, attachments
// filled) and decodes it again: the result must equal p, and encoding it
// must give the same bytes.
func checkPacketRoundTrip(t testing.TB, opts siocodec.DecoderOptions, p *siocodec.Packet) []byte {
	t.Helper()
	if len(p.Attachments) != p.AttachmentCount {
		t.Fatalf("%v: %d attachments, header announced %d", p, len(p.Attachments), p.AttachmentCount)
	}
	text := siocodec.AppendPacket(nil, p)
	q, err := decodeAll(t, opts, text, p.Attachments)
	if err != nil {
		t.Fatalf("re-decode %q: %v", text, err)
	}
	if d := samePacket(q, p); d != "" {
		t.Fatalf("round trip of %q: %s", text, d)
	}
	if again := siocodec.AppendPacket(nil, q); !bytes.Equal(again, text) {
		t.Fatalf("re-encoding %q gives %q", text, again)
	}
	return text
}

func TestPacketGoldenVectors(t *testing.T) {
	valid, invalid := loadPacketVectors(t)
	typeByName := map[string]siocodec.PacketType{}
	for pt := siocodec.Connect; pt <= siocodec.BinaryAck; pt++ {
		typeByName[pt.String()] = pt
	}
	var opts siocodec.DecoderOptions

	for _, v := range valid {
		t.Run("valid/"+v.Name, func(t *testing.T) {
			want := &siocodec.Packet{
				Type:            typeByName[v.Type],
				Namespace:       v.Nsp,
				ID:              siocodec.NoID,
				AttachmentCount: v.Attachments,
				Attachments:     v.binaries(),
			}
			if v.ID != nil {
				want.ID = *v.ID
			}
			if v.Data != nil {
				want.Data = v.Data
			}
			if len(want.Attachments) == 0 {
				want.Attachments = nil
			}

			parsed, err := siocodec.ParsePacket([]byte(v.Wire), opts)
			if err != nil {
				t.Fatalf("ParsePacket(%q): %v", v.Wire, err)
			}
			parsed.Attachments = want.Attachments
			if d := samePacket(&parsed, want); d != "" {
				t.Fatalf("ParsePacket(%q): %s", v.Wire, d)
			}

			got, err := decodeAll(t, opts, []byte(v.Wire), v.binaries())
			if err != nil {
				t.Fatalf("Decoder(%q): %v", v.Wire, err)
			}
			if d := samePacket(got, want); d != "" {
				t.Fatalf("Decoder(%q): %s", v.Wire, d)
			}

			wantText := v.Wire
			if v.Encoded != nil {
				wantText = *v.Encoded
			}
			if text := checkPacketRoundTrip(t, opts, got); string(text) != wantText {
				t.Fatalf("AppendPacket = %q, want %q", text, wantText)
			}
		})
	}

	for _, v := range invalid {
		t.Run("invalid/"+v.Name, func(t *testing.T) {
			want, ok := codecSentinels[v.Err]
			if !ok {
				t.Fatalf("vector names unknown error %q", v.Err)
			}
			if _, err := siocodec.ParsePacket([]byte(v.Wire), opts); !errors.Is(err, want) {
				t.Fatalf("ParsePacket(%q) error = %v, want %v", v.Wire, err, want)
			}
			d := siocodec.NewDecoder(opts)
			p, err := d.Add([]byte(v.Wire), false)
			if !errors.Is(err, want) || p != nil {
				t.Fatalf("Decoder.Add(%q) = %v, %v, want error %v", v.Wire, p, err, want)
			}
			if d.Pending() != 0 {
				t.Fatalf("Pending() = %d after an error", d.Pending())
			}
		})
	}
}

func nested(depth int, inner string) string {
	return strings.Repeat("[", depth) + inner + strings.Repeat("]", depth)
}

func TestParsePacketErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		opts siocodec.DecoderOptions
		want error
	}{
		{"invalid UTF-8 in data", "2[\"x\",\"\xff\"]", siocodec.DecoderOptions{}, siocodec.ErrInvalidUTF8},
		{"invalid UTF-8 in event name", "2[\"\xc3\x28\"]", siocodec.DecoderOptions{}, siocodec.ErrInvalidUTF8},
		{"invalid UTF-8 in namespace", "2/\xe2\x82,[\"x\"]", siocodec.DecoderOptions{}, siocodec.ErrInvalidUTF8},
		{"surrogate half encoded in UTF-8", "2[\"\xed\xa0\x80\"]", siocodec.DecoderOptions{}, siocodec.ErrInvalidUTF8},
		{"10^5 nested arrays", "2" + nested(100000, `"x"`), siocodec.DecoderOptions{}, siocodec.ErrTooDeep},
		{"10^5 unclosed arrays", "3" + strings.Repeat("[", 100000), siocodec.DecoderOptions{}, siocodec.ErrTooDeep},
		{"10^5 nested objects", "0" + strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000), siocodec.DecoderOptions{}, siocodec.ErrTooDeep},
		{"depth 33", `2["x",` + nested(32, "") + "]", siocodec.DecoderOptions{}, siocodec.ErrTooDeep},
		{"depth 33 mixed", `2["x",{"a":` + nested(31, "") + "}]", siocodec.DecoderOptions{}, siocodec.ErrTooDeep},
		{"custom depth", `2["x",[[1]]]`, siocodec.DecoderOptions{MaxDepth: 2}, siocodec.ErrTooDeep},
		{"custom attachment cap", `53-["x"]`, siocodec.DecoderOptions{MaxAttachments: 2}, siocodec.ErrTooManyAttachments},
		{"deep nesting beats bad JSON", "2" + nested(40, "") + "x", siocodec.DecoderOptions{}, siocodec.ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := siocodec.ParsePacket([]byte(tt.text), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParsePacket error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParsePacketLimitsAccepted(t *testing.T) {
	tests := []struct {
		name string
		text string
		opts siocodec.DecoderOptions
	}{
		{"depth 32", `2["x",` + nested(31, "") + "]", siocodec.DecoderOptions{}},
		{"brackets inside strings do not count", `2["` + strings.Repeat("[{", 100) + `","\"[["]`, siocodec.DecoderOptions{}},
		{"custom depth", `2["x",` + nested(60, "") + "]", siocodec.DecoderOptions{MaxDepth: 64}},
		{"ten attachments", `510-["x"]`, siocodec.DecoderOptions{}},
		{"custom attachment cap", `5100-["x"]`, siocodec.DecoderOptions{MaxAttachments: 100}},
		{"negative options select defaults", `510-["x",` + nested(30, "") + "]", siocodec.DecoderOptions{MaxAttachments: -1, MaxDepth: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := siocodec.ParsePacket([]byte(tt.text), tt.opts); err != nil {
				t.Fatalf("ParsePacket: %v", err)
			}
		})
	}
}

// TestParsePacketDeepNestingIsCheap checks the depth limit stops a 10^5
// deep payload before encoding/json sees it: a handful of allocations for
// the error, nothing proportional to the input.
func TestParsePacketDeepNestingIsCheap(t *testing.T) {
	text := []byte("2" + nested(100000, `"x"`))
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := siocodec.ParsePacket(text, siocodec.DecoderOptions{}); err == nil {
			t.Fatal("no error")
		}
	})
	if allocs > 4 {
		t.Fatalf("%v allocations per rejected packet", allocs)
	}
}

func TestDecoderSequences(t *testing.T) {
	type msg struct {
		data   string
		binary bool
	}
	text := func(s string) msg { return msg{s, false} }
	bin := func(s string) msg { return msg{s, true} }
	tests := []struct {
		name string
		msgs []msg
		// want lists, per message, the packet expected ("" for none) or
		// "error:" followed by the sentinel name.
		want []string
	}{
		{
			name: "text packets",
			msgs: []msg{text(`0`), text(`2["a"]`), text(`3/x,1[]`)},
			want: []string{`0`, `2["a"]`, `3/x,1[]`},
		},
		{
			name: "binary packet then text",
			msgs: []msg{text(`52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), bin("\x01"), bin("\x02"), text(`2["b"]`)},
			want: []string{"", "", `52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, `2["b"]`},
		},
		{
			name: "binary message when none expected",
			msgs: []msg{bin("\x01"), text(`2["a"]`)},
			want: []string{"error:ErrUnexpectedBinary", `2["a"]`},
		},
		{
			name: "binary message after a complete binary packet",
			msgs: []msg{text(`51-["a",{"_placeholder":true,"num":0}]`), bin("\x01"), bin("\x02")},
			want: []string{"", `51-["a",{"_placeholder":true,"num":0}]`, "error:ErrUnexpectedBinary"},
		},
		{
			name: "binary message after a binary packet with no attachments",
			msgs: []msg{text(`50-["a"]`), bin("\x01")},
			want: []string{`50-["a"]`, "error:ErrUnexpectedBinary"},
		},
		{
			name: "text while attachments are expected, then recovery",
			msgs: []msg{text(`62-1[{"_placeholder":true,"num":1}]`), bin("\x01"), text(`2["a"]`), text(`2["b"]`)},
			want: []string{"", "", "error:ErrUnexpectedText", `2["b"]`},
		},
		{
			name: "bad packet then recovery",
			msgs: []msg{text(`2{}`), text(`2["a"]`)},
			want: []string{"error:ErrInvalidPayload", `2["a"]`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d siocodec.Decoder // the zero value must work
			for i, m := range tt.msgs {
				p, err := d.Add([]byte(m.data), m.binary)
				want := tt.want[i]
				switch {
				case strings.HasPrefix(want, "error:"):
					if s := codecSentinels[strings.TrimPrefix(want, "error:")]; !errors.Is(err, s) || p != nil {
						t.Fatalf("message %d: got %v, %v; want error %v", i, p, err, s)
					}
				case err != nil:
					t.Fatalf("message %d: %v", i, err)
				case want == "":
					if p != nil {
						t.Fatalf("message %d: got packet %v, want none yet", i, p)
					}
				default:
					if p == nil {
						t.Fatalf("message %d: got no packet, want %s", i, want)
					}
					if got := string(siocodec.AppendPacket(nil, p)); got != want {
						t.Fatalf("message %d: got %s, want %s", i, got, want)
					}
				}
			}
		})
	}
}

func TestDecoderPendingAndReset(t *testing.T) {
	d := siocodec.NewDecoder(siocodec.DecoderOptions{})
	if p, err := d.Add([]byte(`53-["a"]`), false); p != nil || err != nil {
		t.Fatalf("Add = %v, %v", p, err)
	}
	if n := d.Pending(); n != 3 {
		t.Fatalf("Pending = %d, want 3", n)
	}
	if _, err := d.Add([]byte{1}, true); err != nil {
		t.Fatal(err)
	}
	if n := d.Pending(); n != 2 {
		t.Fatalf("Pending = %d, want 2", n)
	}
	d.Reset()
	if n := d.Pending(); n != 0 {
		t.Fatalf("Pending after Reset = %d", n)
	}
	p, err := d.Add([]byte(`2["a"]`), false)
	if err != nil || p == nil {
		t.Fatalf("Add after Reset = %v, %v", p, err)
	}
}

func TestDecoderAttachmentsInOrder(t *testing.T) {
	d := siocodec.NewDecoder(siocodec.DecoderOptions{})
	text := `53-["a",{"_placeholder":true,"num":2},{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`
	if _, err := d.Add([]byte(text), false); err != nil {
		t.Fatal(err)
	}
	var p *siocodec.Packet
	for _, b := range []string{"zero", "one", "two"} {
		var err error
		if p, err = d.Add([]byte(b), true); err != nil {
			t.Fatal(err)
		}
	}
	args, err := siocodec.SplitArgs(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"two", "zero", "one"} {
		b, ok := siocodec.ResolvePlaceholder(args[i+1], p.Attachments)
		if !ok || string(b) != want {
			t.Fatalf("argument %d resolves to %q, %v; want %q", i+1, b, ok, want)
		}
	}
}

func TestAppendPacket(t *testing.T) {
	tests := []struct {
		name string
		p    siocodec.Packet
		want string
	}{
		{"connect", siocodec.Packet{Type: siocodec.Connect, Namespace: "/", ID: siocodec.NoID}, `0`},
		{"empty namespace is main", siocodec.Packet{Type: siocodec.Disconnect, ID: siocodec.NoID}, `1`},
		{"connect reply", siocodec.Packet{Type: siocodec.Connect, Namespace: "/custom", ID: siocodec.NoID, Data: json.RawMessage(`{"sid":"a"}`)}, `0/custom,{"sid":"a"}`},
		{"event", siocodec.Packet{Type: siocodec.Event, Namespace: "/", ID: siocodec.NoID, Data: json.RawMessage(`["a",1]`)}, `2["a",1]`},
		{"ack id 0 is written", siocodec.Packet{Type: siocodec.Event, Data: json.RawMessage(`["a"]`)}, `20["a"]`},
		{"ack", siocodec.Packet{Type: siocodec.Ack, Namespace: "/admin", ID: 456, Data: json.RawMessage(`[]`)}, `3/admin,456[]`},
		{"connect error", siocodec.Packet{Type: siocodec.ConnectError, Namespace: "/random", ID: siocodec.NoID, Data: json.RawMessage(`{"message":"Invalid namespace"}`)}, `4/random,{"message":"Invalid namespace"}`},
		{"binary event", siocodec.Packet{Type: siocodec.BinaryEvent, ID: siocodec.NoID, Data: json.RawMessage(`["a",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1}}}, `51-["a",{"_placeholder":true,"num":0}]`},
		{"event with attachments is promoted", siocodec.Packet{Type: siocodec.Event, ID: 789, Data: json.RawMessage(`["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Attachments: [][]byte{{1}, {2}}}, `52-789["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
		{"ack with attachments is promoted", siocodec.Packet{Type: siocodec.Ack, Namespace: "/admin", ID: 456, Data: json.RawMessage(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1}}}, `61-/admin,456[{"_placeholder":true,"num":0}]`},
		{"binary ack without attachments", siocodec.Packet{Type: siocodec.BinaryAck, ID: 1, Data: json.RawMessage(`[]`)}, `60-1[]`},
		{"largest id", siocodec.Packet{Type: siocodec.Ack, ID: siocodec.MaxAckID, Data: json.RawMessage(`[]`)}, `39007199254740991[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Appends after what dst holds (here an Engine.IO message type).
			got := siocodec.AppendPacket([]byte("4"), &tt.p)
			if string(got) != "4"+tt.want {
				t.Fatalf("AppendPacket = %q, want %q", got, "4"+tt.want)
			}
		})
	}
}

func TestAppendPacketDoesNotAllocate(t *testing.T) {
	p := &siocodec.Packet{Type: siocodec.Event, Namespace: "/chat", ID: 12345, Data: json.RawMessage(`["message",{"text":"hi"}]`)}
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		buf = siocodec.AppendPacket(buf[:0], p)
	})
	if allocs != 0 {
		t.Fatalf("AppendPacket allocates %v times", allocs)
	}
}

type chatMessage struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

type failingMarshaler struct{}

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("boom") }

func TestEncodeEvent(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	tests := []struct {
		name    string
		event   string
		args    []any
		want    string
		atts    []string
		wantErr error
	}{
		{name: "no args", event: "ping", want: `["ping"]`},
		{name: "scalars", event: "m", args: []any{1, int64(-2), int32(3), uint(4), uint64(5), uint32(6), 1.5, true, nil, "s"}, want: `["m",1,-2,3,4,5,6,1.5,true,null,"s"]`},
		{name: "raw message verbatim", event: "message-back", args: []any{json.RawMessage(`{"b":1, "a":[true]}`), json.RawMessage(` 2 `)}, want: `["message-back",{"b":1, "a":[true]}, 2 ]`},
		{name: "empty raw message is null", event: "m", args: []any{json.RawMessage(nil)}, want: `["m",null]`},
		{name: "top-level bytes", event: "file", args: []any{[]byte{1, 2}, "x", []byte{3}}, want: `["file",{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]`, atts: []string{"\x01\x02", "\x03"}},
		{name: "nested bytes", event: "m", args: []any{map[string]any{"z": []byte("Z"), "a": []any{1, []byte("A")}}}, want: `["m",{"a":[1,{"_placeholder":true,"num":0}],"z":{"_placeholder":true,"num":1}}]`, atts: []string{"A", "Z"}},
		{name: "nil bytes is an empty attachment", event: "m", args: []any{[]byte(nil)}, want: `["m",{"_placeholder":true,"num":0}]`, atts: []string{""}},
		{name: "struct via encoding/json", event: "message", args: []any{chatMessage{Room: "r1", Text: "<b>&"}}, want: `["message",{"room":"r1","text":"<b>&"}]`},
		{name: "bytes inside a struct are base64", event: "m", args: []any{struct{ B []byte }{[]byte{1}}}, want: `["m",{"B":"AQ=="}]`},
		{name: "strings like JSON.stringify", event: "m\"\\", args: []any{"<>&\u2028\x00\x1f\t\n\r\b\f\x7fé", "bad\xffutf8"}, want: `["m\"\\","<>&` + "\u2028" + `\u0000\u001f\t\n\r\b\f` + "\x7fé" + `","bad\ufffdutf8"]`},
		{name: "floats like JavaScript", event: "f", args: []any{1e21, 1e20, 1e-7, 0.000001, math.Copysign(0, -1), 0.1, 123456789.125, -2.5e-10}, want: `["f",1e+21,100000000000000000000,1e-7,0.000001,0,0.1,123456789.125,-2.5e-10]`},
		{name: "numeric-like event name is still a string", event: "1", want: `["1"]`},
		{name: "reserved name", event: "disconnect", wantErr: siocodec.ErrReservedEvent},
		{name: "NaN", event: "m", args: []any{math.NaN()}, wantErr: siocodec.ErrUnsupportedValue},
		{name: "Inf nested", event: "m", args: []any{[]any{math.Inf(1)}}, wantErr: siocodec.ErrUnsupportedValue},
		{name: "invalid raw message", event: "m", args: []any{json.RawMessage(`{"a":`)}, wantErr: siocodec.ErrInvalidJSON},
		{name: "raw message with invalid UTF-8", event: "m", args: []any{json.RawMessage("\"\xff\"")}, wantErr: siocodec.ErrInvalidUTF8},
		{name: "cyclic slice", event: "m", args: []any{cyclic}, wantErr: siocodec.ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, atts, err := siocodec.EncodeEvent(tt.event, tt.args...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.want {
				t.Fatalf("data = %s\nwant   %s", data, tt.want)
			}
			if len(atts) != len(tt.atts) {
				t.Fatalf("%d attachments, want %d", len(atts), len(tt.atts))
			}
			for i := range atts {
				if string(atts[i]) != tt.atts[i] {
					t.Fatalf("attachment %d = %q, want %q", i, atts[i], tt.atts[i])
				}
			}
			// What we encode, we (and the JS parser) must accept.
			p := &siocodec.Packet{Type: siocodec.Event, Namespace: "/", ID: siocodec.NoID, Data: data, Attachments: atts}
			text := siocodec.AppendPacket(nil, p)
			got, err := decodeAll(t, siocodec.DecoderOptions{}, text, atts)
			if err != nil {
				t.Fatalf("decode %q: %v", text, err)
			}
			if name, err := siocodec.EventName(got.Data); err != nil || name != tt.event {
				t.Fatalf("EventName = %q, %v; want %q", name, err, tt.event)
			}
		})
	}
	if _, _, err := siocodec.EncodeEvent("m", failingMarshaler{}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("marshaler error = %v", err)
	}
}

// TestEncodeStringsDecodeBack checks appendString against encoding/json:
// every valid UTF-8 string survives an encode/decode cycle.
func TestEncodeStringsDecodeBack(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x01\x1f\x7f", "\u2028\u2029", "日本語", "emoji 😀", "</script>"} {
		data, _, err := siocodec.EncodeAckArgs(s)
		if err != nil {
			t.Fatal(err)
		}
		var back []string
		if err := json.Unmarshal(data, &back); err != nil || len(back) != 1 || back[0] != s {
			t.Fatalf("%q encodes as %s, decodes as %q (%v)", s, data, back, err)
		}
	}
}

func TestEncodeAckArgs(t *testing.T) {
	tests := []struct {
		name  string
		args  []any
		want  string
		natts int
	}{
		{"none", nil, `[]`, 0},
		{"echo", []any{json.RawMessage(`1`), json.RawMessage(`"2"`), json.RawMessage(`{"3":[false]}`)}, `[1,"2",{"3":[false]}]`, 0},
		{"binary", []any{[]byte{1}, []byte{2}}, `[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, 2},
		{"reserved names are fine in acks", []any{"connect"}, `["connect"]`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, atts, err := siocodec.EncodeAckArgs(tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.want || len(atts) != tt.natts {
				t.Fatalf("got %s with %d attachments, want %s with %d", data, len(atts), tt.want, tt.natts)
			}
			p := &siocodec.Packet{Type: siocodec.Ack, Namespace: "/", ID: 7, Data: data, Attachments: atts}
			if len(atts) > 0 {
				p.AttachmentCount = len(atts)
				p.Type = siocodec.BinaryAck
			}
			checkPacketRoundTrip(t, siocodec.DecoderOptions{}, p)
		})
	}
	if _, _, err := siocodec.EncodeAckArgs(math.Inf(-1)); !errors.Is(err, siocodec.ErrUnsupportedValue) {
		t.Fatalf("error = %v", err)
	}
}

// TestEchoIsByteExact is the server's echo path (suite items 30-33): split
// the received arguments and emit them again as raw JSON.
func TestEchoIsByteExact(t *testing.T) {
	tests := []struct {
		in, bin, want string
	}{
		{`2["message",1,"2",{"3":[true]}]`, "", `2["message-back",1,"2",{"3":[true]}]`},
		{`2["message",{"b":1,"a":2}, [ 1 ,2 ] ]`, "", `2["message-back",{"b":1,"a":2},[ 1 ,2 ]]`},
		{`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "ab", `52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
	}
	for _, tt := range tests {
		var bins [][]byte
		for _, c := range []byte(tt.bin) {
			bins = append(bins, []byte{c})
		}
		p, err := decodeAll(t, siocodec.DecoderOptions{}, []byte(tt.in), bins)
		if err != nil {
			t.Fatal(err)
		}
		args, err := siocodec.SplitArgs(p.Data)
		if err != nil {
			t.Fatal(err)
		}
		echo := make([]any, 0, len(args)-1)
		for _, a := range args[1:] {
			echo = append(echo, a)
		}
		data, atts, err := siocodec.EncodeEvent("message-back", echo...)
		if err != nil {
			t.Fatal(err)
		}
		out := &siocodec.Packet{Type: p.Type, Namespace: p.Namespace, ID: siocodec.NoID, Data: data, Attachments: p.Attachments}
		if len(atts) != 0 {
			t.Fatalf("raw arguments produced %d attachments", len(atts))
		}
		if got := string(siocodec.AppendPacket(nil, out)); got != tt.want {
			t.Fatalf("echo = %s, want %s", got, tt.want)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		data string
		want []string // nil: error
	}{
		{`[]`, []string{}},
		{` [ ] `, []string{}},
		{`["a"]`, []string{`"a"`}},
		{`["a,]",1,-2.5e3,true,null,{"x":[1,"]"]},[[]]]`, []string{`"a,]"`, `1`, `-2.5e3`, `true`, `null`, `{"x":[1,"]"]}`, `[[]]`}},
		{"[ \"a\" ,\n\t{} ]\n", []string{`"a"`, `{}`}},
		{`["esc\"aped"]`, []string{`"esc\"aped"`}},
		{`{}`, nil},
		{``, nil},
		{`[`, nil},
		{`["a"`, nil},
		{`["a",]`, nil},
		{`[,]`, nil},
		{`["a" "b"]`, nil},
		{`["a"]x`, nil},
		{`[]x`, nil},
		{`["a`, nil},
		{`[{"a":1]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			got, err := siocodec.SplitArgs(json.RawMessage(tt.data))
			if tt.want == nil {
				if !errors.Is(err, siocodec.ErrInvalidPayload) {
					t.Fatalf("SplitArgs = %q, %v; want ErrInvalidPayload", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("SplitArgs = %q, want %q", got, tt.want)
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Fatalf("element %d = %s, want %s", i, got[i], tt.want[i])
				}
				if cap(got[i]) != len(got[i]) {
					t.Fatalf("element %d has spare capacity", i)
				}
			}
		})
	}
}

func TestEventName(t *testing.T) {
	tests := []struct {
		data, want string
		ok         bool
	}{
		{`["message",1]`, "message", true},
		{` [ "a\u0062c" ]`, "abc", true},
		{`["日本"]`, "日本", true},
		{`[1,"x"]`, "1", true},
		{`[-1.5e3]`, "-1500", true},
		{`[1e21]`, "1e+21", true},
		{`[]`, "", false},
		{`[true]`, "", false},
		{`[{"a":1}]`, "", false},
		{`{"a":1}`, "", false},
		{`"x"`, "", false},
		{``, "", false},
		{`["x`, "", false},
		{`[1e999]`, "Infinity", true},
		{`[-1e999]`, "-Infinity", true},
		{`[1e-999]`, "0", true},
		{`[-0]`, "0", true},
		{`[-]`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			got, err := siocodec.EventName(json.RawMessage(tt.data))
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("EventName = %q, %v; want %q, ok=%v", got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, siocodec.ErrInvalidPayload) {
				t.Fatalf("error %v is not ErrInvalidPayload", err)
			}
		})
	}
}

func TestResolvePlaceholder(t *testing.T) {
	atts := [][]byte{[]byte("zero"), []byte("one")}
	tests := []struct {
		v    string
		want string
		ok   bool
	}{
		{`{"_placeholder":true,"num":0}`, "zero", true},
		{` {"num":1,"_placeholder":true} `, "one", true},
		{`{"_placeholder":true,"num":1.0}`, "one", true},
		{`{"\u005fplaceholder":true,"num":1}`, "one", true},
		{`{"_placeholder":true,"num":2}`, "", false},
		{`{"_placeholder":true,"num":-1}`, "", false},
		{`{"_placeholder":true,"num":"0"}`, "", false},
		{`{"_placeholder":true}`, "", false},
		{`{"_placeholder":false,"num":0}`, "", false},
		{`{"_placeholder":"true","num":0}`, "", false},
		{`{"_placeholder":true,"num":0,"_placeholder":false}`, "", false},
		{`[{"_placeholder":true,"num":0}]`, "", false},
		{`"x"`, "", false},
		{``, "", false},
		{`{"_placeholder":true,"num":0`, "", false},
		{`{"_placeholder" true}`, "", false},
		{`{"_placeholder":}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			got, ok := siocodec.ResolvePlaceholder(json.RawMessage(tt.v), atts)
			if ok != tt.ok || string(got) != tt.want {
				t.Fatalf("ResolvePlaceholder = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPacketTypeString(t *testing.T) {
	tests := []struct {
		t      siocodec.PacketType
		want   string
		binary bool
	}{
		{siocodec.Connect, "CONNECT", false},
		{siocodec.Disconnect, "DISCONNECT", false},
		{siocodec.Event, "EVENT", false},
		{siocodec.Ack, "ACK", false},
		{siocodec.ConnectError, "CONNECT_ERROR", false},
		{siocodec.BinaryEvent, "BINARY_EVENT", true},
		{siocodec.BinaryAck, "BINARY_ACK", true},
		{siocodec.PacketType(7), "PacketType(7)", false},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want || tt.t.IsBinary() != tt.binary {
			t.Errorf("%d: String = %q, IsBinary = %v", tt.t, got, tt.t.IsBinary())
		}
	}
}

func TestPacketString(t *testing.T) {
	p := &siocodec.Packet{Type: siocodec.Event, Namespace: "/a", ID: siocodec.NoID, Data: json.RawMessage(`["x",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1}}}
	if got, want := p.String(), `51-/a,["x",{"_placeholder":true,"num":0}] +1 attachments`; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
}
