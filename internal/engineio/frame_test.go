package engineio

import (
	"bytes"
	"testing"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
)

// The package's shared control frames are what the protocol puts on the
// wire.
func TestControlFrames(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       *eiocodec.Frame
		polling string
	}{
		{"ping", framePing, "2"},
		{"pong", framePong, "3"},
		{"noop", frameNoop, "6"},
		{"close", frameClose, "1"},
		{"probe", frameProbe, "3probe"},
	} {
		want := append([]byte{0x81, byte(len(tc.polling))}, tc.polling...)
		if !bytes.Equal(tc.f.WebSocket(), want) {
			t.Errorf("%s: frame % x, want % x", tc.name, tc.f.WebSocket(), want)
		}
		if got := eiocodec.AppendPayload(nil, []*eiocodec.Frame{tc.f}); string(got) != tc.polling {
			t.Errorf("%s: polling %q, want %q", tc.name, got, tc.polling)
		}
	}
}
