package attachments

import "encoding/binary"

// Bounds of the EXIF orientation reader: it looks at no more than
// maxJPEGSegments segments before the image data and at no more than
// maxIFDEntries entries of IFD0, so its work is linear in the input and
// small whatever the input claims.
const (
	maxJPEGSegments = 64
	maxIFDEntries   = 512
	tagOrientation  = 0x0112
	tiffTypeShort   = 3
	exifHeader      = "Exif\x00\x00"
)

// jpegOrientation returns the EXIF orientation (1 to 8) of a JPEG: the
// Orientation tag (0x0112) of IFD0 in the first APP1 "Exif" segment
// before the first scan. It returns 1 (as stored) when there is no such
// tag, when its value is out of range, or when the segments or the TIFF
// structure are malformed; it never reads outside data.
func jpegOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	i := 2
	for range maxJPEGSegments {
		if i >= len(data) || data[i] != 0xFF {
			return 1
		}
		for i < len(data) && data[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(data) {
			return 1
		}
		marker := data[i]
		i++
		switch {
		case marker == 0xD8 || marker == 0x01 || marker >= 0xD0 && marker <= 0xD7:
			continue // SOI, TEM, RSTn: no length
		case marker == 0xDA || marker == 0xD9:
			return 1 // start of scan or end of image: no EXIF before it
		}
		if len(data)-i < 2 {
			return 1
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 || n > len(data)-i {
			return 1
		}
		seg := data[i+2 : i+n]
		i += n
		if marker == 0xE1 && len(seg) >= len(exifHeader) && string(seg[:len(exifHeader)]) == exifHeader {
			if o := tiffOrientation(seg[len(exifHeader):]); o != 0 {
				return o
			}
			return 1 // only the first EXIF segment counts, as in browsers
		}
	}
	return 1
}

// tiffOrientation reads the Orientation tag from IFD0 of a TIFF
// structure (EXIF payload), or returns 0.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(b[2:]) != 42 {
		return 0
	}
	off := uint64(bo.Uint32(b[4:]))
	if off < 8 || off+2 > uint64(len(b)) {
		return 0
	}
	n := int(bo.Uint16(b[off:]))
	entries := b[off+2:]
	n = min(n, len(entries)/12, maxIFDEntries)
	for k := range n {
		e := entries[k*12 : k*12+12]
		if bo.Uint16(e) != tagOrientation {
			continue
		}
		// One SHORT, stored left-justified in the 4-byte value field.
		if bo.Uint16(e[2:]) != tiffTypeShort || bo.Uint32(e[4:]) != 1 {
			return 0
		}
		if v := int(bo.Uint16(e[8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}

// jpegScans counts the scans (SOS markers) of a JPEG up to its first
// EOI, walking the marker segments and, between them, the entropy-coded
// data, where a 0xFF byte is followed by 0x00 (stuffing), a restart
// marker or a real marker. Trailing data after EOI is not looked at. It
// stops counting past limit and returns what it counted when the data
// ends early; the decoder reports that.
func jpegScans(data []byte, limit int) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 0
	}
	scans := 0
	i := 2
	for i < len(data) && scans <= limit {
		if data[i] != 0xFF {
			i++ // entropy-coded data (or garbage the decoder will refuse)
			continue
		}
		for i < len(data) && data[i] == 0xFF {
			i++
		}
		if i >= len(data) {
			break
		}
		marker := data[i]
		i++
		switch {
		case marker == 0x00 || marker == 0x01 || marker >= 0xD0 && marker <= 0xD8:
			continue // stuffed 0xFF, TEM, RSTn, SOI: no length
		case marker == 0xD9:
			return scans
		case marker == 0xDA:
			scans++
		}
		if len(data)-i < 2 {
			break
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 {
			break
		}
		i += n
	}
	return scans
}
