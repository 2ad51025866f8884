package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

func apiError(status int, code jetstream.ErrorCode) error {
	return &jetstream.APIError{Code: status, ErrorCode: code, Description: "test"}
}

func TestRetryable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("cluster: create bucket x: %w", err) }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		// Transient: the store is not reachable or not ready yet.
		{"attempt timeout", context.DeadlineExceeded, true},
		{"nats timeout", nats.ErrTimeout, true},
		{"no responders", nats.ErrNoResponders, true},
		{"no servers", nats.ErrNoServers, true},
		{"reconnecting", nats.ErrConnectionReconnecting, true},
		{"disconnected", nats.ErrDisconnected, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"network timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{"jetstream not enabled (no responders)", jetstream.ErrJetStreamNotEnabled, true},
		{"no stream response", jetstream.ErrNoStreamResponse, true},
		{"server shutdown", jetstream.ErrServerShutdown, true},
		{"no publish ack in time", jetstream.ErrAsyncPublishTimeout, true},
		{"too many publish acks outstanding", jetstream.ErrTooManyStalledMsgs, true},
		{"message id in process", apiError(409, 10158), true},
		{"temporarily unavailable 503", apiError(503, 10008), true},
		{"insufficient resources 503", apiError(503, 10023), true},
		{"no suitable peers yet", apiError(400, errCodeClusterNoPeers), true},
		{"not leader", apiError(500, errCodeClusterNotLeader), true},
		{"not assigned", apiError(500, errCodeClusterNotAssigned), true},
		{"stream not visible yet", jetstream.ErrStreamNotFound, true},
		{"bucket not visible yet", jetstream.ErrBucketNotFound, true},
		{"wrapped unavailable", wrap(fmt.Errorf("%w: %w", apierr.ErrUnavailable, nats.ErrTimeout)), true},
		{"wrapped no responders", wrap(nats.ErrNoResponders), true},

		// Permanent: no retry can fix them.
		{"nil", nil, false},
		{"cancelled", context.Canceled, false},
		{"cluster closed", ErrClosed, false},
		{"connection closed", nats.ErrConnectionClosed, false},
		{"jetstream connection closed", jetstream.ErrConnectionClosed, false},
		{"permission violation", fmt.Errorf("%w: Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.KV_users\"", nats.ErrPermissionViolation), false},
		{"authorization", nats.ErrAuthorization, false},
		{"bad subject", nats.ErrBadSubject, false},
		{"invalid stream name", jetstream.ErrInvalidStreamName, false},
		{"invalid bucket name", jetstream.ErrInvalidBucketName, false},
		{"stream name in use", jetstream.ErrStreamNameAlreadyInUse, false},
		{"invalid stream config", apiError(500, 10052), false},
		{"replicas not supported", apiError(500, 10074), false},
		{"clustering required (503)", apiError(503, errCodeClusterRequired), false},
		{"unsupported in cluster (503)", apiError(503, errCodeClusterUnsupported), false},
		{"storage limit", apiError(500, 10047), false},
		{"wrapped permission violation", wrap(nats.ErrPermissionViolation), false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryable(tt.err); got != tt.want {
				t.Fatalf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const base, ceiling = 200 * time.Millisecond, 2 * time.Second
	tests := []struct {
		n    int
		full time.Duration // the pause before jitter: the result is in [full/2, full]
	}{
		{0, base},
		{1, base},
		{2, 2 * base},
		{3, 4 * base},
		{4, 8 * base},
		{5, ceiling},
		{40, ceiling},
		{1 << 30, ceiling},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				d := backoff(tt.n, base, ceiling)
				if d < tt.full/2 || d > tt.full {
					t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.n, d, tt.full/2, tt.full)
				}
				seen[d] = true
			}
			if len(seen) < 2 {
				t.Fatalf("backoff(%d) has no jitter: always %v", tt.n, seen)
			}
		})
	}
	if d := backoff(1, time.Minute, time.Second); d < time.Second/2 || d > time.Second {
		t.Fatalf("backoff with base over the ceiling = %v", d)
	}
	for attempts := range 10 {
		full := min(250*time.Millisecond<<attempts, 5*time.Second)
		if d := reconnectDelay(attempts); d < full/2 || d > full {
			t.Fatalf("reconnectDelay(%d) = %v, want within [%v, %v]", attempts, d, full/2, full)
		}
	}
}

// TestRetryPermanentReturnsAtOnce: a permanent error ends retry after one
// call, long before the start timeout.
func TestRetryPermanentReturnsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var calls atomic.Int32
	start := time.Now()
	err := retry(ctx, func(context.Context) error {
		calls.Add(1)
		return fmt.Errorf("create stream: %w", nats.ErrPermissionViolation)
	})
	if !errors.Is(err, nats.ErrPermissionViolation) {
		t.Fatalf("retry = %v, want the permission violation", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("retry took %v", d)
	}
}

// TestRetryTransient: transient errors are retried until the call
// succeeds; each try has its own deadline.
func TestRetryTransient(t *testing.T) {
	var calls atomic.Int32
	err := retry(t.Context(), func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("a try without its own deadline")
		}
		if calls.Add(1) < 3 {
			return nats.ErrNoResponders
		}
		return nil
	})
	if err != nil || calls.Load() != 3 {
		t.Fatalf("retry = %v after %d calls, want nil after 3", err, calls.Load())
	}
}

// TestRetryUntilContextEnds: a transient error is retried until ctx ends,
// then returned.
func TestRetryUntilContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	var calls atomic.Int32
	start := time.Now()
	err := retry(ctx, func(context.Context) error {
		calls.Add(1)
		return nats.ErrTimeout
	})
	if !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("retry = %v, want the last timeout", err)
	}
	if calls.Load() < 2 {
		t.Fatalf("%d calls, want retries", calls.Load())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("retry went on %v after its context ended", d)
	}
}
