package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// Defaults for the zero fields of BodyTimeouts.
const (
	// DefaultBodyWindow is how long each window lasts, the first one
	// starting with the first read of the body.
	DefaultBodyWindow = 10 * time.Second
	// DefaultBodyMinRate is the least rate, in bytes a second, a body
	// must keep over each window: 1 KiB/s, far below any real network, so
	// a body of up to 10 KiB must arrive within 10 s of the first read.
	DefaultBodyMinRate = 1 << 10
)

// ErrBodyTimeout is returned (wrapped) by the reads of a GuardBody body
// that did not keep its minimum rate, or that Abort cut.
var ErrBodyTimeout = errors.New("httpx: request body too slow")

// BodyTimeouts sets how slowly a request body may arrive: within each
// Window, at least MinRate × Window bytes, or the rest of the body. The
// zero value of a field selects its default (DefaultBodyWindow,
// DefaultBodyMinRate).
type BodyTimeouts struct {
	Window  time.Duration
	MinRate int64 // bytes a second
}

func (t BodyTimeouts) withDefaults() BodyTimeouts {
	if t.Window <= 0 {
		t.Window = DefaultBodyWindow
	}
	if t.MinRate <= 0 {
		t.MinRate = DefaultBodyMinRate
	}
	return t
}

// perWindow is how many bytes each window must bring (at least one).
func (t BodyTimeouts) perWindow() int64 {
	return max(1, int64(float64(t.MinRate)*t.Window.Seconds()))
}

// Body is a request body read under BodyTimeouts (see GuardBody). Read
// is for one goroutine at a time, as any body's; Abort may be called from
// any goroutine; Release from the handler's.
type Body struct {
	src     io.ReadCloser
	req     *http.Request
	w       http.ResponseWriter
	rc      *http.ResponseController
	t       BodyTimeouts
	hasBody bool

	mu       sync.Mutex
	started  bool  // the first read began: windows run
	owed     int64 // bytes the current window still needs
	eof      bool  // the whole body was read; no deadline is set
	aborted  bool
	cut      bool // a read failed with ErrBodyTimeout
	released bool
	noDL     bool // the ResponseWriter cannot set read deadlines
}

// GuardBody replaces r.Body with a Body enforcing t, through read
// deadlines on w's connection (http.ResponseController). The handler
// must call Release before it returns (defer body.Release()). Deadlines
// set this way replace http.Server.ReadTimeout for this request. Where w
// cannot set read deadlines (a test recorder) the body is read as is.
func GuardBody(w http.ResponseWriter, r *http.Request, t BodyTimeouts) *Body {
	b := &Body{src: r.Body, req: r, w: w, rc: http.NewResponseController(w), t: t.withDefaults()}
	if r.Body == nil || r.Body == http.NoBody {
		b.src = http.NoBody
	} else {
		b.hasBody = r.ContentLength != 0
	}
	r.Body = b
	return b
}

// Read reads from the body, failing with ErrBodyTimeout when the current
// window ends before it has brought its bytes, or once Abort was called.
func (b *Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.aborted || b.cut {
		b.cutLocked()
		b.mu.Unlock()
		return 0, fmt.Errorf("read body: %w", ErrBodyTimeout)
	}
	if !b.started && !b.released {
		b.started = true
		b.startWindowLocked(time.Now())
	}
	b.mu.Unlock()

	n, err := b.src.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.owed -= int64(n)
	switch {
	case err == nil:
		if b.owed <= 0 && !b.aborted && !b.released {
			b.startWindowLocked(time.Now())
		}
	case errors.Is(err, io.EOF):
		// All of it arrived: no deadline while the handler goes on, or
		// net/http's background read (which starts with none) would
		// fail on it and cancel the request.
		if !b.eof {
			b.eof = true
			b.setDeadlineLocked(time.Time{})
		}
	case b.aborted || errors.Is(err, os.ErrDeadlineExceeded):
		b.cutLocked()
		err = fmt.Errorf("read body: %w: %w", ErrBodyTimeout, err)
	}
	return n, err
}

// cutLocked marks the body cut. The answer then closes the connection:
// net/http would otherwise try to read the rest of the body first, to
// keep the connection for another request.
func (b *Body) cutLocked() {
	if !b.cut {
		b.cut = true
		b.w.Header().Set("Connection", "close")
	}
}

// Close closes the underlying body.
func (b *Body) Close() error { return b.src.Close() }

// Abort makes the pending read, if any, and every later one fail with
// ErrBodyTimeout; the connection is closed once the handler returns. A
// no-op once the body was read to its end, and after Release.
func (b *Body) Abort() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released || b.aborted || b.eof {
		return
	}
	b.aborted = true
	b.setDeadlineLocked(time.Now())
}

// Release ends the guard: it puts the original body back in the request
// and leaves the connection's read deadline as net/http should find it
// when the handler returns: none once the body was read to its end; in
// the past once it was cut or aborted (nothing more is read from the
// connection, which closes); otherwise one window from now, the time
// net/http has to read the rest of the body (it reads up to 256 KiB of
// it to reuse the connection) before the connection closes. Call it
// before the handler returns, and read no more after it. Idempotent.
func (b *Body) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return
	}
	b.released = true
	b.req.Body = b.src
	if b.hasBody && !b.eof && !b.cut && !b.aborted {
		b.setDeadlineLocked(time.Now().Add(b.t.Window))
	}
}

// startWindowLocked starts a window at now.
func (b *Body) startWindowLocked(now time.Time) {
	b.owed = b.t.perWindow()
	b.setDeadlineLocked(now.Add(b.t.Window))
}

func (b *Body) setDeadlineLocked(t time.Time) {
	if b.noDL {
		return
	}
	if err := b.rc.SetReadDeadline(t); err != nil {
		b.noDL = true // http.ErrNotSupported: read as is
	}
}
