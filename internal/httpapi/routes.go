package httpapi

import "net/http"

// routes registers the whole API.
func (a *API) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/health", a.health)
	mux.HandleFunc("GET /api/config", a.clientConfig)

	mux.HandleFunc("POST /api/users", a.createUser)
	mux.HandleFunc("GET /api/users", a.listUsers)
	mux.HandleFunc("GET /api/users/me", a.authed(a.me))
	mux.HandleFunc("DELETE /api/users/me", a.authed(a.logout))

	mux.HandleFunc("GET /api/rooms", a.listRooms)
	mux.HandleFunc("GET /api/rooms/{id}", a.getRoom)
	mux.HandleFunc("POST /api/rooms", a.authed(a.createRoom))

	mux.HandleFunc("GET /api/avatars/users/{file}", a.userAvatar)
	mux.HandleFunc("GET /api/avatars/rooms/{file}", a.roomAvatar)

	mux.HandleFunc("/api/", a.notFound)
}
