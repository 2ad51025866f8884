package engineio

import (
	"context"
	"errors"
	"testing"
)

// TestSessionContextOnDemand: a session holds no context until asked for
// one; asked for after the close, it is born ended with the close reason.
func TestSessionContextOnDemand(t *testing.T) {
	s := &Session{}
	if s.ctx != nil {
		t.Fatal("a new session holds a context")
	}
	ctx := s.Context()
	if ctx.Err() != nil || s.Context() != ctx {
		t.Fatal("Context: want one live context, the same on every call")
	}

	reason := errors.New("gone")
	closed := &Session{closed: true, closeErr: reason}
	if ctx := closed.Context(); ctx.Err() == nil || !errors.Is(context.Cause(ctx), reason) {
		t.Fatalf("context of a closed session: err %v, cause %v; want born ended by the close reason", ctx.Err(), context.Cause(ctx))
	}
}
