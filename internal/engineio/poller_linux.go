//go:build linux

package engineio

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// poller waits for readability of many connections with one epoll set, so
// an idle WebSocket needs no goroutine (and no goroutine stack): when data
// arrives, the connection's callback runs on a new goroutine. Registrations
// are one-shot: the callback re-arms when it has read what was there, so
// reads of one connection never overlap. Every epoll_ctl runs inside the
// connection's syscall.RawConn.Control, which keeps the descriptor open
// meanwhile, so a closed descriptor's reused number is never touched.
//
// The poller never blocks in epoll_wait itself: its epoll descriptor is
// non-blocking and registered with the Go runtime's network poller (an
// epoll set is readable while it has ready events), so run parks like
// any goroutine waiting on a socket. A blocking epoll_wait held its P in
// a system call until sysmon took it back: on one core (2 Ps, one of them
// the write pool's) the goroutines the network woke waited for that, and
// sysmon, retaking the P at each wait, never slowed down (4,000 wake-ups
// a second, 7 % of the core, under the chat benchmark).
type poller struct {
	epfd int
	file *os.File        // epfd, as the runtime's poller knows it (and keeps open)
	rc   syscall.RawConn // file's
	mu   sync.Mutex
	next uint32
	fns  map[uint32]func()
}

var (
	pollerOnce sync.Once
	thePoller  *poller
)

// sharedPoller returns the process's poller, or nil if epoll is unusable.
func sharedPoller() *poller {
	pollerOnce.Do(func() {
		p, err := newPoller()
		if err != nil {
			return
		}
		thePoller = p
		go p.run()
	})
	return thePoller
}

// newPoller creates the epoll set, non-blocking and known to the
// runtime's poller (os.NewFile registers a non-blocking descriptor).
func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "epoll")
	// A file the runtime's poller did not take has no deadlines: then
	// there is no shared poller, and each connection reads on its own
	// goroutine.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		_ = f.Close()
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &poller{epfd: fd, file: f, rc: rc, fns: make(map[uint32]func())}, nil
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// ctl runs epoll_ctl for conn's descriptor.
func (p *poller) ctl(conn net.Conn, op int, token uint32) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return errors.New("engineio: connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	err = rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(token)} //nolint:gosec // the event's 32 data bits carry the token; run converts them back
		opErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err != nil {
		return err
	}
	return opErr
}

// add registers conn; fn runs on a new goroutine each time it is readable
// after (re-)arming. It returns the registration's token.
func (p *poller) add(conn net.Conn, fn func()) (uint32, error) {
	p.mu.Lock()
	p.next++
	tok := p.next
	p.fns[tok] = fn
	p.mu.Unlock()
	if err := p.ctl(conn, syscall.EPOLL_CTL_ADD, tok); err != nil {
		p.forget(tok)
		return 0, err
	}
	return tok, nil
}

// rearm waits for the next readability of conn.
func (p *poller) rearm(conn net.Conn, tok uint32) error {
	return p.ctl(conn, syscall.EPOLL_CTL_MOD, tok)
}

// remove unregisters conn (closing it does too; this is for the rest).
func (p *poller) remove(conn net.Conn, tok uint32) {
	p.forget(tok)
	_ = p.ctl(conn, syscall.EPOLL_CTL_DEL, tok)
}

func (p *poller) forget(tok uint32) {
	p.mu.Lock()
	delete(p.fns, tok)
	p.mu.Unlock()
}

func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	var n int
	var waitErr error
	// collect takes what is ready without blocking; false asks the
	// runtime to park the goroutine until the set is readable again.
	collect := func(fd uintptr) bool {
		for {
			n, waitErr = syscall.EpollWait(int(fd), events, 0)
			if errors.Is(waitErr, syscall.EINTR) {
				continue
			}
			return n > 0 || waitErr != nil
		}
	}
	for {
		if err := p.rc.Read(collect); err != nil || waitErr != nil {
			// Not expected of an epoll set that is never closed. Should
			// the runtime's poller ever refuse it, wait in epoll_wait
			// itself rather than leave every idle connection unread.
			p.runBlocking(events)
			return
		}
		p.dispatch(events[:n])
	}
}

// runBlocking is run's loop with a blocking epoll_wait, which holds a P
// while it waits: only a fallback.
func (p *poller) runBlocking(events []syscall.EpollEvent) {
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return // cannot happen for a valid epoll descriptor
		}
		p.dispatch(events[:n])
	}
}

// dispatch starts the callbacks of the ready registrations.
func (p *poller) dispatch(ready []syscall.EpollEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range ready {
		if fn := p.fns[uint32(ev.Fd)]; fn != nil { //nolint:gosec // the token ctl stored, bit for bit
			go fn()
		}
	}
}

// pendingBytes reports how many bytes conn can read without blocking.
func pendingBytes(conn net.Conn) int {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	var n int32
	_ = rc.Control(func(fd uintptr) {
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))) //nolint:gosec // ioctl(TIOCINQ) stores an int at the pointer; n outlives the call
		if errno != 0 {
			n = 0
		}
	})
	return int(n)
}
