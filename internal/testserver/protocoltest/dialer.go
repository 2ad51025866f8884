package protocoltest

import (
	"context"
	"net"
	"syscall"

	"github.com/gobwas/ws"
)

// SmallBufferDialer dials WebSockets over TCP connections whose receive
// buffer is 4 KiB, so that a server writing to a client that does not read
// fills its socket after a few hundred KiB instead of megabytes.
func SmallBufferDialer() ws.Dialer {
	return ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		return nd.DialContext(ctx, network, addr)
	}}
}
