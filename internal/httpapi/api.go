package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/avatar"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/httpx"
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
	// Body bounds how slowly a request body may arrive (zero fields:
	// httpx defaults, at least 10 KiB or the whole body per 10 s).
	Body httpx.BodyTimeouts
	// AdmitNewUser and AdmitRoomCreation, if set, are asked before a
	// registration and before user creates a room: an error (e.g.
	// apierr.RateLimited) refuses it; otherwise undo is called if nothing
	// was created after all (invalid or taken name), so only creations
	// count.
	AdmitNewUser      func(r *http.Request) (undo func(), err error)
	AdmitRoomCreation func(r *http.Request, userID string) (undo func(), err error)
	// Client is what GET /api/config answers: the limits in force, which
	// cmd/chatrooms takes from the chat and attachments services
	// (NewClientConfig). A zero field reports those packages' default.
	Client ClientConfig
	Logger *slog.Logger
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
	cfg.Client = cfg.Client.withDefaults()
	return &API{cfg: cfg, svc: svc, log: cfg.Logger}
}

// Register mounts the API on mux.
func (a *API) Register(mux *http.ServeMux) { a.routes(mux) }

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpx.Fail(w, r, a.log, err)
}

// decode reads the JSON request body into v (httpx.ReadJSON: at most
// MaxBody bytes, arriving at Config.Body's minimum rate).
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := httpx.GuardBody(w, r, a.cfg.Body)
	defer body.Release()
	return httpx.ReadJSON(w, r, a.cfg.MaxBody, v)
}

// authed requires a valid bearer token and passes the user on.
func (a *API) authed(h func(w http.ResponseWriter, r *http.Request, u chat.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := httpx.BearerToken(r.Header.Get("Authorization"))
		if !ok {
			a.fail(w, r, &apierr.Error{Code: apierr.CodeUnauthorized, Message: "missing or invalid token"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
		defer cancel()
		u, err := a.svc.Authenticate(ctx, token)
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
	undo, err := admit(a.cfg.AdmitNewUser, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	u, token, err := a.svc.Register(ctx, req.Username)
	if err != nil {
		undo()
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, struct {
		User  chat.User `json:"user"`
		Token string    `json:"token"`
	}{u, token})
}

// admit asks an Admit hook; the undo it returns is never nil.
func admit(hook func(*http.Request) (func(), error), r *http.Request) (func(), error) {
	if hook == nil {
		return func() {}, nil
	}
	undo, err := hook(r)
	if undo == nil {
		undo = func() {}
	}
	return undo, err
}

func (a *API) listUsers(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, a.svc.Users())
}

func (a *API) me(w http.ResponseWriter, _ *http.Request, u chat.User) {
	httpx.WriteJSON(w, http.StatusOK, u)
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
	httpx.WriteJSON(w, http.StatusOK, a.svc.Rooms())
}

func (a *API) getRoom(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	room, err := a.svc.Room(ctx, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, room)
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
	var undo func()
	var err error
	if a.cfg.AdmitRoomCreation != nil {
		if undo, err = a.cfg.AdmitRoomCreation(r, u.ID); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	room, err := a.svc.CreateRoom(r.Context(), u.ID, req.Name, req.Description)
	if err != nil {
		if undo != nil {
			undo()
		}
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, room)
}

func (a *API) userAvatar(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || !chat.ValidID(id) {
		a.fail(w, r, &apierr.Error{Code: apierr.CodeNotFound, Message: "no such avatar"})
		return
	}
	writeSVG(w, r, avatar.User(id))
}

func (a *API) roomAvatar(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || !chat.ValidID(id) {
		a.fail(w, r, &apierr.Error{Code: apierr.CodeNotFound, Message: "no such avatar"})
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
	_, _ = w.Write(svg) //nolint:gosec // G705: an SVG we generate (internal/avatar escapes the name), sandboxed by the CSP above, nosniff
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	a.fail(w, r, &apierr.Error{Code: apierr.CodeNotFound, Message: "no such endpoint"})
}
