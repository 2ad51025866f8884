package testserver_test

// Wire-level checks of the Engine.IO behaviour of PROTOCOL-SUITES.md §2
// (items 1–20), so that CI checks what the official engine.io-protocol and
// socket.io-protocol suites check, plus protocol requirements the suites do
// not cover (origin check, CORS preflight, maxPayload, WebSocket framing).
//
// Timing: the server pings every 300 ms and gives up 200 ms after a ping.
// Lower bounds on timings are measured from just before the request that
// starts the server's clock, so causality guarantees them; waits are bounded
// by waitLimit. Tests that do not check the heartbeat answer pings they come
// across (getData, nextData), so a slow machine cannot make them fail.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/testserver"
)

// forEndpoint runs fn as a subtest for /engine.io/ and /socket.io/, each
// against a fresh server.
func forEndpoint(t *testing.T, fn func(t *testing.T, e *env, path string)) {
	t.Helper()
	for _, path := range endpoints {
		t.Run(strings.Trim(path, "/"), func(t *testing.T) {
			fn(t, startServer(t), path)
		})
	}
}

// roundTrip proves that c carries the session: on /engine.io/ the echo of a
// message, on /socket.io/ a Socket.IO CONNECT and its reply.
func roundTrip(t *testing.T, c *wsConn, path string) {
	t.Helper()
	if path == eioPath {
		c.send("4hello")
		c.expectText("4hello")
		return
	}
	c.send("40")
	exactKeys(t, c.textWithPrefix("40"), "sid")
	c.expectText(`42["auth",{}]`)
}

// Item 1.
func TestEIO01PollingHandshake(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		r := e.get(e.url(path, ""))
		if r.status != http.StatusOK {
			t.Fatalf("status %d body %q, want 200", r.status, r.body)
		}
		e.openPacket(r.body, `["websocket"]`)
	})
}

// Item 2.
func TestEIO02InvalidEIO(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		for _, q := range []string{"?transport=polling", "?EIO=abc&transport=polling", "?EIO=3&transport=polling"} {
			wantError(t, "GET "+q, e.get(e.base+path+q), http.StatusBadRequest, 5)
		}
	})
}

// Item 3.
func TestEIO03InvalidTransport(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		for _, q := range []string{"?EIO=4", "?EIO=4&transport=abc"} {
			wantError(t, "GET "+q, e.get(e.base+path+q), http.StatusBadRequest, 0)
		}
	})
}

// Item 4.
func TestEIO04BadHandshakeMethod(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		for _, m := range []string{http.MethodPost, http.MethodPut} {
			wantError(t, m, e.must(m, e.url(path, ""), ""), http.StatusBadRequest, 2)
		}
	})
}

// Item 5.
func TestEIO05WebSocketHandshake(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		e.openWS(path) // checks the open packet, with "upgrades":[]
	})
}

// Item 6: a WebSocket with a bad or missing EIO or transport is refused
// with HTTP 400 before upgrading; unknown query parameters are ignored.
func TestEIO06WebSocketInvalidQuery(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		for _, q := range []string{
			"?transport=websocket", "?EIO=abc&transport=websocket",
			"?EIO=4", "?EIO=4&transport=abc",
		} {
			c, err := e.tryDialWS("ws://"+e.host+path+q, nil)
			if c != nil {
				t.Errorf("%s: upgraded, want HTTP 400", q)
				continue
			}
			var se ws.StatusError
			if !errors.As(err, &se) || int(se) != http.StatusBadRequest {
				t.Errorf("%s: dial error %v, want HTTP 400", q, err)
			}
		}
		c := e.dialWS(e.wsURL(path, "&t=burst"))
		ev := c.next()
		if ev.closed || !strings.HasPrefix(string(ev.data), "0{") {
			t.Fatalf("with &t=burst: got %v, want the open packet", ev)
		}
		e.openPacket(string(ev.data), `[]`)
	})
}

// Item 7.
func TestEIO07PollingTextMessage(t *testing.T) {
	e := startServer(t)
	sid, _ := e.handshake(eioPath)
	e.postOK(e.sidURL(eioPath, sid), "4hello")
	if got := e.getData(eioPath, sid); got != "4hello" {
		t.Fatalf("GET: %q, want %q", got, "4hello")
	}
}

// Item 8.
func TestEIO08PollingSeveralPackets(t *testing.T) {
	e := startServer(t)
	sid, _ := e.handshake(eioPath)
	const payload = "4test1\x1e4test2\x1e4test3"
	e.postOK(e.sidURL(eioPath, sid), payload)
	if got := e.getData(eioPath, sid); got != payload {
		t.Fatalf("GET: %q, want %q", got, payload)
	}
}

// Item 9.
func TestEIO09PollingBinary(t *testing.T) {
	e := startServer(t)
	sid, _ := e.handshake(eioPath)
	const payload = "4hello\x1ebAQIDBA=="
	e.postOK(e.sidURL(eioPath, sid), payload)
	if got := e.getData(eioPath, sid); got != payload {
		t.Fatalf("GET: %q, want %q", got, payload)
	}
}

// Item 10. The suite does not enforce the POST's status (the reference
// answers "ok"); this server answers 400, which the test accepts too.
func TestEIO10PollingInvalidPacket(t *testing.T) {
	e := startServer(t)
	sid, _ := e.handshake(eioPath)
	r := e.post(e.sidURL(eioPath, sid), "abc")
	if r.status != http.StatusOK && r.status != http.StatusBadRequest {
		t.Errorf("POST \"abc\": status %d, want 200 or 400", r.status)
	}
	wantError(t, "GET after invalid packet", e.get(e.sidURL(eioPath, sid)), http.StatusBadRequest, 1)
}

// Item 11. The test cannot see in which order the two GETs reach the
// server, so it requires one of them to get the close packet and the other
// a 400 or 500, rather than guessing which.
func TestEIO11OverlappingPolls(t *testing.T) {
	e := startServer(t)
	sid, _ := e.handshake(eioPath)
	type result struct {
		r   response
		err error
	}
	first := make(chan result, 1)
	go func() {
		r, err := e.do(http.MethodGet, e.sidURL(eioPath, sid), "", nil)
		first <- result{r, err}
	}()
	time.Sleep(50 * time.Millisecond) // the suite waits 5 ms; more makes the order near certain
	r2, err := e.do(http.MethodGet, e.url(eioPath, "&sid="+sid+"&t=burst"), "", nil)
	if err != nil {
		t.Fatalf("second GET: %v", err)
	}
	res := <-first
	if res.err != nil {
		t.Fatalf("first GET: %v", res.err)
	}
	r1 := res.r
	if r1.status != http.StatusOK {
		r1, r2 = r2, r1
		t.Log("the second GET reached the server first")
	}
	if r1.status != http.StatusOK || r1.body != "1" {
		t.Errorf("held GET: %d %q, want 200 \"1\" (close packet)", r1.status, r1.body)
	}
	if r2.status != http.StatusBadRequest && r2.status != http.StatusInternalServerError {
		t.Errorf("overlapping GET: %d %q, want 400 or 500", r2.status, r2.body)
	}
	wantError(t, "GET after the overlap", e.get(e.sidURL(eioPath, sid)), http.StatusBadRequest, 1)
}

// Item 12.
func TestEIO12WebSocketMessages(t *testing.T) {
	e := startServer(t)
	t.Run("text", func(t *testing.T) {
		c, _ := e.openWS(eioPath)
		c.send("4hello")
		c.expectText("4hello")
	})
	t.Run("binary", func(t *testing.T) {
		c, _ := e.openWS(eioPath)
		c.sendBinary([]byte{1, 2, 3, 4})
		c.expectBinary([]byte{1, 2, 3, 4})
	})
	t.Run("invalid", func(t *testing.T) {
		c, _ := e.openWS(eioPath)
		c.send("abc")
		c.expectClosed()
	})
}

// Item 13: a GET with nothing queued is held until the ping; the next ping
// comes pingInterval after the pong. On /socket.io/ a session without a
// Socket.IO CONNECT is closed after connectTimeout (1 s), as the reference
// does; three ping cycles take at least 900 ms and timers run late on a
// loaded machine, so there the CONNECT comes after the first cycle (which
// shows that nothing but the ping is sent before it).
func TestEIO13PollingHeartbeat(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		sid, start := e.handshake(path)
		for i := range 3 {
			if i == 1 && path == sioPath {
				e.postOK(e.sidURL(path, sid), "40")
				got := e.getData(path, sid)
				js, ok := strings.CutPrefix(got, "40")
				js, auth, ok2 := strings.Cut(js, "\x1e")
				if !ok || !ok2 || auth != `42["auth",{}]` {
					t.Fatalf("after CONNECT: GET %q, want 40{\"sid\":...}\\x1e42[\"auth\",{}]", got)
				}
				exactKeys(t, js, "sid")
			}
			r := e.get(e.sidURL(path, sid))
			if r.status != http.StatusOK || r.body != "2" {
				t.Fatalf("poll %d: %d %q, want 200 \"2\"", i+1, r.status, r.body)
			}
			atLeast(t, "ping", start, pingInterval-50*time.Millisecond)
			start = time.Now()
			r = e.post(e.sidURL(path, sid), "3")
			if r.status != http.StatusOK {
				t.Fatalf("pong %d: status %d, want 200", i+1, r.status)
			}
		}
	})
}

// Item 14: no pong for pingInterval+pingTimeout after the handshake and the
// session is gone. The GET is sent 550 ms after the handshake request
// started, 50 ms after the session must have died.
func TestEIO14PollingPingTimeout(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		sid, start := e.handshake(path)
		time.Sleep(time.Until(start.Add(pingInterval + pingTimeout + 50*time.Millisecond)))
		wantError(t, "GET after ping timeout", e.get(e.sidURL(path, sid)), http.StatusBadRequest, 1)
	})
}

// Item 15. On /socket.io/ the CONNECT comes after the first ping, for the
// reason given at TestEIO13PollingHeartbeat.
func TestEIO15WebSocketHeartbeat(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		t.Run("ping-pong", func(t *testing.T) {
			c, start := e.openWS(path)
			for i := range 3 {
				if i == 1 && path == sioPath {
					c.send("40")
					exactKeys(t, c.textWithPrefix("40"), "sid")
					c.expectText(`42["auth",{}]`)
				}
				if ev := c.next(); ev.closed || ev.op != ws.OpText || string(ev.data) != "2" {
					t.Fatalf("frame %d: got %v, want ping \"2\"", i+1, ev)
				}
				atLeast(t, "ping", start, pingInterval-50*time.Millisecond)
				start = time.Now()
				c.send("3")
			}
		})
		t.Run("timeout", func(t *testing.T) {
			c, start := e.openWS(path)
			if ev := c.next(); ev.closed || ev.op != ws.OpText || string(ev.data) != "2" {
				t.Fatalf("got %v, want ping \"2\"", ev)
			}
			atLeast(t, "ping", start, pingInterval-50*time.Millisecond)
			c.expectClosed()
			atLeast(t, "close", start, pingInterval+pingTimeout-50*time.Millisecond)
		})
	})
}

// Item 16: a close packet posted while a GET is held releases it with a
// noop, and the session is gone.
func TestEIO16PollingClose(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		sid, _ := e.handshake(path)
		held := make(chan response, 1)
		errc := make(chan error, 1)
		go func() {
			r, err := e.do(http.MethodGet, e.sidURL(path, sid), "", nil)
			errc <- err
			held <- r
		}()
		time.Sleep(50 * time.Millisecond) // let the GET be held
		if _, err := e.do(http.MethodPost, e.sidURL(path, sid), "1", nil); err != nil {
			t.Logf("POST \"1\": %v (not checked)", err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("held GET: %v", err)
		}
		if r := <-held; r.status != http.StatusOK || r.body != "6" {
			t.Fatalf("held GET: %d %q, want 200 \"6\" (noop)", r.status, r.body)
		}
		wantError(t, "GET after close", e.get(e.sidURL(path, sid)), http.StatusBadRequest, 1)
	})
}

// Item 17: "1" over WebSocket closes it; the suite allows 2 s.
func TestEIO17WebSocketClose(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		c, _ := e.openWS(path)
		start := time.Now()
		c.send("1")
		c.expectClosed(ws.StatusNormalClosure, ws.StatusGoingAway)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("closed after %v, want within 2s", d)
		}
	})
}

// upgradeURL is the WebSocket URL that upgrades polling session sid.
func (e *env) upgradeURL(path, sid string) string { return e.wsURL(path, "&sid="+sid) }

// Item 18: probe, a noop for the poll during the upgrade, then everything
// on the WebSocket. The first frame on the new WebSocket must be "3probe":
// no open packet.
func TestEIO18Upgrade(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		sid, _ := e.handshake(path)
		c := e.dialWS(e.upgradeURL(path, sid))
		c.send("2probe")
		if ev := c.next(); ev.closed || ev.op != ws.OpText || string(ev.data) != "3probe" {
			t.Fatalf("after 2probe: got %v, want \"3probe\" as the first frame", ev)
		}
		// A ping due meanwhile may come first; getData answers it.
		body := e.getData(path, sid)
		if body == "" {
			body = e.getData(path, sid)
		}
		if body != "6" {
			t.Fatalf("GET during upgrade: %q, want \"6\" (noop)", body)
		}
		c.send("5")
		roundTrip(t, c, path)
	})
}

// Item 19: after "2probe" and "5" the polling side is closed to the session.
// The suite sends the GET right after "5" and relies on the server having
// processed it; here the WebSocket round trip comes first, which proves
// "5" was processed, so the 400 is not a matter of timing.
func TestEIO19PollAfterUpgrade(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		sid, _ := e.handshake(path)
		c := e.dialWS(e.upgradeURL(path, sid))
		c.send("2probe")
		c.send("5")
		c.expectText("3probe")
		roundTrip(t, c, path)
		wantError(t, "GET after upgrade", e.get(e.sidURL(path, sid)), http.StatusBadRequest, 3)
		wantError(t, "POST after upgrade", e.post(e.sidURL(path, sid), "4x"), http.StatusBadRequest, 3)
		if path == eioPath {
			c.send("4again")
			c.expectText("4again")
		}
	})
}

// Item 20: another WebSocket for an upgraded (or upgrading) session is
// accepted and then closed; the first one keeps working.
func TestEIO20SecondWebSocket(t *testing.T) {
	forEndpoint(t, func(t *testing.T, e *env, path string) {
		sid, _ := e.handshake(path)
		c := e.dialWS(e.upgradeURL(path, sid))
		c.send("2probe")
		c.send("5")
		c.expectText("3probe") // the first WebSocket owns the upgrade from here on

		c2, err := e.tryDialWS(e.upgradeURL(path, sid), nil)
		if err != nil {
			t.Fatalf("second WebSocket: %v, want it accepted (101) and then closed", err)
		}
		c2.expectClosed()
		roundTrip(t, c, path)

		c3, err := e.tryDialWS(e.upgradeURL(path, sid), nil)
		if err != nil {
			t.Fatalf("WebSocket after the upgrade: %v, want it accepted (101) and then closed", err)
		}
		c3.expectClosed()
		if path == eioPath {
			c.send("4still")
			c.expectText("4still")
		}
	})
}

// --- Beyond the suites: what the protocol and RFC 6455 require besides. ---

// echoHandler is an engineio.Handler that echoes messages, for servers the
// tests build directly.
type echoHandler struct{}

func (echoHandler) OnOpen(*engineio.Session) {}

func (echoHandler) OnMessage(s *engineio.Session, data []byte, binary bool) {
	if binary {
		_ = s.Send(eiocodec.NewBinaryFrame(data))
		return
	}
	_ = s.Send(eiocodec.NewMessageFrame(data))
}

func (echoHandler) OnClose(*engineio.Session, error) {}

// startEngine serves an engineio.Server built from cfg at /engine.io/.
func startEngine(t *testing.T, cfg engineio.Config) *env {
	t.Helper()
	cfg.Logger = discardLogger()
	srv := engineio.NewServer(cfg, echoHandler{})
	mux := http.NewServeMux()
	mux.Handle(eioPath, srv)
	e := startHandler(t, mux, srv.Shutdown)
	eff := srv.Config()
	e.pingInterval, e.pingTimeout, e.maxPayload = eff.PingInterval, eff.PingTimeout, eff.MaxPayload
	return e
}

// A browser page from another origin must not reach the server unless its
// origin is allowed: the handshake is refused with 403 (polling and
// WebSocket alike), same-origin and Origin-less requests are served, and an
// allowed origin gets CORS headers naming it.
func TestOriginCheck(t *testing.T) {
	const allowed, evil = "http://app.example", "http://evil.example"
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }

	t.Run("none-allowed", func(t *testing.T) {
		e := startEngine(t, engineio.Config{})
		r, err := e.do(http.MethodGet, e.url(eioPath, ""), "", origin(evil))
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, "cross-origin GET", r, http.StatusForbidden, 4)
		if h := r.header.Get("Access-Control-Allow-Origin"); h != "" {
			t.Errorf("refused request got Access-Control-Allow-Origin %q", h)
		}
		_, err = e.tryDialWS(e.wsURL(eioPath, ""), origin(evil))
		var se ws.StatusError
		if !errors.As(err, &se) || int(se) != http.StatusForbidden {
			t.Errorf("cross-origin WebSocket: %v, want HTTP 403", err)
		}
		for _, o := range []string{"", "http://" + e.host} {
			hdr := http.Header{}
			if o != "" {
				hdr = origin(o)
			}
			r, err := e.do(http.MethodGet, e.url(eioPath, ""), "", hdr)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != http.StatusOK {
				t.Errorf("Origin %q: %d %s, want 200", o, r.status, r.body)
			}
		}
	})
	t.Run("listed", func(t *testing.T) {
		e := startEngine(t, engineio.Config{AllowedOrigins: []string{allowed}})
		r, err := e.do(http.MethodGet, e.url(eioPath, ""), "", origin(allowed))
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK || !strings.HasPrefix(r.body, "0{") {
			t.Fatalf("allowed origin: %d %q, want 200 and the open packet", r.status, r.body)
		}
		if h := r.header.Get("Access-Control-Allow-Origin"); h != allowed {
			t.Errorf("Access-Control-Allow-Origin %q, want %q", h, allowed)
		}
		if h := r.header.Get("Access-Control-Allow-Credentials"); h != "true" {
			t.Errorf("Access-Control-Allow-Credentials %q, want true", h)
		}
		c, err := e.tryDialWS(e.wsURL(eioPath, ""), origin(allowed))
		if err != nil {
			t.Fatalf("allowed-origin WebSocket: %v", err)
		}
		if ev := c.next(); ev.closed || !strings.HasPrefix(string(ev.data), "0{") {
			t.Fatalf("allowed-origin WebSocket: got %v, want the open packet", ev)
		}
		r, err = e.do(http.MethodGet, e.url(eioPath, ""), "", origin(evil))
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, "unlisted origin", r, http.StatusForbidden, 4)
	})
}

// A CORS preflight from an allowed origin is answered with the methods and
// headers the polling transport uses; one from another origin is refused.
func TestPreflight(t *testing.T) {
	const allowed = "http://app.example"
	e := startEngine(t, engineio.Config{AllowedOrigins: []string{allowed}})
	hdr := http.Header{
		"Origin":                         {allowed},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"content-type"},
	}
	r, err := e.do(http.MethodOptions, e.url(eioPath, ""), "", hdr)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusNoContent && r.status != http.StatusOK {
		t.Errorf("preflight: status %d, want 204 or 200", r.status)
	}
	if h := r.header.Get("Access-Control-Allow-Origin"); h != allowed {
		t.Errorf("Access-Control-Allow-Origin %q, want %q", h, allowed)
	}
	if h := r.header.Get("Access-Control-Allow-Credentials"); h != "true" {
		t.Errorf("Access-Control-Allow-Credentials %q, want true", h)
	}
	methods := strings.ToUpper(r.header.Get("Access-Control-Allow-Methods"))
	for _, m := range []string{"GET", "POST"} {
		if !strings.Contains(methods, m) {
			t.Errorf("Access-Control-Allow-Methods %q lacks %s", methods, m)
		}
	}
	if h := strings.ToLower(r.header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "content-type") {
		t.Errorf("Access-Control-Allow-Headers %q lacks content-type", h)
	}

	hdr.Set("Origin", "http://evil.example")
	r, err = e.do(http.MethodOptions, e.url(eioPath, ""), "", hdr)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusForbidden || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d, Allow-Origin %q; want 403 without CORS headers",
			r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
}

// Unknown query parameters (cache busters such as t=..., b64) change
// nothing, on the handshake and on later requests.
func TestUnknownQueryParams(t *testing.T) {
	e := startServer(t)
	const extra = "&t=OxQ3a1b&b64=1&foo=bar"
	r := e.get(e.url(eioPath, extra))
	if r.status != http.StatusOK {
		t.Fatalf("handshake: %d %q", r.status, r.body)
	}
	sid := e.openPacket(r.body, `["websocket"]`)
	if r := e.post(e.url(eioPath, "&sid="+sid+extra), "4hi"); r.status != http.StatusOK || r.body != "ok" {
		t.Fatalf("POST: %d %q", r.status, r.body)
	}
	if r := e.get(e.url(eioPath, "&sid="+sid+extra)); r.status != http.StatusOK || !strings.HasPrefix(r.body, "4hi") {
		t.Fatalf("GET: %d %q, want 200 \"4hi\"", r.status, r.body)
	}
	c := e.dialWS(e.wsURL(eioPath, extra))
	if ev := c.next(); ev.closed || !strings.HasPrefix(string(ev.data), "0{") {
		t.Fatalf("WebSocket: got %v, want the open packet", ev)
	}
}

// A request for a session that does not exist gets code 1.
func TestUnknownSID(t *testing.T) {
	e := startServer(t)
	wantError(t, "GET", e.get(e.sidURL(eioPath, "nope")), http.StatusBadRequest, 1)
	wantError(t, "POST", e.post(e.sidURL(eioPath, "nope"), "4x"), http.StatusBadRequest, 1)
}

// startLimited runs a test-mode server with a small maxPayload and a heartbeat
// slow enough to stay out of the way.
func startLimited(t *testing.T, limit int64) *env {
	t.Helper()
	return startTestServer(t, testserver.Config{
		PingInterval: 10 * time.Second,
		PingTimeout:  5 * time.Second,
		MaxPayload:   limit,
	})
}

// maxPayload over polling: a body up to the limit is served, a larger one
// gets 413 and ends the session.
func TestMaxPayloadPolling(t *testing.T) {
	const limit = 1024
	e := startLimited(t, limit)
	sid, _ := e.handshake(eioPath)
	atLimit := "4" + strings.Repeat("a", limit-1)
	e.postOK(e.sidURL(eioPath, sid), atLimit)
	if got := e.getData(eioPath, sid); got != atLimit {
		t.Fatalf("GET: %d bytes, want the %d-byte echo", len(got), len(atLimit))
	}
	r := e.post(e.sidURL(eioPath, sid), "4"+strings.Repeat("a", 4*limit))
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized POST: %d %q, want 413", r.status, r.body)
	}
	wantError(t, "GET after oversized POST", e.get(e.sidURL(eioPath, sid)), http.StatusBadRequest, 1)
}

// maxPayload over WebSocket: a message of maxPayload bytes is served, a
// larger one (in one frame or in fragments) closes the connection, with
// 1009 if the server sends a close frame.
func TestMaxPayloadWebSocket(t *testing.T) {
	const limit = 1024
	e := startLimited(t, limit)
	open := func(t *testing.T) *wsConn {
		c := e.dialWS(e.wsURL(eioPath, ""))
		if ev := c.next(); ev.closed || !strings.HasPrefix(string(ev.data), "0{") {
			t.Fatalf("got %v, want the open packet", ev)
		}
		return c
	}
	t.Run("at-limit", func(t *testing.T) {
		c := open(t)
		msg := "4" + strings.Repeat("a", limit-1)
		c.send(msg)
		c.expectText(msg)
		bin := bytes.Repeat([]byte{7}, limit)
		c.sendBinary(bin)
		c.expectBinary(bin)
	})
	t.Run("one-frame", func(t *testing.T) {
		c := open(t)
		c.send("4" + strings.Repeat("a", 2*limit))
		c.expectClosed(ws.StatusMessageTooBig)
	})
	t.Run("binary", func(t *testing.T) {
		c := open(t)
		c.sendBinary(make([]byte, 2*limit))
		c.expectClosed(ws.StatusMessageTooBig)
	})
	t.Run("fragments", func(t *testing.T) {
		c := open(t)
		part := []byte(strings.Repeat("a", limit/2+10))
		// The second fragment already passes the limit: the server may
		// close before a third write could go out, so none is sent.
		c.writeFrame(ws.NewFrame(ws.OpText, false, append([]byte("4"), part...)))
		c.writeFrame(ws.NewFrame(ws.OpContinuation, false, part))
		c.expectClosed(ws.StatusMessageTooBig)
	})
}

// RFC 6455 §5.2: RSV bits without a negotiated extension fail the
// connection.
func TestWebSocketRSVBits(t *testing.T) {
	e := startServer(t)
	for _, rsv := range []struct {
		name       string
		r1, r2, r3 bool
	}{{"rsv1", true, false, false}, {"rsv2", false, true, false}, {"rsv3", false, false, true}} {
		t.Run(rsv.name, func(t *testing.T) {
			c, _ := e.openWS(eioPath)
			f := ws.NewTextFrame([]byte("4hello"))
			f.Header.Rsv = ws.Rsv(rsv.r1, rsv.r2, rsv.r3)
			c.writeFrame(f)
			c.expectClosed(ws.StatusProtocolError)
		})
	}
}

// RFC 6455 §8.1: a text message that is not UTF-8 fails the connection,
// also when the bad sequence is split across fragments.
func TestWebSocketInvalidUTF8(t *testing.T) {
	e := startServer(t)
	t.Run("one-frame", func(t *testing.T) {
		c, _ := e.openWS(eioPath)
		c.writeFrame(ws.NewTextFrame([]byte("4\xff\xfehello")))
		c.expectClosed(ws.StatusProtocolError, ws.StatusInvalidFramePayloadData)
	})
	t.Run("fragments", func(t *testing.T) {
		c, _ := e.openWS(eioPath)
		c.writeFrame(ws.NewFrame(ws.OpText, false, []byte("4ab\xe2\x82")))
		c.writeFrame(ws.NewFrame(ws.OpContinuation, true, []byte("\x28z")))
		c.expectClosed(ws.StatusProtocolError, ws.StatusInvalidFramePayloadData)
	})
	t.Run("valid-split-rune", func(t *testing.T) {
		// "€" (e2 82 ac) split across fragments is valid UTF-8.
		c, _ := e.openWS(eioPath)
		c.writeFrame(ws.NewFrame(ws.OpText, false, []byte("4ab\xe2\x82")))
		c.writeFrame(ws.NewFrame(ws.OpContinuation, true, []byte("\xac")))
		c.expectText("4ab€")
	})
}

// RFC 6455 §5.4: a fragmented message is reassembled, also with a control
// frame between its fragments.
func TestWebSocketFragmented(t *testing.T) {
	e := startServer(t)
	t.Run("text", func(t *testing.T) {
		c, _ := e.openWS(eioPath)
		c.writeFrame(ws.NewFrame(ws.OpText, false, []byte("4he")))
		c.writeFrame(ws.NewFrame(ws.OpContinuation, false, []byte("l")))
		c.writeFrame(ws.NewFrame(ws.OpContinuation, true, []byte("lo")))
		c.expectText("4hello")
	})
	t.Run("binary-with-ping-between", func(t *testing.T) {
		c, _ := e.openWS(eioPath)
		c.writeFrame(ws.NewFrame(ws.OpBinary, false, []byte{1, 2}))
		c.writeFrame(ws.NewPingFrame([]byte("mid")))
		c.writeFrame(ws.NewFrame(ws.OpContinuation, true, []byte{3, 4}))
		if ev := c.nextData(); ev.closed || ev.op != ws.OpPong || string(ev.data) != "mid" {
			t.Fatalf("got %v, want pong frame \"mid\" first", ev)
		}
		c.expectBinary([]byte{1, 2, 3, 4})
	})
	t.Run("continuation-without-start", func(t *testing.T) {
		c, _ := e.openWS(eioPath)
		c.writeFrame(ws.NewFrame(ws.OpContinuation, true, []byte("4x")))
		c.expectClosed(ws.StatusProtocolError)
	})
}

// RFC 6455 §5.5.2: a ping frame is answered with a pong frame carrying the
// same application data; the session is unaffected.
func TestWebSocketPingFrame(t *testing.T) {
	e := startServer(t)
	c, _ := e.openWS(eioPath)
	c.writeFrame(ws.NewPingFrame([]byte("are you there")))
	if ev := c.nextData(); ev.closed || ev.op != ws.OpPong || string(ev.data) != "are you there" {
		t.Fatalf("got %v, want pong frame \"are you there\"", ev)
	}
	c.send("4still here")
	c.expectText("4still here")
}

// The server's close frame answers the client's: a client close frame ends
// the session cleanly.
func TestWebSocketClientCloseFrame(t *testing.T) {
	e := startServer(t)
	c, _ := e.openWS(eioPath)
	c.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))
	c.expectClosed(ws.StatusNormalClosure)
}

// Shutdown closes WebSocket sessions with 1001 and refuses new handshakes.
func TestShutdownClosesSessions(t *testing.T) {
	srv := testserver.New(testserver.Config{
		PingInterval: pingInterval, PingTimeout: pingTimeout, MaxPayload: maxPayload,
		Logger: discardLogger(),
	})
	mux := http.NewServeMux()
	srv.Register(mux)
	e := startHandler(t, mux, nil)
	e.pingInterval, e.pingTimeout, e.maxPayload = pingInterval, pingTimeout, maxPayload
	c, _ := e.openWS(eioPath)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c.expectClosed(ws.StatusGoingAway)
	if r := e.get(e.url(eioPath, "")); r.status == http.StatusOK {
		t.Errorf("handshake after shutdown: %d %q, want an error", r.status, r.body)
	}
}
