package attachments

import (
	"bytes"
	"errors"
)

// format is an image format recognised by its leading bytes.
type format int

const (
	formatUnknown format = iota
	formatPNG
	formatJPEG
	formatGIF
	formatWebP
)

func (f format) String() string {
	switch f {
	case formatPNG:
		return "PNG"
	case formatJPEG:
		return "JPEG"
	case formatGIF:
		return "GIF"
	case formatWebP:
		return "WebP"
	}
	return "unknown"
}

// sniffLen is how many leading bytes sniff needs at most.
const sniffLen = 21

var (
	errUnsupported   = errors.New("not a PNG, JPEG, GIF or WebP image")
	errAnimatedWebP  = errors.New("animated WebP is not supported")
	pngSignature     = []byte("\x89PNG\r\n\x1a\n")
	jpegSignature    = []byte{0xFF, 0xD8, 0xFF}
	gif87, gif89     = []byte("GIF87a"), []byte("GIF89a")
	riff, webpFourCC = []byte("RIFF"), []byte("WEBP")
)

// sniff recognises an image format by its first bytes only: the file
// name and the declared type are never consulted. Anything that does not
// start with a PNG, JPEG, GIF or WebP signature (HTML, SVG, a PNG
// preceded by anything) gives errUnsupported; an animated WebP (VP8X
// with the animation flag) gives errAnimatedWebP, as x/image/webp
// decodes still images only.
func sniff(data []byte) (format, error) {
	switch {
	case bytes.HasPrefix(data, pngSignature):
		return formatPNG, nil
	case bytes.HasPrefix(data, jpegSignature):
		return formatJPEG, nil
	case bytes.HasPrefix(data, gif87), bytes.HasPrefix(data, gif89):
		return formatGIF, nil
	case len(data) >= 16 && bytes.Equal(data[:4], riff) && bytes.Equal(data[8:12], webpFourCC):
		switch string(data[12:16]) {
		case "VP8 ", "VP8L":
			return formatWebP, nil
		case "VP8X":
			// The VP8X payload starts after its 8-byte chunk header;
			// its first byte holds the feature flags.
			const animationBit = 1 << 1
			if len(data) < sniffLen {
				return formatUnknown, errUnsupported
			}
			if data[20]&animationBit != 0 {
				return formatUnknown, errAnimatedWebP
			}
			return formatWebP, nil
		}
	}
	return formatUnknown, errUnsupported
}
