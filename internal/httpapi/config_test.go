package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/attachments"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/httpapi"
)

func TestClientConfig(t *testing.T) {
	rec := serveWith(t, &fakeService{}, "GET", "/api/config", nil, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	for header, want := range map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := rec.Header().Get(header); got != want {
			t.Errorf("%s %q, want %q", header, got, want)
		}
	}

	// Every field is present under its documented name (docs/protocol.md).
	var fields map[string]json.Number
	dec := json.NewDecoder(rec.Body)
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("decode: %v", err)
	}
	tests := []struct {
		field string
		want  int64
	}{
		{"max_upload_bytes", attachments.DefaultMaxSize},
		{"max_image_side", attachments.MaxSide},
		{"max_image_pixels", attachments.MaxPixels},
		{"max_message_chars", chat.MessageMaxLen},
		{"typing_ttl_ms", 5000},
		{"typing_fanout_ms", 3000},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			n, ok := fields[tt.field]
			if !ok {
				t.Fatalf("no %s in %v", tt.field, fields)
			}
			got, err := n.Int64()
			if err != nil || got != tt.want {
				t.Fatalf("%s = %s, want %d", tt.field, n, tt.want)
			}
		})
	}
	if len(fields) != len(tests) {
		t.Errorf("fields %v, want exactly the %d documented", fields, len(tests))
	}

	// The same answer decodes into the exported type.
	var cfg httpapi.ClientConfig
	again := serveWith(t, &fakeService{}, "GET", "/api/config", nil, "")
	if err := json.Unmarshal(again.Body.Bytes(), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.MaxUploadBytes != 10<<20 || cfg.MaxImageSide != 8000 {
		t.Fatalf("config %+v", cfg)
	}
}

// Only GET: any other method is an unknown endpoint, as elsewhere under /api.
func TestClientConfigOtherMethods(t *testing.T) {
	for _, method := range []string{"POST", "PUT", "DELETE"} {
		t.Run(method, func(t *testing.T) {
			rec := serveWith(t, &fakeService{}, method, "/api/config", nil, "")
			if rec.Code != http.StatusNotFound {
				t.Fatalf("status %d, want 404: %s", rec.Code, rec.Body)
			}
		})
	}
}

// GET /api/config answers the limits in force, as Config.Client gives
// them; fields left zero report the packages' defaults.
func TestClientConfigInForce(t *testing.T) {
	defaults := httpapi.ClientConfig{
		MaxUploadBytes: attachments.DefaultMaxSize, MaxImageSide: attachments.MaxSide, MaxImagePixels: attachments.MaxPixels,
		MaxMessageChars: chat.MessageMaxLen, TypingTTLMillis: 5000, TypingFanoutMillis: 3000,
	}
	tests := []struct {
		name   string
		client httpapi.ClientConfig
		want   httpapi.ClientConfig
	}{
		{"zero: the defaults", httpapi.ClientConfig{}, defaults},
		{
			"from the services' configurations",
			httpapi.NewClientConfig(chat.Config{TypingTTL: 7 * time.Second, TypingFanout: 1500 * time.Millisecond}, attachments.Config{MaxSize: 12345}),
			httpapi.ClientConfig{
				MaxUploadBytes: 12345, MaxImageSide: attachments.MaxSide, MaxImagePixels: attachments.MaxPixels,
				MaxMessageChars: chat.MessageMaxLen, TypingTTLMillis: 7000, TypingFanoutMillis: 1500,
			},
		},
		{
			"one field set",
			httpapi.ClientConfig{TypingFanoutMillis: 250},
			func() httpapi.ClientConfig { c := defaults; c.TypingFanoutMillis = 250; return c }(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			httpapi.New(httpapi.Config{Client: tt.client}, &fakeService{}).Register(mux)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/config", nil))
			var got httpapi.ClientConfig
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("status %d, %v: %s", rec.Code, err, rec.Body)
			}
			if got != tt.want {
				t.Fatalf("config %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}
