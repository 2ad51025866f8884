package apitest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatrooms/chatrooms/internal/apitest"
)

func TestDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"error":   r.Method + " " + r.URL.Path,
			"message": r.Header.Get("Authorization") + "|" + r.Header.Get("Content-Type") + "|" + string(b),
		})
	}))
	t.Cleanup(srv.Close)
	s := apitest.Server{Name: "x", URL: srv.URL}
	tests := []struct {
		name, token string
		body        any
		want        apitest.Error
	}{
		{"no body", "", nil, apitest.Error{Error: "POST /p", Message: "||"}},
		{"string", "tok", `{"a":`, apitest.Error{Error: "POST /p", Message: `Bearer tok|application/json|{"a":`}},
		{"value", "", map[string]int{"a": 1}, apitest.Error{Error: "POST /p", Message: `|application/json|{"a":1}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got apitest.Error
			if code := s.Do(t, http.MethodPost, "/p", tt.token, tt.body, &got); code != http.StatusTeapot || got != tt.want {
				t.Fatalf("got %d %+v, want 418 %+v", code, got, tt.want)
			}
		})
	}
}

func TestContract(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range apitest.Contract("Peter", "u1", "tok") {
		if seen[c.Name] {
			t.Errorf("case %q twice", c.Name)
		}
		seen[c.Name] = true
		if c.Code != "" && c.Status < 400 {
			t.Errorf("%s: code %q with status %d", c.Name, c.Code, c.Status)
		}
	}
	if got := apitest.SwapCase("Peter-17"); got != "pETER-17" {
		t.Errorf("SwapCase = %q", got)
	}
}
