package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

const (
	indexHTML = `<!doctype html><html><head><script type="module" src="/assets/index-B1a2c3D4.js"></script></head><body><div id="root"></div></body></html>`
	appJS     = `console.log("app")`
	appCSS    = `body{margin:0}`
)

// builtFS is what `vite build` leaves in web/dist, plus the committed
// .gitkeep.
func builtFS() fstest.MapFS {
	return fstest.MapFS{
		".gitkeep":                      {},
		"index.html":                    {Data: []byte(indexHTML)},
		"favicon.svg":                   {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		"robots.txt":                    {Data: []byte("User-agent: *\n")},
		"assets/index-B1a2c3D4.js":      {Data: []byte(appJS)},
		"assets/index-Cx9_yz-1.css":     {Data: []byte(appCSS)},
		"assets/inter-latin-Ab12.woff2": {Data: []byte("wOF2")},
		"assets/logo-Zz99.png":          {Data: []byte("\x89PNG\r\n\x1a\n")},
		"assets/blob-Qq11.unknownext":   {Data: []byte("?")},
	}
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// checkSecurityHeaders asserts the headers every response carries.
func checkSecurityHeaders(t *testing.T, h http.Header, csp string) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": csp,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestHandler(t *testing.T) {
	built := New(Config{FS: builtFS()})
	notBuilt := New(Config{FS: fstest.MapFS{".gitkeep": {}}})
	noFS := New(Config{})

	type want struct {
		status      int
		contentType string // prefix match; "" = not checked
		cache       string // "" = not checked
		body        string // substring; "" = not checked
		vary        string
	}
	tests := []struct {
		name    string
		h       *Handler
		method  string
		path    string
		accept  string
		want    want
		notBody string // must not occur in the body
	}{
		{"root", built, "GET", "/", "", want{200, "text/html; charset=utf-8", "no-cache", indexHTML, ""}, ""},
		{"root from a browser", built, "GET", "/", browserAccept, want{200, "text/html; charset=utf-8", "no-cache", indexHTML, ""}, ""},
		{"index.html", built, "GET", "/index.html", browserAccept, want{200, "text/html; charset=utf-8", "no-cache", indexHTML, ""}, ""},
		{"head root", built, "HEAD", "/", browserAccept, want{200, "text/html; charset=utf-8", "no-cache", "", ""}, "<html"},
		{"hashed script", built, "GET", "/assets/index-B1a2c3D4.js", "*/*", want{200, "text/javascript; charset=utf-8", cacheImmutable, appJS, ""}, ""},
		{"hashed style", built, "GET", "/assets/index-Cx9_yz-1.css", "text/css,*/*;q=0.1", want{200, "text/css; charset=utf-8", cacheImmutable, appCSS, ""}, ""},
		{"font", built, "GET", "/assets/inter-latin-Ab12.woff2", "*/*", want{200, "font/woff2", cacheImmutable, "wOF2", ""}, ""},
		{"image", built, "GET", "/assets/logo-Zz99.png", "image/*", want{200, "image/png", cacheImmutable, "", ""}, ""},
		{"unknown extension", built, "GET", "/assets/blob-Qq11.unknownext", "*/*", want{200, "application/octet-stream", cacheImmutable, "?", ""}, ""},
		{"root file", built, "GET", "/favicon.svg", "image/*", want{200, "image/svg+xml", "no-cache", "<svg", ""}, ""},
		{"root text file", built, "GET", "/robots.txt", "", want{200, "text/plain; charset=utf-8", "no-cache", "User-agent", ""}, ""},

		{"missing asset", built, "GET", "/assets/index-00000000.js", "*/*", want{404, "text/plain", "", "", ""}, "<html"},
		{"missing asset wanted as html", built, "GET", "/assets/index-00000000.js", browserAccept, want{404, "text/plain", "", "", ""}, "<html"},
		{"missing asset without extension", built, "GET", "/assets/chunk", browserAccept, want{404, "", "", "", ""}, "<html"},
		{"assets directory", built, "GET", "/assets/", browserAccept, want{404, "", "", "", ""}, "<html"},
		{"missing root file with extension", built, "GET", "/missing.png", browserAccept, want{404, "", "", "", ""}, "<html"},
		{"hidden file", built, "GET", "/.gitkeep", "*/*", want{404, "", "", "", ""}, ""},

		{"client route", built, "GET", "/rooms/general", browserAccept, want{200, "text/html; charset=utf-8", "no-cache", indexHTML, "Accept"}, ""},
		{"client route with trailing slash", built, "GET", "/settings/", "text/html", want{200, "text/html", "no-cache", indexHTML, "Accept"}, ""},
		{"client route, text/*", built, "GET", "/rooms", "text/*", want{200, "text/html", "no-cache", indexHTML, "Accept"}, ""},
		{"client route, fetch", built, "GET", "/rooms/general", "*/*", want{404, "", "", "", "Accept"}, "<html"},
		{"client route, json", built, "GET", "/rooms/general", "application/json", want{404, "", "", "", "Accept"}, "<html"},
		{"client route, no Accept", built, "GET", "/rooms/general", "", want{404, "", "", "", "Accept"}, "<html"},
		{"client route, html refused", built, "GET", "/rooms/general", "text/html;q=0, */*", want{404, "", "", "", "Accept"}, "<html"},
		{"client route, html with quality", built, "GET", "/rooms", "application/json, text/html; q=0.5", want{200, "text/html", "", indexHTML, "Accept"}, ""},
		{"dot segments", built, "GET", "/a/../../index.html", "", want{200, "text/html", "no-cache", indexHTML, ""}, ""},

		{"post", built, "POST", "/", browserAccept, want{405, "", "", "", ""}, "<html"},
		{"put asset", built, "PUT", "/assets/index-B1a2c3D4.js", "", want{405, "", "", "", ""}, ""},

		{"not built root", notBuilt, "GET", "/", browserAccept, want{503, "text/html; charset=utf-8", "no-store", "make web", ""}, "<script"},
		{"not built head", notBuilt, "HEAD", "/", browserAccept, want{503, "text/html; charset=utf-8", "no-store", "", ""}, "<html"},
		{"not built client route", notBuilt, "GET", "/rooms/general", browserAccept, want{503, "text/html", "", "web client was not built", "Accept"}, "<script"},
		{"not built asset", notBuilt, "GET", "/assets/index-B1a2c3D4.js", "*/*", want{404, "", "", "", ""}, "<html"},
		{"not built gitkeep", notBuilt, "GET", "/.gitkeep", "*/*", want{404, "", "", "", ""}, ""},
		{"no FS", noFS, "GET", "/", "", want{503, "text/html", "", "make web", ""}, "<script"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)

			if res.StatusCode != tt.want.status {
				t.Fatalf("status %d, want %d; body %q", res.StatusCode, tt.want.status, body)
			}
			checkSecurityHeaders(t, res.Header, DefaultCSP)
			if ct := res.Header.Get("Content-Type"); tt.want.contentType != "" && !strings.HasPrefix(ct, tt.want.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, tt.want.contentType)
			}
			if cc := res.Header.Get("Cache-Control"); tt.want.cache != "" && cc != tt.want.cache {
				t.Errorf("Cache-Control %q, want %q", cc, tt.want.cache)
			}
			if res.StatusCode != 200 && res.Header.Get("Cache-Control") == cacheImmutable {
				t.Errorf("a %d answer is cached as immutable", res.StatusCode)
			}
			if tt.want.body != "" && !strings.Contains(string(body), tt.want.body) {
				t.Errorf("body %q does not contain %q", body, tt.want.body)
			}
			if tt.notBody != "" && strings.Contains(string(body), tt.notBody) {
				t.Errorf("body %q contains %q", body, tt.notBody)
			}
			if v := res.Header.Get("Vary"); v != tt.want.vary {
				t.Errorf("Vary %q, want %q", v, tt.want.vary)
			}
			if tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD answered with a body of %d bytes", len(body))
			}
			if res.StatusCode == 405 && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q, want \"GET, HEAD\"", res.Header.Get("Allow"))
			}
		})
	}
}

func TestBuilt(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want bool
	}{
		{"built", Config{FS: builtFS()}, true},
		{"only gitkeep", Config{FS: fstest.MapFS{".gitkeep": {}}}, false},
		{"empty", Config{FS: fstest.MapFS{}}, false},
		{"nil FS", Config{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.cfg).Built(); got != tt.want {
				t.Errorf("Built() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCustomCSP(t *testing.T) {
	const csp = "default-src 'self'; img-src 'self' https://example.test"
	h := New(Config{FS: builtFS(), CSP: csp})
	for _, p := range []string{"/", "/assets/index-B1a2c3D4.js", "/assets/missing.js", "/rooms"} {
		t.Run(p, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
			checkSecurityHeaders(t, rec.Result().Header, csp)
		})
	}
}

// TestConditional checks that the ETag revalidates: index.html is served
// with no-cache, so browsers ask again on every load and get a 304.
func TestConditional(t *testing.T) {
	h := New(Config{FS: builtFS()})
	tests := []struct {
		name string
		path string
	}{
		{"index", "/"},
		{"client route", "/rooms/general"},
		{"asset", "/assets/index-B1a2c3D4.js"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			get := func(inm string) *http.Response {
				req := httptest.NewRequest("GET", tt.path, nil)
				req.Header.Set("Accept", browserAccept)
				if inm != "" {
					req.Header.Set("If-None-Match", inm)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Result()
			}
			first := get("")
			etag := first.Header.Get("ETag")
			if first.StatusCode != 200 || !strings.HasPrefix(etag, `"`) {
				t.Fatalf("first answer %d with ETag %q", first.StatusCode, etag)
			}
			if again := get(etag); again.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match %s: status %d, want 304", etag, again.StatusCode)
			}
			if other := get(`"other"`); other.StatusCode != 200 {
				t.Errorf("If-None-Match for another version: status %d, want 200", other.StatusCode)
			}
		})
	}
}

func TestAcceptsHTML(t *testing.T) {
	tests := []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"*/*"}, false},
		{[]string{"application/json"}, false},
		{[]string{"text/html"}, true},
		{[]string{"TEXT/HTML"}, true},
		{[]string{"text/*;q=0.3"}, true},
		{[]string{browserAccept}, true},
		{[]string{"text/html;q=0"}, false},
		{[]string{"text/html; q=0.0, application/json"}, false},
		{[]string{"text/html;level=1;q=0.5"}, true},
		{[]string{"application/json", "text/html"}, true},
		{[]string{"text/htmlx"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.accept, "|"), func(t *testing.T) {
			if got := acceptsHTML(tt.accept); got != tt.want {
				t.Errorf("acceptsHTML(%q) = %v, want %v", tt.accept, got, tt.want)
			}
		})
	}
}
