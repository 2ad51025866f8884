// Package protocoltest drives Engine.IO and Socket.IO servers over the wire
// for tests: HTTP long-polling requests and a raw client WebSocket that
// shows exactly what the server put on the wire (control frames included),
// plus checks of the protocol's open packet and error answers. It serves
// the protocol test-mode server (package testserver) with the settings of
// the official suites (PROTOCOL-SUITES.md §1), or any http.Handler.
//
// Every helper takes the *testing.T of the test that uses it, fails that
// test on a protocol violation and bounds each wait by WaitLimit. An Env
// and a Conn belong to one test goroutine, except Env.Do, which may be
// called from any goroutine.
package protocoltest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatrooms/chatrooms/internal/testserver"
)

// The test-mode configuration the official suites expect (PROTOCOL-SUITES.md §1).
const (
	SuitePingInterval = 300 * time.Millisecond
	SuitePingTimeout  = 200 * time.Millisecond
	SuiteMaxPayload   = 1_000_000
)

// WaitLimit bounds every single wait for the server: an HTTP exchange, a
// WebSocket frame, a close. It is far above anything the protocol allows, so
// hitting it means the server did not answer, not that the machine is slow.
const WaitLimit = 3 * time.Second

// Endpoint paths of the test-mode server.
const (
	EIOPath = "/engine.io/"
	SIOPath = "/socket.io/"
)

// Endpoints are the two paths on which the Engine.IO-level behaviour is
// checked, as both official suites do.
var Endpoints = []string{EIOPath, SIOPath}

// Env is one running HTTP server under test plus an HTTP client of its own.
type Env struct {
	t      *testing.T
	Base   string // http://127.0.0.1:port
	Host   string // 127.0.0.1:port
	client *http.Client
	// The values the open packet must announce.
	PingInterval, PingTimeout time.Duration
	MaxPayload                int64
}

// StartSuite runs the protocol test-mode server with the suites' settings
// on a random port for the duration of t.
func StartSuite(t *testing.T) *Env {
	t.Helper()
	return StartTestMode(t, testserver.Config{
		PingInterval: SuitePingInterval,
		PingTimeout:  SuitePingTimeout,
		MaxPayload:   SuiteMaxPayload,
	})
}

// StartTestMode runs the test-mode server with cfg (a discarding logger
// unless cfg has one).
func StartTestMode(t *testing.T, cfg testserver.Config) *Env {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = DiscardLogger()
	}
	srv := testserver.New(cfg)
	mux := http.NewServeMux()
	srv.Register(mux)
	e := Start(t, mux, srv.Shutdown)
	e.PingInterval, e.PingTimeout, e.MaxPayload = cfg.PingInterval, cfg.PingTimeout, cfg.MaxPayload
	return e
}

// Start serves h on a random port. shutdown, if not nil, runs
// before the listener closes, so that held polls and hijacked WebSockets
// end and httptest's Close does not wait for them.
func Start(t *testing.T, h http.Handler, shutdown func(context.Context) error) *Env {
	t.Helper()
	ts := httptest.NewServer(h)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	e := &Env{
		t:      t,
		Base:   ts.URL,
		Host:   strings.TrimPrefix(ts.URL, "http://"),
		client: &http.Client{Transport: tr, Timeout: WaitLimit},
	}
	t.Cleanup(ts.Close)
	t.Cleanup(tr.CloseIdleConnections)
	if shutdown != nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
			defer cancel()
			if err := shutdown(ctx); err != nil {
				t.Errorf("server shutdown: %v", err)
			}
		})
	}
	return e
}

// DiscardLogger returns a logger that drops everything.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// URL returns the polling URL of path with query EIO=4&transport=polling
// followed by extra (which starts with "&" when not empty).
func (e *Env) URL(path, extra string) string {
	return e.Base + path + "?EIO=4&transport=polling" + extra
}

// SIDURL is URL for an existing session.
func (e *Env) SIDURL(path, sid string) string { return e.URL(path, "&sid="+sid) }

// WSURL returns the WebSocket URL of path with EIO=4&transport=websocket
// followed by extra.
func (e *Env) WSURL(path, extra string) string {
	return "ws://" + e.Host + path + "?EIO=4&transport=websocket" + extra
}

// UpgradeURL is the WebSocket URL that upgrades polling session sid.
func (e *Env) UpgradeURL(path, sid string) string { return e.WSURL(path, "&sid="+sid) }

// Response is a completed HTTP exchange.
type Response struct {
	Status int
	Body   string
	Header http.Header
}

// Do performs one HTTP request and reads the whole response. It is safe to
// call from any goroutine: it returns errors instead of failing the test.
func (e *Env) Do(method, url, body string, hdr http.Header) (Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return Response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := e.client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return Response{Status: res.StatusCode, Body: string(b), Header: res.Header}, nil
}

// Must is Do for the test goroutine: a transport error fails the test.
func (e *Env) Must(method, url, body string) Response {
	e.t.Helper()
	r, err := e.Do(method, url, body, nil)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// Get is Must for a GET request.
func (e *Env) Get(url string) Response { e.t.Helper(); return e.Must(http.MethodGet, url, "") }

// Post is Must for a POST request with a text body.
func (e *Env) Post(url, body string) Response {
	e.t.Helper()
	return e.Must(http.MethodPost, url, body)
}

// PostOK posts a payload that must be accepted with 200 "ok".
func (e *Env) PostOK(url, body string) {
	e.t.Helper()
	r := e.Post(url, body)
	if r.Status != http.StatusOK || r.Body != "ok" {
		e.t.Fatalf("POST %q: got %d %q, want 200 \"ok\"", body, r.Status, r.Body)
	}
}

// GetData polls once and returns the payload without ping packets; each
// ping it removes is answered with a pong, so a test that is slowed down
// past pingInterval still sees the bytes it is checking and keeps its
// session. The heartbeat tests use Get, which leaves pings in place.
func (e *Env) GetData(path, sid string) string {
	e.t.Helper()
	r := e.Get(e.SIDURL(path, sid))
	if r.Status != http.StatusOK {
		e.t.Fatalf("GET: status %d body %q, want 200", r.Status, r.Body)
	}
	pkts := strings.Split(r.Body, "\x1e")
	data := slices.DeleteFunc(slices.Clone(pkts), func(p string) bool { return p == "2" })
	if len(data) != len(pkts) {
		e.t.Logf("GET %q: answering the server's ping", r.Body)
		e.PostOK(e.SIDURL(path, sid), "3")
	}
	return strings.Join(data, "\x1e")
}

// OpenPacket checks a body or frame holding the open packet: "0" and a
// JSON object with exactly the five keys of PROTOCOL-SUITES.md §2 item 1,
// with the server's values. It returns the sid.
func (e *Env) OpenPacket(body string, upgrades string) string {
	t := e.t
	t.Helper()
	js, ok := strings.CutPrefix(body, "0")
	if !ok || !strings.HasPrefix(js, "{") {
		t.Fatalf("open packet %q: want \"0{...}\" (one packet, no length prefix)", body)
	}
	if strings.ContainsRune(js, '\x1e') {
		t.Fatalf("open packet %q: more than one packet", body)
	}
	obj := ExactKeys(t, js, "sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload")
	var sid string
	if err := json.Unmarshal(obj["sid"], &sid); err != nil || sid == "" {
		t.Fatalf("open packet %q: sid %s is not a non-empty string", body, obj["sid"])
	}
	want := map[string]string{
		"upgrades":     upgrades,
		"pingInterval": fmt.Sprint(e.PingInterval.Milliseconds()),
		"pingTimeout":  fmt.Sprint(e.PingTimeout.Milliseconds()),
		"maxPayload":   fmt.Sprint(e.MaxPayload),
	}
	for k, v := range want {
		if string(obj[k]) != v {
			t.Errorf("open packet %q: %s = %s, want %s", body, k, obj[k], v)
		}
	}
	return sid
}

// ExactKeys decodes a JSON object that must have exactly keys (each once)
// and returns its raw values.
func ExactKeys(t *testing.T, js string, keys ...string) map[string]json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(js))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q: not a JSON object", js)
	}
	obj := make(map[string]json.RawMessage)
	var order []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", js, err)
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: value of %q: %v", js, k, err)
		}
		if _, dup := obj[k]; dup {
			t.Fatalf("%q: duplicate key %q", js, k)
		}
		obj[k] = v
		order = append(order, k)
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("%q: %v", js, err)
	}
	if dec.More() || dec.InputOffset() != int64(len(js)) {
		t.Fatalf("%q: trailing data after the JSON object", js)
	}
	slices.Sort(order)
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(order, want) {
		t.Fatalf("%q: keys %v, want exactly %v", js, order, want)
	}
	return obj
}

// Handshake opens a polling session on path and returns its sid and the
// time just before the request was sent (the server's heartbeat clock
// starts after it).
func (e *Env) Handshake(path string) (sid string, sent time.Time) {
	e.t.Helper()
	sent = time.Now()
	r := e.Get(e.URL(path, ""))
	if r.Status != http.StatusOK {
		e.t.Fatalf("handshake: status %d body %q", r.Status, r.Body)
	}
	return e.OpenPacket(r.Body, `["websocket"]`), sent
}

// Engine.IO error codes and the messages of the reference server.
var errorMessages = map[int]string{
	0: "Transport unknown",
	1: "Session ID unknown",
	2: "Bad handshake method",
	3: "Bad request",
	4: "Forbidden",
	5: "Unsupported protocol version",
}

// WantError checks an HTTP error answer: status and the exact JSON body
// {"code":N,"message":"..."} of the reference server.
func WantError(t *testing.T, what string, r Response, status, code int) {
	t.Helper()
	want := fmt.Sprintf(`{"code":%d,"message":%q}`, code, errorMessages[code])
	if r.Status != status || r.Body != want {
		t.Errorf("%s: got %d %s, want %d %s", what, r.Status, r.Body, status, want)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
}

// Conn is a raw client WebSocket: frames are written masked, as a client
// must, and read one by one so that the tests see exactly what the server
// put on the wire, control frames included.
type Conn struct {
	t    *testing.T
	conn net.Conn
	r    io.Reader // the dialer's buffered reader while it holds data, then conn
	frag []byte    // a fragmented message being reassembled
	fop  ws.OpCode
}

// DialWS opens a WebSocket to url; the handshake must succeed (101).
func (e *Env) DialWS(url string) *Conn {
	e.t.Helper()
	c, err := e.TryDialWS(url, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// TryDialWS dials url with extra request headers and returns the error of a
// refused handshake (a ws.StatusError carries the HTTP status).
func (e *Env) TryDialWS(url string, hdr http.Header) (*Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	d := ws.Dialer{Timeout: WaitLimit}
	if hdr != nil {
		d.Header = ws.HandshakeHeaderHTTP(hdr)
	}
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { _ = conn.Close() })
	c := &Conn{t: e.t, conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	return c, nil
}

// Send writes one text message.
func (c *Conn) Send(text string) {
	c.t.Helper()
	c.Write(ws.OpText, []byte(text))
}

// SendBinary writes one binary message.
func (c *Conn) SendBinary(b []byte) {
	c.t.Helper()
	c.Write(ws.OpBinary, b)
}

// Write writes one message with opcode op, masked.
func (c *Conn) Write(op ws.OpCode, b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(WaitLimit))
	if err := wsutil.WriteClientMessage(c.conn, op, b); err != nil {
		c.t.Fatalf("websocket write: %v", err)
	}
}

// WriteFrame writes f as is, masked with a fresh key: the tests use it for
// fragments, control frames and deliberately malformed frames.
func (c *Conn) WriteFrame(f ws.Frame) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(WaitLimit))
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(f)); err != nil {
		c.t.Fatalf("websocket write frame: %v", err)
	}
}

// Event is what the client saw next on the WebSocket: a data message, a
// pong frame, or the end of the connection.
type Event struct {
	Op     ws.OpCode // OpText, OpBinary, OpPong; OpClose when closed
	Data   []byte
	Closed bool
	Code   ws.StatusCode // code of the server's close frame, 0 if it sent none
	Err    error         // read error when closed without a close frame
}

// String describes ev for test failures.
func (ev Event) String() string {
	switch {
	case ev.Closed && ev.Code != 0:
		return fmt.Sprintf("close frame %d", ev.Code)
	case ev.Closed:
		return fmt.Sprintf("connection closed (%v)", ev.Err)
	case ev.Op == ws.OpBinary:
		return fmt.Sprintf("binary %v", ev.Data)
	case ev.Op == ws.OpPong:
		return fmt.Sprintf("pong frame %q", ev.Data)
	}
	return fmt.Sprintf("text %q", ev.Data)
}

// maxFrame bounds a frame from the server under test: the suites' payloads
// stay below SuiteMaxPayload, so a longer frame is a server bug; Next
// returns it as the closing event's error instead of allocating it.
const maxFrame = 16 << 20

// readFrame reads one whole frame, as the deprecated ws.ReadFrame did, but
// refuses a payload longer than maxFrame.
func (c *Conn) readFrame() (ws.Frame, error) {
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > maxFrame {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes exceeds %d", h.Length, maxFrame)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(c.r, payload); err != nil {
		return ws.Frame{}, err
	}
	return ws.Frame{Header: h, Payload: payload}, nil
}

// Next returns the next event, waiting at most WaitLimit. Server pings
// (control frames) are answered; fragmented messages are reassembled.
func (c *Conn) Next() Event {
	c.t.Helper()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(WaitLimit))
		f, err := c.readFrame()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.t.Fatalf("no websocket frame from the server within %v", WaitLimit)
			}
			return Event{Op: ws.OpClose, Closed: true, Err: err}
		}
		if f.Header.Masked {
			c.t.Fatalf("server sent a masked frame (RFC 6455 §5.1 forbids it)")
		}
		if f.Header.Rsv != 0 {
			c.t.Fatalf("server sent a frame with RSV bits %03b", f.Header.Rsv)
		}
		switch op := f.Header.OpCode; {
		case op == ws.OpClose:
			code, _ := ws.ParseCloseFrameData(f.Payload)
			if len(f.Payload) < 2 {
				code = ws.StatusNoStatusRcvd
			}
			return Event{Op: ws.OpClose, Closed: true, Code: code}
		case op == ws.OpPing:
			c.WriteFrame(ws.NewPongFrame(f.Payload))
		case op == ws.OpPong:
			return Event{Op: ws.OpPong, Data: f.Payload}
		case op == ws.OpContinuation:
			c.frag = append(c.frag, f.Payload...)
			if f.Header.Fin {
				msg := c.frag
				c.frag = nil
				return Event{Op: c.fop, Data: msg}
			}
		case !f.Header.Fin:
			c.frag, c.fop = bytes.Clone(f.Payload), op
		default:
			return Event{Op: op, Data: f.Payload}
		}
	}
}

// NextData is Next with the Engine.IO heartbeat taken out: text "2" frames
// are answered with "3" and skipped, so a test slowed past pingInterval still
// reads the frames it checks and keeps its session. Heartbeat tests use Next.
func (c *Conn) NextData() Event {
	c.t.Helper()
	for {
		ev := c.Next()
		if !ev.Closed && ev.Op == ws.OpText && string(ev.Data) == "2" {
			c.t.Log("answering the server's ping")
			c.Send("3")
			continue
		}
		return ev
	}
}

// ExpectText reads the next data message (pings answered and skipped),
// which must be the text want.
func (c *Conn) ExpectText(want string) {
	c.t.Helper()
	if ev := c.NextData(); ev.Closed || ev.Op != ws.OpText || string(ev.Data) != want {
		c.t.Fatalf("got %v, want text %q", ev, want)
	}
}

// ExpectBinary reads the next data message, which must be the binary want.
func (c *Conn) ExpectBinary(want []byte) {
	c.t.Helper()
	if ev := c.NextData(); ev.Closed || ev.Op != ws.OpBinary || !bytes.Equal(ev.Data, want) {
		c.t.Fatalf("got %v, want binary %v", ev, want)
	}
}

// TextWithPrefix reads the next data message, which must be text starting
// with prefix, and returns the rest.
func (c *Conn) TextWithPrefix(prefix string) string {
	c.t.Helper()
	ev := c.NextData()
	rest, ok := strings.CutPrefix(string(ev.Data), prefix)
	if ev.Closed || ev.Op != ws.OpText || !ok {
		c.t.Fatalf("got %v, want text starting with %q", ev, prefix)
	}
	return rest
}

// ExpectClosed waits for the server to end the connection. Before that only
// Engine.IO pings (text "2", not answered) may arrive. If the server sent a
// close frame its code must be one of codes (any code when codes is empty).
// It returns the close event.
func (c *Conn) ExpectClosed(codes ...ws.StatusCode) Event {
	c.t.Helper()
	for {
		ev := c.Next()
		if !ev.Closed {
			if ev.Op == ws.OpText && string(ev.Data) == "2" {
				continue
			}
			c.t.Fatalf("got %v, want the connection to close", ev)
		}
		if ev.Code != 0 && len(codes) > 0 && !slices.Contains(codes, ev.Code) {
			c.t.Errorf("close frame code %d, want one of %v", ev.Code, codes)
		}
		return ev
	}
}

// OpenWS opens a WebSocket session on path and checks its open packet; it
// returns the connection and the time just before dialing.
func (e *Env) OpenWS(path string) (*Conn, time.Time) {
	e.t.Helper()
	sent := time.Now()
	c := e.DialWS(e.WSURL(path, ""))
	ev := c.Next()
	if ev.Closed || ev.Op != ws.OpText {
		e.t.Fatalf("first frame: got %v, want the open packet", ev)
	}
	e.OpenPacket(string(ev.Data), `[]`)
	return c, sent
}

// AtLeast fails the test if less than min passed since start.
func AtLeast(t *testing.T, what string, start time.Time, min time.Duration) {
	t.Helper()
	if d := time.Since(start); d < min {
		t.Errorf("%s after %v, want at least %v", what, d.Round(time.Millisecond), min)
	}
}
