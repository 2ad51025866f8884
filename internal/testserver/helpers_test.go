package testserver_test

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
	pingInterval = 300 * time.Millisecond
	pingTimeout  = 200 * time.Millisecond
	maxPayload   = 1_000_000
)

// waitLimit bounds every single wait for the server: an HTTP exchange, a
// WebSocket frame, a close. It is far above anything the protocol allows, so
// hitting it means the server did not answer, not that the machine is slow.
const waitLimit = 3 * time.Second

// Endpoint paths of the test-mode server.
const (
	eioPath = "/engine.io/"
	sioPath = "/socket.io/"
)

// endpoints are the two paths on which the Engine.IO-level behaviour is
// checked, as both official suites do.
var endpoints = []string{eioPath, sioPath}

// env is one running HTTP server under test plus an HTTP client of its own.
type env struct {
	t      *testing.T
	base   string // http://127.0.0.1:port
	host   string // 127.0.0.1:port
	client *http.Client
	// The values the open packet must announce.
	pingInterval, pingTimeout time.Duration
	maxPayload                int64
}

// startServer runs the protocol test-mode server with the suites' settings
// on a random port for the duration of t.
func startServer(t *testing.T) *env {
	t.Helper()
	return startTestServer(t, testserver.Config{
		PingInterval: pingInterval,
		PingTimeout:  pingTimeout,
		MaxPayload:   maxPayload,
	})
}

// startTestServer runs the test-mode server with cfg (a discarding logger
// unless cfg has one).
func startTestServer(t *testing.T, cfg testserver.Config) *env {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	srv := testserver.New(cfg)
	mux := http.NewServeMux()
	srv.Register(mux)
	e := startHandler(t, mux, srv.Shutdown)
	e.pingInterval, e.pingTimeout, e.maxPayload = cfg.PingInterval, cfg.PingTimeout, cfg.MaxPayload
	return e
}

// startHandler serves h on a random port. shutdown, if not nil, runs
// before the listener closes, so that held polls and hijacked WebSockets
// end and httptest's Close does not wait for them.
func startHandler(t *testing.T, h http.Handler, shutdown func(context.Context) error) *env {
	t.Helper()
	ts := httptest.NewServer(h)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	e := &env{
		t:      t,
		base:   ts.URL,
		host:   strings.TrimPrefix(ts.URL, "http://"),
		client: &http.Client{Transport: tr, Timeout: waitLimit},
	}
	t.Cleanup(ts.Close)
	t.Cleanup(tr.CloseIdleConnections)
	if shutdown != nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := shutdown(ctx); err != nil {
				t.Errorf("server shutdown: %v", err)
			}
		})
	}
	return e
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// url returns the polling URL of path with query EIO=4&transport=polling
// followed by extra (which starts with "&" when not empty).
func (e *env) url(path, extra string) string {
	return e.base + path + "?EIO=4&transport=polling" + extra
}

// sidURL is url for an existing session.
func (e *env) sidURL(path, sid string) string { return e.url(path, "&sid="+sid) }

// wsURL returns the WebSocket URL of path with EIO=4&transport=websocket
// followed by extra.
func (e *env) wsURL(path, extra string) string {
	return "ws://" + e.host + path + "?EIO=4&transport=websocket" + extra
}

// response is a completed HTTP exchange.
type response struct {
	status int
	body   string
	header http.Header
}

// do performs one HTTP request and reads the whole response. It is safe to
// call from any goroutine: it returns errors instead of failing the test.
func (e *env) do(method, url, body string, hdr http.Header) (response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return response{status: res.StatusCode, body: string(b), header: res.Header}, nil
}

// must is do for the test goroutine: a transport error fails the test.
func (e *env) must(method, url, body string) response {
	e.t.Helper()
	r, err := e.do(method, url, body, nil)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

func (e *env) get(url string) response { e.t.Helper(); return e.must(http.MethodGet, url, "") }

func (e *env) post(url, body string) response {
	e.t.Helper()
	return e.must(http.MethodPost, url, body)
}

// postOK posts a payload that must be accepted with 200 "ok".
func (e *env) postOK(url, body string) {
	e.t.Helper()
	r := e.post(url, body)
	if r.status != http.StatusOK || r.body != "ok" {
		e.t.Fatalf("POST %q: got %d %q, want 200 \"ok\"", body, r.status, r.body)
	}
}

// getData polls once and returns the payload without ping packets; each
// ping it removes is answered with a pong, so a test that is slowed down
// past pingInterval still sees the bytes it is checking and keeps its
// session. The heartbeat tests use get, which leaves pings in place.
func (e *env) getData(path, sid string) string {
	e.t.Helper()
	r := e.get(e.sidURL(path, sid))
	if r.status != http.StatusOK {
		e.t.Fatalf("GET: status %d body %q, want 200", r.status, r.body)
	}
	pkts := strings.Split(r.body, "\x1e")
	data := slices.DeleteFunc(slices.Clone(pkts), func(p string) bool { return p == "2" })
	if len(data) != len(pkts) {
		e.t.Logf("GET %q: answering the server's ping", r.body)
		e.postOK(e.sidURL(path, sid), "3")
	}
	return strings.Join(data, "\x1e")
}

// openPacket checks a body or frame holding the open packet: "0" and a
// JSON object with exactly the five keys of PROTOCOL-SUITES.md §2 item 1,
// with the server's values. It returns the sid.
func (e *env) openPacket(body string, upgrades string) string {
	t := e.t
	t.Helper()
	js, ok := strings.CutPrefix(body, "0")
	if !ok || !strings.HasPrefix(js, "{") {
		t.Fatalf("open packet %q: want \"0{...}\" (one packet, no length prefix)", body)
	}
	if strings.ContainsRune(js, '\x1e') {
		t.Fatalf("open packet %q: more than one packet", body)
	}
	obj := exactKeys(t, js, "sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload")
	var sid string
	if err := json.Unmarshal(obj["sid"], &sid); err != nil || sid == "" {
		t.Fatalf("open packet %q: sid %s is not a non-empty string", body, obj["sid"])
	}
	want := map[string]string{
		"upgrades":     upgrades,
		"pingInterval": fmt.Sprint(e.pingInterval.Milliseconds()),
		"pingTimeout":  fmt.Sprint(e.pingTimeout.Milliseconds()),
		"maxPayload":   fmt.Sprint(e.maxPayload),
	}
	for k, v := range want {
		if string(obj[k]) != v {
			t.Errorf("open packet %q: %s = %s, want %s", body, k, obj[k], v)
		}
	}
	return sid
}

// exactKeys decodes a JSON object that must have exactly keys (each once)
// and returns its raw values.
func exactKeys(t *testing.T, js string, keys ...string) map[string]json.RawMessage {
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

// handshake opens a polling session on path and returns its sid and the
// time just before the request was sent (the server's heartbeat clock
// starts after it).
func (e *env) handshake(path string) (sid string, sent time.Time) {
	e.t.Helper()
	sent = time.Now()
	r := e.get(e.url(path, ""))
	if r.status != http.StatusOK {
		e.t.Fatalf("handshake: status %d body %q", r.status, r.body)
	}
	return e.openPacket(r.body, `["websocket"]`), sent
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

// wantError checks an HTTP error answer: status and the exact JSON body
// {"code":N,"message":"..."} of the reference server.
func wantError(t *testing.T, what string, r response, status, code int) {
	t.Helper()
	want := fmt.Sprintf(`{"code":%d,"message":%q}`, code, errorMessages[code])
	if r.status != status || r.body != want {
		t.Errorf("%s: got %d %s, want %d %s", what, r.status, r.body, status, want)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
}

// wsConn is a raw client WebSocket: frames are written masked, as a client
// must, and read one by one so that the tests see exactly what the server
// put on the wire, control frames included.
type wsConn struct {
	t    *testing.T
	conn net.Conn
	r    io.Reader // the dialer's buffered reader while it holds data, then conn
	frag []byte    // a fragmented message being reassembled
	fop  ws.OpCode
}

// dialWS opens a WebSocket to url; the handshake must succeed (101).
func (e *env) dialWS(url string) *wsConn {
	e.t.Helper()
	c, err := e.tryDialWS(url, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// tryDialWS dials url with extra request headers and returns the error of a
// refused handshake (a ws.StatusError carries the HTTP status).
func (e *env) tryDialWS(url string, hdr http.Header) (*wsConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	d := ws.Dialer{Timeout: waitLimit}
	if hdr != nil {
		d.Header = ws.HandshakeHeaderHTTP(hdr)
	}
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { _ = conn.Close() })
	c := &wsConn{t: e.t, conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	return c, nil
}

// send writes one text message.
func (c *wsConn) send(text string) {
	c.t.Helper()
	c.write(ws.OpText, []byte(text))
}

// sendBinary writes one binary message.
func (c *wsConn) sendBinary(b []byte) {
	c.t.Helper()
	c.write(ws.OpBinary, b)
}

func (c *wsConn) write(op ws.OpCode, b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitLimit))
	if err := wsutil.WriteClientMessage(c.conn, op, b); err != nil {
		c.t.Fatalf("websocket write: %v", err)
	}
}

// writeFrame writes f as is, masked with a fresh key: the tests use it for
// fragments, control frames and deliberately malformed frames.
func (c *wsConn) writeFrame(f ws.Frame) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitLimit))
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(f)); err != nil {
		c.t.Fatalf("websocket write frame: %v", err)
	}
}

// event is what the client saw next on the WebSocket: a data message, a
// pong frame, or the end of the connection.
type event struct {
	op     ws.OpCode // OpText, OpBinary, OpPong; OpClose when closed
	data   []byte
	closed bool
	code   ws.StatusCode // code of the server's close frame, 0 if it sent none
	err    error         // read error when closed without a close frame
}

func (ev event) String() string {
	switch {
	case ev.closed && ev.code != 0:
		return fmt.Sprintf("close frame %d", ev.code)
	case ev.closed:
		return fmt.Sprintf("connection closed (%v)", ev.err)
	case ev.op == ws.OpBinary:
		return fmt.Sprintf("binary %v", ev.data)
	case ev.op == ws.OpPong:
		return fmt.Sprintf("pong frame %q", ev.data)
	}
	return fmt.Sprintf("text %q", ev.data)
}

// next returns the next event, waiting at most waitLimit. Server pings
// (control frames) are answered; fragmented messages are reassembled.
func (c *wsConn) next() event {
	c.t.Helper()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(waitLimit))
		f, err := ws.ReadFrame(c.r)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.t.Fatalf("no websocket frame from the server within %v", waitLimit)
			}
			return event{op: ws.OpClose, closed: true, err: err}
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
			return event{op: ws.OpClose, closed: true, code: code}
		case op == ws.OpPing:
			c.writeFrame(ws.NewPongFrame(f.Payload))
		case op == ws.OpPong:
			return event{op: ws.OpPong, data: f.Payload}
		case op == ws.OpContinuation:
			c.frag = append(c.frag, f.Payload...)
			if f.Header.Fin {
				msg := c.frag
				c.frag = nil
				return event{op: c.fop, data: msg}
			}
		case !f.Header.Fin:
			c.frag, c.fop = bytes.Clone(f.Payload), op
		default:
			return event{op: op, data: f.Payload}
		}
	}
}

// nextData is next with the Engine.IO heartbeat taken out: text "2" frames
// are answered with "3" and skipped, so a test slowed past pingInterval still
// reads the frames it checks and keeps its session. Heartbeat tests use next.
func (c *wsConn) nextData() event {
	c.t.Helper()
	for {
		ev := c.next()
		if !ev.closed && ev.op == ws.OpText && string(ev.data) == "2" {
			c.t.Log("answering the server's ping")
			c.send("3")
			continue
		}
		return ev
	}
}

// expectText reads the next data message (pings answered and skipped),
// which must be the text want.
func (c *wsConn) expectText(want string) {
	c.t.Helper()
	if ev := c.nextData(); ev.closed || ev.op != ws.OpText || string(ev.data) != want {
		c.t.Fatalf("got %v, want text %q", ev, want)
	}
}

// expectBinary reads the next data message, which must be the binary want.
func (c *wsConn) expectBinary(want []byte) {
	c.t.Helper()
	if ev := c.nextData(); ev.closed || ev.op != ws.OpBinary || !bytes.Equal(ev.data, want) {
		c.t.Fatalf("got %v, want binary %v", ev, want)
	}
}

// textWithPrefix reads the next data message, which must be text starting
// with prefix, and returns the rest.
func (c *wsConn) textWithPrefix(prefix string) string {
	c.t.Helper()
	ev := c.nextData()
	rest, ok := strings.CutPrefix(string(ev.data), prefix)
	if ev.closed || ev.op != ws.OpText || !ok {
		c.t.Fatalf("got %v, want text starting with %q", ev, prefix)
	}
	return rest
}

// expectClosed waits for the server to end the connection. Before that only
// Engine.IO pings (text "2", not answered) may arrive. If the server sent a
// close frame its code must be one of codes (any code when codes is empty).
// It returns the close event.
func (c *wsConn) expectClosed(codes ...ws.StatusCode) event {
	c.t.Helper()
	for {
		ev := c.next()
		if !ev.closed {
			if ev.op == ws.OpText && string(ev.data) == "2" {
				continue
			}
			c.t.Fatalf("got %v, want the connection to close", ev)
		}
		if ev.code != 0 && len(codes) > 0 && !slices.Contains(codes, ev.code) {
			c.t.Errorf("close frame code %d, want one of %v", ev.code, codes)
		}
		return ev
	}
}

// openWS opens a WebSocket session on path and checks its open packet; it
// returns the connection and the time just before dialing.
func (e *env) openWS(path string) (*wsConn, time.Time) {
	e.t.Helper()
	sent := time.Now()
	c := e.dialWS(e.wsURL(path, ""))
	ev := c.next()
	if ev.closed || ev.op != ws.OpText {
		e.t.Fatalf("first frame: got %v, want the open packet", ev)
	}
	e.openPacket(string(ev.data), `[]`)
	return c, sent
}

// atLeast fails the test if less than min passed since start.
func atLeast(t *testing.T, what string, start time.Time, min time.Duration) {
	t.Helper()
	if d := time.Since(start); d < min {
		t.Errorf("%s after %v, want at least %v", what, d.Round(time.Millisecond), min)
	}
}
