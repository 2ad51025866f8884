package webui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// DefaultCSP is the Content-Security-Policy used when Config.CSP is empty:
// everything from the origin only (no inline script or style, no eval;
// 'self' covers the same-origin WebSocket), images also from blob: URLs
// (previews of attachments), nothing may frame the page.
const DefaultCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"frame-ancestors 'none'; form-action 'self'"

const (
	indexName = "index.html"
	assetsDir = "assets/"

	cacheImmutable = "public, max-age=31536000, immutable"
	cacheRevalid   = "no-cache"
)

// Config configures a Handler. With a zero Config the handler has no
// files: pages get the "not built" 503 and everything else a 404.
type Config struct {
	// FS holds the built client: index.html at its root, hashed files
	// under assets/. It must not change once New has read it.
	FS fs.FS
	// CSP is the Content-Security-Policy sent with every response;
	// empty means DefaultCSP.
	CSP string
	// Logger receives read errors; nil discards them.
	Logger *slog.Logger
}

// Handler serves the web client. Build it with New; it is safe for
// concurrent use.
type Handler struct {
	fsys   fs.FS
	csp    string
	log    *slog.Logger
	etags  map[string]string // file name → strong ETag of its content
	hasIdx bool
}

var _ http.Handler = (*Handler)(nil)

// New reads cfg.FS once (to compute an ETag for each file and to find out
// whether index.html exists) and returns the handler.
func New(cfg Config) *Handler {
	h := &Handler{fsys: cfg.FS, csp: cfg.CSP, log: cfg.Logger, etags: map[string]string{}}
	if h.csp == "" {
		h.csp = DefaultCSP
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.fsys == nil {
		return h
	}
	err := fs.WalkDir(h.fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || hidden(name) {
			return err
		}
		data, err := fs.ReadFile(h.fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		h.etags[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	if err != nil {
		h.log.Warn("read web client files", "err", err)
	}
	_, h.hasIdx = h.etags[indexName]
	return h
}

// Built reports whether the FS holds the client's index.html.
func (h *Handler) Built() bool { return h.hasIdx }

// ServeHTTP serves GET and HEAD requests; other methods get 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	switch {
	case name == "" || name == indexName:
		h.serveIndex(w, r)
	case h.etags[name] != "":
		cache := cacheRevalid
		if strings.HasPrefix(name, assetsDir) {
			cache = cacheImmutable
		}
		h.serveFile(w, r, name, cache)
	case name+"/" == assetsDir || strings.HasPrefix(name, assetsDir) || path.Ext(name) != "":
		// A missing bundle or file: never answer it with HTML, which the
		// browser would then try to run or render as the wrong type.
		h.notFound(w)
	default:
		// A path the client routes itself, or a mistyped one: only a
		// navigation (a request that wants HTML) gets the application.
		hdr.Add("Vary", "Accept")
		if !acceptsHTML(r.Header.Values("Accept")) {
			h.notFound(w)
			return
		}
		h.serveIndex(w, r)
	}
}

func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	if !h.hasIdx {
		serveNotBuilt(w, r)
		return
	}
	h.serveFile(w, r, indexName, cacheRevalid)
}

// serveFile serves one regular file of the FS with its ETag; ServeContent
// answers conditional and range requests.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name, cache string) {
	content, err := h.open(name)
	if err != nil {
		h.log.Error("open web client file", "file", name, "err", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	if c, ok := content.(io.Closer); ok {
		defer c.Close()
	}
	hdr := w.Header()
	hdr.Set("Content-Type", contentType(name))
	hdr.Set("Cache-Control", cache)
	hdr.Set("ETag", h.etags[name])
	// No modification time: embedded files have none, and the ETag is
	// the validator.
	http.ServeContent(w, r, name, time.Time{}, content)
}

// open returns the file's content as a ReadSeeker (reading it into memory
// when the FS's files cannot seek).
func (h *Handler) open(name string) (io.ReadSeeker, error) {
	f, err := h.fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if rs, ok := f.(io.ReadSeeker); ok {
		return rs, nil
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return bytes.NewReader(data), nil
}

func (h *Handler) notFound(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", cacheRevalid)
	http.Error(w, "404 page not found", http.StatusNotFound)
}

// notBuiltPage explains a missing client; it carries no script.
const notBuiltPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ChatRooms: web client not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{background:#eee;padding:.1em .3em}</style>
</head>
<body>
<h1>The web client was not built</h1>
<p>This server binary was built without the web client, so there is no page to show.
The chat service itself is running: its API is under <code>/api</code> and Socket.IO under <code>/socket.io/</code>.</p>
<p>To build the client (needs Node.js and npm) and a server that serves it, run:</p>
<pre><code>make web
make build</code></pre>
<p>or simply <code>make run</code>, which does both and starts the server.</p>
</body>
</html>
`

func serveNotBuilt(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(notBuiltPage)))
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, notBuiltPage)
	}
}

// hidden reports whether a path has a segment starting with a dot (such
// as dist/.gitkeep); those are never served.
func hidden(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") && seg != "." {
			return true
		}
	}
	return false
}

// contentTypes are the types of what a Vite build emits, fixed here so the
// answer does not depend on the host's mime.types (nosniff makes a wrong
// type fatal for scripts and styles).
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/x-icon",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".otf":         "font/otf",
	".wasm":        "application/wasm",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// acceptsHTML reports whether an Accept header lists text/html (or
// text/*) with a non-zero quality. "*/*" alone does not count: fetch()
// and API clients send it, and they should get a 404, not the app.
func acceptsHTML(values []string) bool {
	for _, v := range values {
		for _, rng := range strings.Split(v, ",") {
			mt, params, _ := strings.Cut(rng, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			if mt != "text/html" && mt != "text/*" {
				continue
			}
			if q, ok := quality(params); ok && q == 0 {
				continue
			}
			return true
		}
	}
	return false
}

// quality returns the q parameter of a media range's parameters.
func quality(params string) (float64, bool) {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, false
			}
			return q, true
		}
	}
	return 0, false
}
