package chat

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/runenames"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata golden files")

func TestNormalizeNickname(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		reason string // non-empty: must fail with ErrInvalidNickname and this reason
	}{
		{name: "ascii", in: "alice", want: "alice"},
		{name: "keeps case", in: "Alice", want: "Alice"},
		{name: "digits and punctuation", in: "bob_2.0-x", want: "bob_2.0-x"},
		{name: "trims", in: "  carol \t\n", want: "carol"},
		{name: "trims unicode whitespace", in: "\u3000\u00a0dave\u2003", want: "dave"},
		{name: "collapses spaces", in: "mary   jane", want: "mary jane"},
		{name: "collapses exotic spaces", in: "mary\u00a0\u2002jane", want: "mary jane"},
		{name: "NFC composes", in: "Zoe\u0308", want: "Zoë"},
		{name: "NFC singleton", in: "\u212Bngstr\u00f6m", want: "Ångström"}, // Angstrom sign → Å
		{name: "exactly 3", in: "abc", want: "abc"},
		{name: "exactly 24", in: strings.Repeat("a", 24), want: strings.Repeat("a", 24)},
		{name: "24 runes many bytes", in: strings.Repeat("é", 24), want: strings.Repeat("é", 24)},
		{name: "cyrillic", in: "Иван", want: "Иван"},
		{name: "greek", in: "Νίκος", want: "Νίκος"},
		{name: "chinese", in: "王小明", want: "王小明"},
		{name: "japanese with long vowel mark", in: "コーヒー", want: "コーヒー"}, // ー is Lm
		{name: "japanese iteration mark", in: "佐々木", want: "佐々木"},
		{name: "korean", in: "김민준", want: "김민준"},
		{name: "arabic", in: "محمد", want: "محمد"},
		{name: "hebrew with niqqud", in: "שָׁלוֹם", want: "שָׁלוֹם"},
		{name: "devanagari marks", in: "हिन्दी", want: "हिन्दी"},
		{name: "thai marks", in: "สมชาย", want: "สมชาย"},
		{name: "tamil", in: "தமிழ்", want: "தமிழ்"},
		{name: "latin letter plus mark without precomposed form", in: "Spin\u0308al", want: "Spin̈al"},
		{name: "arabic-indic digits", in: "ali٣٤", want: "ali٣٤"},
		{name: "digits only", in: "123", want: "123"},
		{name: "modifier letter apostrophe", in: "Мар\u02BCяна", want: "Мар\u02BCяна"},

		{name: "empty", in: "", reason: "must be 3 to 24 characters"},
		{name: "only spaces", in: "   ", reason: "must be 3 to 24 characters"},
		{name: "too short", in: "ab", reason: "must be 3 to 24 characters"},
		{name: "too short after trim", in: "  ab  ", reason: "must be 3 to 24 characters"},
		{name: "collapse before length", in: "a      b", want: "a b"},
		{name: "too long", in: strings.Repeat("a", 25), reason: "must be 3 to 24 characters"},
		{name: "huge", in: strings.Repeat("a", 1<<20), reason: "is too long"},
		{name: "invalid utf8", in: "ab\xffc", reason: reasonUTF8},
		{name: "no letter or digit", in: "_-.", reason: "must contain a letter or a digit"},
		{name: "symbol", in: "bob!", reason: "may contain only letters, digits, spaces, '_', '-' and '.'"},
		{name: "emoji", in: "bob😀", reason: "may contain only letters, digits, spaces, '_', '-' and '.'"},
		{name: "at sign", in: "a@b.c", reason: "may contain only letters, digits, spaces, '_', '-' and '.'"},
		{name: "roman numeral Nl", in: "Louis\u216B", reason: "may contain only letters, digits, spaces, '_', '-' and '.'"},
		{name: "superscript digit No", in: "abc\u00B2", reason: "may contain only letters, digits, spaces, '_', '-' and '.'"},
		{name: "tab inside", in: "ab\tcd", reason: reasonControl},
		{name: "newline inside", in: "ab\ncd", reason: reasonControl},
		{name: "NUL", in: "ab\x00cd", reason: reasonControl},
		{name: "DEL", in: "ab\x7fcd", reason: reasonControl},
		{name: "C1 control", in: "ab\u0085cd", reason: reasonControl},
		{name: "line separator", in: "ab\u2028cd", reason: reasonControl},
		{name: "paragraph separator", in: "ab\u2029cd", reason: reasonControl},
		{name: "zero-width space", in: "ab\u200bcd", reason: reasonInvisible},
		{name: "zero-width non-joiner", in: "ab\u200ccd", reason: reasonInvisible},
		{name: "zero-width joiner", in: "ab\u200dcd", reason: reasonInvisible},
		{name: "word joiner", in: "ab\u2060cd", reason: reasonInvisible},
		{name: "BOM", in: "\ufeffabcd", reason: reasonInvisible},
		{name: "soft hyphen", in: "ab\u00adcd", reason: reasonInvisible},
		{name: "LRM", in: "abc\u200e", reason: reasonInvisible},
		{name: "RLM", in: "abc\u200f", reason: reasonInvisible},
		{name: "arabic letter mark", in: "abc\u061c", reason: reasonInvisible},
		{name: "RLO override", in: "\u202Eabc", reason: reasonInvisible},
		{name: "LRE", in: "ab\u202Acd", reason: reasonInvisible},
		{name: "RLI isolate", in: "ab\u2067cd", reason: reasonInvisible},
		{name: "PDI", in: "ab\u2069cd", reason: reasonInvisible},
		{name: "variation selector 16", in: "abc\ufe0f", reason: reasonInvisible},
		{name: "variation selector supplement", in: "abc\U000E0100", reason: reasonInvisible},
		{name: "mongolian free variation selector", in: "ᠠᠡ\u180bᠢ", reason: reasonInvisible},
		{name: "combining grapheme joiner", in: "ab\u034fcd", reason: reasonInvisible},
		{name: "hangul filler", in: "\u3164\u3164\u3164", reason: reasonInvisible},
		{name: "hangul choseong filler", in: "ab\u115Fcd", reason: reasonInvisible},
		{name: "halfwidth hangul filler", in: "ab\uFFA0cd", reason: reasonInvisible},
		{name: "khmer inherent vowel", in: "ក\u17B4ខគ", reason: reasonInvisible},
		{name: "tag character", in: "abc\U000E0041", reason: reasonInvisible},
		{name: "mongolian vowel separator", in: "ab\u180Ecd", reason: reasonInvisible},
		{name: "private use", in: "ab\ue000cd", reason: reasonPrivate},
		{name: "supplementary private use", in: "ab\U000F0000cd", reason: reasonPrivate},
		{name: "unassigned", in: "ab\u0378cd", reason: reasonUnassign},
		{name: "noncharacter", in: "ab\uFFFEcd", reason: reasonUnassign},
		{name: "leading combining mark", in: "\u0301abc", reason: reasonMarks},
		{name: "mark after space", in: "ab \u0301c", reason: reasonMarks},
		{name: "mark after digit", in: "ab1\u0301", reason: reasonMarks},
		{name: "mark after underscore", in: "ab_\u0301", reason: reasonMarks},
		{name: "zalgo", in: "ab" + strings.Repeat("\u0336", 5) + "c", reason: reasonMarks},
		{name: "enclosing mark", in: "abc\u20DD", reason: "may contain only letters, digits, spaces, '_', '-' and '.'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeNickname(tt.in)
			checkNormalized(t, got, err, tt.want, tt.reason, ErrInvalidNickname)
		})
	}
}

// checkNormalized asserts the result of a Normalize function: want when
// reason is empty, otherwise a *ValidationError wrapping sentinel whose
// Reason starts with reason.
func checkNormalized(t *testing.T, got string, err error, want, reason string, sentinel error) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("error %v, want %q", err, want)
		}
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		return
	}
	if err == nil {
		t.Fatalf("got %q, want error %q", got, reason)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v does not wrap %v", err, sentinel)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T is not a *ValidationError", err)
	}
	if !strings.HasPrefix(ve.Reason, reason) {
		t.Fatalf("reason %q, want %q", ve.Reason, reason)
	}
	if got != "" {
		t.Fatalf("got %q with an error", got)
	}
}

func TestValidationErrorText(t *testing.T) {
	_, err := NormalizeNickname("ab")
	if got, want := err.Error(), "invalid nickname: must be 3 to 24 characters"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	// The reason never echoes the input.
	_, err = NormalizeNickname("<script>alert(1)</script>")
	if strings.Contains(err.Error(), "script") {
		t.Fatalf("error echoes input: %v", err)
	}
}

func mustNickname(t testing.TB, s string) string {
	t.Helper()
	n, err := NormalizeNickname(s)
	if err != nil {
		t.Fatalf("NormalizeNickname(%q): %v", s, err)
	}
	return n
}

func TestNicknameKeyCollides(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{"upper case", "Peter", "PETER"},
		{"lower case", "Peter", "peter"},
		{"mixed case", "pEtEr", "PeTeR"},
		{"cyrillic te", "Peter", "Peтer"},
		{"cyrillic capital te", "PETER", "PEТER"},
		{"capital I vs small l", "PeterI", "Peterl"},
		{"small i vs small l (case closure)", "peteri", "peterl"},
		{"digit one vs l", "bill", "bi11"},
		{"digit zero vs o", "bob", "b0b"},
		{"capital O vs zero", "BOB", "B0B"},
		{"rn vs m", "modern", "rnodern"},
		{"cyrillic a", "alice", "аlice"},
		{"cyrillic o and e", "obe", "оbе"},
		{"all cyrillic look-alike", "cope", "соре"},
		{"greek omicron", "bob", "bοb"},
		{"greek nu vs v", "dave", "daνe"},
		{"greek capital alpha", "ALICE", "ΑLICE"},
		{"fullwidth", "alice", "ａｌｉｃｅ"},
		{"mathematical bold", "paypal", "𝐩𝐚𝐲𝐩𝐚𝐥"},
		{"mathematical script mix", "paypal", "𝔭𝒶ỿ𝕡𝕒ℓ"},
		{"sharp s", "straße", "STRASSE"},
		{"kelvin sign folds", "kate", "\u212Aate"},
		{"final sigma", "ΟΔΥΣΣΕΑΣ", "οδυσσεας"},
		{"cherokee case (golang/go#46101)", "ᎪᎫᎬ", "ꭺꭻꭼ"},
		{"turkish dotless i", "ılker", "ilker"},
		{"turkish dotted capital I", "İstanbul", "istanbul"},
		{"turkish dotted capital I upper", "İSTANBUL", "ISTANBUL"},
		{"decomposed vs precomposed", "Zoë", "Zoe\u0308"},
		{"spaces collapse", "mary jane", "mary   jane"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustNickname(t, tt.a), mustNickname(t, tt.b)
			if ka, kb := NicknameKey(a), NicknameKey(b); ka != kb {
				t.Fatalf("NicknameKey(%q) = %s, NicknameKey(%q) = %s; want equal", a, ka, b, kb)
			}
		})
	}
}

func TestNicknameKeyDistinct(t *testing.T) {
	tests := []struct{ a, b string }{
		{"alice", "alicia"},
		{"bob", "rob"},
		{"dave", "dane"},
		{"nick", "vick"},
		{"anna", "anne"},
		{"Zoe", "Zoë"},
		{"jose", "josé"},
		{"john smith", "johnsmith"},
		{"john smith", "john_smith"},
		{"john-smith", "john_smith"},
		{"john.smith", "john_smith"},
		{"Иван", "Ivan"},
		{"王小明", "王小名"},
		{"peter1", "peter2"},
		{"user", "users"},
		{"mike", "nike"},
		{"ab c", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			a, b := mustNickname(t, tt.a), mustNickname(t, tt.b)
			if NicknameKey(a) == NicknameKey(b) {
				t.Fatalf("NicknameKey(%q) == NicknameKey(%q); want distinct", a, b)
			}
		})
	}
}

var hexKey = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestKeysAreKVSafe(t *testing.T) {
	for _, s := range []string{"", "alice", "Peтer", "王小明", "a b.c-d_e", "\x00\xff"} {
		for name, k := range map[string]string{"nickname": NicknameKey(s), "room": RoomNameKey(s)} {
			if !hexKey.MatchString(k) {
				t.Errorf("%s key of %q = %q, want 64 lowercase hex digits", name, s, k)
			}
		}
	}
}

// TestKeyGolden pins nickname and room name keys so that an upgrade of
// x/text, the confusables data or Go's Unicode tables that changes them
// fails here: existing claims would otherwise stop matching until the
// re-keying at the next start (Service.migrateNameKeys).
func TestKeyGolden(t *testing.T) {
	for _, g := range []struct {
		file, what string
		norm       func(testing.TB, string) string
		key        func(string) string
	}{
		{"nickname_keys.txt", "NicknameKey", mustNickname, NicknameKey},
		{"room_name_keys.txt", "RoomNameKey", mustRoomName, RoomNameKey},
	} {
		t.Run(g.what, func(t *testing.T) {
			path := filepath.Join("testdata", g.file)
			if *updateGolden {
				inputs := readGoldenInputs(t, path)
				var b strings.Builder
				fmt.Fprintf(&b, "# %s golden vectors: normalized name (Go-quoted) TAB key.\n", g.what)
				b.WriteString("# Regenerate with: go test ./internal/chat -run Golden -update (a changed key is re-keyed at start: see README).\n")
				for _, in := range inputs {
					fmt.Fprintf(&b, "%q\t%s\n", in, g.key(g.norm(t, in)))
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			n := 0
			for sc.Scan() {
				line := sc.Text()
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				in, want, ok := parseGoldenLine(line)
				if !ok {
					t.Fatalf("bad golden line %q", line)
				}
				n++
				if got := g.key(g.norm(t, in)); got != want {
					t.Errorf("%s(%q) = %s, golden %s", g.what, in, got, want)
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if n < 10 {
				t.Fatalf("only %d golden vectors", n)
			}
		})
	}
}

func parseGoldenLine(line string) (in, key string, ok bool) {
	q, key, ok := strings.Cut(line, "\t")
	if !ok {
		return "", "", false
	}
	var s string
	if _, err := fmt.Sscanf(q, "%q", &s); err != nil {
		return "", "", false
	}
	return s, key, true
}

func readGoldenInputs(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ins []string
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, _, ok := parseGoldenLine(line)
		if !ok {
			t.Fatalf("bad golden line %q", line)
		}
		ins = append(ins, in)
	}
	return ins
}

func TestFoldCaseCherokee(t *testing.T) {
	for _, s := range []string{"Ꭺ", "ꭺ", "ᏸ", "Ᏸ"} {
		f := foldCase(s)
		if foldCase(f) != f {
			t.Errorf("foldCase not idempotent on %q: %q then %q", s, f, foldCase(f))
		}
	}
	if foldCase("ꭺ") != foldCase("Ꭺ") {
		t.Errorf("Cherokee small and capital letters fold differently")
	}
}

func TestNormalizeRoomName(t *testing.T) {
	tests := []struct {
		name, in, want, reason string
	}{
		{name: "simple", in: "general", want: "general"},
		{name: "single char", in: "a", want: "a"},
		{name: "trim and collapse", in: "  general   chat ", want: "general chat"},
		{name: "punctuation and symbols", in: "C++ & Go: Q&A #1 (2024) $€ ~ <b>", want: "C++ & Go: Q&A #1 (2024) $€ ~ <b>"},
		{name: "NFC", in: "cafe\u0301", want: "café"},
		{name: "emoji", in: "🎮 gaming", want: "🎮 gaming"},
		{name: "emoji with VS16", in: "❤️ fans", want: "❤️ fans"},
		{name: "emoji ZWJ sequence", in: "👩‍💻 devs", want: "👩‍💻 devs"},
		{name: "ZWJ with skin tone", in: "👩🏽‍💻", want: "👩🏽‍💻"},
		{name: "ZWJ after VS16", in: "🏳️‍🌈 pride", want: "🏳️‍🌈 pride"},
		{name: "keycap", in: "1️⃣ first", want: "1️⃣ first"},
		{name: "flag", in: "🇫🇷 france", want: "🇫🇷 france"},
		{name: "subdivision flag", in: "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F england", want: "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F england"},
		{name: "japanese", in: "雑談", want: "雑談"},
		{name: "exactly 40", in: strings.Repeat("x", 40), want: strings.Repeat("x", 40)},
		{name: "roman numeral", in: "Chapter Ⅻ", want: "Chapter Ⅻ"},

		{name: "empty", in: "", reason: "must be 1 to 40 characters"},
		{name: "whitespace only", in: " \t\n ", reason: "must be 1 to 40 characters"},
		{name: "too long", in: strings.Repeat("x", 41), reason: "must be 1 to 40 characters"},
		{name: "invalid utf8", in: "\xc3", reason: reasonUTF8},
		{name: "newline", in: "a\nb", reason: reasonControl},
		{name: "tab", in: "a\tb", reason: reasonControl},
		{name: "zero-width space", in: "gen\u200beral", reason: reasonInvisible},
		{name: "ZWJ between letters", in: "gen\u200deral", reason: reasonInvisible},
		{name: "ZWJ at end", in: "👩\u200d", reason: reasonInvisible},
		{name: "ZWNJ", in: "gen\u200ceral", reason: reasonInvisible},
		{name: "RLO", in: "\u202egeneral", reason: reasonInvisible},
		{name: "LRI", in: "\u2066general", reason: reasonInvisible},
		{name: "RLM", in: "general\u200f", reason: reasonInvisible},
		{name: "VS16 after letter", in: "a\ufe0f", reason: reasonInvisible},
		{name: "double VS16", in: "❤\ufe0f\ufe0f", reason: reasonInvisible},
		{name: "leading VS16", in: "\ufe0fa", reason: reasonInvisible},
		{name: "braille blank", in: "\u2800", reason: reasonInvisible},
		{name: "hangul filler", in: "\u3164", reason: reasonInvisible},
		{name: "stray tag", in: "a\U000E0041", reason: reasonInvisible},
		{name: "unterminated tag sequence", in: "🏴\U000E0067\U000E0062", reason: reasonInvisible},
		{name: "private use", in: "\ue000", reason: reasonPrivate},
		{name: "unassigned", in: "a\u0378", reason: reasonUnassign},
		{name: "leading mark", in: "\u0301a", reason: reasonMarks},
		{name: "mark after space", in: "a \u0301", reason: reasonMarks},
		{name: "zalgo", in: "a" + strings.Repeat("\u0336", 5), reason: reasonMarks},
		{name: "keycap after letter", in: "a\u20e3", reason: reasonMarks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeRoomName(tt.in)
			checkNormalized(t, got, err, tt.want, tt.reason, ErrInvalidRoomName)
		})
	}
}

func TestNormalizeRoomDescription(t *testing.T) {
	tests := []struct {
		name, in, want, reason string
	}{
		{name: "empty", in: "", want: ""},
		{name: "whitespace only", in: "  \n ", want: ""},
		{name: "text", in: " Talk about Go, NATS & chat 🚀. ", want: "Talk about Go, NATS & chat 🚀."},
		{name: "exactly 200", in: strings.Repeat("é", 200), want: strings.Repeat("é", 200)},
		{name: "too long", in: strings.Repeat("é", 201), reason: "must be at most 200 characters"},
		{name: "huge", in: strings.Repeat("x", 1<<20), reason: "is too long"},
		{name: "newline", in: "line one\nline two", reason: reasonControl},
		{name: "bidi override", in: "abc\u202edcba", reason: reasonInvisible},
		{name: "zero width", in: "ab\u200bc", reason: reasonInvisible},
		{name: "private use", in: "ab\U00100000", reason: reasonPrivate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeRoomDescription(tt.in)
			checkNormalized(t, got, err, tt.want, tt.reason, ErrInvalidRoomDescription)
		})
	}
}

func TestRoomNameKey(t *testing.T) {
	same := [][2]string{
		{"General", "general"},
		{"GENERAL CHAT", "general chat"},
		{"Straße", "STRASSE"},
		{"café", "CAFE\u0301"},
		{"❤️ fans", "❤ fans"},
		{"Ꭺ room", "ꭺ room"},
		{"İstanbul", "istanbul"},
		{"ılker", "ILKER"},
		{"general", "genera1"}, // TR39: 1 and l look alike
		{"go", "gо"},           // Cyrillic о
	}
	for _, p := range same {
		a, err := NormalizeRoomName(p[0])
		if err != nil {
			t.Fatal(err)
		}
		b, err := NormalizeRoomName(p[1])
		if err != nil {
			t.Fatal(err)
		}
		if RoomNameKey(a) != RoomNameKey(b) {
			t.Errorf("RoomNameKey(%q) != RoomNameKey(%q)", a, b)
		}
	}
	distinct := [][2]string{
		{"general", "generał"},
		{"cafe", "café"},
		{"a b", "ab"},
	}
	for _, p := range distinct {
		if RoomNameKey(p[0]) == RoomNameKey(p[1]) {
			t.Errorf("RoomNameKey(%q) == RoomNameKey(%q)", p[0], p[1])
		}
	}
}

func TestNormalizeMessage(t *testing.T) {
	tests := []struct {
		name, in, want, reason string
	}{
		{name: "simple", in: "hello", want: "hello"},
		{name: "single char", in: "k", want: "k"},
		{name: "trim", in: "\n\n  hello  \n", want: "hello"},
		{name: "keeps inner newlines and tabs", in: "a\n\tb\n\nc", want: "a\n\tb\n\nc"},
		{name: "keeps inner spaces", in: "a    b", want: "a    b"},
		{name: "CRLF", in: "a\r\nb\rc", want: "a\nb\nc"},
		{name: "emoji ZWJ", in: "👨‍👩‍👧 family", want: "👨‍👩‍👧 family"},
		{name: "emoji VS16", in: "I ❤️ Go", want: "I ❤️ Go"},
		{name: "flag", in: "🇯🇵", want: "🇯🇵"},
		{name: "persian ZWNJ", in: "می\u200cخواهم", want: "می\u200cخواهم"},
		{name: "sinhala ZWJ", in: "ශ්\u200dරී", want: "ශ්\u200dරී"},
		{name: "RLM allowed", in: "שלום\u200f!", want: "שלום\u200f!"},
		{name: "not NFC-normalised", in: "e\u0301", want: "e\u0301"},
		{name: "html kept verbatim", in: "<script>alert(1)</script>", want: "<script>alert(1)</script>"},
		{name: "exactly 2000", in: strings.Repeat("😀", 2000), want: strings.Repeat("😀", 2000)},

		{name: "empty", in: "", reason: "must not be empty"},
		{name: "whitespace only", in: " \n\t\r\n ", reason: "must not be empty"},
		{name: "invisible only", in: "\u200b\u200d", reason: "must not be empty"},
		{name: "too long", in: strings.Repeat("a", 2001), reason: "must be at most 2000 characters"},
		{name: "huge", in: strings.Repeat("a", 1<<20), reason: "must be at most 2000 characters"},
		{name: "invalid utf8", in: "a\xffb", reason: reasonUTF8},
		{name: "NUL", in: "a\x00b", reason: "must not contain control characters"},
		{name: "escape", in: "a\x1b[31mred", reason: "must not contain control characters"},
		{name: "vertical tab", in: "a\vb", reason: "must not contain control characters"},
		{name: "form feed", in: "a\fb", reason: "must not contain control characters"},
		{name: "C1 NEL inside", in: "a\u0085b", reason: "must not contain control characters"},
		{name: "DEL", in: "a\x7fb", reason: "must not contain control characters"},
		{name: "LRE", in: "a\u202ab", reason: "must not contain bidi"},
		{name: "RLE", in: "a\u202bb", reason: "must not contain bidi"},
		{name: "PDF", in: "a\u202cb", reason: "must not contain bidi"},
		{name: "LRO", in: "a\u202db", reason: "must not contain bidi"},
		{name: "RLO", in: "file\u202egnp.exe", reason: "must not contain bidi"},
		{name: "LRI", in: "a\u2066b", reason: "must not contain bidi"},
		{name: "RLI", in: "a\u2067b", reason: "must not contain bidi"},
		{name: "FSI", in: "a\u2068b", reason: "must not contain bidi"},
		{name: "PDI", in: "a\u2069b", reason: "must not contain bidi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeMessage(tt.in)
			checkNormalized(t, got, err, tt.want, tt.reason, ErrInvalidMessage)
		})
	}
}

func BenchmarkNicknameKey(b *testing.B) {
	for _, in := range []string{"alice", "Peter Parker_99", "Пётр Чайковский", "𝔭𝒶y𝕡𝕒ℓ"} {
		n := mustNickname(b, in)
		NicknameKey(n) // build the table outside the timer
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NicknameKey(n)
			}
		})
	}
}

func BenchmarkNormalizeNickname(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NormalizeNickname("  Peter   Parker_99 "); err != nil {
			b.Fatal(err)
		}
	}
}

// lookalikes are spellings that must share a key with their plain form,
// both as nicknames and as room names (nickname: false when the spelling
// is not a valid nickname, e.g. circled letters are symbols).
var lookalikes = []struct {
	name, plain, alike string
	nickname           bool
}{
	{"fullwidth", "peter", "ｐｅｔｅｒ", true},
	{"fullwidth capitals", "peter", "ＰＥＴＥＲ", true},
	{"small capitals", "peter", "ᴘᴇᴛᴇʀ", true},
	{"small capitals all of a-z", "abcdefghijklmnopqrstuvwxyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘꞯʀꜱᴛᴜᴠᴡxʏᴢ", false}, // 26 runes: too long for a nickname
	{"small capitals a-l", "abcdefghijkl", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟ", true},
	{"small capitals m-z", "mnopqrstuvwxyz", "ᴍɴᴏᴘꞯʀꜱᴛᴜᴠᴡxʏᴢ", true},
	{"modifier letters", "peter", "ᵖᵉᵗᵉʳ", true},
	{"modifier capitals", "peter", "ᴾᴱᵀᴱᴿ", true},
	{"modifier small capitals", "lin", "ᶫᶦᶰ", true},
	{"mathematical bold", "peter", "𝐩𝐞𝐭𝐞𝐫", true},
	{"mathematical script", "peter", "𝓅ℯ𝓉ℯ𝓇", true},
	{"mathematical bold capitals", "peter", "𝐏𝐄𝐓𝐄𝐑", true},
	{"mathematical double-struck", "peter", "𝕡𝕖𝕥𝕖𝕣", true},
	{"mathematical fraktur bold", "peter", "𝖕𝖊𝖙𝖊𝖗", true},
	{"mathematical sans-serif", "peter", "𝗉𝖾𝗍𝖾𝗋", true},
	{"mathematical monospace", "peter", "𝚙𝚎𝚝𝚎𝚛", true},
	{"cyrillic e and er", "peter", "реtеr", true},
	{"cyrillic a o e p c", "Default Room", "Default Rооm", true},
	{"cyrillic all", "cope", "соре", true},
	{"cyrillic a", "alice", "аlice", true},
	{"greek omicron", "Default Room", "Default Rοοm", true},
	{"greek alpha rho omicron", "papa oreo", "ραρα οreο", true},
	{"greek capital alpha", "ALICE", "ΑLICE", true},
	{"mixed tricks", "peter", "ᴘｅтеʀ", true},
	{"ligature", "fish", "ﬁsh", true},
	{"halfwidth katakana", "コーヒー", "ｺｰﾋｰ", true},
	{"circled letters", "peter", "ⓟⓔⓣⓔⓡ", false},
	{"digit one and zero", "lol room", "1o1 r00m", true},
}

func TestLookalikeKeys(t *testing.T) {
	for _, tt := range lookalikes {
		t.Run(tt.name, func(t *testing.T) {
			if tt.nickname {
				a, b := mustNickname(t, tt.plain), mustNickname(t, tt.alike)
				if ka, kb := NicknameKey(a), NicknameKey(b); ka != kb {
					t.Errorf("nickname: %q and %q have keys %s and %s; want equal (folds %q, %q)", a, b, ka, kb, foldName(a), foldName(b))
				}
			} else if _, err := NormalizeNickname(tt.alike); err == nil {
				t.Errorf("%q is a valid nickname: mark the case nickname: true", tt.alike)
			}
			a, b := mustRoomName(t, tt.plain), mustRoomName(t, tt.alike)
			if ka, kb := RoomNameKey(a), RoomNameKey(b); ka != kb {
				t.Errorf("room: %q and %q have keys %s and %s; want equal (folds %q, %q)", a, b, ka, kb, foldName(a), foldName(b))
			}
		})
	}
}

// TestDistinctNamesStayDistinct: names that are genuinely different, in
// Latin and in other scripts, never collide, as nicknames or room names.
func TestDistinctNamesStayDistinct(t *testing.T) {
	pairs := [][2]string{
		{"anna", "anne"},
		{"peter", "petra"},
		{"alice", "alicia"},
		{"mike", "nike"},
		{"dave", "dane"},
		{"Zoe", "Zoë"},
		{"jose", "josé"},
		{"Room 2", "Room 3"},
		{"ab c", "abc"},
		{"Иван", "Ivan"},
		{"Мария", "Марина"},
		{"Ελένη", "Έλενα"},
		{"Ελένη", "Eλενη"}, // Latin E, but η and ν are not n and v
		{"王小明", "王小名"},
		{"김서연", "김서현"},
		{"محمد", "أحمد"},
		{"नमस्ते", "नमस्कार"},
		{"さくら", "サクラ"}, // hiragana and katakana are different names
		{"ｐｅｔｅｒ", "ｐｅｔｒａ"},
		{"ᴘᴇᴛᴇʀ", "ᴘᴇᴛʀᴀ"},
	}
	for _, p := range pairs {
		t.Run(p[0]+"/"+p[1], func(t *testing.T) {
			a, b := mustNickname(t, p[0]), mustNickname(t, p[1])
			if NicknameKey(a) == NicknameKey(b) {
				t.Errorf("NicknameKey(%q) == NicknameKey(%q); want distinct", a, b)
			}
			if RoomNameKey(a) == RoomNameKey(b) {
				t.Errorf("RoomNameKey(%q) == RoomNameKey(%q); want distinct", a, b)
			}
		})
	}
	rooms := [][2]string{
		{"🎮 gaming", "🎲 gaming"},
		{"👍🏻", "👍🏿"},
		{"C++", "C#"},
		{"general", "generał"},
		{"Chapter Ⅻ", "Chapter Ⅺ"},
	}
	for _, p := range rooms {
		a, b := mustRoomName(t, p[0]), mustRoomName(t, p[1])
		if RoomNameKey(a) == RoomNameKey(b) {
			t.Errorf("RoomNameKey(%q) == RoomNameKey(%q); want distinct", a, b)
		}
	}
}

func mustRoomName(t testing.TB, s string) string {
	t.Helper()
	n, err := NormalizeRoomName(s)
	if err != nil {
		t.Fatalf("NormalizeRoomName(%q): %v", s, err)
	}
	return n
}

// TestSmallCapitalsFromNames derives smallCapitals from the Unicode
// character names, by the rule written on it, and checks that the table
// in names.go is exactly that, and that each small capital folds like its
// letter.
func TestSmallCapitalsFromNames(t *testing.T) {
	if runenames.UnicodeVersion != unicode.Version {
		t.Skipf("runenames has Unicode %s, the unicode tables %s", runenames.UnicodeVersion, unicode.Version)
	}
	byName := make(map[string]rune)
	var caps []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		n := runenames.Name(r)
		if n == "" || strings.HasPrefix(n, "<") {
			continue
		}
		byName[n] = r
		if strings.Contains(n, " SMALL CAPITAL ") {
			caps = append(caps, r)
		}
	}
	want := make(map[rune]rune)
	for _, r := range caps {
		n := runenames.Name(r)
		for _, infix := range []string{" LETTER SMALL CAPITAL ", " SMALL CAPITAL LETTER "} {
			script, x, ok := strings.Cut(n, infix)
			if !ok || strings.Contains(script, " ") || !unicode.IsLetter(r) {
				continue
			}
			if l, ok := byName[script+" SMALL LETTER "+x]; ok {
				want[r] = l
			}
		}
	}
	for r, l := range want {
		if got, ok := smallCapitals[r]; !ok || got != l {
			t.Errorf("smallCapitals[%U %s] = %q, want %q", r, runenames.Name(r), got, l)
		}
	}
	for r := range smallCapitals {
		if _, ok := want[r]; !ok {
			t.Errorf("smallCapitals has %U %s, which the rule does not give", r, runenames.Name(r))
		}
	}
	for r, l := range smallCapitals {
		if a, b := foldName(string(r)), foldName(string(l)); a != b {
			t.Errorf("%U folds to %q, its letter %U to %q", r, a, l, b)
		}
	}
}

// TestFoldNameIdempotent: the folded form is a fixed point, for every
// case of the tables above.
func TestFoldNameIdempotent(t *testing.T) {
	var ins []string
	for _, tt := range lookalikes {
		ins = append(ins, tt.plain, tt.alike)
	}
	ins = append(ins, nameSeeds...)
	for _, s := range ins {
		f := foldName(s)
		if g := foldName(f); g != f {
			t.Errorf("foldName(%q) = %q, foldName of that = %q", s, f, g)
		}
	}
}

// TestReason checks that the client-visible part of a validation error
// is its Reason, whatever wraps it, and never the input.
func TestReason(t *testing.T) {
	_, nickErr := NormalizeNickname("x")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"validation error", invalid(ErrInvalidRoomName, "must not be empty"), "must not be empty"},
		{"wrapped", fmt.Errorf("create room: %w", invalid(ErrInvalidMessage, "is too long")), "is too long"},
		{"reason with a colon", invalid(ErrInvalidNickname, "must be: short"), "must be: short"},
		{"from NormalizeNickname", nickErr, nickErr.(*ValidationError).Reason},
		{"other error", errors.New("secret: details"), "is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reason(tt.err); got != tt.want {
				t.Fatalf("reason(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{newID("u"), true},
		{newID("r"), true},
		{"a0123456789abcdef0123456789abcdef", true}, // an attachment id
		{"node-1_A", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"a.b", false},
		{"a/b", false},
		{"a b", false},
		{"ünï", false},
		{"../x", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := ValidID(tt.id); got != tt.want {
				t.Fatalf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}
