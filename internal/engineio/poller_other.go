//go:build !linux

package engineio

import (
	"errors"
	"net"
)

var errNoPoller = errors.New("engineio: no readiness poller on this platform")

// poller is Linux-only; elsewhere every WebSocket has a read goroutine.
type poller struct{}

func sharedPoller() *poller { return nil }

func (p *poller) add(net.Conn, func()) (uint32, error) { return 0, errNoPoller }
func (p *poller) rearm(net.Conn, uint32) error         { return errNoPoller }
func (p *poller) remove(net.Conn, uint32)              {}

func pendingBytes(net.Conn) int { return 0 }
