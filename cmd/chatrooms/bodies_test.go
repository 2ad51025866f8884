package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/apitest"
	"github.com/chatrooms/chatrooms/internal/chat"
)

// Request bodies through the real server (issue 11): slow bodies and
// slow uploads are answered 408 and closed by the minimum body rate
// (httpx.GuardBody: 10 KiB per 10 s window), a slow polling POST ends
// with its session, a held upload costs the bytes that arrived rather
// than the length it declared, JSON bodies need Content-Type
// application/json, and the bearer scheme is read in any case.

// bodiesBound is how long a slow client waits for the server to answer
// and close its connection: the minimum rate cuts a trickled body about
// one window (10 s) after its first read, so 40 s is generous for a busy
// machine under -race while well below the minute a stuck body used to
// last.
const bodiesBound = 40 * time.Second

// slowOutcome is what a slow client saw.
type slowOutcome struct {
	status   int           // the answer's status, 0 when none could be read
	body     string        // the answer's body
	code     string        // the "error" of a JSON answer
	answered time.Duration // from the end of the request head to the answer
	closed   time.Duration // ... to the end of the connection (0 if it stayed open)
	sent     int           // body bytes written
	err      error         // why the connection did not end cleanly, if it did not
	setup    error         // why the request could not be sent
}

// slowRequest writes head, then body in pieces of chunk bytes, one every
// interval (the trickle: the input of the test, not a synchronization),
// until body is written, the answer arrives or a write fails; then it
// reads the answer and waits for the server to close the connection.
// Every step is bounded by bodiesBound.
func slowRequest(addr, head string, body []byte, chunk int, every time.Duration) slowOutcome {
	var out slowOutcome
	c, err := net.DialTimeout("tcp", addr, bodiesBound)
	if err != nil {
		out.err = err
		return out
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(bodiesBound))
	if _, err := io.WriteString(c, head); err != nil {
		out.err = err
		return out
	}
	start := time.Now()
	answered := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n < len(body) {
			w, err := c.Write(body[n:min(n+chunk, len(body))])
			n += w
			if err != nil || n == len(body) {
				return
			}
			select {
			case <-answered:
				return
			case <-tick.C:
			}
		}
	}()
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	close(answered)
	if err == nil {
		out.answered = time.Since(start)
		out.status = res.StatusCode
		data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		out.body = string(data)
		var e apiError
		if json.Unmarshal(data, &e) == nil {
			out.code = e.Error
		}
		// The server closes: EOF, or a reset when it dropped bytes
		// trickled after it stopped reading. Only our deadline means it
		// kept the connection open.
		_, err = io.Copy(io.Discard, br)
	}
	if ne, ok := err.(net.Error); !(ok && ne.Timeout()) {
		out.closed = time.Since(start)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		out.err = err
	}
	_ = c.Close() // ends a trickle still under way
	out.sent = <-sent
	return out
}

// runSlow runs n slow clients at once (client i gets head(i) and
// body(i)) and returns their outcomes in order.
func runSlow(addr string, n, chunk int, every time.Duration, head func(int) (string, error), body func(int) []byte) []slowOutcome {
	outs := make([]slowOutcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			h, err := head(i)
			if err != nil {
				outs[i].setup = err
				return
			}
			outs[i] = slowRequest(addr, h, body(i), chunk, every)
		})
	}
	wg.Wait() // each client is bounded by bodiesBound
	return outs
}

// pollingSession opens an Engine.IO polling session on url and returns
// its id.
func pollingSession(url string) (string, error) {
	res, err := (&http.Client{Timeout: bodiesBound}).Get(url + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	var open struct {
		SID string `json:"sid"`
	}
	if res.StatusCode != http.StatusOK || len(b) < 2 || b[0] != '0' || json.Unmarshal(b[1:], &open) != nil || open.SID == "" {
		return "", fmt.Errorf("handshake: %d %q", res.StatusCode, b)
	}
	return open.SID, nil
}

// logTimes logs the fastest, median and slowest close.
func logTimes(t *testing.T, what string, outs []slowOutcome) {
	t.Helper()
	var closed []time.Duration
	for _, o := range outs {
		closed = append(closed, o.closed)
	}
	slices.Sort(closed)
	t.Logf("%s: %d connections closed after min %v, median %v, max %v",
		what, len(outs), closed[0].Round(time.Millisecond), closed[len(closed)/2].Round(time.Millisecond), closed[len(closed)-1].Round(time.Millisecond))
}

// checkClosed fails unless every client was answered with status (any
// when 0) and code (any when "") and its connection closed in time.
func checkClosed(t *testing.T, outs []slowOutcome, status int, code string) {
	t.Helper()
	for i, o := range outs {
		if o.setup != nil {
			t.Errorf("client %d: %v", i, o.setup)
			continue
		}
		if o.closed == 0 {
			t.Errorf("client %d: connection still open after %v (answer %d %q, %d bytes sent, %v)", i, bodiesBound, o.status, o.code, o.sent, o.err)
			continue
		}
		if status != 0 && (o.status != status || (code != "" && o.code != code)) {
			t.Errorf("client %d: answer %d %q after %v, want %d %q (%d bytes sent, %v)", i, o.status, o.code, o.answered, status, code, o.sent, o.err)
		}
	}
}

// host is the host:port of s.
func (s *server) host() string { return strings.TrimPrefix(s.URL, "http://") }

func TestSlowBodiesTimeOut(t *testing.T) {
	jsonHead := func(path string, length int) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: chat\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, length)
	}
	pollHead := func(sid string, length int) string {
		return fmt.Sprintf("POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: chat\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n", sid, length)
	}
	// noops is the first n bytes of an Engine.IO polling payload of noop
	// packets (the rest never comes).
	noops := func(n int) []byte { return []byte(strings.Repeat("6\x1e", n/2+1))[:n] }

	tests := []struct {
		name  string
		flags []string
		n     int
		// A polling test opens a session per client first.
		polling bool
		// body i is sent chunk bytes every interval.
		body     func(i int) []byte
		chunk    int
		every    time.Duration
		declared func(i int) int // Content-Length of client i (default: len(body))
		// What every client must see: 0 and "" for any answer.
		status int
		code   string
	}{
		{
			// 22 bytes at 1 byte/s: a whole body would take 22 s and
			// create a user; the minimum rate cuts it at about 10 s.
			name:   "users 1 byte/s",
			n:      100,
			body:   func(i int) []byte { return fmt.Appendf(nil, `{"username":"slow%03d"}`, i) },
			chunk:  1,
			every:  time.Second,
			status: http.StatusRequestTimeout,
			code:   apierr.CodeRequestTimeout,
		},
		{
			// The same for a polling POST, with the default heartbeat
			// (the session would last 45 s without a pong): the
			// minimum rate cuts it (408), and the session goes with it.
			name:    "polling 1 byte/s",
			n:       20,
			polling: true,
			body:    func(int) []byte { return noops(30) },
			chunk:   1,
			every:   time.Second,
			status:  http.StatusRequestTimeout,
		},
		{
			// A polling POST that keeps the minimum rate (4 KiB/s of a
			// declared 1 MB) but cannot carry the pong of its own
			// session: it ends when the session times out (2 s), not
			// when the body would have arrived (250 s).
			name:     "polling at the minimum rate outlives no session",
			flags:    []string{"--ping-interval", "1s", "--ping-timeout", "1s"},
			n:        20,
			polling:  true,
			body:     func(int) []byte { return noops(4 << 10 * int(bodiesBound/time.Second)) },
			chunk:    4 << 10,
			every:    time.Second,
			declared: func(int) int { return 1000000 },
			// Answered as any request on a closed session.
			status: http.StatusBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "", tt.flags...)
			// A polling client opens its session right before its POST.
			sids := make([]string, tt.n)
			head := func(i int) (string, error) {
				length := len(tt.body(i))
				if tt.declared != nil {
					length = tt.declared(i)
				}
				if !tt.polling {
					return jsonHead("/api/users", length), nil
				}
				sid, err := pollingSession(s.URL)
				sids[i] = sid
				return pollHead(sid, length), err
			}
			outs := runSlow(s.host(), tt.n, tt.chunk, tt.every, head, tt.body)
			logTimes(t, tt.name, outs)
			t.Logf("%s: first client: answer %d %q after %v, %d of %d bytes sent", tt.name, outs[0].status, outs[0].code, outs[0].answered.Round(time.Millisecond), outs[0].sent, len(tt.body(0)))
			checkClosed(t, outs, tt.status, tt.code)
			if tt.polling {
				// The payload was not taken ("ok"), and the session did
				// not outlive its POST (nor the POST its session).
				for i, o := range outs {
					if o.status == http.StatusOK && o.body == "ok" {
						t.Errorf("client %d: a cut POST answered %d %q", i, o.status, o.body)
					}
				}
				for i, sid := range sids {
					a := s.request(t, "GET", "/socket.io/?EIO=4&transport=polling&sid="+sid, "")
					var e struct {
						Code int `json:"code"`
					}
					if a.Status != http.StatusBadRequest || json.Unmarshal(a.Body, &e) != nil || e.Code != 1 {
						t.Errorf("session %d after its POST closed: %d %q, want 400 unknown sid", i, a.Status, a.Body)
					}
				}
				return
			}
			// Nobody was created: none is listed, and each name is free.
			var users []chat.User
			if code := s.do(t, "GET", "/api/users", "", nil, &users); code != http.StatusOK {
				t.Fatalf("GET /api/users: %d", code)
			}
			for _, u := range users {
				if strings.HasPrefix(u.Name, "slow") {
					t.Errorf("user %q created by a slow body", u.Name)
				}
			}
			s.register(t, "slow000")
		})
	}
}

func TestSlowUploadsHoldNoMemory(t *testing.T) {
	const (
		n        = 40
		declared = 10551296 // --attachment-max-size plus the multipart allowance
		boundary = "chatroomsboundary"
		budget   = 40 << 20 // what 40 buffers of their declared length would be, ten times over
	)
	s := startServer(t, "")
	tokens := make([]string, n)
	for i := range tokens {
		_, tokens[i] = s.register(t, fmt.Sprintf("uploader%02d", i))
	}
	// About 150 bytes: the part's head and the start of a PNG.
	prefix := []byte("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n")
	prefix = append(prefix, bytes.Repeat([]byte{0}, max(0, 150-len(prefix)))...)
	head := func(i int) string {
		return fmt.Sprintf("POST /api/attachments HTTP/1.1\r\nHost: chat\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n", tokens[i], boundary, declared)
	}

	heapInuse := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	base := heapInuse()
	done := make(chan []slowOutcome, 1)
	go func() {
		outs := make([]slowOutcome, n)
		var wg sync.WaitGroup
		for i := range n {
			// The whole prefix in one write, then nothing: held open.
			wg.Go(func() { outs[i] = slowRequest(s.host(), head(i), prefix, len(prefix), time.Second) })
		}
		wg.Wait()
		done <- outs
	}()
	// Sample the heap while the uploads are held, until they all end
	// (each is bounded by bodiesBound): a measurement, not a wait.
	peak, samples := base, 0
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var outs []slowOutcome
	for outs == nil {
		select {
		case outs = <-done:
		case <-tick.C:
			peak = max(peak, heapInuse())
			samples++
		}
	}
	growth := int64(peak) - int64(base)
	t.Logf("heap in use: %.1f MiB before, peak %.1f MiB over %d samples while %d uploads declaring %d bytes were held (growth %.1f MiB; their declared lengths: %.0f MiB)",
		float64(base)/(1<<20), float64(peak)/(1<<20), samples, n, declared, float64(growth)/(1<<20), float64(n*declared)/(1<<20))
	logTimes(t, "held uploads", outs)
	if samples == 0 {
		t.Fatal("no heap sample while the uploads were held")
	}
	if growth >= budget {
		t.Errorf("heap grew by %d bytes with %d held uploads, want < %d", growth, n, budget)
	}
	checkClosed(t, outs, http.StatusRequestTimeout, apierr.CodeRequestTimeout)
}

func TestJSONBodiesNeedJSONContentType(t *testing.T) {
	s := startServer(t, "")
	tests := []struct {
		name        string
		contentType string // "" sends none
		status      int
	}{
		{"text/plain", "text/plain", http.StatusUnsupportedMediaType},
		{"text/plain utf-8", "text/plain; charset=utf-8", http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart", "multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"none", "", http.StatusUnsupportedMediaType},
		{"json latin1", "application/json; charset=iso-8859-1", http.StatusUnsupportedMediaType},
		{"json", "application/json", http.StatusCreated},
		{"json utf-8", "application/json; charset=utf-8", http.StatusCreated},
		{"json mixed case", "Application/JSON; charset=UTF-8", http.StatusCreated},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("Typed%02d", i)
			_, tok := s.register(t, fmt.Sprintf("typer%02d", i)) // a room creator of its own
			var headers []string
			if tt.contentType != "" {
				headers = []string{"Content-Type", tt.contentType}
			}
			for _, r := range []struct{ path, token, body string }{
				{"/api/users", "", fmt.Sprintf(`{"username":%q}`, name)},
				{"/api/rooms", tok, fmt.Sprintf(`{"name":%q}`, name)},
			} {
				h := headers
				if r.token != "" {
					h = append(slices.Clone(h), "Authorization", "Bearer "+r.token)
				}
				a := s.request(t, "POST", r.path, r.body, h...)
				if a.Status != tt.status {
					t.Fatalf("POST %s with %q: %d %q, want %d", r.path, tt.contentType, a.Status, a.Body, tt.status)
				}
				if tt.status != http.StatusUnsupportedMediaType {
					continue
				}
				var e apiError
				if json.Unmarshal(a.Body, &e) != nil || e.Error != apierr.CodeUnsupportedMediaType || e.Message == "" {
					t.Fatalf("POST %s with %q: body %q, want unsupported_media_type with a message", r.path, tt.contentType, a.Body)
				}
			}
			var users []chat.User
			s.do(t, "GET", "/api/users", "", nil, &users)
			var rooms []chat.Room
			s.do(t, "GET", "/api/rooms", "", nil, &rooms)
			created := tt.status == http.StatusCreated
			if listed := slices.ContainsFunc(users, func(u chat.User) bool { return u.Name == name }); listed != created {
				t.Fatalf("user %q listed: %v, want %v", name, listed, created)
			}
			if listed := slices.ContainsFunc(rooms, func(r chat.Room) bool { return r.Name == name }); listed != created {
				t.Fatalf("room %q listed: %v, want %v", name, listed, created)
			}
			if !created {
				// Nothing claimed: both names are still free.
				s.register(t, name)
				if code := s.do(t, "POST", "/api/rooms", tok, map[string]string{"name": name}, nil); code != http.StatusCreated {
					t.Fatalf("room %q after the refusal: %d", name, code)
				}
			}
		})
	}
}

// pngUpload is a multipart body with a valid 2×2 PNG in the "file" field,
// and its Content-Type.
func pngUpload(t *testing.T) ([]byte, string) {
	t.Helper()
	return apitest.PNGForm(t, 2, 2, "tiny.png")
}

func TestBearerSchemeInAnyCase(t *testing.T) {
	s := startServer(t, "")
	upload, uploadType := pngUpload(t)
	// Each endpoint with an Authorization header value; the answer.
	endpoints := []struct {
		name string
		send func(t *testing.T, auth string, i int) httpAnswer
		ok   int
	}{
		{"GET /api/users/me", func(t *testing.T, auth string, _ int) httpAnswer {
			return s.request(t, "GET", "/api/users/me", "", "Authorization", auth)
		}, http.StatusOK},
		{"POST /api/rooms", func(t *testing.T, auth string, i int) httpAnswer {
			return s.request(t, "POST", "/api/rooms", fmt.Sprintf(`{"name":"Bearer room %d"}`, i), "Authorization", auth, "Content-Type", "application/json")
		}, http.StatusCreated},
		{"POST /api/attachments", func(t *testing.T, auth string, _ int) httpAnswer {
			return s.request(t, "POST", "/api/attachments", string(upload), "Authorization", auth, "Content-Type", uploadType)
		}, http.StatusCreated},
	}

	for i, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		t.Run("accepted "+scheme, func(t *testing.T) {
			u, tok := s.register(t, fmt.Sprintf("bearer%02d", i)) // a user each: rooms and uploads are limited per user
			auth := scheme + " " + tok
			for _, ep := range endpoints {
				a := ep.send(t, auth, i)
				if a.Status != ep.ok {
					t.Fatalf("%s with %q: %d %q, want %d", ep.name, scheme+" <token>", a.Status, a.Body, ep.ok)
				}
			}
			var me chat.User
			if code := s.do(t, "GET", "/api/users/me", tok, nil, &me); code != http.StatusOK || me.ID != u.ID {
				t.Fatalf("me = %d %+v, want %s", code, me, u.ID)
			}
		})
	}

	u, tok := s.register(t, "refused")
	for _, tt := range []struct{ name, auth string }{
		{"none", ""},
		{"scheme only", "Bearer"},
		{"no token", "Bearer "},
		{"no space", "Bearer" + tok},
		{"basic", "Basic " + tok},
		{"other scheme", "Token " + tok},
		{"longer scheme", "Bearers " + tok},
		{"two tokens", "Bearer " + tok + " " + tok},
		{"comma", "Bearer " + tok + ",x"},
		{"quoted", "Bearer \"" + tok + "\""},
		{"fullwidth", "Bearer ｔｏｋｅｎ"},
		{"nobody's", "Bearer " + strings.Repeat("A", 43) + "="}, // well-formed
		{"user id", "Bearer " + u.ID},                           // the public id never authenticates
	} {
		t.Run("refused "+tt.name, func(t *testing.T) {
			var codes []string
			for _, ep := range endpoints {
				a := ep.send(t, tt.auth, 0)
				var e apiError
				if a.Status != http.StatusUnauthorized || json.Unmarshal(a.Body, &e) != nil || e.Error == "" || e.Message == "" {
					t.Fatalf("%s: %d %q, want 401 with an error code and message", ep.name, a.Status, a.Body)
				}
				codes = append(codes, e.Error)
			}
			if slices.ContainsFunc(codes, func(c string) bool { return c != apierr.CodeUnauthorized }) {
				t.Fatalf("codes %v, want %q on all three", codes, apierr.CodeUnauthorized)
			}
		})
	}
}
