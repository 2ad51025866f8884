package attachments_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/attachments"
	"github.com/chatrooms/chatrooms/internal/httpx"
)

// bound is how long a test waits for what should take well under a
// second: a bound for a busy machine, not a race with the code.
const bound = 30 * time.Second

// rawUpload opens a connection to n and sends the head of an upload
// declaring contentLength bytes, then the multipart head of the file
// part and prefix of its content. It returns the connection; the rest
// is up to the caller.
func rawUpload(t *testing.T, n *node, token string, contentLength int, prefix []byte) net.Conn {
	t.Helper()
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="a.png"`)
	if _, err := mw.CreatePart(h); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(bound))
	_, err = fmt.Fprintf(c, "POST /api/attachments HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s%s",
		token, mw.FormDataContentType(), contentLength, head.Bytes(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeclaredLengthIsNotAllocated(t *testing.T) {
	// An upload declaring 10 MB that sends 150 bytes of file and stops:
	// the buffer holds what arrived, not what was declared.
	n := start(t, attachments.Config{})
	type buf struct{ length, capacity int }
	reads := make(chan buf, 64)
	attachments.SetReadHook(n.svc, func(length, capacity int) {
		select {
		case reads <- buf{length, capacity}:
		default:
		}
	})
	const sent = 150
	c := rawUpload(t, n, "Bearer tok-alice", 10_551_296, bytes.Repeat([]byte{0x89}, sent))
	timeout := time.After(bound)
	for {
		var b buf
		select {
		case b = <-reads:
		case <-timeout:
			t.Fatal("the upload's bytes were not read")
		}
		if b.capacity > 64<<10 {
			t.Fatalf("buffer of %d bytes for %d received", b.capacity, b.length)
		}
		if b.length == sent {
			break // everything arrived; the handler waits for more
		}
	}
	_ = c.Close()
}

func TestSlowUploadIsCut(t *testing.T) {
	// An upload trickling its file is answered 408 and closed once a
	// window passes without its share of bytes.
	n := start(t, attachments.Config{Body: httpx.BodyTimeouts{Window: 300 * time.Millisecond, MinRate: 1000}})
	c := rawUpload(t, n, "bearer tok-alice", 1<<20, []byte{0x89})
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	var e apierr.Error
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || e.Code != apierr.CodeRequestTimeout {
		t.Fatalf("answer %d %+v, want 408 request_timeout", resp.StatusCode, e)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("data after the answer")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection stayed open")
	}
}

func TestBearerSchemeCaseInsensitive(t *testing.T) {
	n := start(t, attachments.Config{UploadBurst: 100})
	img := attachments.EncodePNG(t, attachments.Picture(16, 16, false))
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR  "} {
		body, ct := multipartBody(t, filePart("a.png", img))
		req, _ := http.NewRequest(http.MethodPost, n.url+"/api/attachments", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", scheme+" tok-alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%q: status %d", scheme, resp.StatusCode)
		}
	}
	for _, bad := range []string{"Basic tok-alice", "tok-alice", "Bearer tok-alice extra", "Bearer"} {
		body, ct := multipartBody(t, filePart("a.png", img))
		req, _ := http.NewRequest(http.MethodPost, n.url+"/api/attachments", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", bad)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		expectError(t, resp, http.StatusUnauthorized, apierr.CodeUnauthorized)
	}
}

func TestRateLimitedAnswer(t *testing.T) {
	n := start(t, attachments.Config{UploadsPerMinute: 1, UploadBurst: 1})
	img := attachments.EncodePNG(t, attachments.Picture(16, 16, false))
	n.mustUpload(t, "alice", img)
	resp := n.upload(t, "tok-alice", filePart("a.png", img))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d", resp.StatusCode)
	}
	e := decodeJSON[apierr.Error](t, resp)
	if e.Code != apierr.CodeRateLimited || e.RetryAfterMS <= 0 || e.RetryAfterMS > 60_000 {
		t.Fatalf("error %+v", e)
	}
	if want := fmt.Sprint((e.RetryAfterMS + 999) / 1000); resp.Header.Get("Retry-After") != want {
		t.Fatalf("Retry-After %q, retry_after_ms %d", resp.Header.Get("Retry-After"), e.RetryAfterMS)
	}
}

func TestPixelBudget(t *testing.T) {
	// A budget of 10,000 pixels; 9,000 held as by a large image being
	// decoded. A 100×100 upload (10,000 pixels) waits for room; a 16×16
	// one goes ahead of it at once; the large one completes when the
	// held pixels are released.
	n := start(t, attachments.Config{DecodePixels: 10_000, UploadBurst: 100})
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	release, err := attachments.HoldPixels(ctx, n.svc, 9_000)
	if err != nil {
		t.Fatal(err)
	}
	large := make(chan int, 1)
	go func() {
		body, ct := multipartBody(t, filePart("big.png", attachments.EncodePNG(t, attachments.Picture(100, 100, false))))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.url+"/api/attachments", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer tok-bob")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			large <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		large <- resp.StatusCode
	}()
	waitUntil(t, func() bool { return attachments.PixelWaiters(n.svc) == 1 })

	n.mustUpload(t, "alice", attachments.EncodePNG(t, attachments.Picture(16, 16, false)))
	select {
	case code := <-large:
		t.Fatalf("the large upload finished (%d) while the pixels were held", code)
	default:
	}
	if w := attachments.PixelWaiters(n.svc); w != 1 {
		t.Fatalf("%d waiters, want the large upload", w)
	}
	release()
	select {
	case code := <-large:
		if code != http.StatusCreated {
			t.Fatalf("large upload: %d", code)
		}
	case <-ctx.Done():
		t.Fatal("the large upload never finished")
	}
}

// waitUntil polls cond, bounded in time and count.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for range 100_000 {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not met")
}
