package httpx_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/httpx"
)

// bound is how long any test here waits for something that should happen
// in well under a second: a generous bound for a busy machine, never a
// race against the code under test.
const bound = 30 * time.Second

// jsonServer serves a handler that reads a JSON body under t with
// ReadJSON and answers 200 or the error; each outcome is sent on the
// returned channel.
func jsonServer(t *testing.T, timeouts httpx.BodyTimeouts) (string, <-chan error) {
	t.Helper()
	results := make(chan error, 128)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := httpx.GuardBody(w, r, timeouts)
		defer body.Release()
		var v map[string]any
		err := httpx.ReadJSON(w, r, 1<<20, &v)
		results <- err
		if err != nil {
			httpx.WriteError(w, apierr.AsError(err))
			return
		}
		httpx.WriteJSON(w, http.StatusOK, v)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), results
}

// dial opens a raw connection with a read deadline of bound.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(bound))
	return c
}

func writeHead(t *testing.T, c net.Conn, contentLength int) {
	t.Helper()
	_, err := fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", contentLength)
	if err != nil {
		t.Fatal(err)
	}
}

// trickle writes one byte of body a second until stop closes or a write
// fails; it returns how many it wrote on the channel.
func trickle(c net.Conn, body string, stop <-chan struct{}) <-chan int {
	sent := make(chan int, 1)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		n := 0
		defer func() { sent <- n }()
		for n < len(body) {
			if _, err := c.Write([]byte{body[n]}); err != nil {
				return
			}
			n++
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return sent
}

// expectCut reads the answer to a request whose body was too slow: a 408
// request_timeout, then the connection closes.
func expectCut(t *testing.T, c net.Conn) {
	t.Helper()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), `"error":"request_timeout"`) {
		t.Fatalf("answer %d %s, want 408 request_timeout", resp.StatusCode, b)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the connection stayed open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection stayed open for %v", bound)
	}
}

func TestGuardBodyCutsATrickle(t *testing.T) {
	// 30 bytes per 300 ms window; the client sends 1 byte a second.
	addr, results := jsonServer(t, httpx.BodyTimeouts{Window: 300 * time.Millisecond, MinRate: 100})
	body := `{"username":"a slow client"}`
	c := dial(t, addr)
	writeHead(t, c, len(body))
	stop := make(chan struct{})
	sent := trickle(c, body, stop)
	expectCut(t, c)
	close(stop)
	if n := <-sent; n >= len(body) {
		t.Fatalf("the whole body (%d bytes) was sent before the cut", n)
	}
	if err := <-results; !errors.Is(err, httpx.ErrBodyTimeout) && apierr.AsError(err).Code != apierr.CodeRequestTimeout {
		t.Fatalf("handler saw %v", err)
	}
}

func TestGuardBodyNothingSent(t *testing.T) {
	// Headers, then silence: the first window is a first-byte deadline.
	addr, _ := jsonServer(t, httpx.BodyTimeouts{Window: 200 * time.Millisecond, MinRate: 10})
	c := dial(t, addr)
	writeHead(t, c, 10)
	expectCut(t, c)
}

func TestGuardBodyEnoughPerWindowIsCutOnlyWhenItStops(t *testing.T) {
	// 2 bytes per window: a client sending 4 at once is given a new
	// window each time, and is cut only after it stops sending.
	addr, results := jsonServer(t, httpx.BodyTimeouts{Window: 200 * time.Millisecond, MinRate: 10})
	c := dial(t, addr)
	writeHead(t, c, 100)
	if _, err := c.Write([]byte(`{"a":`)); err != nil {
		t.Fatal(err)
	}
	expectCut(t, c)
	if err := <-results; apierr.AsError(err).Code != apierr.CodeRequestTimeout {
		t.Fatalf("handler saw %v", err)
	}
}

func TestGuardBodyFastBodies(t *testing.T) {
	// Bodies much larger than a window's share, sent at once, over one
	// keep-alive connection: each is read whole, and the deadline is gone
	// between requests.
	addr, _ := jsonServer(t, httpx.BodyTimeouts{Window: 200 * time.Millisecond, MinRate: 10})
	client := &http.Client{Timeout: bound}
	for i := range 3 {
		body := fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", 100_000))
		resp, err := client.Post("http://"+addr+"/x", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != len(body)+1 {
			t.Fatalf("request %d: %d, %d bytes", i, resp.StatusCode, len(b))
		}
	}
}

func TestGuardBodyReleasedAfterEOF(t *testing.T) {
	// A handler that goes on working after reading the body (as an
	// upload does while it decodes) keeps its request: no deadline is
	// left on the connection to cancel it.
	const window = 50 * time.Millisecond
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := httpx.GuardBody(w, r, httpx.BodyTimeouts{Window: window, MinRate: 10})
		defer body.Release()
		if _, err := io.ReadAll(r.Body); err != nil {
			done <- err
			return
		}
		// Work well past the window; a deadline left set would cancel
		// the request's context when it passes.
		select {
		case <-r.Context().Done():
			done <- fmt.Errorf("request canceled while working: %w", context.Cause(r.Context()))
		case <-time.After(10 * window):
			done <- nil
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	resp, err := (&http.Client{Timeout: bound}).Post(srv.URL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-done; err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%d, %v", resp.StatusCode, err)
	}
}

func TestGuardBodyAbort(t *testing.T) {
	// Abort cuts a read that would otherwise wait for the whole window
	// (an hour here).
	aborted := make(chan error, 1)
	reading := make(chan *httpx.Body, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := httpx.GuardBody(w, r, httpx.BodyTimeouts{Window: time.Hour})
		defer body.Release()
		reading <- body
		_, err := io.ReadAll(r.Body)
		aborted <- err
	}))
	t.Cleanup(srv.Close)
	c := dial(t, srv.Listener.Addr().String())
	writeHead(t, c, 10)
	if _, err := c.Write([]byte("{")); err != nil {
		t.Fatal(err)
	}
	(<-reading).Abort()
	select {
	case err := <-aborted:
		if !errors.Is(err, httpx.ErrBodyTimeout) {
			t.Fatalf("read after Abort: %v", err)
		}
	case <-time.After(bound):
		t.Fatal("Abort did not cut the read")
	}
	// The handler answered nothing (net/http sends an empty 200); the
	// connection is closed after it, the rest of the body unread.
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if !resp.Close {
		t.Fatal("the answer keeps the connection")
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("data after the answer")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection of an aborted request stayed open")
	}
}

func TestGuardBodyWithoutDeadlines(t *testing.T) {
	// A ResponseWriter that cannot set deadlines (a recorder): the body
	// reads as is.
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	b := httpx.GuardBody(w, r, httpx.BodyTimeouts{})
	defer b.Release()
	var v map[string]int
	if err := httpx.ReadJSON(w, r, 100, &v); err != nil || v["a"] != 1 {
		t.Fatalf("%v %v", v, err)
	}
	// No body at all.
	r = httptest.NewRequest("GET", "/", nil)
	httpx.GuardBody(w, r, httpx.BodyTimeouts{}).Release()
	if n, err := r.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("empty body read: %d %v", n, err)
	}
}

func TestGuardBodyUnreadRest(t *testing.T) {
	// A handler that answers after reading part of the body: net/http
	// reads the rest to reuse the connection, given one window for it;
	// a rest that never comes closes the connection.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := httpx.GuardBody(w, r, httpx.BodyTimeouts{Window: 200 * time.Millisecond, MinRate: 1})
		defer body.Release()
		_, _ = r.Body.Read(make([]byte, 1))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	for _, rest := range []bool{true, false} {
		c := dial(t, srv.Listener.Addr().String())
		writeHead(t, c, 100)
		first := "{"
		if rest {
			first += strings.Repeat(" ", 99)
		}
		if _, err := c.Write([]byte(first)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("answer %v %v", resp, err)
		}
		resp.Body.Close()
		if rest {
			// The connection serves another request.
			if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusAccepted {
				t.Fatalf("second answer %v %v", resp, err)
			}
			continue
		}
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("data after the answer")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the connection waits for the rest of the body")
		}
	}
}
