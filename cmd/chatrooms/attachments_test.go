package main

import (
	"net/http"
	"testing"

	"github.com/chatrooms/chatrooms/internal/apitest"
	"github.com/chatrooms/chatrooms/internal/chat"
)

// uploadPNG posts a w×h PNG as token's user.
func (s *server) uploadPNG(t *testing.T, token string, w, h int) apitest.Upload {
	t.Helper()
	return s.api().UploadPNG(t, token, w, h)
}

func TestMessagesCarryAttachments(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	a.nextMessage(t) // Boris joined
	up := s.uploadPNG(t, a.Token, 640, 480)
	if up.Width != 640 || up.Height != 480 || up.ContentType != "image/png" {
		t.Fatalf("upload = %+v", up)
	}
	var res struct {
		OK      bool         `json:"ok"`
		Message chat.Message `json:"message"`
	}
	if e := a.call(t, "send_message", map[string]string{"attachment_id": up.ID, "alt": "a red line"}, &res); e != nil {
		t.Fatalf("send with attachment: %+v", e)
	}
	att := res.Message.Attachment
	if att == nil || att.ID != up.ID || att.URL != up.URL || att.ThumbnailURL != up.ThumbnailURL || att.Width != 640 || att.Alt != "a red line" || res.Message.Content != "" {
		t.Fatalf("message = %+v, attachment %+v", res.Message, att)
	}
	for _, m := range []*member{a, b} {
		if got := m.nextMessage(t); got.Attachment == nil || got.Attachment.ID != up.ID {
			t.Fatalf("%s got %+v", m.User.Name, got)
		}
	}
	// The images are served to anyone holding the URL.
	for _, path := range []string{up.URL, up.ThumbnailURL} {
		res, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %s: %d %v", path, res.StatusCode, res.Header)
		}
	}
	// Someone else's attachment, an unknown one, a bad alt: refused.
	if e := b.call(t, "send_message", map[string]string{"attachment_id": up.ID}, nil); e == nil || e.Error != "attachment_not_found" {
		t.Fatalf("foreign attachment: %+v", e)
	}
	if e := a.call(t, "send_message", map[string]string{"attachment_id": "a00000000000000000000000000000000"}, nil); e == nil || e.Error != "attachment_not_found" {
		t.Fatalf("unknown attachment: %+v", e)
	}
	if e := a.call(t, "send_message", map[string]string{"attachment_id": up.ID, "alt": "two\nlines"}, nil); e == nil || e.Error != "invalid_message" {
		t.Fatalf("bad alt: %+v", e)
	}
	// Text and image together.
	if e := a.call(t, "send_message", map[string]string{"content": "look", "attachment_id": up.ID}, &res); e != nil || res.Message.Content != "look" || res.Message.Attachment == nil {
		t.Fatalf("text + image: %+v %+v", e, res.Message)
	}
	// Without a token an upload is refused.
	if code := s.do(t, "POST", "/api/attachments", "", "x", nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous upload: %d", code)
	}
}
