package eiocodec

import "errors"

// ErrParse is wrapped by every error of DecodePacket and DecodePayload: the
// peer sent a malformed packet or payload. Check it with errors.Is. Package
// engineio closes a session for it under the same value (engineio.ErrParse).
var ErrParse = errors.New("engineio: parse error")
