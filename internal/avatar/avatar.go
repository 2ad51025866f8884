package avatar

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"math"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// ContentType is the media type of the documents User and Room return.
const ContentType = "image/svg+xml"

// Size is the width and height, in CSS pixels, of every avatar; the
// viewBox has the same size, so one unit is one pixel.
const Size = 64

// Identicon geometry: a 5×5 grid of 10-unit cells centred with a 7-unit
// margin (5·10 + 2·7 = 64).
const (
	gridCells  = 5
	cellSize   = 10
	gridMargin = (Size - gridCells*cellSize) / 2
)

// identiconBackground is the colour of the cells left empty.
const identiconBackground = "#f0f0f0"

// svgOpen starts every avatar. role and aria-label make screen readers
// announce it as an image.
const svgOpen = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img"`

// User returns the avatar of the user with the given id: a GitHub-style
// identicon, a 5×5 grid mirrored left to right whose filled cells and
// colour come from the SHA-256 of id. The same id always gives the same
// bytes. The id is not copied into the document.
func User(id string) []byte {
	sum := sha256.Sum256([]byte("chatrooms-avatar-user\x00" + id))

	// Colour: any hue, moderately saturated, mid lightness, so that it
	// stands out on the light background.
	hue := float64(binary.BigEndian.Uint16(sum[0:2]) % 360)
	sat := 0.45 + float64(sum[2]%25)/100 // 0.45–0.69
	light := 0.40 + float64(sum[3]%16)/100
	fill := hexColour(hslToRGB(hue, sat, light))

	// Pattern: 15 bits for the 3 left columns (5 rows each); columns 3 and
	// 4 mirror columns 1 and 0.
	bits := binary.BigEndian.Uint32(sum[4:8])
	var on [gridCells][3]bool
	filled := false
	for col := range 3 {
		for row := range gridCells {
			on[row][col] = bits&(1<<(col*gridCells+row)) != 0
			filled = filled || on[row][col]
		}
	}
	if !filled { // an empty grid would be a blank tile: fill the middle column
		for row := range gridCells {
			on[row][2] = true
		}
	}

	var b bytes.Buffer
	b.Grow(512)
	b.WriteString(svgOpen)
	b.WriteString(` aria-label="avatar">`)
	fmt.Fprintf(&b, `<rect width="64" height="64" fill="%s"/>`, identiconBackground)
	fmt.Fprintf(&b, `<path fill="%s" d="`, fill)
	for row := range gridCells {
		for col := range gridCells {
			src := col
			if col > 2 {
				src = gridCells - 1 - col
			}
			if on[row][src] {
				fmt.Fprintf(&b, "M%d %dh%dv%dh-%dz", gridMargin+col*cellSize, gridMargin+row*cellSize, cellSize, cellSize, cellSize)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}

// Room returns the avatar of a room with the given name: its initials in
// white on a rounded square whose colour comes from the SHA-256 of name.
// The same name always gives the same bytes.
//
// The initials are the first letter or digit of each of the first two
// words, upper-cased (title case, so "ǆ" gives "ǅ") with any combining
// marks that follow it, NFC: "general chat" → "GC", "élan" → "É",
// "日本語" → "日". Words are runs of letters, digits and marks, so
// punctuation, symbols and emoji separate words and never become initials
// ("🎮 gaming" → "G", "C++ dev" → "CD"); a name with no letter or digit
// gives "#". The background keeps at least a 4.5:1 contrast with the
// white text (WCAG AA).
func Room(name string) []byte {
	text := initials(name)
	sum := sha256.Sum256([]byte("chatrooms-avatar-room\x00" + name))
	hue := float64(binary.BigEndian.Uint16(sum[0:2]) % 360)
	sat := 0.50 + float64(sum[2]%21)/100 // 0.50–0.70
	bg := readableOnWhite(hue, sat, 0.45)

	fontSize := 30
	if len([]rune(text)) > 1 {
		fontSize = 26
	}
	var b bytes.Buffer
	b.Grow(512)
	b.WriteString(svgOpen)
	b.WriteString(` aria-label="`)
	escape(&b, text)
	b.WriteString(`">`)
	fmt.Fprintf(&b, `<rect width="64" height="64" rx="8" fill="%s"/>`, hexColour(bg))
	fmt.Fprintf(&b, `<text x="32" y="32" dominant-baseline="central" text-anchor="middle" `+
		`font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif" `+
		`font-size="%d" font-weight="600" fill="#ffffff">`, fontSize)
	escape(&b, text)
	b.WriteString(`</text></svg>`)
	return b.Bytes()
}

// initials returns the one or two characters Room draws for name.
func initials(name string) string {
	isWordRune := func(r rune) bool { return unicode.In(r, unicode.L, unicode.N, unicode.M) }
	var out strings.Builder
	n := 0
	for _, word := range strings.FieldsFunc(norm.NFC.String(name), func(r rune) bool { return !isWordRune(r) }) {
		if n == 2 {
			break
		}
		// The initial: the word's first letter or digit (a word may start
		// with stray marks) and the marks that follow it.
		rs := []rune(word)
		start := 0
		for start < len(rs) && unicode.Is(unicode.M, rs[start]) {
			start++
		}
		if start == len(rs) {
			continue
		}
		end := start + 1
		for end < len(rs) && unicode.Is(unicode.M, rs[end]) {
			end++
		}
		out.WriteRune(unicode.ToTitle(rs[start]))
		for _, m := range rs[start+1 : end] {
			out.WriteRune(m)
		}
		n++
	}
	if n == 0 {
		return "#"
	}
	return norm.NFC.String(out.String())
}

// escape writes s XML-escaped, for both text and attribute values.
func escape(b *bytes.Buffer, s string) {
	// EscapeText also escapes quotes and replaces characters XML forbids.
	_ = xml.EscapeText(b, []byte(s)) // a bytes.Buffer never fails
}

// readableOnWhite returns the colour of the given hue and saturation,
// starting at lightness l and darkening in steps of 2% until white text
// on it has a contrast ratio of at least 4.5:1.
func readableOnWhite(h, s, l float64) [3]uint8 {
	for ; l > 0; l -= 0.02 {
		c := hslToRGB(h, s, l)
		if contrastWithWhite(c) >= 4.5 {
			return c
		}
	}
	return [3]uint8{0, 0, 0}
}

// contrastWithWhite is the WCAG 2 contrast ratio between white and c.
func contrastWithWhite(c [3]uint8) float64 {
	lin := func(v uint8) float64 {
		x := float64(v) / 255
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	lum := 0.2126*lin(c[0]) + 0.7152*lin(c[1]) + 0.0722*lin(c[2])
	return 1.05 / (lum + 0.05)
}

// hslToRGB converts hue (degrees), saturation and lightness (0–1) to RGB.
func hslToRGB(h, s, l float64) [3]uint8 {
	c := (1 - math.Abs(2*l-1)) * s
	hp := math.Mod(h, 360) / 60
	x := c * (1 - math.Abs(math.Mod(hp, 2)-1))
	var r, g, b float64
	switch {
	case hp < 1:
		r, g, b = c, x, 0
	case hp < 2:
		r, g, b = x, c, 0
	case hp < 3:
		r, g, b = 0, c, x
	case hp < 4:
		r, g, b = 0, x, c
	case hp < 5:
		r, g, b = x, 0, c
	default:
		r, g, b = c, 0, x
	}
	m := l - c/2
	to8 := func(v float64) uint8 { return uint8(math.Round(math.Min(1, math.Max(0, v+m)) * 255)) }
	return [3]uint8{to8(r), to8(g), to8(b)}
}

func hexColour(c [3]uint8) string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }
