package chat

// Normalisation and validation of user-supplied text: nicknames, room names,
// room descriptions and chat messages, plus the uniqueness keys of nicknames
// and room names.
//
// Every Normalize function is pure, safe for concurrent use, and idempotent:
// feeding its output back in returns the same string and no error.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Validation errors. They live here rather than in errors.go because this
// file owns the rules they report; every error returned by a Normalize
// function is a *ValidationError that wraps exactly one of them, so callers
// test the kind with errors.Is and read the reason with errors.As.
var (
	// ErrInvalidNickname: NormalizeNickname refused its input.
	ErrInvalidNickname = errors.New("invalid nickname")
	// ErrInvalidRoomName: NormalizeRoomName refused its input.
	ErrInvalidRoomName = errors.New("invalid room name")
	// ErrInvalidRoomDescription: NormalizeRoomDescription refused its input.
	ErrInvalidRoomDescription = errors.New("invalid room description")
	// ErrInvalidMessage: NormalizeMessage refused its input.
	ErrInvalidMessage = errors.New("invalid message")
)

// ValidationError says why a Normalize function refused its input. Err is
// one of the ErrInvalid… sentinels; Reason is a short English phrase written
// for end users ("must be 3 to 24 characters") that never quotes the input,
// so it is safe to show to a client. The zero value is not meaningful.
type ValidationError struct {
	Err    error
	Reason string
}

// Error returns the sentinel's text followed by the reason.
func (e *ValidationError) Error() string { return e.Err.Error() + ": " + e.Reason }

// Unwrap returns the sentinel, for errors.Is.
func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(sentinel error, reason string) error {
	return &ValidationError{Err: sentinel, Reason: reason}
}

// reason is the part of a Normalize function's error that a client may
// see: the ValidationError's Reason ("must be 3 to 24 characters").
func reason(err error) string {
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		return ve.Reason
	}
	return "is not valid"
}

// Limits, in runes (Unicode code points) after normalisation.
const (
	// NicknameMinLen is the fewest characters a nickname may have.
	NicknameMinLen = 3
	// NicknameMaxLen is the most characters a nickname may have.
	NicknameMaxLen = 24
	// RoomNameMaxLen is the most characters a room name may have (at least 1).
	RoomNameMaxLen = 40
	// RoomDescriptionMaxLen is the most characters a room description may have.
	RoomDescriptionMaxLen = 200
	// MessageMaxLen is the most characters a chat message may have (at least 1).
	MessageMaxLen = 2000

	// maxInputBytes bounds the raw input of the short-text normalisers before
	// any work is done: 4 bytes per rune of the longest value plus generous
	// room for surrounding whitespace.
	maxInputBytes = 4*RoomDescriptionMaxLen + 1024
	// maxMessageBytes bounds a raw message likewise.
	maxMessageBytes = 4*MessageMaxLen + 4096
	// maxMarkRun is the longest run of combining marks accepted after one
	// base character. Real orthographies need at most three or four
	// (Devanagari consonant + nukta + vowel sign + anusvara; Vietnamese and
	// Hebrew pointing); longer runs are "Zalgo" text stacking marks to draw
	// over neighbouring lines.
	maxMarkRun = 4
)

// Reasons shared by several normalisers.
const (
	reasonUTF8      = "must be valid UTF-8"
	reasonControl   = "must not contain control characters or line breaks"
	reasonInvisible = "must not contain invisible or formatting characters (zero-width, bidi, variation selectors, fillers)"
	reasonPrivate   = "must not contain private-use characters"
	reasonUnassign  = "must not contain unassigned characters"
	reasonMarks     = "combining marks must follow a letter, at most 4 in a row"
)

// NormalizeNickname returns the canonical form of a nickname, or a
// *ValidationError wrapping ErrInvalidNickname.
//
// Steps: trim leading and trailing Unicode White_Space; NFC; turn every run
// of space separators (U+0020, no-break space, ideographic space and the
// other Zs) into one U+0020; then validate. A valid nickname has 3 to 24
// runes, at least one letter or digit, and consists of letters (L*), decimal
// digits (Nd), U+0020, '_', '-', '.', and combining marks (Mn, Mc) directly
// after a letter or another such mark, at most 4 in a row.
//
// Marks are allowed because NFC has no precomposed form for much of the
// world's writing: Devanagari, Bengali, Tamil, Thai, Khmer and Myanmar
// vowel signs and viramas, Hebrew and Arabic pointing, and Latin letters
// with uncommon diacritics (n̈) are letter + mark sequences even after NFC;
// refusing marks would refuse most names in those scripts. Marks are still
// refused at the start, after a space, digit or punctuation, and in long
// stacks. Refused everywhere: control characters (Cc), line and paragraph
// separators, format characters (Cf: bidi controls and marks, zero-width
// space/joiner/non-joiner, word joiner, BOM, tags), every other
// default-ignorable code point (variation selectors, combining grapheme
// joiner, Hangul fillers), private use, and code points unassigned in the
// Unicode version of the Go toolchain.
//
// The result is for display; compare nicknames with NicknameKey.
func NormalizeNickname(raw string) (string, error) {
	s, reason := normalizeLine(raw)
	if reason != "" {
		return "", invalid(ErrInvalidNickname, reason)
	}
	if reason := checkNickname(s); reason != "" {
		return "", invalid(ErrInvalidNickname, reason)
	}
	return s, nil
}

// checkNickname validates a trimmed, NFC, space-collapsed nickname.
func checkNickname(s string) string {
	n, marks, alnum := 0, 0, false
	prevLetter := false // the previous rune is a letter or a mark on one
	for _, r := range s {
		n++
		if reason := refuseInvisible(r); reason != "" {
			return reason
		}
		switch {
		case unicode.IsLetter(r):
			prevLetter, marks, alnum = true, 0, true
		case unicode.Is(unicode.Nd, r):
			prevLetter, marks, alnum = false, 0, true
		case r == ' ' || r == '_' || r == '-' || r == '.':
			prevLetter, marks = false, 0
		case unicode.In(r, unicode.Mn, unicode.Mc):
			marks++
			if !prevLetter || marks > maxMarkRun {
				return reasonMarks
			}
		default:
			return "may contain only letters, digits, spaces, '_', '-' and '.'"
		}
	}
	if n < NicknameMinLen || n > NicknameMaxLen {
		return "must be 3 to 24 characters"
	}
	if !alnum {
		return "must contain a letter or a digit"
	}
	return ""
}

// NormalizeRoomName returns the canonical form of a room name, or a
// *ValidationError wrapping ErrInvalidRoomName.
//
// Steps as for NormalizeNickname (trim, NFC, collapse space runs), then:
// 1 to 40 runes of printable text: letters, marks, numbers, punctuation,
// symbols and U+0020. Refused: control, format, bidi, zero-width,
// private-use, unassigned and other default-ignorable code points, the
// braille blank U+2800, and combining marks with no base or in stacks of
// more than 4. Exception, so that emoji typed on phones work: the emoji
// variation selectors U+FE0E/U+FE0F after a symbol, punctuation or ASCII
// digit, the keycap mark U+20E3 after 0-9 # *, U+200D (zero-width joiner)
// between two pictographs (👩‍💻), and tag characters after U+1F3F4 (🏴 subdivision
// flags). RoomNameKey ignores the variation selectors.
func NormalizeRoomName(raw string) (string, error) {
	s, reason := normalizeLine(raw)
	if reason == "" {
		reason = checkPrintable(s, 1, RoomNameMaxLen, "must be 1 to 40 characters")
	}
	if reason != "" {
		return "", invalid(ErrInvalidRoomName, reason)
	}
	return s, nil
}

// NormalizeRoomDescription returns the canonical form of a room
// description, or a *ValidationError wrapping ErrInvalidRoomDescription.
// The rules are those of NormalizeRoomName with 0 to 200 runes: the empty
// string (or only whitespace) is a valid, empty description. A description
// is one line; line breaks are refused.
func NormalizeRoomDescription(raw string) (string, error) {
	s, reason := normalizeLine(raw)
	if reason == "" {
		reason = checkPrintable(s, 0, RoomDescriptionMaxLen, "must be at most 200 characters")
	}
	if reason != "" {
		return "", invalid(ErrInvalidRoomDescription, reason)
	}
	return s, nil
}

// normalizeLine does the common steps of the short-text normalisers: bound
// the input, check UTF-8, trim White_Space, NFC, collapse runs of space
// separators (Zs) to one U+0020. Other whitespace inside (tabs, line
// breaks) is left for validation to refuse. It returns a reason when the
// input is refused before validation.
func normalizeLine(raw string) (string, string) {
	if len(raw) > maxInputBytes {
		return "", "is too long"
	}
	if !utf8.ValidString(raw) {
		return "", reasonUTF8
	}
	s := norm.NFC.String(strings.TrimFunc(raw, isWhiteSpace))
	if !strings.ContainsFunc(s, isSpaceSep) {
		return s, ""
	}
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if isSpaceSep(r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return b.String(), ""
}

func isWhiteSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }

func isSpaceSep(r rune) bool { return unicode.Is(unicode.Zs, r) }

// refuseInvisible returns the reason r may not appear in a nickname, room
// name or description, or "" if it is assigned, visible, non-control and
// not private use. Callers make exceptions (emoji sequences) before calling.
func refuseInvisible(r rune) string {
	switch {
	case unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp):
		return reasonControl
	case unicode.Is(unicode.Cf, r),
		unicode.Is(unicode.Variation_Selector, r),
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r),
		r == '\u2800': // braille pattern blank: a symbol that draws nothing
		return reasonInvisible
	case unicode.Is(unicode.Co, r):
		return reasonPrivate
	case !assigned(r):
		return reasonUnassign
	}
	return ""
}

// assigned reports whether r has a general category other than Cn in the
// Unicode tables of the Go toolchain. (unicode.C cannot be used: it
// includes unassigned code points.)
func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z,
		unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// checkPrintable validates a room name or description (already trimmed, NFC,
// space-collapsed): minLen to maxLen runes of printable text, with the emoji
// exceptions documented on NormalizeRoomName.
func checkPrintable(s string, minLen, maxLen int, lenReason string) string {
	n, marks := 0, 0
	var prev rune     // previous rune, 0 at the start
	var prevBase rune // rune before a variation selector
	inTag := false    // inside an emoji tag sequence, awaiting U+E007F
	for i, r := range s {
		n++
		if inTag && !isTag(r) {
			return reasonInvisible // tag sequence not terminated by CANCEL TAG
		}
		switch {
		case r == '\uFE0E' || r == '\uFE0F':
			if !isEmojiBase(prev) {
				return reasonInvisible
			}
			prevBase = prev
			prev, marks = r, 0
			continue
		case r == '\u20E3':
			if !isKeycapBase(prev) && !(prev == '\uFE0F' && isKeycapBase(prevBase)) {
				return reasonMarks
			}
			prev, marks = r, 0
			continue
		case r == '\u200D':
			next, size := utf8.DecodeRuneInString(s[i+len("\u200D"):])
			if !(isPictograph(prev) || isSkinTone(prev) || prev == '\uFE0F') || size == 0 || !isPictograph(next) {
				return reasonInvisible
			}
			prev, marks = r, 0
			continue
		case isTag(r):
			if !(prev == '\U0001F3F4' || (isTag(prev) && prev != '\U000E007F')) {
				return reasonInvisible
			}
			inTag = r != '\U000E007F'
			prev = r
			continue
		}
		if reason := refuseInvisible(r); reason != "" {
			return reason
		}
		if unicode.Is(unicode.M, r) {
			marks++
			if prev == 0 || prev == ' ' || marks > maxMarkRun {
				return reasonMarks
			}
		} else {
			marks = 0
		}
		prev = r
	}
	if inTag {
		return reasonInvisible
	}
	if n < minLen || n > maxLen {
		return lenReason
	}
	return ""
}

// isEmojiBase: a rune an emoji variation selector may follow.
func isEmojiBase(r rune) bool {
	return unicode.In(r, unicode.S, unicode.P) || ('0' <= r && r <= '9')
}

func isKeycapBase(r rune) bool { return r == '#' || r == '*' || ('0' <= r && r <= '9') }

// isPictograph approximates Extended_Pictographic, which package unicode
// lacks: nearly every emoji is a Symbol, other (So).
func isPictograph(r rune) bool { return unicode.Is(unicode.So, r) }

func isSkinTone(r rune) bool { return '\U0001F3FB' <= r && r <= '\U0001F3FF' }

func isTag(r rune) bool { return '\U000E0020' <= r && r <= '\U000E007F' }

// NormalizeMessage returns the canonical form of a chat message, or a
// *ValidationError wrapping ErrInvalidMessage.
//
// Steps: check UTF-8; turn CRLF and lone CR into LF; trim leading and
// trailing White_Space (blank lines included); then validate: 1 to 2000
// runes, at least one rune that is neither whitespace nor invisible, no
// control characters except LF and TAB, and none of the bidi embeddings,
// overrides and isolates (U+202A–U+202E, U+2066–U+2069) that can reorder
// the text around them. Everything else is kept as typed, including zero-
// width joiners (emoji sequences, Indic conjuncts), zero-width non-joiners
// (Persian), the left-to-right and right-to-left marks, and variation
// selectors. Messages are not NFC-normalised: they are stored as sent.
func NormalizeMessage(raw string) (string, error) {
	if len(raw) > maxMessageBytes {
		return "", invalid(ErrInvalidMessage, "must be at most 2000 characters")
	}
	if !utf8.ValidString(raw) {
		return "", invalid(ErrInvalidMessage, reasonUTF8)
	}
	s := raw
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	s = strings.TrimFunc(s, isWhiteSpace)
	n, visible := 0, false
	for _, r := range s {
		n++
		switch {
		case r == '\n' || r == '\t':
		case unicode.IsControl(r):
			return "", invalid(ErrInvalidMessage, "must not contain control characters")
		case ('\u202A' <= r && r <= '\u202E') || ('\u2066' <= r && r <= '\u2069'):
			return "", invalid(ErrInvalidMessage, "must not contain bidi embedding, override or isolate characters")
		case !visible && !isWhiteSpace(r) && !unicode.Is(unicode.Cf, r) &&
			!unicode.Is(unicode.Variation_Selector, r) &&
			!unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
			visible = true
		}
	}
	if n == 0 || !visible {
		return "", invalid(ErrInvalidMessage, "must not be empty")
	}
	if n > MessageMaxLen {
		return "", invalid(ErrInvalidMessage, "must be at most 2000 characters")
	}
	return s, nil
}

// NicknameKey returns the uniqueness key of a nickname returned by
// NormalizeNickname: two nicknames are taken to be the same when their keys
// are equal. The key is the lowercase hex SHA-256 (64 characters, safe as a
// NATS KV key token) of foldName(normalized), so "Peter", "PETER", "Peтer"
// (Cyrillic т), "PeterI", "Peterl", "ｐｅｔｅｒ" (fullwidth), "ᴘᴇᴛᴇʀ" (small
// capitals), "ᵖᵉᵗᵉʳ" (modifier letters) and "𝐩𝐞𝐭𝐞𝐫" all get the same key.
// It is pure and safe for concurrent use.
//
// The key depends on the confusables data, the Unicode version of the Go
// toolchain and x/text; testdata/nickname_keys.txt pins known keys so that
// an upgrade that changes them fails the tests instead of silently letting
// duplicates in (a change needs the re-keying that Service.Start does; see
// migrateNameKeys).
func NicknameKey(normalized string) string {
	return hexSHA256(foldName(normalized))
}

// RoomNameKey returns the uniqueness key of a room name returned by
// NormalizeRoomName, by the rules of NicknameKey: lowercase hex SHA-256 of
// foldName of the name with the emoji variation selectors U+FE0E/U+FE0F
// removed. So "General", "GENERAL" and "general" share a key, "❤️ fans"
// equals "❤ fans", and look-alikes collide as for nicknames: "Default
// Rооm" (Cyrillic о), "Default Rοοm" (Greek ο), "ＤＥＦＡＵＬＴ ＲＯＯＭ" and
// "ᴅᴇꜰᴀᴜʟᴛ ʀᴏᴏᴍ" are all "Default Room". Pure and safe for concurrent use.
func RoomNameKey(normalized string) string {
	s := normalized
	if strings.ContainsAny(s, "\uFE0E\uFE0F") {
		s = strings.Map(func(r rune) rune {
			if r == '\uFE0E' || r == '\uFE0F' {
				return -1
			}
			return r
		}, s)
	}
	return hexSHA256(foldName(s))
}

// maxFoldRounds bounds foldName's iteration: names converge in 2 rounds,
// random text in at most 4.
const maxFoldRounds = 8

// foldName is the string NicknameKey and RoomNameKey hash: the fixed point
// of foldRound, which is, in the order of UTS #39 (skeleton) and RFC 8266
// (the PRECIS Nickname profile: NFKC and case mapping before comparison):
//
//  1. NFKC, which turns compatibility characters into their plain letters:
//     fullwidth ｐ, modifier ᵖ, mathematical 𝐩 𝓅 𝕡, ℯ, the ligature ﬁ,
//     halfwidth katakana.
//  2. Small capitals to small letters (smallCapitals below): ᴘ → p. They
//     have no compatibility decomposition, and the TR39 confusables table
//     maps only some of them (ᴄ ᴏ ᴜ ᴠ ᴡ ᴢ ꜱ ɪ ʏ), so without this step
//     "ᴘᴇᴛᴇʀ" would stay apart from "peter".
//  3. Full case fold (x/text/cases, corrected for Cherokee, golang/go#46101,
//     and for Turkish dotted/dotless i: see foldCase), then NFD.
//  4. Replace each folded letter whose upper-case form has a TR39
//     prototype by that prototype (unless the letter's own prototype is a
//     plain ASCII one, as for Greek ν → v): see below.
//  5. The TR39 skeleton (NFD, map through confusables.txt, NFD;
//     github.com/mtibben/confusables, Unicode 13 data), which makes
//     Cyrillic а е о р с and Greek α ο ρ the Latin letters they look like.
//
// Why iterate and why step 4: plain "TR39 skeleton of the case-folded
// string" cannot give a key that is both case-insensitive and honours
// TR39: folding turns "I" into "i", which TR39 does not confuse with "l",
// and Cyrillic т into a letter TR39 maps to small-capital ᴛ rather than t.
// A folded letter must stand for its upper-case form too ("peteri" is a
// case variant of "PeterI", which TR39 confuses with "Peterl"), and the
// output of one step may be the input of an earlier one (TR39 maps ᴩ to
// ᴘ, which step 2 then maps to p).
//
// Consequences, by design: i, I, l, 1 are one letter, so are o, O, 0, and
// "rn" is "m"; accents still count ("Zoe" ≠ "Zoë"); letters of other
// scripts that look like no Latin letter stay themselves ("Иван" ≠
// "Ivan"). Known gap: where the two case forms of a letter have different
// ASCII prototypes the lower-case one wins (ν → v, so "ΝICK" with Greek
// capital Ν is not caught as "NICK"); catching both would merge v and n
// everywhere.
func foldName(s string) string {
	for range maxFoldRounds {
		next := foldRound(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

// foldRound is one step of foldName's fixed-point iteration.
func foldRound(s string) string {
	s = norm.NFKC.String(s)
	if strings.ContainsFunc(s, isSmallCapital) {
		s = strings.Map(func(r rune) rune {
			if l, ok := smallCapitals[r]; ok {
				return l
			}
			return r
		}, s)
	}
	s = norm.NFD.String(foldCase(s))
	over := upperPrototypes()
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if p, ok := over[r]; ok {
			b.WriteString(p)
		} else {
			b.WriteRune(r)
		}
	}
	return confusables.Skeleton(b.String())
}

// smallCapitals maps every letter of the Unicode Character Database (15.0,
// the version of Go's unicode tables) named "<script> LETTER SMALL CAPITAL
// <x>" or "<script> SMALL CAPITAL LETTER <x>" to the letter named
// "<script> SMALL LETTER <x>", where that exists: a small capital is its
// letter drawn in the other case, and keys ignore case. Small capitals
// have no decomposition, so NFKC leaves them alone; the modifier small
// capitals (ᶦ ᶫ ᶰ ᶸ, U+1078x) decompose to these. Those without a
// namesake (ɶ OE, ᴎ REVERSED N, ʁ INVERTED R, …) are left to the
// confusables table. TestSmallCapitalsFromNames derives this table from
// the character names (golang.org/x/text/unicode/runenames) and fails
// if it differs.
var smallCapitals = map[rune]rune{
	'\u0262':     'g', // ɢ LATIN LETTER SMALL CAPITAL G
	'\u026A':     'i', // ɪ LATIN LETTER SMALL CAPITAL I
	'\u0274':     'n', // ɴ LATIN LETTER SMALL CAPITAL N
	'\u0280':     'r', // ʀ LATIN LETTER SMALL CAPITAL R
	'\u028F':     'y', // ʏ LATIN LETTER SMALL CAPITAL Y
	'\u0299':     'b', // ʙ LATIN LETTER SMALL CAPITAL B
	'\u029B':     'ɠ', // ʛ LATIN LETTER SMALL CAPITAL G WITH HOOK
	'\u029C':     'h', // ʜ LATIN LETTER SMALL CAPITAL H
	'\u029F':     'l', // ʟ LATIN LETTER SMALL CAPITAL L
	'\u1D00':     'a', // ᴀ LATIN LETTER SMALL CAPITAL A
	'\u1D01':     'æ', // ᴁ LATIN LETTER SMALL CAPITAL AE
	'\u1D04':     'c', // ᴄ LATIN LETTER SMALL CAPITAL C
	'\u1D05':     'd', // ᴅ LATIN LETTER SMALL CAPITAL D
	'\u1D06':     'ð', // ᴆ LATIN LETTER SMALL CAPITAL ETH
	'\u1D07':     'e', // ᴇ LATIN LETTER SMALL CAPITAL E
	'\u1D0A':     'j', // ᴊ LATIN LETTER SMALL CAPITAL J
	'\u1D0B':     'k', // ᴋ LATIN LETTER SMALL CAPITAL K
	'\u1D0C':     'ł', // ᴌ LATIN LETTER SMALL CAPITAL L WITH STROKE
	'\u1D0D':     'm', // ᴍ LATIN LETTER SMALL CAPITAL M
	'\u1D0F':     'o', // ᴏ LATIN LETTER SMALL CAPITAL O
	'\u1D10':     'ɔ', // ᴐ LATIN LETTER SMALL CAPITAL OPEN O
	'\u1D15':     'ȣ', // ᴕ LATIN LETTER SMALL CAPITAL OU
	'\u1D18':     'p', // ᴘ LATIN LETTER SMALL CAPITAL P
	'\u1D1A':     'ɹ', // ᴚ LATIN LETTER SMALL CAPITAL TURNED R
	'\u1D1B':     't', // ᴛ LATIN LETTER SMALL CAPITAL T
	'\u1D1C':     'u', // ᴜ LATIN LETTER SMALL CAPITAL U
	'\u1D20':     'v', // ᴠ LATIN LETTER SMALL CAPITAL V
	'\u1D21':     'w', // ᴡ LATIN LETTER SMALL CAPITAL W
	'\u1D22':     'z', // ᴢ LATIN LETTER SMALL CAPITAL Z
	'\u1D23':     'ʒ', // ᴣ LATIN LETTER SMALL CAPITAL EZH
	'\u1D26':     'γ', // ᴦ GREEK LETTER SMALL CAPITAL GAMMA
	'\u1D27':     'λ', // ᴧ GREEK LETTER SMALL CAPITAL LAMDA
	'\u1D28':     'π', // ᴨ GREEK LETTER SMALL CAPITAL PI
	'\u1D29':     'ρ', // ᴩ GREEK LETTER SMALL CAPITAL RHO
	'\u1D2A':     'ψ', // ᴪ GREEK LETTER SMALL CAPITAL PSI
	'\u1D2B':     'л', // ᴫ CYRILLIC LETTER SMALL CAPITAL EL
	'\u1D7B':     'ɨ', // ᵻ LATIN SMALL CAPITAL LETTER I WITH STROKE
	'\u1D7E':     'ꞹ', // ᵾ LATIN SMALL CAPITAL LETTER U WITH STROKE
	'\u2C7B':     'ǝ', // ⱻ LATIN LETTER SMALL CAPITAL TURNED E
	'\uA730':     'f', // ꜰ LATIN LETTER SMALL CAPITAL F
	'\uA731':     's', // ꜱ LATIN LETTER SMALL CAPITAL S
	'\uA776':     'ꝵ', // ꝶ LATIN LETTER SMALL CAPITAL RUM
	'\uA7AF':     'q', // ꞯ LATIN LETTER SMALL CAPITAL Q
	'\uA7FA':     'ɯ', // ꟺ LATIN LETTER SMALL CAPITAL TURNED M
	'\uAB65':     'ω', // ꭥ GREEK LETTER SMALL CAPITAL OMEGA
	'\U0001DF02': 'ᵷ', // 𝼂 LATIN LETTER SMALL CAPITAL TURNED G
	'\U0001DF04': 'ɬ', // 𝼄 LATIN LETTER SMALL CAPITAL L WITH BELT
	'\U0001DF10': 'ʞ', // 𝼐 LATIN LETTER SMALL CAPITAL TURNED K
}

func isSmallCapital(r rune) bool {
	_, ok := smallCapitals[r]
	return ok
}

// upperPrototypes maps each case-folded letter whose upper-case form has a
// TR39 prototype to that prototype, unless the letter has a prototype of
// its own that is ASCII, or has one and the upper-case one is not ASCII.
// Built once from unicode.CaseRanges (about 2,800 letters, a few ms).
var upperPrototypes = sync.OnceValue(func() map[rune]string {
	m := make(map[rune]string)
	for _, cr := range unicode.CaseRanges {
		for r := rune(cr.Lo); r <= rune(cr.Hi); r++ {
			u := unicode.ToUpper(r)
			if u == r || foldCase(string(r)) != string(r) {
				continue
			}
			pl, pu := confusables.Skeleton(string(r)), confusables.Skeleton(string(u))
			lowerMapped := pl != norm.NFD.String(string(r))
			upperMapped := pu != norm.NFD.String(string(u))
			if upperMapped && (!lowerMapped || (!isASCII(pl) && isASCII(pu))) {
				m[r] = pu
			}
		}
	}
	return m
})

// foldCase is full Unicode case folding, adjusted so that every case
// mapping a user may have applied yields the same key:
//
//   - x/text's Fold swaps the case of Cherokee letters instead of folding
//     them to upper case (golang/go#46101), which would make "ᎪᎪ" and "ꭺꭺ"
//     differ; Cherokee is mapped to upper case, as CaseFolding.txt says.
//   - Dotted and dotless i are one letter: default folding keeps "ı"
//     (U+0131) apart from "i" and folds "İ" (U+0130) to "i" + U+0307, while
//     upper-casing "ı" gives "I" and lower-casing "İ" gives "i" (Turkish).
//     So "ı" becomes "i", and U+0307 COMBINING DOT ABOVE right after "i" or
//     "j" (whose own dot it merely repeats) is dropped.
func foldCase(s string) string {
	f := cases.Fold().String(s)
	if !strings.ContainsFunc(f, func(r rune) bool { return r == 'ı' || r == '\u0307' || isCherokee(r) }) {
		return f
	}
	var b strings.Builder
	b.Grow(len(f))
	var prev rune
	for _, r := range f {
		switch {
		case r == 'ı':
			r = 'i'
		case r == '\u0307' && (prev == 'i' || prev == 'j'):
			continue
		case isCherokee(r):
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

func isCherokee(r rune) bool { return unicode.Is(unicode.Cherokee, r) }

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
