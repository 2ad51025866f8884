package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/chatrooms/chatrooms/internal/avatar"
	"github.com/chatrooms/chatrooms/internal/chat"
)

// Service is what the API needs of the chat service.
type Service interface {
	Register(ctx context.Context, username string) (chat.User, string, error)
	Authenticate(ctx context.Context, token string) (chat.User, error)
	Logout(ctx context.Context, userID string) error
	Users() []chat.User
	Rooms() []chat.Room
	Room(ctx context.Context, id string) (chat.Room, error)
	CreateRoom(ctx context.Context, userID, name, description string) (chat.Room, error)
}

// Config configures the API.
type Config struct {
	// MaxBody caps JSON request bodies (default 16 KiB).
	MaxBody int64
	// Timeout bounds one request's service calls (default 10s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// API serves /api. Safe for concurrent use.
type API struct {
	cfg Config
	svc Service
	log *slog.Logger
}

// New returns the API over svc.
func New(cfg Config, svc Service) *API {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 16 << 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &API{cfg: cfg, svc: svc, log: cfg.Logger}
}

// Register mounts the API on mux.
func (a *API) Register(mux *http.ServeMux) { a.routes(mux) }

// statusOf maps client error codes to HTTP statuses.
var statusOf = map[string]int{
	chat.CodeInvalidUsername:    http.StatusBadRequest,
	chat.CodeUsernameTaken:      http.StatusConflict,
	chat.CodeInvalidRoom:        http.StatusBadRequest,
	chat.CodeRoomNameTaken:      http.StatusConflict,
	chat.CodeRoomNotFound:       http.StatusNotFound,
	chat.CodeAttachmentNotFound: http.StatusNotFound,
	chat.CodeInvalidMessage:     http.StatusBadRequest,
	chat.CodeUnauthorized:       http.StatusUnauthorized,
	chat.CodeInvalidToken:       http.StatusUnauthorized,
	chat.CodeRateLimited:        http.StatusTooManyRequests,
	chat.CodeUnavailable:        http.StatusServiceUnavailable,
	chat.CodeInvalidRequest:     http.StatusBadRequest,
	codeTooLarge:                http.StatusRequestEntityTooLarge,
	codeNotFound:                http.StatusNotFound,
	codeMethod:                  http.StatusMethodNotAllowed,
}

const (
	codeTooLarge = "too_large"
	codeNotFound = "not_found"
	codeMethod   = "method_not_allowed"
)

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	ce := chat.AsError(err)
	status, ok := statusOf[ce.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, ce)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal_error","message":"something went wrong"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads one JSON object of at most MaxBody bytes into v, refusing
// unknown fields and trailing data.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &chat.Error{Code: codeTooLarge, Message: "the request body is too large"}
		}
		return &chat.Error{Code: chat.CodeInvalidRequest, Message: "could not read the request body"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &chat.Error{Code: chat.CodeInvalidRequest, Message: "malformed JSON: " + jsonProblem(err)}
	}
	if dec.More() {
		return &chat.Error{Code: chat.CodeInvalidRequest, Message: "malformed JSON: trailing data"}
	}
	return nil
}

// jsonProblem describes a decoding error without echoing input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error"
	case errors.As(err, &typ):
		return "field " + typ.Field + " has the wrong type"
	case errors.Is(err, io.EOF):
		return "empty body"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "cannot decode"
}

// authed requires a valid bearer token and passes the user on.
func (a *API) authed(h func(w http.ResponseWriter, r *http.Request, u chat.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || token == "" {
			a.fail(w, r, &chat.Error{Code: chat.CodeUnauthorized, Message: "missing or invalid token"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
		defer cancel()
		u, err := a.svc.Authenticate(ctx, strings.TrimSpace(token))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		h(w, r.WithContext(ctx), u)
	}
}

func (a *API) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "OK")
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
	}
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	u, token, err := a.svc.Register(ctx, req.Username)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		User  chat.User `json:"user"`
		Token string    `json:"token"`
	}{u, token})
}

func (a *API) listUsers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.svc.Users())
}

func (a *API) me(w http.ResponseWriter, _ *http.Request, u chat.User) {
	writeJSON(w, http.StatusOK, u)
}

func (a *API) logout(w http.ResponseWriter, r *http.Request, u chat.User) {
	if err := a.svc.Logout(r.Context(), u.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listRooms(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.svc.Rooms())
}

func (a *API) getRoom(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	room, err := a.svc.Room(ctx, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, room)
}

func (a *API) createRoom(w http.ResponseWriter, r *http.Request, u chat.User) {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	room, err := a.svc.CreateRoom(r.Context(), u.ID, req.Name, req.Description)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, room)
}

func (a *API) userAvatar(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || !validID(id) {
		a.fail(w, r, &chat.Error{Code: codeNotFound, Message: "no such avatar"})
		return
	}
	writeSVG(w, r, avatar.User(id))
}

func (a *API) roomAvatar(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || !validID(id) {
		a.fail(w, r, &chat.Error{Code: codeNotFound, Message: "no such avatar"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	room, err := a.svc.Room(ctx, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeSVG(w, r, avatar.Room(room.Name))
}

// writeSVG serves a generated avatar: cacheable, revalidated by ETag, and
// inert (no script can run even if opened directly).
func writeSVG(w http.ResponseWriter, r *http.Request, svg []byte) {
	sum := sha256.Sum256(svg)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(svg)
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	a.fail(w, r, &chat.Error{Code: codeNotFound, Message: "no such endpoint"})
}

// validID accepts the ids the service issues.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
