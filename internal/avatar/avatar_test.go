package avatar

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// hostileNames are room names an attacker might choose.
var hostileNames = []string{
	"<script>alert(1)</script>",
	"<svg onload=alert(1)>",
	`"><script>alert(document.cookie)</script>`,
	`' onmouseover='alert(1)`,
	"&amp; &lt; &#x3c; & <",
	"]]><script>x</script><![CDATA[",
	"<!-- comment --> <?xml-stylesheet href='evil.css'?>",
	"<a href=\"javascript:alert(1)\">x</a>",
	"<image xlink:href=\"https://evil.example/x.png\"/>",
	"<foreignObject><iframe src=//evil></iframe></foreignObject>",
	"<use href=#x /> <style>@import url(evil)</style>",
	"\x00\x01\x1b\ufffe\uffff",
	"\xff\xfe invalid utf-8",
	"\u202Ertl override",
	`"quoted" 'single'`,
	"&",
	"<",
	"]]>",
	"",
}

func TestInitials(t *testing.T) {
	tests := []struct{ name, want string }{
		{"general chat", "GC"},
		{"General", "G"},
		{"general", "G"},
		{"  random   stuff  here ", "RS"},
		{"élan", "É"},
		{"e\u0301lan vital", "ÉV"}, // decomposed input
		{"日本語", "日"},
		{"日本 語", "日語"},
		{"한국어 방", "한방"},
		{"Привет мир", "ПМ"},
		{"ǆemal", "ǅ"}, // title case of the digraph
		{"straße", "S"},
		{"ßeta", "ß"},
		{"مرحبا بالعالم", "مب"},
		{"हिन्दी चैट", "हिचै"}, // letter + vowel sign (Mc, Mn)
		{"2024 plans", "2P"},
		{"C++ dev", "CD"},
		{"my-room", "MR"},
		{"🎮 gaming", "G"},
		{"🎮🎲", "#"},
		{"👩‍💻 devs", "D"},
		{"🇫🇷", "#"},
		{"", "#"},
		{"   ", "#"},
		{"!!!", "#"},
		{"<script>alert(1)</script>", "SA"},
		{"&", "#"},
		{"]]>", "#"},
		{"\u0301\u0301abc", "A"}, // stray leading marks are skipped
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := initials(tt.name); got != tt.want {
				t.Fatalf("initials(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

// checkSVG parses doc with encoding/xml and fails unless it is one
// well-formed <svg> element in the SVG namespace, 64×64 with a viewBox,
// made only of the elements and attributes this package emits, with no
// scripting, event handler, link or external reference.
func checkSVG(t *testing.T, doc []byte) {
	t.Helper()
	allowedElems := map[string]bool{"svg": true, "rect": true, "path": true, "text": true}
	allowedAttrs := map[string]bool{
		"xmlns": true, "width": true, "height": true, "viewBox": true, "role": true, "aria-label": true,
		"fill": true, "d": true, "rx": true, "x": true, "y": true, "dominant-baseline": true,
		"text-anchor": true, "font-family": true, "font-size": true, "font-weight": true,
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root is %v, want svg in the SVG namespace", tok.Name)
				}
				attrs := map[string]string{}
				for _, a := range tok.Attr {
					attrs[a.Name.Local] = a.Value
				}
				if attrs["width"] != "64" || attrs["height"] != "64" || attrs["viewBox"] != "0 0 64 64" {
					t.Fatalf("root attributes %v, want width/height 64 and viewBox", attrs)
				}
			}
			depth++
			if !allowedElems[tok.Name.Local] {
				t.Fatalf("unexpected element <%s>", tok.Name.Local)
			}
			for _, a := range tok.Attr {
				if !allowedAttrs[a.Name.Local] || (a.Name.Space != "" && a.Name.Local != "xmlns") {
					t.Fatalf("unexpected attribute %v on <%s>", a.Name, tok.Name.Local)
				}
				if strings.Contains(strings.ToLower(a.Value), "url(") {
					t.Fatalf("attribute %s references %q", a.Name.Local, a.Value)
				}
			}
		case xml.EndElement:
			depth--
		case xml.ProcInst, xml.Directive, xml.Comment:
			t.Fatalf("unexpected %T in output", tok)
		}
	}
	if roots != 1 || depth != 0 {
		t.Fatalf("%d root elements, depth %d at end", roots, depth)
	}
}

var (
	eventAttr = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	danger    = regexp.MustCompile(`(?i)<script|<foreignobject|<iframe|<use|<image|<style|<a[\s>]|href|javascript:|<!\[cdata|<!--|<\?`)
)

func checkNoActiveContent(t *testing.T, doc []byte) {
	t.Helper()
	if m := danger.Find(doc); m != nil {
		t.Fatalf("output contains %q:\n%s", m, doc)
	}
	if m := eventAttr.Find(doc); m != nil {
		t.Fatalf("output contains event attribute %q:\n%s", m, doc)
	}
}

func TestRoomHostileNames(t *testing.T) {
	for _, name := range hostileNames {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			doc := Room(name)
			checkSVG(t, doc)
			checkNoActiveContent(t, doc)
		})
	}
}

func TestUserHostileIDs(t *testing.T) {
	for _, id := range hostileNames {
		t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
			doc := User(id)
			checkSVG(t, doc)
			checkNoActiveContent(t, doc)
			if len(id) > 3 && bytes.Contains(doc, []byte(id)) {
				t.Fatalf("user id copied into the avatar")
			}
		})
	}
}

func TestEscape(t *testing.T) {
	var b bytes.Buffer
	escape(&b, `<a href="x" title='y'>&]]>`)
	if got, want := b.String(), "&lt;a href=&#34;x&#34; title=&#39;y&#39;&gt;&amp;]]&gt;"; got != want {
		t.Fatalf("escape = %q, want %q", got, want)
	}
}

func TestRoomText(t *testing.T) {
	tests := []struct{ name, text string }{
		{"general chat", ">GC</text>"},
		{"élan", ">É</text>"},
		{"日本語", ">日</text>"},
		{"🎉", ">#</text>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := Room(tt.name)
			checkSVG(t, doc)
			if !bytes.Contains(doc, []byte(tt.text)) {
				t.Fatalf("Room(%q) lacks %q:\n%s", tt.name, tt.text, doc)
			}
			if !bytes.Contains(doc, []byte(`fill="#ffffff"`)) {
				t.Fatalf("text is not white:\n%s", doc)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, s := range []string{"", "u_01hx", "general chat", "日本語", "<script>"} {
		if !bytes.Equal(User(s), User(s)) {
			t.Errorf("User(%q) differs between calls", s)
		}
		if !bytes.Equal(Room(s), Room(s)) {
			t.Errorf("Room(%q) differs between calls", s)
		}
	}
}

// TestGolden pins the exact output for one input each, so that a change of
// the drawing (which changes every avatar users have seen) is deliberate.
func TestGolden(t *testing.T) {
	const (
		wantUser = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img" aria-label="avatar"><rect width="64" height="64" fill="#f0f0f0"/><path fill="`
		wantRoom = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img" aria-label="GC"><rect width="64" height="64" rx="8" fill="#`
	)
	if got := string(User("u_1")); !strings.HasPrefix(got, wantUser) {
		t.Errorf("User prefix:\n got %s\nwant %s…", got, wantUser)
	}
	if got := string(Room("general chat")); !strings.HasPrefix(got, wantRoom) {
		t.Errorf("Room prefix:\n got %s\nwant %s…", got, wantRoom)
	}
}

func TestDistinct(t *testing.T) {
	users := map[string]string{}
	for i := range 200 {
		id := fmt.Sprintf("user-%d", i)
		doc := string(User(id))
		if prev, ok := users[doc]; ok {
			t.Fatalf("User(%q) == User(%q)", id, prev)
		}
		users[doc] = id
	}
	// Same initials, different names: the colour tells them apart.
	rooms := []string{"general", "gaming", "go", "golang", "garden", "General"}
	seen := map[string]string{}
	for _, name := range rooms {
		doc := string(Room(name))
		if prev, ok := seen[doc]; ok {
			t.Fatalf("Room(%q) == Room(%q)", name, prev)
		}
		seen[doc] = name
	}
}

func TestIdenticonSymmetricAndNonEmpty(t *testing.T) {
	cell := regexp.MustCompile(`M(\d+) (\d+)h10v10h-10z`)
	for i := range 300 {
		doc := User(fmt.Sprintf("id-%d", i))
		cells := map[[2]int]bool{}
		for _, m := range cell.FindAllSubmatch(doc, -1) {
			x, err := strconv.Atoi(string(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			y, err := strconv.Atoi(string(m[2]))
			if err != nil {
				t.Fatal(err)
			}
			cells[[2]int{(x - gridMargin) / cellSize, (y - gridMargin) / cellSize}] = true
		}
		if len(cells) == 0 {
			t.Fatalf("empty identicon for id-%d", i)
		}
		for c := range cells {
			if !cells[[2]int{gridCells - 1 - c[0], c[1]}] {
				t.Fatalf("id-%d: cell %v has no mirror", i, c)
			}
		}
	}
}

func TestRoomContrast(t *testing.T) {
	fill := regexp.MustCompile(`<rect [^>]*fill="#([0-9a-f]{6})"`)
	for i := range 500 {
		doc := Room(fmt.Sprintf("room %d", i))
		m := fill.FindSubmatch(doc)
		if m == nil {
			t.Fatalf("no background in %s", doc)
		}
		var c [3]uint8
		if _, err := fmt.Sscanf(string(m[1]), "%02x%02x%02x", &c[0], &c[1], &c[2]); err != nil {
			t.Fatal(err)
		}
		if r := contrastWithWhite(c); r < 4.5 {
			t.Fatalf("room %d: background #%s has contrast %.2f with white", i, m[1], r)
		}
	}
}

func TestHSLToRGB(t *testing.T) {
	tests := []struct {
		h, s, l float64
		want    [3]uint8
	}{
		{0, 1, 0.5, [3]uint8{255, 0, 0}},
		{120, 1, 0.5, [3]uint8{0, 255, 0}},
		{240, 1, 0.5, [3]uint8{0, 0, 255}},
		{60, 1, 0.25, [3]uint8{128, 128, 0}},
		{0, 0, 1, [3]uint8{255, 255, 255}},
		{300, 0, 0, [3]uint8{0, 0, 0}},
	}
	for _, tt := range tests {
		if got := hslToRGB(tt.h, tt.s, tt.l); got != tt.want {
			t.Errorf("hslToRGB(%v, %v, %v) = %v, want %v", tt.h, tt.s, tt.l, got, tt.want)
		}
	}
}

func FuzzRoom(f *testing.F) {
	for _, s := range hostileNames {
		f.Add(s)
	}
	f.Add("general chat")
	f.Add("日本語")
	f.Fuzz(func(t *testing.T, name string) {
		doc := Room(name)
		checkSVG(t, doc)
		checkNoActiveContent(t, doc)
		if !bytes.Equal(doc, Room(name)) {
			t.Fatal("not deterministic")
		}
	})
}

func FuzzUser(f *testing.F) {
	for _, s := range hostileNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		doc := User(id)
		checkSVG(t, doc)
		checkNoActiveContent(t, doc)
	})
}

func BenchmarkUser(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		User("u_01hxyz")
	}
}

func BenchmarkRoom(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Room("general chat")
	}
}
