package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var diagRe = regexp.MustCompile(`msg=diagnostics url=(http://\S+)`)

// --metrics-addr serves the Go profiles on a listener of its own, and
// the public listener does not.
func TestDiagnosticsListener(t *testing.T) {
	s := startServer(t, "", "--metrics-addr", "127.0.0.1:0")
	m := diagRe.FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no diagnostics line in the log:\n%s", s.logs.String())
	}
	res, err := http.Get(m[1] + "goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile:") {
		t.Fatalf("goroutine profile: %d %.200s", res.StatusCode, body)
	}
	res, err = http.Get(s.URL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Fatal("the public listener serves the profiles")
	}
}
