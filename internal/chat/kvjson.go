package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// maxCASRetries bounds compare-and-set loops; contention beyond it is
// reported as unavailable rather than spinning.
const maxCASRetries = 32

// jsonKV stores values of type T as JSON in a KV bucket.
type jsonKV[T any] struct {
	kv   KV
	name string
}

func (s jsonKV[T]) get(ctx context.Context, key string) (*T, uint64, error) {
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

func (s jsonKV[T]) create(ctx context.Context, key string, v *T) (uint64, error) {
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
func (s jsonKV[T]) modify(ctx context.Context, key string, fn func(v *T) (op, error)) (*T, uint64, error) {
	for range maxCASRetries {
		v, rev, err := s.get(ctx, key)
		if err != nil {
			return nil, 0, err
		}
		what, err := fn(v)
		if err != nil {
			return v, rev, err
		}
		switch what {
		case opKeep:
			return v, rev, nil
		case opDelete:
			err = s.kv.Delete(ctx, key, rev)
			if err == nil {
				return nil, rev, nil
			}
		default:
			var b []byte
			if b, err = json.Marshal(v); err != nil {
				return nil, 0, fmt.Errorf("encode %s %q: %w", s.name, key, err)
			}
			var nrev uint64
			if nrev, err = s.kv.Update(ctx, key, b, rev); err == nil {
				return v, nrev, nil
			}
		}
		if !errors.Is(err, ErrConflict) {
			return nil, 0, err
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	return nil, 0, fmt.Errorf("update %s %q: %w: too much contention", s.name, key, ErrUnavailable)
}
