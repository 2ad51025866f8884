package socketio

import (
	"context"
	"errors"
	"testing"
)

// TestSocketContextOnDemand: a socket holds no context until asked for
// one; a context asked for after the socket ended is born ended, with
// the first cause.
func TestSocketContextOnDemand(t *testing.T) {
	errFirst, errSecond := errors.New("first"), errors.New("second")

	s := newSocket(nil, nil)
	if s.ctx != nil {
		t.Fatal("a new socket holds a context")
	}
	ctx := s.Context()
	if ctx.Err() != nil || s.Context() != ctx {
		t.Fatal("Context: want one live context, the same on every call")
	}
	s.end(errFirst)
	s.end(errSecond)
	if ctx.Err() == nil || !errors.Is(context.Cause(ctx), errFirst) {
		t.Fatalf("after end: err %v, cause %v; want ended by the first cause", ctx.Err(), context.Cause(ctx))
	}

	late := newSocket(nil, nil)
	late.end(errFirst)
	if late.ctx != nil {
		t.Fatal("end made a context")
	}
	if ctx := late.Context(); ctx.Err() == nil || !errors.Is(context.Cause(ctx), errFirst) {
		t.Fatalf("context asked for after the end: err %v, cause %v; want born ended", ctx.Err(), context.Cause(ctx))
	}
}
