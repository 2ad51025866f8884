//go:build !linux

package main

import (
	"errors"
	"net"
)

// stampReader stands in for the Linux reader of receive timestamps
// (stamp_linux.go): elsewhere there is none, and the latencies are taken
// when a message is read.
type stampReader struct{}

func newStampReader(net.Conn, []byte) (*stampReader, error) {
	return nil, errors.New("receive timestamps: Linux only")
}

func (*stampReader) Read([]byte) (int, error) { return 0, errors.New("receive timestamps: Linux only") }

func (*stampReader) arrival() int64 { return 0 }
