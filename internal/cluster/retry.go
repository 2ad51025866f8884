package cluster

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// backoff is the pause after the n-th failed try (n ≥ 1): base doubled
// for each try before it, at most ceiling, of which half is fixed and
// half random ("equal jitter"), so that nodes started or cut off together
// do not all try again at the same moment.
func backoff(n int, base, ceiling time.Duration) time.Duration {
	d := ceiling
	if n <= 1 {
		d = min(base, ceiling)
	} else if shift := n - 1; shift < 32 && base<<shift > 0 {
		d = min(base<<shift, ceiling)
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // G404: jitter, not a secret
}

// reconnectDelay is how long nats.go waits before reconnecting after
// attempts failed tries: backoff from 250ms to 5s.
func reconnectDelay(attempts int) time.Duration {
	return backoff(attempts+1, 250*time.Millisecond, 5*time.Second)
}

// JetStream API error codes (nats-server's errors.json) of a cluster that
// has not settled yet: its peers have not all joined, or the meta leader
// or stream placement is still being decided.
const (
	errCodeClusterNoPeers       jetstream.ErrorCode = 10005 // no suitable peers for placement
	errCodeClusterNotAssigned   jetstream.ErrorCode = 10007 // cluster not assigned to this server
	errCodeClusterNotLeader     jetstream.ErrorCode = 10009 // cluster can not handle request
	errCodeClusterRequired      jetstream.ErrorCode = 10010 // clustering support required (a 503, but permanent)
	errCodeClusterUnsupported   jetstream.ErrorCode = 10036 // not supported in clustered mode (a 503, but permanent)
	errCodeMemberChangeInFlight jetstream.ErrorCode = 10202 // cluster member change in progress
)

// retryable reports whether a failed provisioning request may succeed
// if made again. It is unavailable (the mapping to apierr.ErrUnavailable:
// timeouts, no responders, a reconnecting connection, JetStream not
// ready, any 503 answer) plus connection refused, network timeouts, the
// answers of a cluster still forming and a stream or bucket not yet
// visible right after its creation, minus what does not pass: a closed
// connection or Cluster, a cancelled context, and the 503s that say the
// configuration cannot work here.
// Everything else is permanent: permission violations, authorization,
// invalid names, bad stream configurations (JetStream 4xx and 5xx
// answers) and the like, which no retry can fix.
func retryable(err error) bool {
	if err == nil ||
		errors.Is(err, context.Canceled) ||
		errors.Is(err, ErrClosed) ||
		errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, jetstream.ErrConnectionClosed) {
		return false
	}
	if apiErr, ok := errors.AsType[*jetstream.APIError](err); ok {
		switch apiErr.ErrorCode {
		case errCodeClusterNoPeers, errCodeClusterNotAssigned, errCodeClusterNotLeader, errCodeMemberChangeInFlight:
			return true
		case errCodeClusterRequired, errCodeClusterUnsupported:
			return false
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		// Provisioning binds a bucket right after creating it; a
		// replica that has not applied the creation yet does not know it.
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, nats.ErrNoServers):
		// The server is not listening (yet).
		return true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	return unavailable(err)
}

// provisionAttempt bounds one provisioning request; retry repeats it.
const provisionAttempt = 5 * time.Second

// retry runs an idempotent provisioning call, each try with its own
// short timeout, until it succeeds, fails with an error that is not
// retryable (returned at once), or ctx (the start timeout) ends: a NATS
// cluster that has just formed can leave a request unanswered while its
// routes settle or a stream elects its leader. Between tries it waits
// backoff from 200ms to 2s.
func retry(ctx context.Context, f func(context.Context) error) error {
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, provisionAttempt)
		err := f(actx)
		cancel()
		if err == nil || !retryable(err) {
			return err
		}
		t := time.NewTimer(backoff(n, 200*time.Millisecond, 2*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
