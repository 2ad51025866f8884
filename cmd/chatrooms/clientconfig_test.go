package main

import (
	"net/http"
	"testing"

	"github.com/chatrooms/chatrooms/internal/attachments"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/httpapi"
)

// GET /api/config reports the limits the server runs with: the flags
// that change them are reflected, the rest are the defaults in force.
func TestClientConfigReportsFlags(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  httpapi.ClientConfig
	}{
		{"defaults", nil, httpapi.ClientConfig{
			MaxUploadBytes: 10 << 20, MaxImageSide: attachments.MaxSide, MaxImagePixels: attachments.MaxPixels,
			MaxMessageChars: chat.MessageMaxLen, TypingTTLMillis: 5000, TypingFanoutMillis: 3000,
		}},
		{"flags", []string{"--attachment-max-size", "2097152", "--typing-fanout", "1500ms"}, httpapi.ClientConfig{
			MaxUploadBytes: 2 << 20, MaxImageSide: attachments.MaxSide, MaxImagePixels: attachments.MaxPixels,
			MaxMessageChars: chat.MessageMaxLen, TypingTTLMillis: 5000, TypingFanoutMillis: 1500,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, "", tt.flags...)
			var got httpapi.ClientConfig
			if code := s.do(t, "GET", "/api/config", "", nil, &got); code != http.StatusOK {
				t.Fatalf("GET /api/config: %d", code)
			}
			if got != tt.want {
				t.Fatalf("config %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}
