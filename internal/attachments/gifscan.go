package attachments

import (
	"encoding/binary"
	"errors"
	"fmt"
)

var errGIFTruncated = errors.New("the GIF is truncated")

// gifStats is what scanGIF learns from a GIF's block structure.
type gifStats struct {
	width, height int   // logical screen
	frames        int   // image descriptors
	pixels        int64 // sum of the frames' areas
}

// scanGIF walks a GIF's blocks without decompressing anything, so that
// the cost of decoding every frame (image/gif's DecodeAll allocates one
// paletted image per frame) is known before paying it. It stops with an
// error past maxFrames frames or maxPixels summed frame pixels, on a
// frame outside the logical screen (image/gif refuses those too), on an
// unknown block, and on a truncated file. It reads nothing outside data.
func scanGIF(data []byte, maxFrames int, maxPixels int64) (gifStats, error) {
	var s gifStats
	if len(data) < 13 || string(data[:6]) != "GIF87a" && string(data[:6]) != "GIF89a" {
		return s, errors.New("not a GIF")
	}
	s.width = int(binary.LittleEndian.Uint16(data[6:]))
	s.height = int(binary.LittleEndian.Uint16(data[8:]))
	i := 13
	if flags := data[10]; flags&0x80 != 0 {
		i += 3 << (flags&7 + 1) // global color table
	}
	// skipSubBlocks returns the offset after a chain of data sub-blocks.
	skipSubBlocks := func(i int) (int, error) {
		for {
			if i >= len(data) {
				return 0, errGIFTruncated
			}
			n := int(data[i])
			i++
			if n == 0 {
				return i, nil
			}
			i += n
		}
	}
	for {
		if i >= len(data) {
			return s, errGIFTruncated
		}
		block := data[i]
		i++
		var err error
		switch block {
		case 0x21: // extension: label, then sub-blocks
			if i >= len(data) {
				return s, errGIFTruncated
			}
			if i, err = skipSubBlocks(i + 1); err != nil {
				return s, err
			}
		case 0x2C: // image descriptor
			if len(data)-i < 10 {
				return s, errGIFTruncated
			}
			left := int(binary.LittleEndian.Uint16(data[i:]))
			top := int(binary.LittleEndian.Uint16(data[i+2:]))
			w := int(binary.LittleEndian.Uint16(data[i+4:]))
			h := int(binary.LittleEndian.Uint16(data[i+6:]))
			flags := data[i+8]
			if left+w > s.width || top+h > s.height {
				return s, fmt.Errorf("GIF frame %d (%dx%d at %d,%d) is outside the %dx%d screen", s.frames+1, w, h, left, top, s.width, s.height)
			}
			s.frames++
			s.pixels += int64(w) * int64(h)
			if s.frames > maxFrames {
				return s, fmt.Errorf("the GIF has more than %d frames", maxFrames)
			}
			if s.pixels > maxPixels {
				return s, fmt.Errorf("the GIF's frames hold more than %d pixels in all", maxPixels)
			}
			i += 9
			if flags&0x80 != 0 {
				i += 3 << (flags&7 + 1) // local color table
			}
			i++ // LZW minimum code size
			if i, err = skipSubBlocks(i); err != nil {
				return s, err
			}
		case 0x3B: // trailer
			if s.frames == 0 {
				return s, errors.New("the GIF has no frame")
			}
			return s, nil
		default:
			return s, fmt.Errorf("unknown GIF block 0x%02x", block)
		}
	}
}
