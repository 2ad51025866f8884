package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// StepTimeout bounds every single wait of a client: a request, an ack, an
// expected event.
const StepTimeout = 15 * time.Second

// MaxBody bounds the answer body Request reads.
const MaxBody = 16 << 20

// MaxEvents bounds every loop that reads a socket's events.
const MaxEvents = 10000

// Context returns a context that ends after StepTimeout or with t.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), StepTimeout)
	t.Cleanup(cancel)
	return ctx
}

// Error is the body of an API error: the code and a human message. Socket
// acks carry the same object.
type Error struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Server is where a client reaches the service: a node or the load
// balancer.
type Server struct {
	// Name appears in failure messages ("a", "nginx"); may be empty.
	Name string
	// URL is the base URL, http://host:port.
	URL string
}

// through is " through Name", or nothing without a name.
func (s Server) through() string {
	if s.Name == "" {
		return ""
	}
	return " through " + s.Name
}

// Do sends a JSON request (body nil, a string sent as is, or a value
// encoded as JSON) with token as bearer token if not empty, decodes a
// non-empty JSON answer into out if not nil, and returns the status.
func (s Server) Do(t *testing.T, method, path, token string, body, out any) int {
	t.Helper()
	code, data, err := s.Request(method, path, token, body)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, s.Name, path, err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s%s: %d %q: %v", method, s.Name, path, code, data, err)
		}
	}
	return code
}

// Request is Do without t, for goroutines: it returns the status and the
// body (at most MaxBody bytes).
func (s Server) Request(method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxBody))
	return res.StatusCode, data, err
}

// Register creates the user name and returns it with its token.
func (s Server) Register(t *testing.T, name string) (chat.User, string) {
	t.Helper()
	var res struct {
		User  chat.User `json:"user"`
		Token string    `json:"token"`
	}
	if code := s.Do(t, http.MethodPost, "/api/users", "", map[string]string{"username": name}, &res); code != http.StatusCreated {
		t.Fatalf("register %q%s: status %d", name, s.through(), code)
	}
	return res.User, res.Token
}

// Upload is the answer of POST /api/attachments.
type Upload struct {
	ID           string `json:"id"`
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url"`
	ContentType  string `json:"content_type"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
}

// PNGForm returns a multipart body with a w×h PNG (a red line) in its
// "file" field under filename, and its Content-Type.
func PNGForm(t *testing.T, w, h int, filename string) ([]byte, string) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, x%h, color.NRGBA{R: 200, A: 255})
	}
	var pngBuf, body bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(pngBuf.Bytes())
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return body.Bytes(), mw.FormDataContentType()
}

// UploadPNG posts a w×h PNG (a red line) as token's user. The file name
// is a path, which the server must not use.
func (s Server) UploadPNG(t *testing.T, token string, w, h int) Upload {
	t.Helper()
	body, contentType := PNGForm(t, w, h, "../../etc/passwd.png")
	req, err := http.NewRequestWithContext(Context(t), http.MethodPost, s.URL+"/api/attachments", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("upload%s: %d %s", s.through(), res.StatusCode, data)
	}
	var up Upload
	if err := json.Unmarshal(data, &up); err != nil {
		t.Fatal(err)
	}
	return up
}

// Dial opens a /chat socket with token; eventBuffer is the client's inbox
// size (0: sioclient's default).
func (s Server) Dial(ctx context.Context, token string, eventBuffer int) (*sioclient.Client, error) {
	return sioclient.Dial(ctx, s.URL, sioclient.Options{
		Namespace:   "/chat",
		Auth:        map[string]string{"token": token},
		EventBuffer: eventBuffer,
		// Longer than the server's bound on a connect's store calls
		// (realtime's CallTimeout, 10 s): when the store is slow the
		// server's answer ("unavailable") must arrive, not the client's
		// own timeout in a tie with it.
		DialTimeout: StepTimeout,
	})
}

// Connect opens who's /chat socket with token, closed when t ends, and
// checks the greeting: room list, user list, current room. It returns the
// socket and the current room.
func (s Server) Connect(t *testing.T, who, token string, eventBuffer int) (*sioclient.Client, chat.Room) {
	t.Helper()
	c, err := s.Dial(Context(t), token, eventBuffer)
	if err != nil {
		t.Fatalf("connect %s%s: %v", who, s.through(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var room chat.Room
	for _, want := range []string{"room_list_changed", "user_list_changed", "current_room_changed"} {
		ev, err := c.Next(Context(t), want)
		if err != nil {
			t.Fatalf("%s: waiting for %s: %v", who, want, err)
		}
		if want == "current_room_changed" {
			if err := ev.Arg(0, &room); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c, room
}

// Call emits event with an ack on who's socket c and decodes
// {"ok":true,...} into out (if not nil), or returns the error.
func Call(t *testing.T, c *sioclient.Client, who, event string, payload, out any) *Error {
	t.Helper()
	ack, err := c.EmitWithAck(Context(t), event, payload)
	if err != nil {
		t.Fatalf("%s %s: %v", who, event, err)
	}
	var e Error
	if err := ack.Arg(0, &e); err == nil && e.Error != "" {
		return &e
	}
	if out != nil {
		if err := ack.Arg(0, out); err != nil {
			t.Fatalf("%s ack: %v", event, err)
		}
	}
	return nil
}

// Send sends the text message on who's socket c; it must be accepted. It
// returns the acked message.
func Send(t *testing.T, c *sioclient.Client, who, text string) chat.Message {
	t.Helper()
	var res struct {
		OK      bool         `json:"ok"`
		Message chat.Message `json:"message"`
	}
	if e := Call(t, c, who, "send_message", map[string]string{"content": text}, &res); e != nil {
		t.Fatalf("%s send %q: %+v", who, text, e)
	}
	return res.Message
}

// NextMessage returns the next chat_message on who's socket c of room,
// skipping those of other rooms; with room "" the next of any room.
func NextMessage(t *testing.T, c *sioclient.Client, who, room string) chat.Message {
	t.Helper()
	ctx := Context(t)
	for range MaxEvents {
		ev, err := c.Next(ctx, "chat_message")
		if err != nil {
			t.Fatalf("%s: waiting for a chat_message%s: %v", who, in(room), err)
		}
		var msg chat.Message
		if err := ev.Arg(0, &msg); err != nil {
			t.Fatal(err)
		}
		if room == "" || msg.RoomID == room {
			return msg
		}
	}
	t.Fatalf("%s: no chat_message%s among %d", who, in(room), MaxEvents)
	return chat.Message{}
}

func in(room string) string {
	if room == "" {
		return ""
	}
	return fmt.Sprintf(" in %s", room)
}
