package engineio

import "github.com/chatrooms/chatrooms/internal/eiocodec"

// Frame is an outbound Engine.IO packet encoded once into its WebSocket
// frame (see eiocodec.Frame): immutable, safe to queue to any number of
// sessions at once. Build one with eiocodec.NewMessageFrame,
// NewMessageFrameString or NewBinaryFrame.
type Frame = eiocodec.Frame

// Shared control frames.
var (
	framePing  = eiocodec.NewTextFrame(eiocodec.Ping, nil)
	framePong  = eiocodec.NewTextFrame(eiocodec.Pong, nil)
	frameNoop  = eiocodec.NewTextFrame(eiocodec.Noop, nil)
	frameClose = eiocodec.NewTextFrame(eiocodec.Close, nil)
	probe      = []byte("probe")
	frameProbe = eiocodec.NewTextFrame(eiocodec.Pong, probe)
)
