package engineio

import (
	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"slices"

	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/chatrooms/chatrooms/internal/httpx"
)

// servePoll answers a long-polling GET: at once with whatever is queued,
// otherwise held until something is queued, the session closes or the
// client goes away.
func (s *Session) servePoll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed && s.lingerNoop {
		s.lingerNoop = false
		s.mu.Unlock()
		s.srv.remove(s)
		writePayload(w, frameNoop.AppendPolling(nil))
		return
	}
	if err := s.checkPollingLocked(monoNow()); err != nil {
		s.mu.Unlock()
		s.reject(w, err)
		return
	}
	if s.poll != nil {
		// Overlapping GETs: the protocol closes the session; the held
		// request receives the close packet.
		s.mu.Unlock()
		s.close(ErrDuplicatePoll, true)
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	if len(s.queue) == 0 {
		ch := make(chan struct{})
		s.poll = ch
		// While an upgrade is being probed a poll is held only briefly,
		// then released with a noop, as the reference server does.
		var expire <-chan time.Time
		if s.upgrading {
			t := time.NewTimer(upgradePollHold)
			defer t.Stop()
			expire = t.C
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-expire:
		case <-r.Context().Done():
			s.mu.Lock()
			if s.poll == ch {
				s.poll = nil
			}
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		if s.poll == ch {
			s.poll = nil
		}
		if !s.closed && s.transport != Polling {
			// The upgrade completed while this request was held.
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, codeBadRequest)
			return
		}
	}
	frames := s.takeLocked()
	switch {
	case s.closed && s.closeErr == ErrClientClose:
		frames = append(frames, frameNoop)
	case s.closed:
		frames = append(frames, frameClose)
	case len(frames) == 0:
		frames = append(frames, frameNoop) // released by an upgrade
	}
	body := eiocodec.AppendPayload(nil, frames)
	stamped := slices.ContainsFunc(frames, func(f *Frame) bool { return f.Origin() != 0 })
	var sent []*Frame
	if stamped {
		sent = slices.Clone(frames) // recycled below
	}
	s.recycleLocked(frames)
	s.mu.Unlock()
	if writePayload(w, body) && stamped {
		s.srv.written(sent, make([]time.Duration, 0, len(sent)))
	}
}

// upgradePollHold is how long a poll is held while an upgrade is probed.
const upgradePollHold = 100 * time.Millisecond

// errReject carries the HTTP answer for a request that cannot be served.
type errReject struct{ status, code int }

func (e errReject) Error() string { return codeMessages[e.code] }

func (s *Session) reject(w http.ResponseWriter, err error) {
	var rj errReject
	if errors.As(err, &rj) {
		writeError(w, rj.status, rj.code)
		return
	}
	writeError(w, http.StatusBadRequest, codeBadRequest)
}

// checkPollingLocked checks that a polling request may use the session,
// closing it lazily when its ping timeout has passed.
func (s *Session) checkPollingLocked(now monoTime) error {
	switch {
	case s.closed:
		return errReject{http.StatusBadRequest, codeUnknownSID}
	case s.transport != Polling:
		return errReject{http.StatusBadRequest, codeBadRequest}
	case s.expiredLocked(now) || s.pollingAbsentLocked(now):
		s.mu.Unlock()
		s.close(ErrPingTimeout, false)
		s.mu.Lock()
		return errReject{http.StatusBadRequest, codeUnknownSID}
	}
	return nil
}

// readPostBody reads a polling POST's body: at most MaxPayload bytes,
// arriving at httpx's minimum rate (at least 10 KiB or the rest of the
// body every 10 s), and cut when ctx (the session's) ends: at the
// session's close, its ping timeout included, so that a trickled body
// can neither outlive its session nor hold OnClose back. A long-polling
// GET reads no body and is unaffected.
func (s *Session) readPostBody(ctx context.Context, w http.ResponseWriter, r *http.Request) ([]byte, error) {
	guard := httpx.GuardBody(w, r, httpx.BodyTimeouts{})
	defer guard.Release()
	stop := context.AfterFunc(ctx, guard.Abort)
	defer stop()
	return io.ReadAll(http.MaxBytesReader(w, r.Body, s.srv.cfg.MaxPayload))
}

// servePost reads one polling payload and delivers its packets in order.
func (s *Session) servePost(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if err := s.checkPollingLocked(monoNow()); err != nil {
		s.mu.Unlock()
		s.reject(w, err)
		return
	}
	if s.posting {
		s.mu.Unlock()
		s.close(ErrDuplicatePoll, true)
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	s.posting = true
	s.handlers++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.posting = false
		s.mu.Unlock()
		s.leaveHandler()
	}()

	body, err := s.readPostBody(s.Context(), w, r) //nolint:contextcheck // the session's context, not the request's: the body is cut when the session closes
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.close(ErrTooLarge, true)
			writeError(w, http.StatusRequestEntityTooLarge, codeBadRequest)
			return
		}
		// Cut by the session's end (400, as for any request on a closed
		// session) or by the minimum body rate (408); either way the
		// client gets an answer, not an empty 200.
		status := http.StatusRequestTimeout
		if s.isClosed.Load() {
			status = http.StatusBadRequest
		}
		s.close(ErrTransportClose, false)
		writeError(w, status, codeBadRequest)
		return
	}
	err = eiocodec.DecodePayload(body, s.srv.cfg.MaxPackets, func(p eiocodec.Packet) error {
		s.deliver(p)
		return nil
	})
	if err != nil {
		s.srv.log.Debug("engine.io bad polling payload", "sid", s.id, "err", err)
		s.close(ErrParse, true)
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	writePayload(w, []byte("ok"))
}
