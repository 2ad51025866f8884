package apierr

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		code   string
		status int
	}{
		{CodeInvalidRequest, http.StatusBadRequest},
		{CodeInvalidUsername, http.StatusBadRequest},
		{CodeUsernameTaken, http.StatusConflict},
		{CodeInvalidRoom, http.StatusBadRequest},
		{CodeRoomNameTaken, http.StatusConflict},
		{CodeRoomNotFound, http.StatusNotFound},
		{CodeInvalidMessage, http.StatusBadRequest},
		{CodeUnauthorized, http.StatusUnauthorized},
		{CodeInvalidToken, http.StatusUnauthorized},
		{CodeUnsupportedMediaType, http.StatusUnsupportedMediaType},
		{CodeTooLarge, http.StatusRequestEntityTooLarge},
		{CodeRequestTimeout, http.StatusRequestTimeout},
		{CodeRateLimited, http.StatusTooManyRequests},
		{CodeUnsupportedType, http.StatusUnsupportedMediaType},
		{CodeInvalidImage, http.StatusUnprocessableEntity},
		{CodeAttachmentNotFound, http.StatusNotFound},
		{CodeNotFound, http.StatusNotFound},
		{CodeUnavailable, http.StatusServiceUnavailable},
		{CodeInternal, http.StatusInternalServerError},
		{"no_such_code", http.StatusInternalServerError},
		{"", http.StatusInternalServerError},
	}
	listed := 0
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := Status(tt.code); got != tt.status {
				t.Fatalf("Status(%q) = %d, want %d", tt.code, got, tt.status)
			}
		})
		if _, ok := statuses[tt.code]; ok {
			listed++
		}
	}
	if listed != len(statuses) {
		t.Errorf("the table has %d codes, %d of them tested", len(statuses), listed)
	}
}

// TestProtocolDocListsEveryCode keeps docs/protocol.md's table of error
// codes (| `code` | status … |) equal to the statuses table.
func TestProtocolDocListsEveryCode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, errs, ok := strings.Cut(string(doc), "\n## Errors\n")
	if !ok {
		t.Fatal("docs/protocol.md has no ## Errors section")
	}
	errs, _, _ = strings.Cut(errs, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([0-9]{3})")
	documented := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(errs, -1) {
		documented[m[1]], _ = strconv.Atoi(m[2])
	}
	for code, status := range statuses {
		if got, ok := documented[code]; !ok {
			t.Errorf("docs/protocol.md does not list %s", code)
		} else if got != status {
			t.Errorf("docs/protocol.md gives %s status %d, the server %d", code, got, status)
		}
	}
	for code := range documented {
		if _, ok := statuses[code]; !ok {
			t.Errorf("docs/protocol.md lists %s, which the server never sends", code)
		}
	}
}

func TestAsError(t *testing.T) {
	rl := RateLimited("slow down", 0)
	tests := []struct {
		err      error
		wantCode string
	}{
		{rl, CodeRateLimited},
		{fmt.Errorf("send: %w", rl), CodeRateLimited},
		{fmt.Errorf("get: %w", ErrUnavailable), CodeUnavailable},
		{ErrNotFound, CodeInternal},
		{errors.New("boom"), CodeInternal},
	}
	for _, tt := range tests {
		if got := AsError(tt.err); got.Code != tt.wantCode || strings.Contains(got.Message, "boom") {
			t.Errorf("AsError(%v) = %+v, want code %s and no internals", tt.err, got, tt.wantCode)
		}
	}
	if AsError(fmt.Errorf("x: %w", rl)) != rl {
		t.Error("AsError did not return the wrapped *Error itself")
	}
}

func TestRateLimited(t *testing.T) {
	tests := []struct {
		wait time.Duration
		ms   int64
	}{
		{0, 1},
		{-time.Second, 1},
		{time.Microsecond, 1},
		{1500 * time.Millisecond, 1500},
	}
	for _, tt := range tests {
		e := RateLimited("slow down", tt.wait)
		if e.Code != CodeRateLimited || e.RetryAfterMS != tt.ms || e.Error() != "rate_limited: slow down" {
			t.Errorf("RateLimited(%v) = %+v %q, want retry_after_ms %d", tt.wait, e, e.Error(), tt.ms)
		}
	}
}
