package attachments

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// Limits on the images accepted, checked from the headers before any
// pixel is decoded.
const (
	// MaxSide is the largest width or height accepted, in pixels.
	MaxSide = 8000
	// MaxPixels is the largest width × height accepted.
	MaxPixels = 50_000_000
	// MaxGIFFrames is the most frames an animated GIF may have.
	MaxGIFFrames = 1000
	// MaxGIFPixels bounds the summed area of a GIF's frames: decoding
	// keeps every frame in memory, one byte per pixel.
	MaxGIFPixels = 100_000_000
	// ThumbnailSide is the longest side of a thumbnail, in pixels.
	// Smaller images are not upscaled.
	ThumbnailSide = 320

	// maxJPEGScans bounds the scans of a JPEG: a progressive file with
	// thousands of tiny scans would make the decoder walk every block
	// that many times. Ordinary progressive files have about ten.
	maxJPEGScans = 100

	jpegQuality      = 85
	thumbJPEGQuality = 80
)

// Content types of what is stored.
const (
	typePNG  = "image/png"
	typeJPEG = "image/jpeg"
	typeGIF  = "image/gif"
)

// extension returns the file name extension for a stored content type.
func extension(contentType string) string {
	switch contentType {
	case typePNG:
		return "png"
	case typeJPEG:
		return "jpg"
	case typeGIF:
		return "gif"
	}
	return "bin"
}

// encoded is one re-encoded image.
type encoded struct {
	contentType   string
	data          []byte
	width, height int
}

// processed is what an upload becomes: the re-encoded image and its
// thumbnail.
type processed struct {
	image, thumb encoded
}

func unsupportedType(msg string) *apierr.Error {
	return &apierr.Error{Code: apierr.CodeUnsupportedType, Message: msg}
}

func invalidImage(format string, args ...any) *apierr.Error {
	return &apierr.Error{Code: apierr.CodeInvalidImage, Message: fmt.Sprintf(format, args...)}
}

// decode decodes data, which inspect accepted as format f, applies a
// JPEG's EXIF orientation, re-encodes it (so that no metadata and no
// trailing bytes survive) and makes a thumbnail. Client problems are
// *apierr.Error with apierr.CodeInvalidImage; any other error is
// internal. Safe for concurrent use; the caller bounds the pixels decoded
// at once (Service.process, with decodeCost: the largest images need a
// few hundred MB each while they are processed).
func decode(f format, data []byte) (processed, error) {
	switch f {
	case formatPNG:
		return processPNG(data)
	case formatJPEG:
		return processJPEG(data)
	case formatGIF:
		return processGIF(data)
	default:
		return processWebP(data)
	}
}

// inspect is everything process checks before decoding a pixel: the
// format by its leading bytes, the dimensions from the header
// (image.DecodeConfig) against MaxSide and MaxPixels, a GIF's frames
// against MaxGIFFrames and MaxGIFPixels, and a JPEG's scan count. What
// it allocates does not depend on the dimensions an input claims.
func inspect(data []byte) (format, image.Config, error) {
	f, err := sniff(data)
	if err != nil {
		return f, image.Config{}, unsupportedType("only PNG, JPEG, GIF and WebP images are accepted: " + err.Error())
	}
	cfg, err := decodeConfig(f, data)
	if err != nil {
		return f, cfg, invalidImage("the %s header cannot be read", f)
	}
	if err := checkDimensions(cfg.Width, cfg.Height); err != nil {
		return f, cfg, err
	}
	switch f {
	case formatJPEG:
		if jpegScans(data, maxJPEGScans) > maxJPEGScans {
			return f, cfg, invalidImage("the JPEG has more than %d scans", maxJPEGScans)
		}
	case formatGIF:
		if _, err := scanGIF(data, MaxGIFFrames, MaxGIFPixels); err != nil {
			if errors.Is(err, errGIFTruncated) {
				return f, cfg, invalidImage("the GIF is truncated")
			}
			return f, cfg, invalidImage("the GIF is refused: %v", err)
		}
	}
	return f, cfg, nil
}

// decodeCost is what processing an image inspect accepted weighs in the
// pixel budget: its width × height, plus for a GIF a quarter of its
// frames' summed area (decoding keeps every frame, at one byte a pixel
// where a still image takes four).
func decodeCost(f format, cfg image.Config, data []byte) int64 {
	cost := int64(cfg.Width) * int64(cfg.Height)
	if f == formatGIF {
		if st, err := scanGIF(data, MaxGIFFrames, MaxGIFPixels); err == nil {
			cost += st.pixels / 4
		}
	}
	return max(1, cost)
}

// decodeConfig reads only the header of an image of format f.
func decodeConfig(f format, data []byte) (image.Config, error) {
	r := bytes.NewReader(data)
	switch f {
	case formatPNG:
		return png.DecodeConfig(r)
	case formatJPEG:
		return jpeg.DecodeConfig(r)
	case formatGIF:
		return gif.DecodeConfig(r)
	case formatWebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, errUnsupported
}

// checkDimensions enforces MaxSide and MaxPixels.
func checkDimensions(w, h int) error {
	if w <= 0 || h <= 0 {
		return invalidImage("the image has no pixels")
	}
	if w > MaxSide || h > MaxSide || int64(w)*int64(h) > MaxPixels {
		return invalidImage("the image is %d×%d pixels; at most %d pixels a side and %d megapixels are accepted",
			w, h, MaxSide, MaxPixels/1_000_000)
	}
	return nil
}

func processPNG(data []byte) (processed, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return processed{}, invalidImage("the PNG cannot be decoded (damaged or truncated)")
	}
	return finish(img, typePNG)
}

func processJPEG(data []byte) (processed, error) {
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return processed{}, invalidImage("the JPEG cannot be decoded (damaged or truncated)")
	}
	return finish(orient(img, jpegOrientation(data)), typeJPEG)
}

// processWebP decodes a still WebP. There is no WebP encoder in Go's
// standard library or x/image, so it is stored as JPEG when it was lossy
// and is opaque, and as PNG otherwise (lossless or with alpha).
func processWebP(data []byte) (processed, error) {
	img, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		return processed{}, invalidImage("the WebP cannot be decoded (damaged, truncated or unsupported)")
	}
	ct := typePNG
	switch m := img.(type) {
	case *image.YCbCr:
		ct = typeJPEG
	case *image.NYCbCrA:
		if m.Opaque() {
			ct = typeJPEG
		}
	}
	return finish(img, ct)
}

// finish encodes a still image as contentType and makes its thumbnail.
func finish(img image.Image, contentType string) (processed, error) {
	var p processed
	var buf bytes.Buffer
	var err error
	switch contentType {
	case typeJPEG:
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality})
	default:
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, img)
	}
	if err != nil {
		return p, fmt.Errorf("encode %s: %w", contentType, err)
	}
	b := img.Bounds()
	p.image = encoded{contentType: contentType, data: buf.Bytes(), width: b.Dx(), height: b.Dy()}
	p.thumb, err = thumbnail(img, b)
	return p, err
}

// processGIF re-encodes every frame with its delay and disposal, the
// loop count and the background colour; application extensions other
// than the loop count, comments and trailing bytes are dropped.
func processGIF(data []byte) (processed, error) {
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil || len(g.Image) == 0 {
		return processed{}, invalidImage("the GIF cannot be decoded (damaged or truncated)")
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		return processed{}, fmt.Errorf("encode gif: %w", err)
	}
	var p processed
	p.image = encoded{contentType: typeGIF, data: buf.Bytes(), width: g.Config.Width, height: g.Config.Height}
	p.thumb, err = thumbnail(g.Image[0], image.Rect(0, 0, g.Config.Width, g.Config.Height))
	return p, err
}

// thumbSize fits w×h within ThumbnailSide×ThumbnailSide, keeping the
// aspect ratio and never enlarging.
func thumbSize(w, h int) (int, int) {
	if w <= ThumbnailSide && h <= ThumbnailSide {
		return w, h
	}
	if w >= h {
		return ThumbnailSide, max(1, (h*ThumbnailSide+w/2)/w)
	}
	return max(1, (w*ThumbnailSide+h/2)/h), ThumbnailSide
}

// thumbnail draws src, which covers its bounds within the canvas
// rectangle (a GIF's first frame may cover only part of the screen),
// scaled into at most ThumbnailSide a side: a reduction by 4 or more is
// first shrunk by an integer factor with a box filter (as libvips'
// shrink does before its reduce), then resampled with Catmull-Rom, so
// the kernel never spans more than about two source pixels per output
// pixel (a 2000×1500 photo: 105 ms and 16 MB with Catmull-Rom alone, a
// fraction with the shrink). It is a JPEG when every pixel is opaque, a
// PNG otherwise.
func thumbnail(src image.Image, canvas image.Rectangle) (encoded, error) {
	cw, ch := canvas.Dx(), canvas.Dy()
	tw, th := thumbSize(cw, ch)
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	sb := src.Bounds()
	// Where src lands in the thumbnail.
	dr := image.Rect(
		(sb.Min.X-canvas.Min.X)*tw/cw, (sb.Min.Y-canvas.Min.Y)*th/ch,
		(sb.Max.X-canvas.Min.X)*tw/cw, (sb.Max.Y-canvas.Min.Y)*th/ch)
	switch {
	case dr.Empty():
	case tw == cw && th == ch:
		draw.Draw(dst, dr, src, sb.Min, draw.Src)
	default:
		if k := min(sb.Dx()/dr.Dx(), sb.Dy()/dr.Dy()) / 2; k >= 2 {
			src = shrink(src, k)
			sb = src.Bounds()
		}
		draw.CatmullRom.Scale(dst, dr, src, sb, draw.Src, nil)
	}
	var buf bytes.Buffer
	ct := typePNG
	var err error
	if dst.Opaque() {
		ct = typeJPEG
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: thumbJPEGQuality})
	} else {
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, dst)
	}
	if err != nil {
		return encoded{}, fmt.Errorf("encode thumbnail: %w", err)
	}
	return encoded{contentType: ct, data: buf.Bytes(), width: tw, height: th}, nil
}

// shrink reduces src by the factor k in both directions, each output
// pixel the average of a k×k block (premultiplied, so transparency
// averages right; the blocks of the last row and column may be
// partial). It converts k rows at a time, so it needs little memory
// beyond its result whatever src's type.
func shrink(src image.Image, k int) *image.RGBA {
	b := src.Bounds()
	bw, bh := b.Dx(), b.Dy()
	w, h := (bw+k-1)/k, (bh+k-1)/k
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	strip := image.NewRGBA(image.Rect(0, 0, bw, k))
	sums := make([]uint32, 4*w)
	for oy := range h {
		y0 := b.Min.Y + oy*k
		rows := min(k, b.Max.Y-y0)
		draw.Draw(strip, image.Rect(0, 0, bw, rows), src, image.Pt(b.Min.X, y0), draw.Src)
		clear(sums)
		for r := range rows {
			row := strip.Pix[r*strip.Stride : r*strip.Stride+4*bw]
			for ox := range w {
				s := sums[4*ox : 4*ox+4 : 4*ox+4]
				block := row[4*ox*k : 4*min(ox*k+k, bw)]
				for i := 0; i+3 < len(block); i += 4 {
					s[0] += uint32(block[i])
					s[1] += uint32(block[i+1])
					s[2] += uint32(block[i+2])
					s[3] += uint32(block[i+3])
				}
			}
		}
		out := dst.Pix[oy*dst.Stride : oy*dst.Stride+4*w]
		for ox := range w {
			n := uint32(rows * min(k, bw-ox*k)) //nolint:gosec // G115: pixels in a block, 1..k² with k ≤ 4,000 (8,000 px images)
			for c := range 4 {
				out[4*ox+c] = uint8((sums[4*ox+c] + n/2) / n) //nolint:gosec // G115: the rounded mean of n bytes
			}
		}
	}
	return dst
}

// orientation is how a stored pixel grid maps onto the displayed one:
// displayed (x, y) shows stored (ax·x + bx·y + cx, ay·x + by·y + cy),
// where the c terms are 0 or the stored width or height minus one.
type orientation struct {
	ax, bx, ay, by int
	cxW, cyH       bool // cx = w-1 (else 0), cy = h-1 (else 0)
	swap           bool // the displayed image is h×w
}

// orientations are EXIF orientations 1 to 8 (TIFF 6.0, tag 0x0112).
var orientations = [9]orientation{
	1: {ax: 1, by: 1},
	2: {ax: -1, by: 1, cxW: true},                         // mirrored
	3: {ax: -1, by: -1, cxW: true, cyH: true},             // rotated 180°
	4: {ax: 1, by: -1, cyH: true},                         // flipped vertically
	5: {bx: 1, ay: 1, swap: true},                         // transposed
	6: {bx: 1, ay: -1, cyH: true, swap: true},             // rotate 90° clockwise to show
	7: {bx: -1, ay: -1, cxW: true, cyH: true, swap: true}, // transversed
	8: {bx: -1, ay: 1, cxW: true, swap: true},             // rotate 90° counter-clockwise to show
}

// orient returns img as it is meant to be displayed under EXIF
// orientation o (1, or out of range: img itself).
func orient(img image.Image, o int) image.Image {
	if o <= 1 || o > 8 {
		return img
	}
	t := orientations[o]
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	src, ok := img.(*image.RGBA)
	if !ok || b.Min != (image.Point{}) {
		src = image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	}
	dw, dh := w, h
	if t.swap {
		dw, dh = h, w
	}
	cx, cy := 0, 0
	if t.cxW {
		cx = w - 1
	}
	if t.cyH {
		cy = h - 1
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	step := t.ay*src.Stride + 4*t.ax // source offset change per displayed x
	for y := range dh {
		sx, sy := t.bx*y+cx, t.by*y+cy
		s := sy*src.Stride + 4*sx
		row := dst.Pix[y*dst.Stride : y*dst.Stride+4*dw]
		for x := 0; x < len(row); x += 4 {
			copy(row[x:x+4], src.Pix[s:s+4])
			s += step
		}
	}
	return dst
}
