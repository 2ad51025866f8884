package siocodec_test

import (
	"encoding/json"
	"testing"

	"github.com/chatrooms/chatrooms/internal/siocodec"
)

// benchChatEvent is a typical inbound chat event with an ack id, 150 bytes.
const benchChatEvent = `2/chat,17["message:send",{"roomId":"r-general","clientId":"c-8f14e45f","text":"hey everyone, is the deploy still scheduled for five?","replyTo":null}]`

func BenchmarkParsePacket(b *testing.B) {
	text := []byte(benchChatEvent)
	if len(text) != 150 {
		b.Fatalf("benchmark event is %d bytes, want 150", len(text))
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := siocodec.ParsePacket(text, siocodec.DecoderOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePacketMainNamespace(b *testing.B) {
	text := []byte(`2["message",{"roomId":"r-general","text":"hello everyone"}]`)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := siocodec.ParsePacket(text, siocodec.DecoderOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecoderBinary(b *testing.B) {
	text := []byte(`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	att := []byte{1, 2, 3}
	d := siocodec.NewDecoder(siocodec.DecoderOptions{})
	b.ReportAllocs()
	for b.Loop() {
		_, _ = d.Add(text, false)
		_, _ = d.Add(att, true)
		if p, err := d.Add(att, true); p == nil || err != nil {
			b.Fatal(p, err)
		}
	}
}

// BenchmarkAppendPacket encodes an outbound broadcast event into a reused
// buffer, the per-broadcast cost on the hot path.
func BenchmarkAppendPacket(b *testing.B) {
	p := &siocodec.Packet{
		Type:      siocodec.Event,
		Namespace: "/chat",
		ID:        siocodec.NoID,
		Data:      json.RawMessage(`["message:new",{"id":"01J9Z7Q4","roomId":"r-general","author":"alice","text":"hello everyone, is the deploy still scheduled?","ts":1718000000000}]`),
	}
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(siocodec.AppendPacket(nil, p))))
	b.ReportAllocs()
	for b.Loop() {
		buf = siocodec.AppendPacket(buf[:0], p)
	}
}

type benchMessage struct {
	ID     string `json:"id"`
	RoomID string `json:"roomId"`
	Author string `json:"author"`
	Text   string `json:"text"`
	TS     int64  `json:"ts"`
}

func BenchmarkEncodeEvent(b *testing.B) {
	msg := benchMessage{ID: "01J9Z7Q4", RoomID: "r-general", Author: "alice", Text: "hello everyone, is the deploy still scheduled?", TS: 1718000000000}
	raw, err := json.Marshal(msg)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		args []any
	}{
		{"raw", []any{json.RawMessage(raw)}}, // echo of received arguments
		{"strings", []any{"r-general", "alice", "hello everyone", int64(1718000000000)}},
		{"struct", []any{msg}}, // through encoding/json
		{"binary", []any{"avatar.png", []byte{0x89, 'P', 'N', 'G'}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := siocodec.EncodeEvent("message:new", c.args...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSplitArgs(b *testing.B) {
	p, err := siocodec.ParsePacket([]byte(benchChatEvent), siocodec.DecoderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := siocodec.SplitArgs(p.Data); err != nil {
			b.Fatal(err)
		}
	}
}
