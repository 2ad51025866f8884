package eiocodec

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/gobwas/ws"
)

// This is the project's one WebSocket frame writer: the server's Frames
// (unmasked, RFC 6455 §5.1) and the clients' frames (masked) both come
// from appendHeader. Every frame is final (FIN set) and unfragmented, with
// no extension bits.

// headerSize is the size of the header of a frame with an n-byte payload.
func headerSize(n int, masked bool) int {
	hs := 2
	switch {
	case n > 0xffff:
		hs += 8
	case n >= 126:
		hs += 2
	}
	if masked {
		hs += 4
	}
	return hs
}

// appendHeader appends the header of a final frame with opcode op and an
// n-byte payload, masked with key when key is not nil.
func appendHeader(dst []byte, op ws.OpCode, n int, key *[4]byte) []byte {
	var maskBit byte
	if key != nil {
		maskBit = 0x80
	}
	dst = append(dst, 0x80|byte(op))
	switch {
	case n < 126:
		dst = append(dst, maskBit|byte(n)) //nolint:gosec // 0 ≤ n < 126: n is a length
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, maskBit|126), uint16(n))
	default:
		dst = append(dst, maskBit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if key != nil {
		dst = append(dst, key[:]...)
	}
	return dst
}

// appendFrame appends one final, unmasked WebSocket frame with opcode op
// carrying payload, as a server sends it, and returns the extended buffer.
// It is safe for concurrent use.
func appendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	dst = appendHeader(dst, op, len(payload), nil)
	return append(dst, payload...)
}

// AppendClientFrame appends one final WebSocket frame with opcode op
// carrying payload, masked with a fresh random key as a client must send
// it (RFC 6455 §5.3), and returns the extended buffer. It is safe for
// concurrent use.
func AppendClientFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32()) //nolint:gosec // math/rand/v2's global source is ChaCha8 seeded by the runtime: unpredictable, as RFC 6455 §5.3 asks; the key is no secret
	dst = appendHeader(dst, op, len(payload), &key)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], key, 0)
	return dst
}
