package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/httpapi"
)

func TestContentTypeRequired(t *testing.T) {
	tests := []struct {
		name, path, token, contentType string
		status                         int
	}{
		{"register text/plain", "/api/users", "", "text/plain", 415},
		{"register form", "/api/users", "", "application/x-www-form-urlencoded", 415},
		{"register none", "/api/users", "", "", 415},
		{"register charset", "/api/users", "", "application/json; charset=utf-8", 201},
		{"create room text/plain", "/api/rooms", goodToken, "text/plain;charset=UTF-8", 415},
		{"create room json", "/api/rooms", goodToken, "application/json", 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &fakeService{}
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			if tt.token != "" {
				h.Set("Authorization", "Bearer "+tt.token)
			}
			body := `{"name":"Go"}`
			if tt.path == "/api/users" {
				body = `{"username":"Bob"}`
			}
			rec := serveWith(t, svc, "POST", tt.path, h, body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			made := atomic.LoadInt32(&svc.registered) + atomic.LoadInt32(&svc.created)
			if tt.status == 415 {
				if !strings.Contains(rec.Body.String(), `"error":"unsupported_media_type"`) {
					t.Fatalf("body %s", rec.Body)
				}
				if made != 0 {
					t.Fatal("a refused request reached the service")
				}
			} else if made != 1 {
				t.Fatalf("service called %d times", made)
			}
		})
	}
}

func TestBearerSchemeCaseInsensitive(t *testing.T) {
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEARER"} {
		for _, ep := range []struct{ method, path, body string }{
			{"GET", "/api/users/me", ""},
			{"DELETE", "/api/users/me", ""},
			{"POST", "/api/rooms", `{"name":"Go"}`},
		} {
			t.Run(scheme+" "+ep.method+" "+ep.path, func(t *testing.T) {
				h := http.Header{"Authorization": {scheme + "  " + goodToken}}
				if ep.body != "" {
					h.Set("Content-Type", "application/json")
				}
				rec := serveWith(t, &fakeService{}, ep.method, ep.path, h, ep.body)
				if rec.Code >= 300 {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			})
		}
	}
	for _, bad := range []string{"Basic " + goodToken, "Bearer", "Bearer " + goodToken + " x", goodToken} {
		rec := serveWith(t, &fakeService{}, "GET", "/api/users/me", http.Header{"Authorization": {bad}}, "")
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%q: status %d", bad, rec.Code)
		}
	}
}

// TestSlowBodiesAreClosed: 100 clients send POST /api/users at 1 byte a
// second through a real listener with the default body timeouts; every
// one is answered 408 and closed within the first window (10 s), none
// reaches the service.
func TestSlowBodiesAreClosed(t *testing.T) {
	t.Parallel()
	const clients = 100
	svc := &fakeService{}
	mux := http.NewServeMux()
	httpapi.New(httpapi.Config{}, svc).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	body := `{"username":"` + strings.Repeat("a", 40) + `"}`
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	start := time.Now()
	errs := make(chan error, clients)
	for range clients {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		if _, err := fmt.Fprintf(c, "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body)); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { // one byte a second until the server hangs up
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for i := range len(body) {
				if _, err := c.Write([]byte{body[i]}); err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		})
		go func() { errs <- expectTimeoutAnswer(c) }()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 40*time.Second {
		t.Fatalf("closing took %v", d)
	}
	if n := atomic.LoadInt32(&svc.registered); n != 0 {
		t.Fatalf("%d slow bodies reached the service", n)
	}
}

// expectTimeoutAnswer reads a 408 request_timeout, then the connection's
// end.
func expectTimeoutAnswer(c net.Conn) error {
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), `"error":"request_timeout"`) {
		return fmt.Errorf("answer %d %s, want 408 request_timeout", resp.StatusCode, b)
	}
	if _, err := br.ReadByte(); err == nil {
		return fmt.Errorf("data after the answer")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return fmt.Errorf("the connection stayed open")
	}
	return nil
}
