package attachments

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// decodeAs decodes an encoded image, checking its content type.
// process is what Service.process does to an upload, without the pixel
// budget: inspect, then decode.
func process(data []byte) (processed, error) {
	f, _, err := inspect(data)
	if err != nil {
		return processed{}, err
	}
	return decode(f, data)
}

func decodeAs(t testing.TB, e encoded) image.Image {
	t.Helper()
	var m image.Image
	var err error
	switch e.contentType {
	case typePNG:
		m, err = png.Decode(bytes.NewReader(e.data))
	case typeJPEG:
		m, err = jpeg.Decode(bytes.NewReader(e.data))
	case typeGIF:
		m, err = gif.Decode(bytes.NewReader(e.data))
	default:
		t.Fatalf("content type %q", e.contentType)
	}
	if err != nil {
		t.Fatalf("decode %s: %v", e.contentType, err)
	}
	if b := m.Bounds(); b.Dx() != e.width || b.Dy() != e.height {
		t.Fatalf("%s is %v, says %dx%d", e.contentType, b, e.width, e.height)
	}
	return m
}

// colorName classifies a pixel as "red", "green" or "other", allowing
// for JPEG's losses.
func colorName(c color.Color) string {
	r, g, b, _ := c.RGBA()
	r, g, b = r>>8, g>>8, b>>8
	switch {
	case r > 200 && g < 60 && b < 60:
		return "red"
	case g > 200 && r < 60 && b < 60:
		return "green"
	}
	return "other"
}

// corners names the colours near the four corners of m: top-left,
// top-right, bottom-left, bottom-right.
func corners(m image.Image) [4]string {
	b := m.Bounds()
	dx, dy := max(1, b.Dx()/16), max(1, b.Dy()/16)
	return [4]string{
		colorName(m.At(b.Min.X+dx, b.Min.Y+dy)),
		colorName(m.At(b.Max.X-1-dx, b.Min.Y+dy)),
		colorName(m.At(b.Min.X+dx, b.Max.Y-1-dy)),
		colorName(m.At(b.Max.X-1-dx, b.Max.Y-1-dy)),
	}
}

func mustProcess(t testing.TB, data []byte) processed {
	t.Helper()
	p, err := process(data)
	if err != nil {
		t.Fatalf("process: %v", err)
	}
	return p
}

func TestOrientationApplied(t *testing.T) {
	// Picture has red top-left and green top-right; where they are shown
	// under each EXIF orientation ([TL, TR, BL, BR] of the result).
	want := [9][4]string{
		1: {"red", "green", "other", "other"},
		2: {"green", "red", "other", "other"},
		3: {"other", "other", "green", "red"},
		4: {"other", "other", "red", "green"},
		5: {"red", "other", "green", "other"},
		6: {"other", "red", "other", "green"},
		7: {"other", "green", "other", "red"},
		8: {"green", "other", "red", "other"},
	}
	const w, h = 96, 64
	src := EncodeJPEG(t, Picture(w, h, false))
	for o := 1; o <= 8; o++ {
		for _, bo := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
			p := mustProcess(t, WithAPP1(src, EXIF(o, bo)))
			ww, wh := w, h
			if o >= 5 {
				ww, wh = h, w
			}
			if p.image.width != ww || p.image.height != wh || p.image.contentType != typeJPEG {
				t.Fatalf("orientation %d: %s %dx%d, want image/jpeg %dx%d", o, p.image.contentType, p.image.width, p.image.height, ww, wh)
			}
			if got := corners(decodeAs(t, p.image)); got != want[o] {
				t.Errorf("orientation %d (%v): corners %v, want %v", o, bo, got, want[o])
			}
			if got := corners(decodeAs(t, p.thumb)); got != want[o] {
				t.Errorf("orientation %d (%v): thumbnail corners %v, want %v", o, bo, got, want[o])
			}
		}
	}
}

// jpegMarkers lists the markers of a JPEG's segments up to the first
// scan, then checks that it ends with EOI.
func jpegMarkers(t *testing.T, data []byte) []byte {
	t.Helper()
	var markers []byte
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		m := data[i+1]
		markers = append(markers, m)
		if m == 0xDA {
			break
		}
		i += 2 + int(binary.BigEndian.Uint16(data[i+2:]))
	}
	if !bytes.HasSuffix(data, []byte{0xFF, 0xD9}) {
		t.Error("the JPEG does not end with EOI: trailing bytes kept")
	}
	return markers
}

// pngChunks lists the chunk types of a PNG, checking that nothing
// follows IEND.
func pngChunks(t *testing.T, data []byte) []string {
	t.Helper()
	var types []string
	for i := 8; i < len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		types = append(types, typ)
		i += 12 + n
		if typ == "IEND" && i != len(data) {
			t.Errorf("%d bytes after IEND", len(data)-i)
		}
	}
	return types
}

func TestMetadataRemoved(t *testing.T) {
	trailer := []byte("<html><script>alert(1)</script></html>")
	t.Run("jpeg", func(t *testing.T) {
		src := WithAPP1(EncodeJPEG(t, Picture(200, 150, false)), EXIF(6, binary.BigEndian))
		src = WithCOM(src, "SECRET-COMMENT <html>")
		src = append(src, trailer...)
		if !bytes.Contains(src, []byte("TestCam-MAKER")) {
			t.Fatal("the input has no metadata to remove")
		}
		p := mustProcess(t, src)
		for _, e := range []encoded{p.image, p.thumb} {
			CheckClean(t, e.contentType, e.data)
			for _, m := range jpegMarkers(t, e.data) {
				if m >= 0xE0 && m <= 0xEF || m == 0xFE {
					t.Errorf("segment 0x%02X kept", m)
				}
			}
			if jpegOrientation(e.data) != 1 {
				t.Error("an orientation is left")
			}
		}
		if p.image.width != 150 || p.image.height != 200 {
			t.Errorf("orientation 6 not applied: %dx%d", p.image.width, p.image.height)
		}
	})
	t.Run("png", func(t *testing.T) {
		src := WithPNGChunks(EncodePNG(t, Picture(200, 150, true)),
			PNGChunk("tEXt", []byte("Comment\x00SECRET-COMMENT <html><script>alert(1)</script>")),
			PNGChunk("eXIf", EXIF(6, binary.BigEndian)),
			PNGChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta>GPS-MARKER</x:xmpmeta>")))
		src = append(src, trailer...)
		p := mustProcess(t, src)
		CheckClean(t, "png", p.image.data)
		CheckClean(t, "thumbnail", p.thumb.data)
		allowed := []string{"IHDR", "PLTE", "tRNS", "IDAT", "IEND"}
		for _, c := range pngChunks(t, p.image.data) {
			if !slices.Contains(allowed, c) {
				t.Errorf("chunk %s kept", c)
			}
		}
		if p.image.contentType != typePNG || p.thumb.contentType != typePNG {
			t.Errorf("alpha image stored as %s, thumbnail %s", p.image.contentType, p.thumb.contentType)
		}
	})
	t.Run("gif", func(t *testing.T) {
		anim, _ := AnimatedGIF(t)
		p := mustProcess(t, WithGIFExtensions(anim))
		CheckClean(t, "gif", p.image.data)
		CheckClean(t, "thumbnail", p.thumb.data)
		if !bytes.HasSuffix(p.image.data, []byte{0x3B}) {
			t.Error("trailing bytes kept")
		}
	})
	t.Run("webp", func(t *testing.T) {
		src := ReadTestdata(t, "photo.lossy.exif.webp")
		if !bytes.Contains(src, []byte("GPS-MARKER")) {
			t.Fatal("the test file has no EXIF")
		}
		p := mustProcess(t, src)
		CheckClean(t, "webp", p.image.data)
		CheckClean(t, "thumbnail", p.thumb.data)
	})
}

func TestGIFAnimationKept(t *testing.T) {
	data, want := AnimatedGIF(t)
	p := mustProcess(t, WithGIFExtensions(data))
	if p.image.contentType != typeGIF || p.image.width != 60 || p.image.height != 40 {
		t.Fatalf("%s %dx%d", p.image.contentType, p.image.width, p.image.height)
	}
	got, err := gif.DecodeAll(bytes.NewReader(p.image.data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Image) != len(want.Image) {
		t.Fatalf("%d frames, want %d", len(got.Image), len(want.Image))
	}
	if !slices.Equal(got.Delay, want.Delay) || !slices.Equal(got.Disposal, want.Disposal) || got.LoopCount != want.LoopCount {
		t.Fatalf("delays %v disposal %v loop %d; want %v %v %d",
			got.Delay, got.Disposal, got.LoopCount, want.Delay, want.Disposal, want.LoopCount)
	}
	for i, m := range got.Image {
		w := want.Image[i]
		if m.Bounds() != w.Bounds() {
			t.Fatalf("frame %d at %v, want %v", i, m.Bounds(), w.Bounds())
		}
		for y := w.Rect.Min.Y; y < w.Rect.Max.Y; y++ {
			for x := w.Rect.Min.X; x < w.Rect.Max.X; x++ {
				if m.At(x, y) != w.At(x, y) {
					t.Fatalf("frame %d differs at %d,%d", i, x, y)
				}
			}
		}
	}
	if p.thumb.width != 60 || p.thumb.height != 40 {
		t.Errorf("thumbnail %dx%d", p.thumb.width, p.thumb.height)
	}
}

func TestWebP(t *testing.T) {
	tests := []struct {
		file              string
		contentType       string
		w, h              int
		thumbType         string
		thumbW, thumbH    int
		topLeft, topRight string
	}{
		{"photo.lossy.exif.webp", typeJPEG, 800, 600, typeJPEG, 320, 240, "red", "other"},
		{"alpha.lossless.webp", typePNG, 64, 48, typePNG, 64, 48, "red", "other"},
		{"alpha.lossy.webp", typePNG, 64, 48, typePNG, 64, 48, "red", "other"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := mustProcess(t, ReadTestdata(t, tt.file))
			if p.image.contentType != tt.contentType || p.image.width != tt.w || p.image.height != tt.h {
				t.Fatalf("stored as %s %dx%d, want %s %dx%d", p.image.contentType, p.image.width, p.image.height, tt.contentType, tt.w, tt.h)
			}
			if p.thumb.contentType != tt.thumbType || p.thumb.width != tt.thumbW || p.thumb.height != tt.thumbH {
				t.Fatalf("thumbnail %s %dx%d, want %s %dx%d", p.thumb.contentType, p.thumb.width, p.thumb.height, tt.thumbType, tt.thumbW, tt.thumbH)
			}
			c := corners(decodeAs(t, p.image))
			if c[0] != tt.topLeft || c[1] != tt.topRight {
				t.Errorf("corners %v", c)
			}
			decodeAs(t, p.thumb)
		})
	}
	if _, err := process(ReadTestdata(t, "animated.webp")); codeOf(err) != apierr.CodeUnsupportedType {
		t.Errorf("animated WebP: %v, want %s", err, apierr.CodeUnsupportedType)
	}
}

func TestThumbnails(t *testing.T) {
	tests := []struct {
		w, h           int
		alpha          bool
		thumbW, thumbH int
	}{
		{1280, 960, false, 320, 240}, // shrunk by 2, then resampled
		{960, 1280, false, 240, 320},
		{100, 3000, false, 11, 320},
		{3000, 5, false, 320, 1},
		{321, 321, false, 320, 320},
		{320, 320, false, 320, 320},
		{200, 100, false, 200, 100}, // never upscaled
		{1, 1, false, 1, 1},
		{400, 300, true, 320, 240},
	}
	for _, tt := range tests {
		src := Picture(tt.w, tt.h, tt.alpha)
		data := EncodeJPEG(t, src) // faster to make than PNG
		if tt.alpha {
			data = EncodePNG(t, src)
		}
		p := mustProcess(t, data)
		if p.thumb.width != tt.thumbW || p.thumb.height != tt.thumbH {
			t.Errorf("%dx%d: thumbnail %dx%d, want %dx%d", tt.w, tt.h, p.thumb.width, p.thumb.height, tt.thumbW, tt.thumbH)
		}
		wantType := typeJPEG
		if tt.alpha {
			wantType = typePNG
		}
		if p.thumb.contentType != wantType {
			t.Errorf("%dx%d alpha %v: thumbnail is %s", tt.w, tt.h, tt.alpha, p.thumb.contentType)
		}
		m := decodeAs(t, p.thumb)
		if tt.w >= 64 && tt.h >= 64 {
			if c := corners(m); c[0] != "red" || c[1] != "green" {
				t.Errorf("%dx%d: thumbnail corners %v", tt.w, tt.h, c)
			}
		}
	}
}

func codeOf(err error) string {
	if ce, ok := errors.AsType[*apierr.Error](err); ok {
		return ce.Code
	}
	if err != nil {
		return "internal: " + err.Error()
	}
	return ""
}

// hugeHeaders are inputs whose headers claim far more pixels than
// accepted, or (GIF) frames whose sum does.
func hugeHeaders() map[string][]byte {
	webp := []byte("RIFF\x16\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00")
	webp = append(webp, 0xFF, 0x3F, 0x00, 0xFF, 0x3F, 0x00) // 16384×16384
	// SOI, JFIF APP0 (image/jpeg's DecodeConfig stops at SOF only after
	// one), SOF0 of 30000×30000, EOI.
	jpegSOF := []byte{0xFF, 0xD8}
	jpegSOF = append(jpegSOF, segment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))...)
	jpegSOF = append(jpegSOF, segment(0xC0, []byte{8, 0x75, 0x30, 0x75, 0x30, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1})...)
	jpegSOF = append(jpegSOF, 0xFF, 0xD9)
	big := image.Rect(0, 0, 8000, 5000)
	return map[string][]byte{
		"png 30000x30000":       PNGHeader(30000, 30000),
		"jpeg 30000x30000":      jpegSOF,
		"gif 65535x65535":       craftedGIF(65535, 65535, image.Rect(0, 0, 65535, 65535)),
		"webp 16384x16384":      webp,
		"gif 3 frames of 40 MP": craftedGIF(8000, 5000, big, big, big),
	}
}

func TestRefused(t *testing.T) {
	pngData := EncodePNG(t, Picture(64, 48, false))
	jpgData := EncodeJPEG(t, Picture(64, 48, false))
	gifData, _ := AnimatedGIF(t)
	type test struct {
		name string
		data []byte
		code string
		msg  string // in the message, if set
	}
	tests := []test{
		{"svg with script", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>`), apierr.CodeUnsupportedType, ""},
		{"html", []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"), apierr.CodeUnsupportedType, ""},
		{"html+png polyglot, html first", append(append([]byte("<html><!--"), pngData...), "--><script>alert(1)</script></html>"...), apierr.CodeUnsupportedType, ""},
		{"animated webp", ReadTestdata(t, "animated.webp"), apierr.CodeUnsupportedType, ""},
		{"bmp", []byte("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), apierr.CodeUnsupportedType, ""},
		{"empty", nil, apierr.CodeUnsupportedType, ""},
		{"png 8001 wide", PNGHeader(8001, 10), apierr.CodeInvalidImage, "8001×10"},
		{"png 7072x7071 (over 50 MP)", PNGHeader(7072, 7071), apierr.CodeInvalidImage, "megapixels"},
		{"png 0 wide", PNGHeader(0, 10), apierr.CodeInvalidImage, ""},
		{"png header without pixels", PNGHeader(100, 100), apierr.CodeInvalidImage, ""},
		{"truncated png", pngData[:len(pngData)-20], apierr.CodeInvalidImage, ""},
		{"truncated jpeg", jpgData[:len(jpgData)/2], apierr.CodeInvalidImage, ""},
		{"jpeg cut before the scan", jpgData[:200], apierr.CodeInvalidImage, ""},
		{"truncated gif", gifData[:len(gifData)-10], apierr.CodeInvalidImage, ""},
		{"gif frame outside the screen", craftedGIF(10, 10, image.Rect(5, 5, 11, 10)), apierr.CodeInvalidImage, ""},
		{"gif of 1001 frames", craftedGIF(10, 10, slices.Repeat([]image.Rectangle{image.Rect(0, 0, 1, 1)}, 1001)...), apierr.CodeInvalidImage, "more than 1000 frames"},
		{"jpeg of 101 scans", jpegScanBomb(101), apierr.CodeInvalidImage, "more than 100 scans"},
		{"corrupt png data", func() []byte {
			b := append([]byte{}, pngData...)
			for i := 60; i < 90; i++ {
				b[i] ^= 0x5A
			}
			return b
		}(), apierr.CodeInvalidImage, ""},
	}
	for name, data := range hugeHeaders() {
		msg := "megapixels"
		if strings.HasPrefix(name, "gif 3 frames") {
			msg = "pixels in all"
		}
		tests = append(tests, test{name, data, apierr.CodeInvalidImage, msg})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := process(tt.data)
			if got := codeOf(err); got != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("process: %v, want %s with %q", err, tt.code, tt.msg)
			}
		})
	}
}

// TestHugeHeadersAllocateLittle checks that an image claiming billions
// of pixels is refused from its header, before anything of its claimed
// size is allocated.
func TestHugeHeadersAllocateLittle(t *testing.T) {
	const budget = 4 << 20
	for name, data := range hugeHeaders() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := process(data)
		runtime.ReadMemStats(&after)
		if codeOf(err) != apierr.CodeInvalidImage {
			t.Errorf("%s: %v", name, err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: refused after allocating %d bytes", name, alloc)
		if alloc > budget {
			t.Errorf("%s: %d bytes allocated before refusing, want < %d", name, alloc, budget)
		}
	}
}

func TestOrientIdentityAndRoundTrip(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 5, 3))
	for i := range src.Pix {
		src.Pix[i] = byte(i)
	}
	if orient(src, 1) != image.Image(src) || orient(src, 0) != image.Image(src) || orient(src, 9) != image.Image(src) {
		t.Fatal("orientations 0, 1 and 9 must return the image itself")
	}
	// Applying an orientation and its inverse gives the original back.
	inverse := map[int]int{2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}
	for o, inv := range inverse {
		back := orient(orient(src, o), inv).(*image.RGBA)
		if back.Rect != src.Rect || !bytes.Equal(back.Pix, src.Pix) {
			t.Errorf("orientation %d then %d does not give the original", o, inv)
		}
	}
	// A source not at the origin.
	sub := src.SubImage(image.Rect(1, 1, 4, 3))
	if got := orient(sub, 6).Bounds(); got != image.Rect(0, 0, 2, 3) {
		t.Errorf("orient of a sub-image: %v", got)
	}
}

// FuzzProcess decodes and re-encodes small images (the format
// decoders are fuzzed upstream; this covers orientation, thumbnails and
// encoding): whatever is accepted re-encodes into an image that is
// accepted again, with the dimensions it reports.
func FuzzProcess(f *testing.F) {
	gifData, _ := AnimatedGIF(f)
	for _, seed := range [][]byte{
		EncodePNG(f, Picture(20, 10, true)), WithAPP1(EncodeJPEG(f, Picture(12, 8, false)), EXIF(6, binary.LittleEndian)),
		gifData, ReadTestdata(f, "alpha.lossless.webp"), ReadTestdata(f, "alpha.lossy.webp"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		f, cfg, err := inspect(data)
		if err != nil || cfg.Width*cfg.Height > 1<<16 {
			return
		}
		if f == formatGIF {
			if s, err := scanGIF(data, MaxGIFFrames, MaxGIFPixels); err != nil || s.pixels > 1<<18 {
				return
			}
		}
		p, err := process(data)
		if err != nil {
			if codeOf(err) != apierr.CodeInvalidImage {
				t.Fatalf("process: %v", err)
			}
			return
		}
		for _, e := range []encoded{p.image, p.thumb} {
			decodeAs(t, e)
			if _, _, err := inspect(e.data); err != nil {
				t.Fatalf("re-encoded %s refused: %v", e.contentType, err)
			}
		}
		if p.thumb.width > ThumbnailSide || p.thumb.height > ThumbnailSide {
			t.Fatalf("thumbnail %dx%d", p.thumb.width, p.thumb.height)
		}
	})
}

func benchmarkProcessJPEG(b *testing.B, orientation int) {
	src := EncodeJPEG(b, Picture(2000, 1500, false))
	if orientation != 0 {
		src = WithAPP1(src, EXIF(orientation, binary.LittleEndian))
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := process(src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessJPEG re-encodes a 2000×1500 JPEG and makes its
// thumbnail.
func BenchmarkProcessJPEG(b *testing.B) { benchmarkProcessJPEG(b, 0) }

// BenchmarkProcessJPEGRotated is the same with EXIF orientation 6.
func BenchmarkProcessJPEGRotated(b *testing.B) { benchmarkProcessJPEG(b, 6) }

// BenchmarkThumbnail scales a decoded 2000×1500 photo to 320×240.
func BenchmarkThumbnail(b *testing.B) {
	m, err := jpeg.Decode(bytes.NewReader(EncodeJPEG(b, Picture(2000, 1500, false))))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := thumbnail(m, m.Bounds()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInspect(b *testing.B) {
	src := WithAPP1(EncodeJPEG(b, Picture(2000, 1500, false)), EXIF(6, binary.LittleEndian))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := inspect(src); err != nil {
			b.Fatal(err)
		}
	}
}

func TestShrink(t *testing.T) {
	// A 10×7 source with partial blocks on the right and at the bottom,
	// and alpha: each output pixel is the rounded mean of its block's
	// premultiplied pixels.
	src := image.NewNRGBA(image.Rect(3, 2, 13, 9))
	for y := 2; y < 9; y++ {
		for x := 3; x < 13; x++ {
			src.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 20), G: uint8(y * 30), B: uint8(x * y), A: uint8(128 + x*9)})
		}
	}
	const k = 3
	got := shrink(src, k)
	if got.Rect != image.Rect(0, 0, 4, 3) {
		t.Fatalf("bounds %v", got.Rect)
	}
	for oy := range 3 {
		for ox := range 4 {
			var sum [4]int
			n := 0
			for y := 2 + oy*k; y < min(2+oy*k+k, 9); y++ {
				for x := 3 + ox*k; x < min(3+ox*k+k, 13); x++ {
					c := color.RGBAModel.Convert(src.At(x, y)).(color.RGBA)
					sum[0] += int(c.R)
					sum[1] += int(c.G)
					sum[2] += int(c.B)
					sum[3] += int(c.A)
					n++
				}
			}
			want := color.RGBA{uint8((sum[0] + n/2) / n), uint8((sum[1] + n/2) / n), uint8((sum[2] + n/2) / n), uint8((sum[3] + n/2) / n)}
			if c := got.RGBAAt(ox, oy); c != want {
				t.Errorf("(%d,%d) = %v, want %v", ox, oy, c, want)
			}
		}
	}
}

func TestGIFThumbnailOfPartialFirstFrame(t *testing.T) {
	// A 1000×800 screen whose first frame covers only its top-right
	// quarter: the thumbnail shows it there, the rest transparent.
	pal := color.Palette{color.NRGBA{A: 255}, red}
	frame := image.NewPaletted(image.Rect(500, 0, 1000, 400), pal)
	for i := range frame.Pix {
		frame.Pix[i] = 1
	}
	var b bytes.Buffer
	g := &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0}, Config: image.Config{ColorModel: pal, Width: 1000, Height: 800}}
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	p := mustProcess(t, b.Bytes())
	if p.thumb.contentType != typePNG || p.thumb.width != 320 || p.thumb.height != 256 {
		t.Fatalf("thumbnail %s %dx%d", p.thumb.contentType, p.thumb.width, p.thumb.height)
	}
	m := decodeAs(t, p.thumb)
	if c := colorName(m.At(300, 20)); c != "red" {
		t.Errorf("inside the frame: %s", c)
	}
	if _, _, _, a := m.At(20, 200).RGBA(); a != 0 {
		t.Errorf("outside the frame: alpha %d", a)
	}
}
