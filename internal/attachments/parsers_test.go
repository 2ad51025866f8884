package attachments

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"testing"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

func TestSniff(t *testing.T) {
	pngData := EncodePNG(t, Picture(8, 8, false))
	jpgData := EncodeJPEG(t, Picture(8, 8, false))
	gifData, _ := AnimatedGIF(t)
	tests := []struct {
		name string
		data []byte
		want format
		err  error
	}{
		{"png", pngData, formatPNG, nil},
		{"jpeg", jpgData, formatJPEG, nil},
		{"gif89a", gifData, formatGIF, nil},
		{"gif87a", append([]byte("GIF87a"), gifData[6:]...), formatGIF, nil},
		{"webp lossy", ReadTestdata(t, "photo.lossy.exif.webp"), formatWebP, nil},
		{"webp lossless", ReadTestdata(t, "alpha.lossless.webp"), formatWebP, nil},
		{"webp with alpha", ReadTestdata(t, "alpha.lossy.webp"), formatWebP, nil},
		{"animated webp", ReadTestdata(t, "animated.webp"), formatUnknown, errAnimatedWebP},
		{"html", []byte("<!doctype html><html><script>alert(1)</script></html>"), formatUnknown, errUnsupported},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), formatUnknown, errUnsupported},
		{"svg with prolog", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), formatUnknown, errUnsupported},
		{"html then png", append([]byte("<html><!--"), pngData...), formatUnknown, errUnsupported},
		{"space then png", append([]byte(" "), pngData...), formatUnknown, errUnsupported},
		{"bmp", []byte("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), formatUnknown, errUnsupported},
		{"pdf", []byte("%PDF-1.7\n"), formatUnknown, errUnsupported},
		{"riff wave", []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"), formatUnknown, errUnsupported},
		{"webp unknown chunk", []byte("RIFF\x24\x00\x00\x00WEBPABCD\x10\x00\x00\x00"), formatUnknown, errUnsupported},
		{"short vp8x", []byte("RIFF\x24\x00\x00\x00WEBPVP8X\x0a"), formatUnknown, errUnsupported},
		{"png signature only", pngSignature[:7], formatUnknown, errUnsupported},
		{"empty", nil, formatUnknown, errUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sniff(tt.data)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("sniff = %v, %v; want %v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// jpegWithSegments is a JPEG made of SOI, the given raw segments, and
// the rest of a real JPEG.
func jpegWithSegments(t testing.TB, segs ...[]byte) []byte {
	base := EncodeJPEG(t, Picture(16, 16, false))
	out := append([]byte{}, base[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, base[2:]...)
}

// segment is a JPEG marker segment.
func segment(marker byte, payload []byte) []byte {
	n := len(payload) + 2
	return append([]byte{0xFF, marker, byte(n >> 8), byte(n)}, payload...)
}

func exifSegment(tiff []byte) []byte {
	return segment(0xE1, append([]byte(exifHeader), tiff...))
}

func TestJPEGOrientation(t *testing.T) {
	base := EncodeJPEG(t, Picture(16, 16, false))
	for o := 1; o <= 8; o++ {
		for _, bo := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
			if got := jpegOrientation(WithAPP1(base, EXIF(o, bo))); got != o {
				t.Errorf("orientation %d (%v): got %d", o, bo, got)
			}
		}
	}
	exif6 := EXIF(6, binary.BigEndian)
	patched := func(at int, v ...byte) []byte {
		b := append([]byte{}, exif6...)
		copy(b[at:], v)
		return b
	}
	// In EXIF(6, BigEndian), IFD0 starts at 8: its third entry, at
	// 8+2+2*12 = 34, is the orientation (tag, type, count, value).
	const orientEntry = 34
	if binary.BigEndian.Uint16(exif6[orientEntry:]) != tagOrientation {
		t.Fatal("test EXIF layout changed")
	}
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"no exif", base, 1},
		{"no orientation tag", WithAPP1(base, EXIF(0, binary.LittleEndian)), 1},
		{"value 9", WithAPP1(base, EXIF(9, binary.LittleEndian)), 1},
		{"value 0 in the tag", WithAPP1(base, patched(orientEntry+8, 0, 0)), 1},
		{"type LONG", WithAPP1(base, patched(orientEntry+2, 0, 4)), 1},
		{"count 2", WithAPP1(base, patched(orientEntry+4, 0, 0, 0, 2)), 1},
		{"bad byte order", WithAPP1(base, patched(0, 'X', 'X')), 1},
		{"bad magic", WithAPP1(base, patched(2, 0, 43)), 1},
		{"IFD offset past the end", WithAPP1(base, patched(4, 0, 0, 0xFF, 0)), 1},
		{"IFD offset inside the header", WithAPP1(base, patched(4, 0, 0, 0, 4)), 1},
		{"entry count past the end", WithAPP1(base, patched(8, 0xFF, 0xFF)), 6},
		{"truncated before the tag", jpegWithSegments(t, exifSegment(exif6[:orientEntry+6])), 1},
		{"after APP0", jpegWithSegments(t, segment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")), exifSegment(exif6)), 6},
		{"after fill bytes", jpegWithSegments(t, []byte{0xFF, 0xFF}, exifSegment(exif6)), 6},
		{"XMP APP1 first", jpegWithSegments(t, segment(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x/>")), exifSegment(exif6)), 6},
		{"only the first Exif counts", jpegWithSegments(t, exifSegment(EXIF(0, binary.BigEndian)), exifSegment(exif6)), 1},
		{"Exif after the scan is ignored", append(append([]byte{}, base[:len(base)-2]...), exifSegment(exif6)...), 1},
		{"segment length past the end", append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, exif6...), 1},
		{"segment length 1", []byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01, 0xFF, 0xD9}, 1},
		{"not a jpeg", exif6, 1},
		{"empty", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(tt.data); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// jpegScanBomb is a JPEG header followed by n empty scans.
func jpegScanBomb(n int) []byte {
	b := []byte{0xFF, 0xD8}
	b = append(b, segment(0xC2, []byte{8, 0, 8, 0, 8, 1, 1, 0x11, 0})...) // progressive SOF, 8×8, 1 component
	for range n {
		b = append(b, segment(0xDA, []byte{1, 1, 0x00, 0, 0, 0})...)
		b = append(b, 0x00)
	}
	return append(b, 0xFF, 0xD9)
}

func TestJPEGScans(t *testing.T) {
	base := EncodeJPEG(t, Picture(64, 64, false))
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"baseline", base, 1},
		{"with EXIF", WithAPP1(base, EXIF(6, binary.LittleEndian)), 1},
		{"FF DA inside a comment is not a scan", WithCOM(base, "\xFF\xDA\xFF\xDA"), 1},
		{"trailing JPEG after EOI", append(append([]byte{}, base...), base...), 1},
		{"20 scans", jpegScanBomb(20), 20},
		{"bomb stops past the limit", jpegScanBomb(1000), maxJPEGScans + 1},
		{"truncated", base[:len(base)-10], 1},
		{"not a jpeg", []byte("GIF89a"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegScans(tt.data, maxJPEGScans); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// craftedGIF is a GIF whose frames (no color table, one empty data
// sub-block each) have the given rectangles on a w×h screen.
func craftedGIF(w, h int, frames ...image.Rectangle) []byte {
	le := binary.LittleEndian
	b := []byte("GIF89a")
	b = le.AppendUint16(b, uint16(w))
	b = le.AppendUint16(b, uint16(h))
	b = append(b, 0, 0, 0)
	for _, r := range frames {
		b = append(b, 0x2C)
		for _, v := range []int{r.Min.X, r.Min.Y, r.Dx(), r.Dy()} {
			b = le.AppendUint16(b, uint16(v))
		}
		b = append(b, 0, 2, 1, 0, 0) // flags, LZW code size, one 1-byte sub-block, end
	}
	return append(b, 0x3B)
}

func TestScanGIF(t *testing.T) {
	anim, _ := AnimatedGIF(t)
	many := make([]image.Rectangle, MaxGIFFrames+1)
	for i := range many {
		many[i] = image.Rect(0, 0, 1, 1)
	}
	big := image.Rect(0, 0, 8000, 5000)
	tests := []struct {
		name   string
		data   []byte
		frames int
		ok     bool
	}{
		{"animation", anim, 3, true},
		{"with extensions and trailing bytes", WithGIFExtensions(anim), 3, true},
		{"frame outside the screen", craftedGIF(10, 10, image.Rect(5, 5, 11, 10)), 0, false},
		{"too many frames", craftedGIF(10, 10, many...), MaxGIFFrames + 1, false},
		{"too many pixels", craftedGIF(8000, 5000, big, big, big), 3, false},
		{"no frame", craftedGIF(10, 10), 0, false},
		{"truncated", anim[:len(anim)-1], 3, false},
		{"truncated in a color table", anim[:20], 0, false},
		{"unknown block", append(craftedGIF(10, 10)[:13], 0x99), 0, false},
		{"not a gif", []byte("GIF90a\x00\x00\x00\x00\x00\x00\x00"), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := scanGIF(tt.data, MaxGIFFrames, MaxGIFPixels)
			if (err == nil) != tt.ok || s.frames != tt.frames {
				t.Fatalf("scanGIF = %+v, %v; want %d frames, ok %v", s, err, tt.frames, tt.ok)
			}
		})
	}
}

// FuzzSniff checks that sniffing depends on the first sniffLen bytes
// only, and that a prefix is never recognised as something else.
func FuzzSniff(f *testing.F) {
	gifData, _ := AnimatedGIF(f)
	for _, seed := range [][]byte{
		EncodePNG(f, Picture(4, 4, false)), EncodeJPEG(f, Picture(4, 4, false)), gifData,
		ReadTestdata(f, "photo.lossy.exif.webp")[:64], ReadTestdata(f, "animated.webp")[:64],
		ReadTestdata(f, "alpha.lossless.webp")[:64],
		[]byte("<svg><script>alert(1)</script></svg>"), []byte("RIFF\x00\x00\x00\x00WEBPVP8X"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := sniff(data)
		if (err == nil) != (got != formatUnknown) {
			t.Fatalf("sniff = %v, %v", got, err)
		}
		if len(data) > sniffLen {
			if g2, err2 := sniff(data[:sniffLen]); g2 != got || !errors.Is(err2, err) && err2 != err {
				t.Fatalf("sniff depends on bytes past %d: %v, %v vs %v, %v", sniffLen, got, err, g2, err2)
			}
		}
		for k := range min(len(data), sniffLen) {
			if g, _ := sniff(data[:k]); g != formatUnknown && g != got {
				t.Fatalf("prefix of %d bytes sniffed as %v, the whole as %v", k, g, got)
			}
		}
		switch got {
		case formatPNG:
			if !bytes.HasPrefix(data, pngSignature) {
				t.Fatal("PNG without its signature")
			}
		case formatJPEG:
			if !bytes.HasPrefix(data, jpegSignature) {
				t.Fatal("JPEG without its signature")
			}
		}
	})
}

// FuzzEXIF checks that the orientation reader stays in range, never
// reads outside its input, and that a prefix of a JPEG (a partial read)
// gives either the same orientation or 1; likewise that a prefix never
// holds more scans than the whole.
func FuzzEXIF(f *testing.F) {
	base := EncodeJPEG(f, Picture(8, 8, false))
	for o := range 9 {
		f.Add(WithAPP1(base, EXIF(o, binary.LittleEndian)))
		f.Add(WithAPP1(base, EXIF(o, binary.BigEndian))[:200])
	}
	f.Add(jpegScanBomb(3))
	f.Add(WithCOM(base, "\xFF\xDA"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o := jpegOrientation(data)
		if o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		if v := tiffOrientation(data); v < 0 || v > 8 {
			t.Fatalf("tiffOrientation %d", v)
		}
		scans := jpegScans(data, 1<<20)
		for _, k := range []int{len(data) / 2, len(data) - 1} {
			if k < 0 {
				continue
			}
			if p := jpegOrientation(data[:k]); p != o && p != 1 {
				t.Fatalf("prefix of %d bytes: orientation %d, whole %d", k, p, o)
			}
			if p := jpegScans(data[:k], 1<<20); p > scans {
				t.Fatalf("prefix of %d bytes: %d scans, whole %d", k, p, scans)
			}
		}
	})
}

// FuzzInspect runs the checks made before decoding (format, header
// dimensions, GIF block walk, JPEG scan count) on arbitrary input and on
// its first half: no panic, and whatever passes is within the limits.
func FuzzInspect(f *testing.F) {
	gifData, _ := AnimatedGIF(f)
	for _, seed := range [][]byte{
		EncodePNG(f, Picture(4, 4, false)), EncodeJPEG(f, Picture(4, 4, false)), gifData,
		WithGIFExtensions(gifData), ReadTestdata(f, "photo.lossy.exif.webp"), ReadTestdata(f, "alpha.lossless.webp"),
		PNGHeader(30000, 30000), PNGHeader(8000, 6250), craftedGIF(10, 10, image.Rect(0, 0, 10, 10)),
		jpegScanBomb(5),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range [][]byte{data, data[:len(data)/2]} {
			_, cfg, err := inspect(d)
			if err != nil {
				if _, ok := errors.AsType[*apierr.Error](err); !ok {
					t.Fatalf("inspect: %T %v, want a client error", err, err)
				}
				continue
			}
			if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxSide || cfg.Height > MaxSide || cfg.Width*cfg.Height > MaxPixels {
				t.Fatalf("inspect passed %dx%d", cfg.Width, cfg.Height)
			}
		}
		s, err := scanGIF(data, 10, 1000)
		if err == nil && (s.frames < 1 || s.frames > 10 || s.pixels > 1000) {
			t.Fatalf("scanGIF passed %+v", s)
		}
	})
}
