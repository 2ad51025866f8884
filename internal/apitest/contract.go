package apitest

import (
	"strings"
	"testing"
	"unicode"
)

// ContractCase is one request of the HTTP contract and its answer: the
// status and, for an error, the code (which must come with a message).
type ContractCase struct {
	Name, Method, Path, Token string
	Body                      any // nil, a string sent as is, or a value sent as JSON
	Status                    int
	Code                      string // "" for an answer that is not an error, or an error of any code
}

// Contract is the HTTP contract of the API as seen by the registered user
// (name, id, token) whose current room is the default room, nothing else
// in the service being known: health, registration with every kind of
// refused name and body, the user's own profile, rooms and avatars. Every
// case leaves the service as it found it.
func Contract(name, id, token string) []ContractCase {
	big := `{"username":"` + strings.Repeat("a", 20000) + `"}`
	users := func(username string) map[string]string { return map[string]string{"username": username} }
	room := func(name string) map[string]string { return map[string]string{"name": name} }
	return []ContractCase{
		{"health", "GET", "/api/health", "", nil, 200, ""},
		{"healthz", "GET", "/healthz", "", nil, 200, ""},
		{"readyz", "GET", "/readyz", "", nil, 200, ""},
		{"invalid username short", "POST", "/api/users", "", users("ab"), 400, "invalid_username"},
		{"invalid username html", "POST", "/api/users", "", users("<b>x</b>"), 400, "invalid_username"},
		{"invalid username zero width", "POST", "/api/users", "", users("Pe\u200bter"), 400, "invalid_username"},
		{"taken same", "POST", "/api/users", "", users(name), 409, "username_taken"},
		{"taken case", "POST", "/api/users", "", users("  " + SwapCase(name) + " "), 409, "username_taken"},
		{"taken confusable", "POST", "/api/users", "", users(strings.Replace(name, "e", "е", 1)), 409, "username_taken"},
		{"malformed json", "POST", "/api/users", "", `{"username":`, 400, "invalid_request"},
		{"unknown field", "POST", "/api/users", "", `{"username":"Zed","admin":true}`, 400, "invalid_request"},
		{"trailing data", "POST", "/api/users", "", `{"username":"Zed"} {}`, 400, "invalid_request"},
		{"too large", "POST", "/api/users", "", big, 413, "too_large"},
		{"me", "GET", "/api/users/me", token, nil, 200, ""},
		{"me no token", "GET", "/api/users/me", "", nil, 401, "unauthorized"},
		{"me bad token", "GET", "/api/users/me", "nope", nil, 401, "unauthorized"},
		{"me user id is not a token", "GET", "/api/users/me", id, nil, 401, "unauthorized"},
		{"users", "GET", "/api/users", "", nil, 200, ""},
		{"rooms", "GET", "/api/rooms", "", nil, 200, ""},
		{"room", "GET", "/api/rooms/_default", "", nil, 200, ""},
		{"room missing", "GET", "/api/rooms/nope", "", nil, 404, "room_not_found"},
		{"room bad id", "GET", "/api/rooms/..%2f", "", nil, 404, ""},
		{"create room no token", "POST", "/api/rooms", "", room("x"), 401, "unauthorized"},
		{"create room empty", "POST", "/api/rooms", token, room("  "), 400, "invalid_room"},
		{"create room long", "POST", "/api/rooms", token, room(strings.Repeat("n", 41)), 400, "invalid_room"},
		{"create room bidi", "POST", "/api/rooms", token, room("a\u202eb"), 400, "invalid_room"},
		{"create room long description", "POST", "/api/rooms", token, map[string]string{"name": "ok", "description": strings.Repeat("d", 201)}, 400, "invalid_room"},
		{"create room taken", "POST", "/api/rooms", token, room("default room"), 409, "room_name_taken"},
		{"unknown endpoint", "GET", "/api/nope", "", nil, 404, "not_found"},
		{"user avatar", "GET", "/api/avatars/users/" + id + ".svg", "", nil, 200, ""},
		{"room avatar", "GET", "/api/avatars/rooms/_default.svg", "", nil, 200, ""},
		{"room avatar missing", "GET", "/api/avatars/rooms/nope.svg", "", nil, 404, "room_not_found"},
	}
}

// CheckContract runs each case as a subtest of t, the i-th through at(i):
// the status must be the case's and an error answer must carry its code
// and a message.
func CheckContract(t *testing.T, cases []ContractCase, at func(i int) Server) {
	t.Helper()
	for i, tc := range cases {
		srv := at(i)
		t.Run(tc.Name, func(t *testing.T) {
			var e Error
			var out any = &e
			if tc.Code == "" {
				out = nil
			}
			if got := srv.Do(t, tc.Method, tc.Path, tc.Token, tc.Body, out); got != tc.Status {
				t.Fatalf("%sstatus = %d, want %d", prefix(srv), got, tc.Status)
			}
			if tc.Code != "" && (e.Error != tc.Code || e.Message == "") {
				t.Fatalf("%serror = %+v, want code %q with a message", prefix(srv), e, tc.Code)
			}
		})
	}
}

// prefix is "through Name: ", or nothing without a name.
func prefix(s Server) string {
	if s.Name == "" {
		return ""
	}
	return "through " + s.Name + ": "
}

// SwapCase swaps the case of every letter: "Peter" → "pETER".
func SwapCase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, s)
}
