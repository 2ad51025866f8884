package httpx

import "strings"

// BearerToken returns the token of an Authorization header value of the
// form "Bearer <token>" (RFC 6750 §2.1): the scheme in any case (RFC 9110
// §11.1), then one or more spaces, then a token68 (letters, digits and
// "-._~+/", then optionally "=" padding). ok is false for anything else,
// including an empty header, another scheme and a token with spaces or
// other characters in it.
func BearerToken(header string) (token string, ok bool) {
	const scheme = "bearer"
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) || header[len(scheme)] != ' ' {
		return "", false
	}
	token = strings.TrimLeft(header[len(scheme):], " ")
	if !isToken68(token) {
		return "", false
	}
	return token, true
}

// isToken68 reports whether s is a token68 (RFC 9110 §11.2): one or more
// of ALPHA DIGIT "-" "." "_" "~" "+" "/", then any number of "=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
