package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// WriteJSON writes v as a JSON answer with status, never cached or
// sniffed. If v cannot be encoded the answer is a 500 internal_error.
func WriteJSON(w http.ResponseWriter, status int, v any) {
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

// ReadJSON decodes r's body, one JSON value of at most limit bytes, into
// v. It refuses, as a *apierr.Error: a Content-Type other than
// application/json (parameters allowed, charset only utf-8):
// unsupported_media_type; a body over limit: too_large; a body cut by
// GuardBody: request_timeout; malformed JSON, unknown fields, a value of
// the wrong type and anything after the value: invalid_request. The
// buffer grows with the bytes that arrive, whatever Content-Length says.
func ReadJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if err := checkJSONType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return BodyError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &apierr.Error{Code: apierr.CodeInvalidRequest, Message: "malformed JSON: " + jsonProblem(err)}
	}
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return &apierr.Error{Code: apierr.CodeInvalidRequest, Message: "malformed JSON: trailing data"}
	}
	return nil
}

// BodyError is the client error for a failed body read: too_large past
// an http.MaxBytesReader limit, request_timeout when GuardBody cut it,
// invalid_request otherwise.
func BodyError(err error) *apierr.Error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &apierr.Error{Code: apierr.CodeTooLarge, Message: "the request body is too large"}
	}
	if errors.Is(err, ErrBodyTimeout) {
		return &apierr.Error{Code: apierr.CodeRequestTimeout, Message: "the request body arrived too slowly"}
	}
	return &apierr.Error{Code: apierr.CodeInvalidRequest, Message: "could not read the request body"}
}

// checkJSONType accepts "application/json" with any parameters but a
// charset other than UTF-8 (RFC 8259 §8.1: JSON is UTF-8).
func checkJSONType(header string) error {
	mt, params, err := mime.ParseMediaType(header)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return &apierr.Error{Code: apierr.CodeUnsupportedMediaType, Message: "the body must be JSON with Content-Type: application/json"}
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
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "syntax error"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "cannot decode"
}
