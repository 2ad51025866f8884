package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
)

var _ chat.KV = (*KV)(nil)

// maxKeyLen bounds keys; longer ones are refused rather than stored.
const maxKeyLen = chat.MaxKeyLen

// KV is one JetStream key-value bucket seen as a chat.KV. Every call goes
// to the server (no local cache). Safe for concurrent use; get one from
// the Cluster's accessors (Users, Nicks, …), not as a zero value.
type KV struct {
	c      *Cluster
	kv     jetstream.KeyValue
	bucket string
	// watchCheck is how often a Watch compares the bucket's stream with
	// what it delivered (followCheckInterval; shorter in tests).
	watchCheck time.Duration
}

// Bucket returns the bucket's name.
func (k *KV) Bucket() string { return k.bucket }

func (k *KV) checkKey(op, key string) error {
	if !chat.ValidKey(key) {
		return fmt.Errorf("%s: %s %q: %w: want 1..%d bytes of [A-Za-z0-9_=.-] without empty dot-separated parts",
			k.bucket, op, key, ErrInvalidKey, maxKeyLen)
	}
	return nil
}

// Get returns the key's entry; a missing or deleted key gives an error
// wrapping apierr.ErrNotFound.
func (k *KV) Get(ctx context.Context, key string) (chat.Entry, error) {
	if err := k.checkKey("get", key); err != nil {
		return chat.Entry{}, err
	}
	e, err := k.kv.Get(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return chat.Entry{}, fmt.Errorf("%s: get %q: %w", k.bucket, key, apierr.ErrNotFound)
		}
		return chat.Entry{}, fmt.Errorf("%s: get %q: %w", k.bucket, key, storeErr(err))
	}
	return chat.Entry{Key: key, Value: e.Value(), Revision: e.Revision()}, nil
}

// Create stores a new key and returns its revision; an existing key
// gives an error wrapping apierr.ErrExists.
func (k *KV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := k.checkKey("create", key); err != nil {
		return 0, err
	}
	rev, err := k.kv.Create(ctx, key, value)
	if err != nil {
		// A deleted key is re-created at its delete marker's revision, so a
		// racing creator may also see a bare "wrong last sequence".
		if errors.Is(err, jetstream.ErrKeyExists) || wrongLastSeq(err) {
			return 0, fmt.Errorf("%s: create %q: %w", k.bucket, key, apierr.ErrExists)
		}
		return 0, fmt.Errorf("%s: create %q: %w", k.bucket, key, storeErr(err))
	}
	return rev, nil
}

// Update replaces the value if the key is still at revision rev and
// returns the new revision. A changed key gives apierr.ErrConflict, a
// missing or deleted one apierr.ErrNotFound.
func (k *KV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := k.checkKey("update", key); err != nil {
		return 0, err
	}
	if rev == 0 {
		// JetStream reads "last sequence 0" as "must not exist", which
		// would turn Update into Create.
		return 0, fmt.Errorf("%s: update %q: revision 0: %w", k.bucket, key, apierr.ErrConflict)
	}
	newRev, err := k.kv.Update(ctx, key, value, rev)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || wrongLastSeq(err) {
			return 0, fmt.Errorf("%s: update %q at revision %d: %w", k.bucket, key, rev, k.conflict(ctx, key))
		}
		return 0, fmt.Errorf("%s: update %q: %w", k.bucket, key, storeErr(err))
	}
	return newRev, nil
}

// conflict tells a changed key (apierr.ErrConflict) from a gone one
// (apierr.ErrNotFound) after a failed compare-and-set.
func (k *KV) conflict(ctx context.Context, key string) error {
	_, err := k.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return apierr.ErrNotFound
	}
	return apierr.ErrConflict
}

// Delete removes the key if it is still at revision rev (0: at any
// revision); otherwise apierr.ErrConflict. Deleting a missing key with rev
// 0 succeeds.
func (k *KV) Delete(ctx context.Context, key string, rev uint64) error {
	if err := k.checkKey("delete", key); err != nil {
		return err
	}
	var opts []jetstream.KVDeleteOpt
	if rev != 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	if err := k.kv.Delete(ctx, key, opts...); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || wrongLastSeq(err) {
			return fmt.Errorf("%s: delete %q at revision %d: %w", k.bucket, key, rev, apierr.ErrConflict)
		}
		return fmt.Errorf("%s: delete %q: %w", k.bucket, key, storeErr(err))
	}
	return nil
}

// Keys lists the current keys, in no particular order.
func (k *KV) Keys(ctx context.Context) ([]string, error) {
	keys, err := k.kv.Keys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return []string{}, nil
		}
		return nil, fmt.Errorf("%s: keys: %w", k.bucket, storeErr(err))
	}
	return keys, nil
}
