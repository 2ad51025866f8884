package siocodec

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Binary attachments travel as Engine.IO binary messages after the text
// packet; the JSON keeps {"_placeholder":true,"num":N} in their place. This
// codec leaves placeholders in the raw JSON (the server forwards them byte
// for byte with the attachments); it validates them on decode, writes them
// on encode (deconstruction of []byte arguments), and ResolvePlaceholder
// maps one back to its attachment (reconstruction, for one value at a
// time).

// placeholderKey is the JSON key that marks a placeholder object.
var placeholderKey = []byte(`"_placeholder"`)

// appendPlaceholder appends the placeholder for attachment num, with the
// key order the official encoder uses.
func appendPlaceholder(dst []byte, num int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(num), 10)
	return append(dst, '}')
}

// checkPlaceholders reports ErrInvalidPlaceholder unless every placeholder
// in data (valid JSON) has an integer num in [0, n). As in the official
// decoder, an object whose last "_placeholder" member is true is a
// placeholder and is not looked into; every other array and object is.
func checkPlaceholders(data []byte, n int) error {
	if bytes.IndexByte(data, '\\') < 0 && !bytes.Contains(data, placeholderKey) {
		return nil // no key can spell _placeholder: nothing to walk
	}
	return walkPlaceholders(data, n)
}

// walkPlaceholders checks the single valid JSON value v (no surrounding
// whitespace).
func walkPlaceholders(v []byte, n int) error {
	switch v[0] {
	case '[':
		i := skipSpace(v, 1)
		for i < len(v) && v[i] != ']' {
			j := skipValue(v, i)
			if j < 0 {
				return ErrInvalidJSON
			}
			if err := walkPlaceholders(v[i:j], n); err != nil {
				return err
			}
			i = skipSpace(v, j)
			if i < len(v) && v[i] == ',' {
				i = skipSpace(v, i+1)
			}
		}
		return nil
	case '{':
		var (
			isPlaceholder bool
			num           []byte
			childErr      error
		)
		err := eachMember(v, func(key, val []byte) {
			switch {
			case keyIs(key, "_placeholder"):
				isPlaceholder = string(val) == "true"
			case keyIs(key, "num"):
				num = val
			}
			if childErr == nil {
				childErr = walkPlaceholders(val, n)
			}
		})
		if err != nil {
			return err
		}
		if isPlaceholder {
			if _, ok := placeholderIndex(num, n); !ok {
				return ErrInvalidPlaceholder
			}
			return nil
		}
		return childErr
	}
	return nil
}

// eachMember calls fn with the raw key (quotes included) and raw value of
// every member of the JSON object v, in order. It fails with
// ErrInvalidJSON on malformed structure and never panics.
func eachMember(v []byte, fn func(key, val []byte)) error {
	i := skipSpace(v, 1)
	for i < len(v) && v[i] != '}' {
		if v[i] != '"' {
			return ErrInvalidJSON
		}
		k := skipString(v, i)
		if k < 0 {
			return ErrInvalidJSON
		}
		key := v[i:k]
		i = skipSpace(v, k)
		if i >= len(v) || v[i] != ':' {
			return ErrInvalidJSON
		}
		i = skipSpace(v, i+1)
		j := skipValue(v, i)
		if j < 0 {
			return ErrInvalidJSON
		}
		fn(key, v[i:j])
		i = skipSpace(v, j)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	if i >= len(v) {
		return ErrInvalidJSON
	}
	return nil
}

// keyIs reports whether the JSON string literal key decodes to name.
func keyIs(key []byte, name string) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return len(key) == len(name)+2 && string(key[1:len(key)-1]) == name
	}
	s, err := unquote(key)
	return err == nil && s == name
}

// placeholderIndex returns the attachment index of the raw JSON number num
// if it is an integer in [0, n).
func placeholderIndex(num []byte, n int) (int, bool) {
	if len(num) == 0 || (num[0] != '-' && !isDigit(num[0])) {
		return 0, false // absent, string, bool, ...
	}
	if len(num) <= 9 {
		idx, plain := 0, true
		for _, c := range num {
			if !isDigit(c) {
				plain = false
				break
			}
			idx = idx*10 + int(c-'0')
		}
		if plain {
			return idx, idx < n
		}
	}
	// -0, 1.0, 1e0: integers to JavaScript too.
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f >= float64(n) {
		return 0, false
	}
	return int(f), true
}

// ResolvePlaceholder returns the attachment a placeholder value stands for:
// if v (one raw JSON value, such as an element from SplitArgs of a binary
// packet) is a {"_placeholder":true,"num":N} object with N an index into
// attachments, it returns attachments[N] and true. Otherwise it returns nil
// and false; it never panics on malformed input. It is safe for concurrent
// use.
func ResolvePlaceholder(v json.RawMessage, attachments [][]byte) ([]byte, bool) {
	i := skipSpace(v, 0)
	v = trimRightSpace(v[i:])
	if len(v) == 0 || v[0] != '{' || v[len(v)-1] != '}' {
		return nil, false
	}
	var (
		isPlaceholder bool
		num           []byte
	)
	err := eachMember(v, func(key, val []byte) {
		switch {
		case keyIs(key, "_placeholder"):
			isPlaceholder = string(val) == "true"
		case keyIs(key, "num"):
			num = val
		}
	})
	if err != nil || !isPlaceholder {
		return nil, false
	}
	idx, ok := placeholderIndex(num, len(attachments))
	if !ok {
		return nil, false
	}
	return attachments[idx], true
}

// appendValue appends the JSON form of v, turning []byte into placeholders
// (appending the bytes to atts); depth counts the []any and map[string]any
// levels above v.
func appendValue(buf []byte, atts [][]byte, v any, depth int) ([]byte, [][]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), atts, nil
	case json.RawMessage:
		if len(x) == 0 {
			return append(buf, "null"...), atts, nil
		}
		if !utf8.Valid(x) {
			return buf, atts, ErrInvalidUTF8
		}
		if !json.Valid(x) {
			return buf, atts, ErrInvalidJSON
		}
		return append(buf, x...), atts, nil
	case []byte:
		return appendPlaceholder(buf, len(atts)), append(atts, x), nil
	case string:
		return appendString(buf, x), atts, nil
	case bool:
		return strconv.AppendBool(buf, x), atts, nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), atts, nil
	case int64:
		return strconv.AppendInt(buf, x, 10), atts, nil
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), atts, nil
	case uint:
		return strconv.AppendUint(buf, uint64(x), 10), atts, nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), atts, nil
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10), atts, nil
	case float64:
		b, err := appendFloat(buf, x)
		return b, atts, err
	case []any:
		if depth >= maxEncodeDepth {
			return buf, atts, ErrTooDeep
		}
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, atts, err = appendValue(buf, atts, e, depth+1); err != nil {
				return buf, atts, err
			}
		}
		return append(buf, ']'), atts, nil
	case map[string]any:
		if depth >= maxEncodeDepth {
			return buf, atts, ErrTooDeep
		}
		buf = append(buf, '{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			var err error
			if buf, atts, err = appendValue(buf, atts, x[k], depth+1); err != nil {
				return buf, atts, err
			}
		}
		return append(buf, '}'), atts, nil
	default:
		b, err := appendMarshal(buf, v)
		return b, atts, err
	}
}

// jsonEncoder is a reusable encoding/json encoder without HTML escaping,
// so output matches JSON.stringify ("<" stays "<").
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonEncoders = sync.Pool{New: func() any {
	e := new(jsonEncoder)
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// appendMarshal appends v encoded by encoding/json.
func appendMarshal(dst []byte, v any) ([]byte, error) {
	e := jsonEncoders.Get().(*jsonEncoder)
	e.buf.Reset()
	err := e.enc.Encode(v)
	if err == nil {
		dst = append(dst, trimRightSpace(e.buf.Bytes())...) // drop Encode's '\n'
	}
	if e.buf.Cap() <= 64<<10 {
		jsonEncoders.Put(e)
	}
	return dst, err
}

// appendString appends s as a JSON string the way JSON.stringify writes
// it: only '"', '\\' and control characters are escaped; invalid UTF-8
// becomes \ufffd, as encoding/json does.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendFloat appends f as JSON.stringify prints it: shortest round-trip
// digits, exponent form below 1e-6 and from 1e21 (the algorithm
// encoding/json uses too), and -0 as 0 (where encoding/json writes -0).
// NaN and ±Inf have no JSON form.
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, ErrUnsupportedValue
	}
	if f == 0 {
		f = 0 // JSON.stringify(-0) is "0"
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, as JavaScript writes it.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}
