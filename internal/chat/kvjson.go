package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
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
	return s.kv.Create(ctx, key, b)
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
	nrev, err := s.kv.Update(ctx, key, b, rev)
	if err != nil {
		return nil, 0, err
	}
	return v, nrev, nil
}
