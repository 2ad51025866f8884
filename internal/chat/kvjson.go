package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// maxCASRetries bounds compare-and-set loops; contention beyond it is
// reported as unavailable rather than spinning. With the pauses between
// tries (casPause, up to 32 ms) that is about 4 s of patience: a few
// hundred writers of one record (a crowd joining a room) all get through.
const maxCASRetries = 256

// jsonKV stores values of type T as JSON in a KV bucket.
type jsonKV[T any, P record[T]] struct {
	kv   KV
	name string
	own  *ownWrites[T, P]
}

func newJSONKV[T any, P record[T]](kv KV, name string) jsonKV[T, P] {
	return jsonKV[T, P]{kv: kv, name: name, own: &ownWrites[T, P]{m: make(map[string][]*ownWrite[T])}}
}

// record is a stored type: a pointer to it copies the value deeply, so
// that a compare-and-set may start from a cached value without touching
// the cache (a JSON round trip did this before: for a room of 2,000 that
// was two passes over 40 KB for every batch of joins).
type record[T any] interface {
	*T
	clone() *T
}

func (s jsonKV[T, P]) get(ctx context.Context, key string) (*T, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	v := new(T)
	if err := json.Unmarshal(e.Value, v); err != nil {
		return nil, 0, fmt.Errorf("decode %s %q: %w", s.name, key, err)
	}
	return v, e.Revision, nil
}

func (s jsonKV[T, P]) create(ctx context.Context, key string, v *T) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s %q: %w", s.name, key, err)
	}
	defer s.writing(key, b, v)()
	return s.kv.Create(ctx, key, b)
}

// decode is the value a watch brought for key: a copy of this node's
// own write if value is what that write encoded, else value decoded.
func (s jsonKV[T, P]) decode(key string, value []byte) (*T, error) {
	if v := s.own.find(key, value); v != nil {
		return v, nil
	}
	v := new(T)
	if err := json.Unmarshal(value, v); err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", s.name, key, err)
	}
	return v, nil
}

// writing notes that v, encoded as b, is being written to key, until
// the returned func is called (once the store has answered): the
// bucket's watch often brings the write back before the answer does.
// v must not change meanwhile.
func (s jsonKV[T, P]) writing(key string, b []byte, v *T) func() {
	w := &ownWrite[T]{b, v}
	s.own.add(key, w)
	return func() { s.own.remove(key, w) }
}

// ownWrites are the values this node is writing to a bucket, as
// encoded. A watch that brings one back takes a copy of the value
// instead of decoding it again: a room of 2,000 members is 40 KB of
// JSON, and decoding its record after every batch of joins took 3 % of
// the server's CPU in the switches into one room.
type ownWrites[T any, P record[T]] struct {
	mu sync.Mutex
	m  map[string][]*ownWrite[T] // by key; several writes of one key may be in flight
}

type ownWrite[T any] struct {
	b []byte
	v *T
}

func (o *ownWrites[T, P]) add(key string, w *ownWrite[T]) {
	o.mu.Lock()
	o.m[key] = append(o.m[key], w)
	o.mu.Unlock()
}

func (o *ownWrites[T, P]) remove(key string, w *ownWrite[T]) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ws := slices.DeleteFunc(o.m[key], func(x *ownWrite[T]) bool { return x == w })
	if len(ws) == 0 {
		delete(o.m, key)
	} else {
		o.m[key] = ws
	}
}

// find returns a copy of the value of a write of key in flight that
// was encoded as value, or nil if there is none.
func (o *ownWrites[T, P]) find(key string, value []byte) *T {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, w := range o.m[key] {
		if bytes.Equal(w.b, value) {
			return P(w.v).clone()
		}
	}
	return nil
}

// op is what a modify callback wants done with the value.
type op int

const (
	opKeep   op = iota // nothing to write
	opWrite            // write the modified value
	opDelete           // delete the key
)

// modify reads key, lets fn change the value, and writes the result back
// with compare-and-set, re-reading and retrying on conflict. fn sees a
// fresh value on every try and must be free of side effects. It returns
// the value as written (nil after a delete) and its revision.
func (s jsonKV[T, P]) modify(ctx context.Context, key string, fn func(v *T) (op, error)) (*T, uint64, error) {
	return s.modifyFrom(ctx, key, nil, 0, fn)
}

// modifyFrom is modify trying first from cached, the value at revision
// rev as a watch brought it (nil: none), which saves the read when the
// cache is current: the compare-and-set tells if it is not. fn's verdict
// on the cached value is trusted only for a write or a delete (which the
// store checks); any other answer is asked again of a fresh read.
func (s jsonKV[T, P]) modifyFrom(ctx context.Context, key string, cached *T, rev uint64, fn func(v *T) (op, error)) (*T, uint64, error) {
	if cached != nil && rev > 0 {
		v := P(cached).clone()
		if what, err := fn(v); err == nil && what != opKeep {
			nv, nrev, err := s.write(ctx, key, v, rev, what)
			if err == nil || !errors.Is(err, apierr.ErrConflict) {
				return nv, nrev, err
			}
		}
	}
	for attempt := range maxCASRetries {
		if attempt > 0 {
			// Writers that lost the race spread out before the next try,
			// so that they do not collide again in step.
			if err := casPause(ctx, attempt); err != nil {
				return nil, 0, err
			}
		}
		v, rev, err := s.get(ctx, key)
		if err != nil {
			return nil, 0, err
		}
		what, err := fn(v)
		if err != nil {
			return v, rev, err
		}
		if what == opKeep {
			return v, rev, nil
		}
		nv, nrev, err := s.write(ctx, key, v, rev, what)
		if !errors.Is(err, apierr.ErrConflict) {
			return nv, nrev, err
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	return nil, 0, fmt.Errorf("update %s %q: %w: too much contention", s.name, key, apierr.ErrUnavailable)
}

// casPause waits a random time before compare-and-set attempt n (from
// 1): up to 1 ms, doubling with n up to 32 ms; it fails when ctx ends.
func casPause(ctx context.Context, n int) error {
	limit := time.Millisecond << min(n-1, 5)
	t := time.NewTimer(rand.N(limit) + 1) //nolint:gosec // G404: jitter, not a secret
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write stores v (opWrite) or deletes key (opDelete) if key is still at
// rev; it returns what modify returns.
func (s jsonKV[T, P]) write(ctx context.Context, key string, v *T, rev uint64, what op) (*T, uint64, error) {
	if what == opDelete {
		if err := s.kv.Delete(ctx, key, rev); err != nil {
			return nil, 0, err
		}
		return nil, rev, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, 0, fmt.Errorf("encode %s %q: %w", s.name, key, err)
	}
	done := s.writing(key, b, v)
	nrev, err := s.kv.Update(ctx, key, b, rev)
	done()
	if err != nil {
		return nil, 0, err
	}
	return v, nrev, nil
}
