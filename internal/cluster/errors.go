package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// Errors of this package; the storage outcomes (not found, exists,
// conflict, unavailable) are apierr's sentinels instead, wrapped.
var (
	// ErrInvalidKey: a KV key outside [A-Za-z0-9_=.-], empty, too long,
	// or with an empty dot-separated token.
	ErrInvalidKey = errors.New("cluster: invalid key")
	// ErrInvalidSubject: a room name or signal subject that is not a valid
	// token sequence.
	ErrInvalidSubject = errors.New("cluster: invalid subject")
	// ErrClosed: the Cluster was closed.
	ErrClosed = errors.New("cluster: closed")
	// ErrUnreachable: Start gave up connecting to NATS (Options.NATSURL,
	// or the embedded server) within its timeout; the error wrapping it
	// says where and the last connection error.
	ErrUnreachable = errors.New("cluster: NATS unreachable")
)

// unavailable reports whether err means the store could not be reached
// or did not answer in time: nothing can be concluded about the outcome.
func unavailable(err error) bool {
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, jetstream.ErrConnectionClosed),
		errors.Is(err, jetstream.ErrServerShutdown),
		errors.Is(err, jetstream.ErrNoStreamResponse),
		// An asynchronous publish whose ack did not come in time, and
		// one refused because too many acks are outstanding: no answer
		// either way.
		errors.Is(err, jetstream.ErrAsyncPublishTimeout),
		errors.Is(err, jetstream.ErrTooManyStalledMsgs),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, ErrClosed):
		return true
	}
	// "JetStream system temporarily unavailable", no quorum, and the like;
	// and a message id that an earlier publish is still being stored with.
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusServiceUnavailable || idInProcess(err)
}

// errCodeMsgIDInProcess is JetStream's answer to a publish whose message
// id an earlier publish is still being stored with (409, "duplicate
// message id is in process"): whether that one will be stored is not
// known yet.
const errCodeMsgIDInProcess jetstream.ErrorCode = 10158

// idInProcess reports whether err is that answer.
func idInProcess(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeMsgIDInProcess
}

// wrongLastSeq reports whether err is JetStream's "wrong last sequence"
// answer to a compare-and-set publish (10071, or 10164 on replicated
// streams).
func wrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// storeErr maps the errors every operation shares: unavailability becomes
// apierr.ErrUnavailable (still wrapping the cause), anything else is
// returned as is. Callers map the outcomes specific to their operation
// (exists, conflict, not found) before calling it.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", apierr.ErrUnavailable, err)
	}
	return err
}
