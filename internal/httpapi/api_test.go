package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/httpapi"
)

// fakeService implements httpapi.Service with canned answers.
type fakeService struct {
	registerErr error
	createErr   error
	roomErr     error
	loggedOut   string
	registered  int32 // calls of Register (atomic)
	created     int32 // calls of CreateRoom (atomic)
}

const goodToken = "secret-token"

var alice = chat.User{ID: "u1", Name: "Alice", AvatarURL: "/api/avatars/users/u1.svg", Online: true}

func (f *fakeService) Register(_ context.Context, name string) (chat.User, string, error) {
	atomic.AddInt32(&f.registered, 1)
	if f.registerErr != nil {
		return chat.User{}, "", f.registerErr
	}
	return chat.User{ID: "u2", Name: name}, "new-token", nil
}

func (f *fakeService) Authenticate(_ context.Context, token string) (chat.User, error) {
	if token != goodToken {
		return chat.User{}, &apierr.Error{Code: apierr.CodeUnauthorized, Message: "missing or invalid token"}
	}
	return alice, nil
}

func (f *fakeService) Logout(_ context.Context, id string) error { f.loggedOut = id; return nil }
func (f *fakeService) Users() []chat.User                        { return []chat.User{alice} }
func (f *fakeService) Rooms() []chat.Room {
	return []chat.Room{{ID: "_default", Name: "Default Room", Persistent: true}}
}

func (f *fakeService) Room(_ context.Context, id string) (chat.Room, error) {
	if f.roomErr != nil {
		return chat.Room{}, f.roomErr
	}
	if id != "_default" {
		return chat.Room{}, &apierr.Error{Code: apierr.CodeRoomNotFound, Message: "no such room"}
	}
	return chat.Room{ID: "_default", Name: "Default Room"}, nil
}

func (f *fakeService) CreateRoom(_ context.Context, _, name, desc string) (chat.Room, error) {
	atomic.AddInt32(&f.created, 1)
	if f.createErr != nil {
		return chat.Room{}, f.createErr
	}
	return chat.Room{ID: "r1", Name: name, Description: desc, MemberCount: 1}, nil
}

func serve(t *testing.T, svc *fakeService, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	header := http.Header{}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost {
		header.Set("Content-Type", "application/json")
	}
	return serveWith(t, svc, method, path, header, body)
}

func serveWith(t *testing.T, svc *fakeService, method, path string, header http.Header, body string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	httpapi.New(httpapi.Config{MaxBody: 256}, svc).Register(mux)
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name                      string
		svc                       fakeService
		method, path, token, body string
		status                    int
		code                      string // error code, or "" for success
		contains                  string // substring of a successful body
	}{
		{name: "health", method: "GET", path: "/api/health", status: 200, contains: "OK"},
		{name: "register", method: "POST", path: "/api/users", body: `{"username":"Bob"}`, status: 201, contains: `"token":"new-token"`},
		{name: "register taken", svc: fakeService{registerErr: &apierr.Error{Code: apierr.CodeUsernameTaken, Message: "taken"}}, method: "POST", path: "/api/users", body: `{"username":"Bob"}`, status: 409, code: "username_taken"},
		{name: "register invalid", svc: fakeService{registerErr: &apierr.Error{Code: apierr.CodeInvalidUsername, Message: "bad"}}, method: "POST", path: "/api/users", body: `{"username":"B"}`, status: 400, code: "invalid_username"},
		{name: "register store down", svc: fakeService{registerErr: apierr.ErrUnavailable}, method: "POST", path: "/api/users", body: `{"username":"Bob"}`, status: 503, code: "unavailable"},
		{name: "register internal", svc: fakeService{registerErr: errors.New("disk on fire")}, method: "POST", path: "/api/users", body: `{"username":"Bob"}`, status: 500, code: "internal_error"},
		{name: "malformed", method: "POST", path: "/api/users", body: `{"username":`, status: 400, code: "invalid_request"},
		{name: "empty body", method: "POST", path: "/api/users", status: 400, code: "invalid_request"},
		{name: "unknown field", method: "POST", path: "/api/users", body: `{"username":"B","x":1}`, status: 400, code: "invalid_request"},
		{name: "wrong type", method: "POST", path: "/api/users", body: `{"username":5}`, status: 400, code: "invalid_request"},
		{name: "too large", method: "POST", path: "/api/users", body: `{"username":"` + strings.Repeat("a", 300) + `"}`, status: 413, code: "too_large"},
		{name: "users", method: "GET", path: "/api/users", status: 200, contains: `"name":"Alice"`},
		{name: "me", method: "GET", path: "/api/users/me", token: goodToken, status: 200, contains: `"id":"u1"`},
		{name: "me without token", method: "GET", path: "/api/users/me", status: 401, code: "unauthorized"},
		{name: "me with bad token", method: "GET", path: "/api/users/me", token: "x", status: 401, code: "unauthorized"},
		{name: "logout", method: "DELETE", path: "/api/users/me", token: goodToken, status: 204},
		{name: "rooms", method: "GET", path: "/api/rooms", status: 200, contains: `"_default"`},
		{name: "room", method: "GET", path: "/api/rooms/_default", status: 200, contains: `"Default Room"`},
		{name: "room missing", method: "GET", path: "/api/rooms/nope", status: 404, code: "room_not_found"},
		{name: "create room", method: "POST", path: "/api/rooms", token: goodToken, body: `{"name":"Go","description":"d"}`, status: 201, contains: `"member_count":1`},
		{name: "create room no token", method: "POST", path: "/api/rooms", body: `{"name":"Go"}`, status: 401, code: "unauthorized"},
		{name: "create room taken", svc: fakeService{createErr: &apierr.Error{Code: apierr.CodeRoomNameTaken, Message: "taken"}}, method: "POST", path: "/api/rooms", token: goodToken, body: `{"name":"Go"}`, status: 409, code: "room_name_taken"},
		{name: "user avatar", method: "GET", path: "/api/avatars/users/u1.svg", status: 200, contains: "<svg"},
		{name: "user avatar bad name", method: "GET", path: "/api/avatars/users/u1.png", status: 404, code: "not_found"},
		{name: "room avatar", method: "GET", path: "/api/avatars/rooms/_default.svg", status: 200, contains: "<svg"},
		{name: "room avatar missing", method: "GET", path: "/api/avatars/rooms/zzz.svg", status: 404, code: "room_not_found"},
		{name: "unknown", method: "GET", path: "/api/what", status: 404, code: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := tt.svc
			rec := serve(t, &svc, tt.method, tt.path, tt.token, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code != "" {
				var e apierr.Error
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code != tt.code || e.Message == "" {
					t.Fatalf("body = %s, want error %q with a message", rec.Body, tt.code)
				}
				if strings.Contains(rec.Body.String(), "disk on fire") {
					t.Fatal("internal error text leaked to the client")
				}
			}
			if tt.contains != "" && !strings.Contains(rec.Body.String(), tt.contains) {
				t.Fatalf("body %s lacks %q", rec.Body, tt.contains)
			}
		})
	}
}

func TestLogoutUsesAuthenticatedUser(t *testing.T) {
	svc := &fakeService{}
	serve(t, svc, "DELETE", "/api/users/me", goodToken, "")
	if svc.loggedOut != alice.ID {
		t.Fatalf("logged out %q, want %q", svc.loggedOut, alice.ID)
	}
}

func TestAvatarHeaders(t *testing.T) {
	rec := serve(t, &fakeService{}, "GET", "/api/avatars/users/u1.svg", "", "")
	h := rec.Header()
	if h.Get("Content-Type") != "image/svg+xml" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "sandbox") || h.Get("ETag") == "" || !strings.Contains(h.Get("Cache-Control"), "max-age") {
		t.Fatalf("headers = %v", h)
	}
	mux := http.NewServeMux()
	httpapi.New(httpapi.Config{}, &fakeService{}).Register(mux)
	req := httptest.NewRequest("GET", "/api/avatars/users/u1.svg", nil)
	req.Header.Set("If-None-Match", h.Get("ETag"))
	rec2 := httptest.NewRecorder()
	mux.ServeHTTP(rec2, req)
	if rec2.Code != http.StatusNotModified {
		t.Fatalf("conditional GET = %d, want 304", rec2.Code)
	}
}

func TestJSONResponsesAreNotCached(t *testing.T) {
	rec := serve(t, &fakeService{}, "GET", "/api/users", "", "")
	if rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("headers = %v", rec.Header())
	}
}
