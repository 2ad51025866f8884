package chat

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// nameSeeds are real-looking names in many scripts plus the hostile inputs
// of the table tests.
var nameSeeds = []string{
	"alice", "Peter", "PETER", "Peтer", "PeterI", "Peterl", "b0b", "rnodern",
	"straße", "STRASSE", "Zoe\u0308", "  mary \u00a0  jane ", "Иван", "Νίκος",
	"王小明", "コーヒー", "김민준", "محمد", "שָׁלוֹם", "हिन्दी", "สมชาย", "தமிழ்",
	"ᎪᎫᎬ", "ꭺꭻꭼ", "ılker", "İstanbul", "𝔭𝒶ỿ𝕡𝕒ℓ", "ａｌｉｃｅ", "\u212Aate",
	"ab\u200bcd", "\u202Eabc", "\u3164\u3164\u3164", "ab\xffc", "a" + strings.Repeat("\u0336", 5),
	"🎮 gaming", "❤️ fans", "👩🏽‍💻", "1️⃣", "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
	"C++ & Go: <b>", "a\r\nb", "\n\n hi \t", "file\u202egnp.exe", "",
	// Look-alikes of "peter" and "Default Room" that must fold to them.
	"peter", "ｐｅｔｅｒ", "ＰＥＴＥＲ", "ᴘᴇᴛᴇʀ", "ᵖᵉᵗᵉʳ", "ᴾᴱᵀᴱᴿ", "𝐩𝐞𝐭𝐞𝐫", "𝓅ℯ𝓉ℯ𝓇",
	"𝕡𝕖𝕥𝕖𝕣", "𝖕𝖊𝖙𝖊𝖗", "реtеr", "ραρα οreο", "ᴘｅтеʀ", "ⓟⓔⓣⓔⓡ", "ﬁsh", "ｺｰﾋｰ",
	"Default Room", "Default Rооm", "Default Rοοm", "ᴅᴇꜰᴀᴜʟᴛ ʀᴏᴏᴍ", "ᶫᶦᶰ", "ɶ ᴎ ʁ ᴕ",
}

// checkFold asserts the properties of the folded form behind both keys:
// idempotent (a fixed point, so the key of the folded form is the key of
// the name), stable across calls, and blind to what NFKC and small
// capitals change.
func checkFold(t *testing.T, n string) {
	t.Helper()
	f := foldName(n)
	if g := foldName(f); g != f {
		t.Fatalf("foldName not idempotent: %q → %q → %q", n, f, g)
	}
	if foldName(n) != f {
		t.Fatalf("foldName(%q) unstable", n)
	}
	if g := foldName(norm.NFKC.String(n)); g != f {
		t.Fatalf("NFKC changes the fold of %q: %q vs %q", n, f, g)
	}
	if g := foldName(strings.Map(func(r rune) rune {
		if l, ok := smallCapitals[r]; ok {
			return l
		}
		return r
	}, n)); g != f {
		t.Fatalf("small capitals change the fold of %q: %q vs %q", n, f, g)
	}
}

// caseVariants returns strings a user could type for the same nickname in
// another case.
func caseVariants(s string) []string {
	return []string{
		strings.ToUpper(s), strings.ToLower(s), strings.ToTitle(s),
		cases.Upper(language.Und).String(s), cases.Lower(language.Und).String(s),
		cases.Title(language.Und).String(s),
	}
}

func FuzzNormalizeNickname(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := NormalizeNickname(raw)
		if err != nil {
			if n != "" {
				t.Fatalf("%q: result %q with error %v", raw, n, err)
			}
			return
		}
		if c := utf8.RuneCountInString(n); c < NicknameMinLen || c > NicknameMaxLen {
			t.Fatalf("%q: %q has %d runes", raw, n, c)
		}
		n2, err := NormalizeNickname(n)
		if err != nil || n2 != n {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, n, n2, err)
		}
		k := NicknameKey(n)
		if !hexKey.MatchString(k) || NicknameKey(n) != k {
			t.Fatalf("%q: key %q unstable or not hex", n, k)
		}
		checkFold(t, n)
		for _, v := range caseVariants(n) {
			nv, err := NormalizeNickname(v)
			if err != nil {
				continue // e.g. ß → SS made it too long
			}
			if kv := NicknameKey(nv); kv != k {
				t.Fatalf("case variant %q of %q has another key", nv, n)
			}
		}
	})
}

func FuzzNicknameKey(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Any string, not only normalized ones: no panic, hex, deterministic.
		k := NicknameKey(s)
		if !hexKey.MatchString(k) || NicknameKey(s) != k {
			t.Fatalf("%q: key %q unstable or not hex", s, k)
		}
	})
}

func FuzzNormalizeRoomName(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := NormalizeRoomName(raw)
		if err != nil {
			return
		}
		if c := utf8.RuneCountInString(n); c < 1 || c > RoomNameMaxLen {
			t.Fatalf("%q: %q has %d runes", raw, n, c)
		}
		n2, err := NormalizeRoomName(n)
		if err != nil || n2 != n {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, n, n2, err)
		}
		k := RoomNameKey(n)
		if !hexKey.MatchString(k) || RoomNameKey(n) != k {
			t.Fatalf("%q: key %q unstable or not hex", n, k)
		}
		checkFold(t, n)
		for _, v := range caseVariants(n) {
			nv, err := NormalizeRoomName(v)
			if err != nil {
				continue
			}
			if RoomNameKey(nv) != k {
				t.Fatalf("case variant %q of %q has another key", nv, n)
			}
		}
		// A description accepts every room name.
		if d, err := NormalizeRoomDescription(n); err != nil || d != n {
			t.Fatalf("room name %q refused as description: %q, %v", n, d, err)
		}
	})
}

func FuzzNormalizeRoomDescription(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := NormalizeRoomDescription(raw)
		if err != nil {
			return
		}
		if c := utf8.RuneCountInString(d); c > RoomDescriptionMaxLen {
			t.Fatalf("%q: %q has %d runes", raw, d, c)
		}
		d2, err := NormalizeRoomDescription(d)
		if err != nil || d2 != d {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, d, d2, err)
		}
	})
}

func FuzzNormalizeMessage(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := NormalizeMessage(raw)
		if err != nil {
			return
		}
		if c := utf8.RuneCountInString(m); c < 1 || c > MessageMaxLen {
			t.Fatalf("%q: %q has %d runes", raw, m, c)
		}
		for _, r := range m {
			if (r < 0x20 && r != '\n' && r != '\t') || (0x7f <= r && r < 0xa0) ||
				(0x202a <= r && r <= 0x202e) || (0x2066 <= r && r <= 0x2069) {
				t.Fatalf("%q: output %q contains %U", raw, m, r)
			}
		}
		m2, err := NormalizeMessage(m)
		if err != nil || m2 != m {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, m, m2, err)
		}
	})
}
