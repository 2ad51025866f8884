package attachments_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/attachments"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

// fakeAuth knows tokens "tok-<name>" of users "u-<name>".
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (chat.User, error) {
	name, ok := strings.CutPrefix(token, "tok-")
	if !ok || name == "" {
		return chat.User{}, &apierr.Error{Code: apierr.CodeUnauthorized, Message: "missing or invalid token"}
	}
	return chat.User{ID: "u-" + name, Name: name}, nil
}

var _ attachments.Authenticator = fakeAuth{}

// node is one attachments service over a cluster, served over HTTP.
type node struct {
	cl  *cluster.Cluster
	svc *attachments.Service
	mux *http.ServeMux
	url string
}

func newNode(t *testing.T, cl *cluster.Cluster, cfg attachments.Config) *node {
	t.Helper()
	cfg.Logger = natstest.Logger(t)
	svc := attachments.New(cfg, cl.Attachments(), cl.AttachMeta())
	mux := http.NewServeMux()
	svc.Register(mux, fakeAuth{})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &node{cl: cl, svc: svc, mux: mux, url: srv.URL}
}

// start runs a service on its own embedded NATS.
func start(t *testing.T, cfg attachments.Config, opts ...func(*cluster.Options)) *node {
	t.Helper()
	return newNode(t, natstest.Start(t, opts...), cfg)
}

// part is one multipart part; raw, if set, replaces the generated
// Content-Disposition.
type part struct {
	field, filename, contentType string
	data                         []byte
	raw                          string
}

func multipartBody(t testing.TB, parts ...part) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q; filename=%q`, p.field, p.filename)
		if p.filename == "" {
			cd = fmt.Sprintf(`form-data; name=%q`, p.field)
		}
		if p.raw != "" {
			cd = p.raw
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pw.Write(p.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}

func request(t testing.TB, method, url, token string, body io.Reader, contentType string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (n *node) upload(t testing.TB, token string, parts ...part) *http.Response {
	t.Helper()
	body, ct := multipartBody(t, parts...)
	return request(t, http.MethodPost, n.url+"/api/attachments", token, bytes.NewReader(body), ct)
}

func filePart(name string, data []byte) part {
	return part{field: "file", filename: name, contentType: "application/octet-stream", data: data}
}

type uploaded struct {
	ID           string `json:"id"`
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url"`
	ContentType  string `json:"content_type"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Size         int64  `json:"size"`
	ExpiresAt    int64  `json:"expires_at"`
}

func decodeJSON[T any](t testing.TB, resp *http.Response) T {
	t.Helper()
	var v T
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
	return v
}

// mustUpload uploads data as user and returns the 201 answer.
func (n *node) mustUpload(t testing.TB, user string, data []byte) uploaded {
	t.Helper()
	resp := n.upload(t, "tok-"+user, filePart("picture.png", data))
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	u := decodeJSON[uploaded](t, resp)
	if resp.Header.Get("Location") != u.URL {
		t.Fatalf("Location %q, url %q", resp.Header.Get("Location"), u.URL)
	}
	return u
}

// expectError checks an error answer's status and code.
func expectError(t testing.TB, resp *http.Response, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d (%s), want %d %s", resp.StatusCode, b, status, code)
	}
	e := decodeJSON[apierr.Error](t, resp)
	if e.Code != code || e.Message == "" {
		t.Fatalf("error %+v, want code %s and a message", e, code)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("error answer cacheable: %q", resp.Header.Get("Cache-Control"))
	}
}

func get(t testing.TB, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decodeImage(t testing.TB, contentType string, data []byte) image.Image {
	t.Helper()
	var m image.Image
	var err error
	switch contentType {
	case "image/png":
		m, err = png.Decode(bytes.NewReader(data))
	case "image/jpeg":
		m, err = jpeg.Decode(bytes.NewReader(data))
	case "image/gif":
		m, err = gif.Decode(bytes.NewReader(data))
	default:
		t.Fatalf("content type %q", contentType)
	}
	if err != nil {
		t.Fatalf("decode %s: %v", contentType, err)
	}
	return m
}

func TestUploadAndServe(t *testing.T) {
	n := start(t, attachments.Config{})
	anim, _ := attachments.AnimatedGIF(t)
	tests := []struct {
		name        string
		data        []byte
		contentType string
		w, h        int
		thumbType   string
		thumbW      int
	}{
		{"png with alpha", attachments.EncodePNG(t, attachments.Picture(640, 480, true)), "image/png", 640, 480, "image/png", 320},
		{"jpeg with EXIF orientation 6", attachments.WithAPP1(attachments.EncodeJPEG(t, attachments.Picture(640, 480, false)), attachments.EXIF(6, binary.BigEndian)), "image/jpeg", 480, 640, "image/jpeg", 240},
		{"animated gif", attachments.WithGIFExtensions(anim), "image/gif", 60, 40, "image/jpeg", 60},
		{"lossy webp", attachments.ReadTestdata(t, "photo.lossy.exif.webp"), "image/jpeg", 800, 600, "image/jpeg", 320},
		{"lossless webp", attachments.ReadTestdata(t, "alpha.lossless.webp"), "image/png", 64, 48, "image/png", 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			u := n.mustUpload(t, "alice", tt.data)
			if u.ContentType != tt.contentType || u.Width != tt.w || u.Height != tt.h {
				t.Fatalf("answer %+v, want %s %dx%d", u, tt.contentType, tt.w, tt.h)
			}
			if u.URL != "/api/attachments/"+u.ID || u.ThumbnailURL != u.URL+"/thumbnail" {
				t.Fatalf("urls %q %q", u.URL, u.ThumbnailURL)
			}
			if exp := time.UnixMilli(u.ExpiresAt); exp.Before(start.Add(12*time.Hour-time.Minute)) || exp.After(time.Now().Add(12*time.Hour)) {
				t.Fatalf("expires_at %v, want 12h from now", exp)
			}

			resp, body := get(t, n.url+u.URL)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET: %d", resp.StatusCode)
			}
			checkServeHeaders(t, resp, tt.contentType, "attachment-"+u.ID+"."+ext(tt.contentType))
			if int64(len(body)) != u.Size || resp.Header.Get("Content-Length") != strconv.FormatInt(u.Size, 10) {
				t.Fatalf("GET: %d bytes, Content-Length %s, size %d", len(body), resp.Header.Get("Content-Length"), u.Size)
			}
			attachments.CheckClean(t, "served image", body)
			if b := decodeImage(t, tt.contentType, body).Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Fatalf("served image is %v", b)
			}

			resp, thumb := get(t, n.url+u.ThumbnailURL)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET thumbnail: %d", resp.StatusCode)
			}
			checkServeHeaders(t, resp, tt.thumbType, "attachment-"+u.ID+"-thumbnail."+ext(tt.thumbType))
			attachments.CheckClean(t, "served thumbnail", thumb)
			tb := decodeImage(t, tt.thumbType, thumb).Bounds()
			if tb.Dx() != tt.thumbW || tb.Dx() > attachments.ThumbnailSide || tb.Dy() > attachments.ThumbnailSide {
				t.Fatalf("thumbnail is %v, want %d wide, at most %d a side", tb, tt.thumbW, attachments.ThumbnailSide)
			}
		})
	}
}

func ext(contentType string) string {
	return map[string]string{"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}[contentType]
}

func checkServeHeaders(t *testing.T, resp *http.Response, contentType, filename string) {
	t.Helper()
	want := map[string]string{
		"Content-Type":                 contentType,
		"X-Content-Type-Options":       "nosniff",
		"Content-Security-Policy":      "default-src 'none'; sandbox",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Content-Disposition":          `inline; filename="` + filename + `"`,
		"Accept-Ranges":                "bytes",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if etag := resp.Header.Get("ETag"); len(etag) != 34 || etag[0] != '"' {
		t.Errorf("ETag %q", etag)
	}
	cc := resp.Header.Get("Cache-Control")
	var age int
	if _, err := fmt.Sscanf(cc, "private, max-age=%d, immutable", &age); err != nil || age < 12*3600-60 || age > 12*3600 {
		t.Errorf("Cache-Control %q", cc)
	}
	if resp.Header.Get("Last-Modified") == "" {
		t.Error("no Last-Modified")
	}
}

func TestConditionalAndRange(t *testing.T) {
	n := start(t, attachments.Config{})
	u := n.mustUpload(t, "alice", attachments.EncodePNG(t, attachments.Picture(300, 200, false)))
	resp, full := get(t, n.url+u.URL)
	etag := resp.Header.Get("ETag")

	t.Run("If-None-Match", func(t *testing.T) {
		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			resp, body := get(t, n.url+u.URL, "If-None-Match", inm)
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
				t.Errorf("If-None-Match %s: %d, %d bytes, ETag %q", inm, resp.StatusCode, len(body), resp.Header.Get("ETag"))
			}
		}
		if resp, _ := get(t, n.url+u.URL, "If-None-Match", `"other"`); resp.StatusCode != http.StatusOK {
			t.Errorf("another ETag: %d", resp.StatusCode)
		}
		// The thumbnail has its own ETag.
		if resp, _ := get(t, n.url+u.ThumbnailURL, "If-None-Match", etag); resp.StatusCode != http.StatusOK {
			t.Errorf("thumbnail with the image's ETag: %d", resp.StatusCode)
		}
	})
	t.Run("If-Modified-Since", func(t *testing.T) {
		resp, _ := get(t, n.url+u.URL, "If-Modified-Since", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	ranges := []struct {
		header  string
		content string // Content-Range
		data    []byte
	}{
		{"bytes=0-9", fmt.Sprintf("bytes 0-9/%d", len(full)), full[:10]},
		{"bytes=100-", fmt.Sprintf("bytes 100-%d/%d", len(full)-1, len(full)), full[100:]},
		{"bytes=-7", fmt.Sprintf("bytes %d-%d/%d", len(full)-7, len(full)-1, len(full)), full[len(full)-7:]},
	}
	for _, r := range ranges {
		t.Run(r.header, func(t *testing.T) {
			resp, body := get(t, n.url+u.URL, "Range", r.header)
			if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != r.content || !bytes.Equal(body, r.data) {
				t.Fatalf("%d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
			}
		})
	}
	t.Run("several ranges, out of order", func(t *testing.T) {
		resp, body := get(t, n.url+u.URL, "Range", "bytes=200-209,0-4,50-59")
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for _, want := range [][]byte{full[200:210], full[0:5], full[50:60]} {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(p)
			if !bytes.Equal(got, want) || p.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("part %q: %x, want %x", p.Header.Get("Content-Range"), got, want)
			}
		}
	})
	t.Run("unsatisfiable", func(t *testing.T) {
		resp, _ := get(t, n.url+u.URL, "Range", fmt.Sprintf("bytes=%d-", len(full)+10))
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("If-Range with a stale ETag", func(t *testing.T) {
		resp, body := get(t, n.url+u.URL, "Range", "bytes=0-9", "If-Range", `"stale"`)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, full) {
			t.Fatalf("%d, %d bytes", resp.StatusCode, len(body))
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		resp := request(t, http.MethodHead, n.url+u.URL, "", nil, "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != strconv.Itoa(len(full)) || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("%d, Content-Length %s", resp.StatusCode, resp.Header.Get("Content-Length"))
		}
	})
}

func TestUploadRefused(t *testing.T) {
	n := start(t, attachments.Config{MaxSize: 1 << 20, UploadBurst: 100})
	pngData := attachments.EncodePNG(t, attachments.Picture(64, 48, false))
	jpgData := attachments.EncodeJPEG(t, attachments.Picture(64, 48, false))
	html := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	tooBig := bytes.Repeat([]byte{0x89}, 2<<20)
	mp := func(parts ...part) func(testing.TB) (io.Reader, string) {
		return func(t testing.TB) (io.Reader, string) {
			b, ct := multipartBody(t, parts...)
			return bytes.NewReader(b), ct
		}
	}
	tests := []struct {
		name   string
		token  string
		body   func(testing.TB) (io.Reader, string)
		status int
		code   string
	}{
		{"no token", "", mp(filePart("a.png", pngData)), 401, apierr.CodeUnauthorized},
		{"unknown token", "nope", mp(filePart("a.png", pngData)), 401, apierr.CodeUnauthorized},
		{"not multipart", "tok-alice", func(testing.TB) (io.Reader, string) {
			return bytes.NewReader(pngData), "image/png"
		}, 400, apierr.CodeInvalidRequest},
		{"multipart without a boundary", "tok-alice", func(testing.TB) (io.Reader, string) {
			return bytes.NewReader(pngData), "multipart/form-data"
		}, 400, apierr.CodeInvalidRequest},
		{"no file field", "tok-alice", mp(part{field: "other", data: []byte("x")}), 400, apierr.CodeInvalidRequest},
		{"empty file", "tok-alice", mp(filePart("a.png", nil)), 400, apierr.CodeInvalidRequest},
		{"truncated multipart", "tok-alice", func(t testing.TB) (io.Reader, string) {
			b, ct := multipartBody(t, filePart("a.png", pngData))
			return bytes.NewReader(b[:len(b)/2]), ct
		}, 400, apierr.CodeInvalidRequest},
		{"html named .png, declared image/png", "tok-alice", mp(part{field: "file", filename: "cat.png", contentType: "image/png", data: html}), 415, apierr.CodeUnsupportedType},
		{"svg with script", "tok-alice", mp(part{field: "file", filename: "a.svg", contentType: "image/svg+xml", data: svg}), 415, apierr.CodeUnsupportedType},
		{"html+png polyglot, html first", "tok-alice", mp(filePart("a.png", append(append([]byte("<html><!--"), pngData...), "--><script>alert(1)</script>"...))), 415, apierr.CodeUnsupportedType},
		{"animated webp", "tok-alice", mp(filePart("a.webp", attachments.ReadTestdata(t, "animated.webp"))), 415, apierr.CodeUnsupportedType},
		{"30000x30000 png header", "tok-alice", mp(filePart("a.png", attachments.PNGHeader(30000, 30000))), 422, apierr.CodeInvalidImage},
		{"truncated jpeg", "tok-alice", mp(filePart("a.jpg", jpgData[:len(jpgData)/2])), 422, apierr.CodeInvalidImage},
		{"over the limit", "tok-alice", mp(filePart("a.png", tooBig)), 413, apierr.CodeTooLarge},
		{"over the limit, no Content-Length", "tok-alice", func(t testing.TB) (io.Reader, string) {
			b, ct := multipartBody(t, filePart("a.png", tooBig))
			return io.MultiReader(bytes.NewReader(b)), ct // not a *bytes.Reader: sent chunked
		}, 413, apierr.CodeTooLarge},
		{"file part over the limit, body within", "tok-alice", mp(filePart("a.png", tooBig[:1<<20+1])), 413, apierr.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := tt.body(t)
			resp := request(t, http.MethodPost, n.url+"/api/attachments", tt.token, body, ct)
			expectError(t, resp, tt.status, tt.code)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if keys, err := n.cl.AttachMeta().Keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("refused uploads stored %v (%v)", keys, err)
	}
}

func TestPNGPolyglotIsDefused(t *testing.T) {
	// A PNG first, with HTML in a text chunk and after IEND: a valid
	// image, so it is accepted, but nothing of the HTML is stored.
	n := start(t, attachments.Config{})
	src := attachments.WithPNGChunks(attachments.EncodePNG(t, attachments.Picture(64, 48, false)),
		attachments.PNGChunk("tEXt", []byte("Comment\x00<html><script>alert(1)</script></html>")))
	src = append(src, "<html><script>alert(document.domain)</script></html>"...)
	u := n.mustUpload(t, "alice", src)
	resp, body := get(t, n.url+u.URL)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	attachments.CheckClean(t, "served polyglot", body)
	if !bytes.HasSuffix(body, attachments.PNGChunk("IEND", nil)) {
		t.Fatal("bytes after IEND")
	}
}

// countingReader counts what is read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestManyParts(t *testing.T) {
	n := start(t, attachments.Config{})
	img := attachments.EncodePNG(t, attachments.Picture(64, 48, false))
	small := make([]part, 1000)
	for i := range small {
		small[i] = part{field: fmt.Sprintf("f%d", i), data: bytes.Repeat([]byte("x"), 100)}
	}
	tests := []struct {
		name     string
		parts    []part
		status   int
		maxRead  int
		wantCode string
	}{
		{"1,000 parts before the file", append(append([]part{}, small...), filePart("a.png", img)), 400, 4 << 10, apierr.CodeInvalidRequest},
		{"the file, then 1,000 parts", append([]part{filePart("a.png", img)}, small...), 201, len(img) + 8<<10, ""},
		{"1,000 file parts", func() []part {
			ps := make([]part, 1000)
			for i := range ps {
				ps[i] = filePart("a.png", img)
			}
			return ps
		}(), 201, len(img) + 8<<10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ct := multipartBody(t, tt.parts...)
			body := &countingReader{r: bytes.NewReader(b)}
			req := httptest.NewRequest(http.MethodPost, "/api/attachments", body)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Bearer tok-alice")
			rec := httptest.NewRecorder()
			start := time.Now()
			n.mux.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if tt.wantCode != "" && !strings.Contains(rec.Body.String(), `"`+tt.wantCode+`"`) {
				t.Fatalf("body %s", rec.Body)
			}
			t.Logf("%d-byte body: %d bytes read, %s", len(b), body.n, time.Since(start).Round(time.Millisecond))
			if body.n > tt.maxRead {
				t.Fatalf("read %d bytes of the %d-byte body, want at most %d", body.n, len(b), tt.maxRead)
			}
		})
	}
}

func TestPathLikeFileNames(t *testing.T) {
	n := start(t, attachments.Config{UploadBurst: 100})
	img := attachments.EncodePNG(t, attachments.Picture(32, 32, false))
	names := []string{
		"../../../../etc/passwd", "/etc/passwd", `..\..\windows\win.ini`, `C:\boot.ini`,
		"%2e%2e%2fsecret.png", `a"b.png`, "../\u202egnp.exe", "con.png", ".htaccess", "x.png\r\nX-Evil: 1",
	}
	// As browsers send them (HTML's multipart/form-data: '"', CR and LF
	// percent-encoded), and with an RFC 8187 filename* beside.
	browser := strings.NewReplacer(`"`, "%22", "\r", "%0D", "\n", "%0A")
	for _, name := range names {
		for _, withStar := range []bool{false, true} {
			cd := `form-data; name="file"; filename="` + browser.Replace(name) + `"`
			if withStar {
				cd += "; filename*=UTF-8''" + rfc8187(name)
			}
			t.Run(fmt.Sprintf("%q star %v", name, withStar), func(t *testing.T) {
				resp := n.upload(t, "tok-alice", part{field: "file", data: img, raw: cd})
				if resp.StatusCode != http.StatusCreated {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("%d %s", resp.StatusCode, b)
				}
				u := decodeJSON[uploaded](t, resp)
				got, _ := get(t, n.url+u.URL)
				if cd := got.Header.Get("Content-Disposition"); cd != `inline; filename="attachment-`+u.ID+`.png"` {
					t.Fatalf("Content-Disposition %q", cd)
				}
				if got.Header.Get("X-Evil") != "" {
					t.Fatal("header injected")
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				e, err := n.cl.AttachMeta().Get(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range []string{"passwd", "win.ini", "boot", "secret", "exe", "con.", "htaccess", "Evil", "filename"} {
					if strings.Contains(string(e.Value), s) {
						t.Fatalf("metadata holds %q: %s", s, e.Value)
					}
				}
			})
		}
	}
}

// rfc8187 percent-encodes everything but attr-char.
func rfc8187(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func TestRateLimit(t *testing.T) {
	n := start(t, attachments.Config{UploadsPerMinute: 1, UploadBurst: 2})
	img := attachments.EncodePNG(t, attachments.Picture(16, 16, false))
	n.mustUpload(t, "alice", img)
	n.mustUpload(t, "alice", img)
	resp := n.upload(t, "tok-alice", filePart("a.png", img))
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	expectError(t, resp, http.StatusTooManyRequests, apierr.CodeRateLimited)
	if retry < 1 || retry > 60 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	// Another user has their own bucket.
	n.mustUpload(t, "bob", img)
	// Refused before the body is looked at: even garbage gets 429.
	expectError(t, n.upload(t, "tok-alice", filePart("a.html", []byte("<html>"))), http.StatusTooManyRequests, apierr.CodeRateLimited)
}

func TestLookup(t *testing.T) {
	n := start(t, attachments.Config{})
	u := n.mustUpload(t, "alice", attachments.EncodePNG(t, attachments.Picture(50, 40, false)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := n.svc.Lookup(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := chat.FileInfo{
		Attachment: chat.Attachment{ID: u.ID, URL: u.URL, ThumbnailURL: u.ThumbnailURL, Width: 50, Height: 40, ContentType: "image/png"},
		Owner:      "u-alice", ExpiresAt: time.UnixMilli(u.ExpiresAt),
	}
	if !info.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("ExpiresAt %v, want %v", info.ExpiresAt, want.ExpiresAt)
	}
	info.ExpiresAt = want.ExpiresAt
	if info != want {
		t.Fatalf("Lookup = %+v\nwant %+v", info, want)
	}
	for _, id := range []string{"", "a00000000000000000000000000000000", "nope", "../" + u.ID, strings.ToUpper(u.ID), u.ID + ".image"} {
		_, err := n.svc.Lookup(ctx, id)
		if !errors.Is(err, attachments.ErrNotFound) || !errors.Is(err, apierr.ErrNotFound) {
			t.Errorf("Lookup(%q): %v, want ErrNotFound", id, err)
		}
	}
}

func TestServeUnknown(t *testing.T) {
	n := start(t, attachments.Config{})
	u := n.mustUpload(t, "alice", attachments.EncodePNG(t, attachments.Picture(8, 8, false)))
	for _, path := range []string{
		"/api/attachments/a00000000000000000000000000000000",
		"/api/attachments/a00000000000000000000000000000000/thumbnail",
		"/api/attachments/nope",
		"/api/attachments/" + strings.ToUpper(u.ID),
		"/api/attachments/" + u.ID + ".image",
		"/api/attachments/" + u.ID + "%2f..%2fx",
	} {
		resp, body := get(t, n.url+path)
		if resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte(`"attachment_not_found"`)) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

func TestExpiry(t *testing.T) {
	const retention = 2 * time.Second
	n := start(t, attachments.Config{Retention: retention}, func(o *cluster.Options) { o.AttachmentRetention = retention })
	u := n.mustUpload(t, "alice", attachments.EncodePNG(t, attachments.Picture(40, 30, false)))
	uploaded := time.Now()
	resp, _ := get(t, n.url+u.URL)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") > "private, max-age=2, immutable" {
		t.Fatalf("%d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	deadline := uploaded.Add(retention + 8*time.Second)
	for {
		resp, body := get(t, n.url+u.URL)
		if resp.StatusCode == http.StatusNotFound {
			if !bytes.Contains(body, []byte(`"attachment_not_found"`)) {
				t.Fatalf("404 body %s", body)
			}
			if d := time.Since(uploaded); d < retention-200*time.Millisecond {
				t.Fatalf("gone after %s, before the retention", d)
			}
			t.Logf("404 %s after the upload", time.Since(uploaded).Round(time.Millisecond))
			break
		}
		if resp.StatusCode != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("status %d %s after the upload", resp.StatusCode, time.Since(uploaded))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, _ := get(t, n.url+u.ThumbnailURL); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("thumbnail: %d", resp.StatusCode)
	}
	if _, err := n.svc.Lookup(ctx, u.ID); !errors.Is(err, attachments.ErrNotFound) {
		t.Fatalf("Lookup: %v", err)
	}
	// The store drops the entries too (not only the expiry check).
	for {
		_, metaErr := n.cl.AttachMeta().Get(ctx, u.ID)
		r, blobErr := n.cl.Attachments().Get(ctx, u.ID+".image")
		if blobErr == nil {
			r.Close()
		}
		if errors.Is(metaErr, apierr.ErrNotFound) && errors.Is(blobErr, apierr.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still stored: metadata %v, blob %v", metaErr, blobErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServedByEveryNode(t *testing.T) {
	url, _ := natstest.StartServer(t)
	var nodes []*node
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cl, err := cluster.Start(ctx, cluster.Options{NATSURL: url, Name: fmt.Sprintf("node-%d", i), Logger: natstest.Logger(t)})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cl.Close(context.Background()) })
		nodes = append(nodes, newNode(t, cl, attachments.Config{}))
	}
	img := attachments.EncodePNG(t, attachments.Picture(200, 100, false))
	u := nodes[0].mustUpload(t, "alice", img)
	_, fromA := get(t, nodes[0].url+u.URL)
	resp, fromB := get(t, nodes[1].url+u.URL)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(fromA, fromB) {
		t.Fatalf("node B: %d, %d bytes (node A %d)", resp.StatusCode, len(fromB), len(fromA))
	}
	if resp, _ := get(t, nodes[1].url+u.ThumbnailURL); resp.StatusCode != http.StatusOK {
		t.Fatalf("thumbnail through node B: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if info, err := nodes[1].svc.Lookup(ctx, u.ID); err != nil || info.Owner != "u-alice" {
		t.Fatalf("Lookup through node B: %+v, %v", info, err)
	}
}

func TestStoreUnavailable(t *testing.T) {
	url, stop := natstest.StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := cluster.Start(ctx, cluster.Options{NATSURL: url, Logger: natstest.Logger(t), RequestTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_ = cl.Close(cctx)
	})
	n := newNode(t, cl, attachments.Config{Timeout: time.Second})
	img := attachments.EncodePNG(t, attachments.Picture(16, 16, false))
	u := n.mustUpload(t, "alice", img)
	stop()
	expectError(t, n.upload(t, "tok-alice", filePart("a.png", img)), http.StatusServiceUnavailable, apierr.CodeUnavailable)
	resp, _ := get(t, n.url+u.URL)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET with NATS down: %d", resp.StatusCode)
	}
}

func TestConcurrentUploads(t *testing.T) {
	// A pixel budget of two of the images: the others wait their turn.
	n := start(t, attachments.Config{DecodePixels: 2 * 400 * 300})
	jpg := attachments.WithAPP1(attachments.EncodeJPEG(t, attachments.Picture(400, 300, false)), attachments.EXIF(8, binary.LittleEndian))
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			body, ct := multipartBody(t, filePart("a.jpg", jpg))
			req, _ := http.NewRequest(http.MethodPost, n.url+"/api/attachments", bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", fmt.Sprintf("Bearer tok-user%d", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var u uploaded
			if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&u) != nil || u.Width != 300 {
				t.Errorf("upload %d: %d %+v", i, resp.StatusCode, u)
				return
			}
			ids[i] = u.ID
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("id %q twice", id)
		}
		seen[id] = true
	}
}

func TestServeMemoryBound(t *testing.T) {
	// A budget smaller than one image: downloads go one at a time, and
	// all complete.
	n := start(t, attachments.Config{ServeMemory: 1})
	u := n.mustUpload(t, "alice", attachments.EncodePNG(t, attachments.Picture(300, 200, false)))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := http.Get(n.url + u.URL)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || err != nil || int64(len(b)) != u.Size {
				t.Errorf("GET: %d, %d bytes, %v", resp.StatusCode, len(b), err)
			}
		})
	}
	wg.Wait()
}

func TestReencodedTooLarge(t *testing.T) {
	// A 4,882-byte lossy WebP becomes an 18 KB JPEG: over twice a 5,000
	// byte limit.
	n := start(t, attachments.Config{MaxSize: 5000})
	expectError(t, n.upload(t, "tok-alice", filePart("a.webp", attachments.ReadTestdata(t, "photo.lossy.exif.webp"))),
		http.StatusRequestEntityTooLarge, apierr.CodeTooLarge)
}
