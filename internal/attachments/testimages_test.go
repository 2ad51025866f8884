package attachments

// Test images, made in the tests: exported so that the external tests
// (package attachments_test) can use them too.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// Secrets are strings planted in test images' metadata, comments and
// trailing bytes; none may appear in anything stored.
var Secrets = []string{
	"TestCam-MAKER", "SecretModel-42", "Exif", "GPS-MARKER", "SECRET-COMMENT",
	"<html", "<script", "XMP", "NETSCAPE-EXTRA",
}

var (
	red   = color.NRGBA{R: 255, A: 255}
	green = color.NRGBA{G: 255, A: 255}
)

// Picture is a w×h gradient with a red block in its top-left corner and
// a green one in its top-right corner, each a quarter of the width and
// height; with alpha, its bottom half is half transparent.
func Picture(w, h int, alpha bool) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: uint8(40 + x*100/w), G: uint8(40 + y*100/h), B: 200, A: 255}
			switch {
			case x < w/4 && y < h/4:
				c = red
			case x >= w-w/4 && y < h/4:
				c = green
			}
			if alpha && y >= h/2 {
				c.A = 128
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

// EncodePNG encodes m as PNG.
func EncodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// EncodeJPEG encodes m as JPEG at quality 95.
func EncodeJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ifdEntry is one TIFF IFD entry; data longer than 4 bytes is placed
// after the IFDs.
type ifdEntry struct {
	tag, typ uint16
	count    uint32
	data     []byte
}

// EXIF is the TIFF payload of an EXIF segment in byte order bo: IFD0
// with Make and Model (Secrets), Orientation (left out when orientation
// is 0) and a GPS IFD with a latitude and a longitude.
func EXIF(orientation int, bo binary.AppendByteOrder) []byte {
	short := func(v uint16) []byte { return bo.AppendUint16(nil, v) }
	rationals := func(v ...uint32) []byte {
		var b []byte
		for _, x := range v {
			b = bo.AppendUint32(b, x)
			b = bo.AppendUint32(b, 1)
		}
		return b
	}
	ascii := func(s string) []byte { return append([]byte(s), 0) }
	ifd0 := []ifdEntry{
		{0x010F, 2, 14, ascii("TestCam-MAKER")},
		{0x0110, 2, 15, ascii("SecretModel-42")},
	}
	if orientation != 0 {
		ifd0 = append(ifd0, ifdEntry{0x0112, 3, 1, short(uint16(orientation))})
	}
	ifd0 = append(ifd0, ifdEntry{0x8825, 4, 1, nil}) // GPS IFD offset, set below
	gps := []ifdEntry{
		{1, 2, 2, ascii("N")},
		{2, 5, 3, rationals(48, 51, 29)},
		{3, 2, 2, ascii("E")},
		{4, 5, 3, rationals(2, 17, 40)},
	}
	ifdLen := func(n int) int { return 2 + 12*n + 4 }
	gpsOff := 8 + ifdLen(len(ifd0))
	dataOff := gpsOff + ifdLen(len(gps))
	ifd0[len(ifd0)-1].data = bo.AppendUint32(nil, uint32(gpsOff))

	var out, extra []byte
	if bo == binary.AppendByteOrder(binary.LittleEndian) {
		out = append(out, "II"...)
	} else {
		out = append(out, "MM"...)
	}
	out = bo.AppendUint16(out, 42)
	out = bo.AppendUint32(out, 8)
	writeIFD := func(entries []ifdEntry) {
		out = bo.AppendUint16(out, uint16(len(entries)))
		for _, e := range entries {
			out = bo.AppendUint16(out, e.tag)
			out = bo.AppendUint16(out, e.typ)
			out = bo.AppendUint32(out, e.count)
			if len(e.data) <= 4 {
				v := make([]byte, 4)
				copy(v, e.data)
				out = append(out, v...)
				continue
			}
			out = bo.AppendUint32(out, uint32(dataOff+len(extra)))
			extra = append(extra, e.data...)
		}
		out = bo.AppendUint32(out, 0) // no next IFD
	}
	writeIFD(ifd0)
	writeIFD(gps)
	return append(out, extra...)
}

// WithAPP1 inserts an APP1 "Exif" segment holding tiff after the SOI of
// a JPEG.
func WithAPP1(jpg, tiff []byte) []byte {
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// WithCOM inserts a JPEG comment segment after the SOI.
func WithCOM(jpg []byte, comment string) []byte {
	seg := []byte{0xFF, 0xFE, byte((len(comment) + 2) >> 8), byte(len(comment) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, comment...)
	return append(out, jpg[2:]...)
}

// PNGChunk is one PNG chunk with its CRC.
func PNGChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// WithPNGChunks inserts chunks after the IHDR of a PNG (8-byte
// signature, then IHDR of 25 bytes).
func WithPNGChunks(p []byte, chunks ...[]byte) []byte {
	out := append([]byte{}, p[:33]...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, p[33:]...)
}

// PNGHeader is a PNG that claims to be w×h RGBA but holds one tiny IDAT.
func PNGHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	out := append([]byte{}, pngSignature...)
	out = append(out, PNGChunk("IHDR", ihdr)...)
	out = append(out, PNGChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, PNGChunk("IEND", nil)...)
}

// AnimatedGIF is a 60×40 GIF of three frames with different delays and
// disposals, the second covering only part of the screen, looping
// twice after the first play.
func AnimatedGIF(t testing.TB) ([]byte, *gif.GIF) {
	t.Helper()
	pal := color.Palette(palette.Plan9[:64])
	g := &gif.GIF{LoopCount: 2, Config: image.Config{ColorModel: pal, Width: 60, Height: 40}}
	rects := []image.Rectangle{image.Rect(0, 0, 60, 40), image.Rect(10, 5, 40, 30), image.Rect(0, 0, 60, 40)}
	for i, r := range rects {
		m := image.NewPaletted(r, pal)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				m.SetColorIndex(x, y, uint8((x/10+y/10+i*7)%len(pal)))
			}
		}
		g.Image = append(g.Image, m)
		g.Delay = append(g.Delay, 10*(i+1))
	}
	g.Disposal = []byte{gif.DisposalNone, gif.DisposalBackground, gif.DisposalPrevious}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), g
}

// WithGIFExtensions inserts a comment and an XMP application extension
// (Secrets) after the global color table of a GIF, and trailing HTML.
func WithGIFExtensions(g []byte) []byte {
	i := 13
	if flags := g[10]; flags&0x80 != 0 {
		i += 3 << (flags&7 + 1)
	}
	subBlocks := func(s string) []byte {
		return append(append([]byte{byte(len(s))}, s...), 0)
	}
	var ext []byte
	ext = append(ext, 0x21, 0xFE)
	ext = append(ext, subBlocks("SECRET-COMMENT <script>alert(1)</script>")...)
	ext = append(ext, 0x21, 0xFF, 11)
	ext = append(ext, "XMP DataXMP"...)
	ext = append(ext, subBlocks("GPS-MARKER NETSCAPE-EXTRA")...)
	out := append([]byte{}, g[:i]...)
	out = append(out, ext...)
	out = append(out, g[i:]...)
	return append(out, "<html><script>alert(1)</script></html>"...)
}

// ReadTestdata returns a file of testdata/.
func ReadTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// CheckClean fails t if data holds any of Secrets.
func CheckClean(t testing.TB, what string, data []byte) {
	t.Helper()
	for _, s := range Secrets {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("%s holds %q", what, s)
		}
	}
}
