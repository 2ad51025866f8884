package httpx_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/httpx"
)

// errorBody is what WriteError writes, decoded strictly.
type errorBody struct {
	Error        string `json:"error"`
	Message      string `json:"message"`
	RetryAfterMS int64  `json:"retry_after_ms"`
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var e errorBody
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return e
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        *apierr.Error
		status     int
		retryAfter string // Retry-After header, "" for none
		retryMS    int64
	}{
		{"plain", &apierr.Error{Code: apierr.CodeRoomNotFound, Message: "no such room"}, 404, "", 0},
		{"rate limited 1 ms", apierr.RateLimited("slow down", 0), 429, "1", 1},
		{"rate limited 1 s", &apierr.Error{Code: apierr.CodeRateLimited, Message: "m", RetryAfterMS: 1000}, 429, "1", 1000},
		{"rate limited rounds up", &apierr.Error{Code: apierr.CodeRateLimited, Message: "m", RetryAfterMS: 1001}, 429, "2", 1001},
		{"rate limited 59.5 s", &apierr.Error{Code: apierr.CodeRateLimited, Message: "m", RetryAfterMS: 59500}, 429, "60", 59500},
		{"rate limited without a wait", &apierr.Error{Code: apierr.CodeRateLimited, Message: "m"}, 429, "1", 1000},
		{"unknown code", &apierr.Error{Code: "weird", Message: "m"}, 500, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if got := httpx.WriteError(rec, tt.err); got != tt.status || rec.Code != tt.status {
				t.Fatalf("WriteError = %d, recorded %d, want %d", got, rec.Code, tt.status)
			}
			h := rec.Header()
			if h.Get("Retry-After") != tt.retryAfter {
				t.Fatalf("Retry-After %q, want %q", h.Get("Retry-After"), tt.retryAfter)
			}
			if h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("headers %v", h)
			}
			e := decodeError(t, rec)
			if e.Error != tt.err.Code || e.Message != tt.err.Message || e.RetryAfterMS != tt.retryMS {
				t.Fatalf("body %+v, want %s %q retry %d", e, tt.err.Code, tt.err.Message, tt.retryMS)
			}
		})
	}
}

func TestFailHidesInternalErrors(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		logs   bool
	}{
		{"client error", &apierr.Error{Code: apierr.CodeUsernameTaken, Message: "taken"}, 409, apierr.CodeUsernameTaken, false},
		{"storage down", apierr.ErrUnavailable, 503, apierr.CodeUnavailable, true},
		{"internal", errors.New("disk on fire"), 500, apierr.CodeInternal, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logged.Reset()
			rec := httptest.NewRecorder()
			httpx.Fail(rec, httptest.NewRequest("POST", "/api/x", nil), log, tt.err)
			e := decodeError(t, rec)
			if rec.Code != tt.status || e.Error != tt.code || e.Message == "" {
				t.Fatalf("%d %+v, want %d %s", rec.Code, e, tt.status, tt.code)
			}
			if strings.Contains(e.Message, "disk on fire") {
				t.Fatal("internal error shown to the client")
			}
			if got := strings.Contains(logged.String(), "request failed"); got != tt.logs {
				t.Fatalf("logged %q, want a log: %v", logged.String(), tt.logs)
			}
		})
	}
}

func TestReadJSON(t *testing.T) {
	type req struct {
		Username string `json:"username"`
		Age      int    `json:"age"`
	}
	const limit = 64
	tests := []struct {
		name        string
		contentType string
		body        string
		code        string // "" for success
		want        req
	}{
		{"ok", "application/json", `{"username":"Bob"}`, "", req{Username: "Bob"}},
		{"charset utf-8", "application/json; charset=utf-8", `{"username":"Bob"}`, "", req{Username: "Bob"}},
		{"charset UTF-8 quoted, type in capitals", `Application/JSON;charset="UTF-8"`, `{"age":3}`, "", req{Age: 3}},
		{"surrounding whitespace", "application/json", " \n{\"age\":3}\r\n\t ", "", req{Age: 3}},
		{"exactly the limit", "application/json", `{"username":"` + strings.Repeat("a", limit-15) + `"}`, "", req{Username: strings.Repeat("a", limit-15)}},
		{"text/plain", "text/plain", `{"username":"Bob"}`, apierr.CodeUnsupportedMediaType, req{}},
		{"form", "application/x-www-form-urlencoded", `{"username":"Bob"}`, apierr.CodeUnsupportedMediaType, req{}},
		{"multipart", "multipart/form-data; boundary=x", `{"username":"Bob"}`, apierr.CodeUnsupportedMediaType, req{}},
		{"no content type", "", `{"username":"Bob"}`, apierr.CodeUnsupportedMediaType, req{}},
		{"json suffix type", "application/ld+json", `{"username":"Bob"}`, apierr.CodeUnsupportedMediaType, req{}},
		{"latin-1 charset", "application/json; charset=iso-8859-1", `{"username":"Bob"}`, apierr.CodeUnsupportedMediaType, req{}},
		{"malformed type", "application/json; =", `{"username":"Bob"}`, apierr.CodeUnsupportedMediaType, req{}},
		{"over the limit", "application/json", `{"username":"` + strings.Repeat("a", limit) + `"}`, apierr.CodeTooLarge, req{}},
		{"empty", "application/json", ``, apierr.CodeInvalidRequest, req{}},
		{"truncated", "application/json", `{"username":`, apierr.CodeInvalidRequest, req{}},
		{"syntax", "application/json", `{username}`, apierr.CodeInvalidRequest, req{}},
		{"unknown field", "application/json", `{"username":"B","admin":true}`, apierr.CodeInvalidRequest, req{}},
		{"wrong type", "application/json", `{"username":5}`, apierr.CodeInvalidRequest, req{}},
		{"trailing value", "application/json", `{"age":1}{"age":2}`, apierr.CodeInvalidRequest, req{}},
		{"trailing brace", "application/json", `{"age":1}}`, apierr.CodeInvalidRequest, req{}},
		{"trailing garbage", "application/json", `{"age":1} x`, apierr.CodeInvalidRequest, req{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			var got req
			err := httpx.ReadJSON(httptest.NewRecorder(), r, limit, &got)
			if tt.code == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ReadJSON = %v, %+v; want %+v", err, got, tt.want)
				}
				return
			}
			ce, ok := errors.AsType[*apierr.Error](err)
			if !ok || ce.Code != tt.code || ce.Message == "" {
				t.Fatalf("ReadJSON error %v, want code %s", err, tt.code)
			}
		})
	}
}

func TestReadJSONReadErrors(t *testing.T) {
	tests := []struct {
		name string
		body io.Reader
		code string
	}{
		{"connection lost", io.MultiReader(strings.NewReader(`{"a"`), errReader{io.ErrUnexpectedEOF}), apierr.CodeInvalidRequest},
		{"too slow", errReader{httpx.ErrBodyTimeout}, apierr.CodeRequestTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", tt.body)
			r.Header.Set("Content-Type", "application/json")
			var v map[string]any
			ce, ok := errors.AsType[*apierr.Error](httpx.ReadJSON(httptest.NewRecorder(), r, 1024, &v))
			if !ok || ce.Code != tt.code {
				t.Fatalf("error %v, want %s", ce, tt.code)
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	httpx.WriteJSON(rec, http.StatusCreated, map[string]int{"a": 1})
	if rec.Code != 201 || rec.Body.String() != "{\"a\":1}\n" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %v", rec.Code, rec.Body, rec.Header())
	}
	rec = httptest.NewRecorder()
	httpx.WriteJSON(rec, http.StatusOK, func() {}) // cannot be encoded
	if e := decodeError(t, rec); rec.Code != 500 || e.Error != apierr.CodeInternal {
		t.Fatalf("%d %+v", rec.Code, e)
	}
}
