package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/attachments"
	"github.com/chatrooms/chatrooms/internal/chat"
)

var _ attachments.Blobs = (*Objects)(nil)

// Objects is a JetStream object store bucket seen as an
// attachments.Blobs: objects are chunked into 128 KiB messages and
// expire a little more than Options.AttachmentRetention after they were
// written (see AttachMeta). Safe for
// concurrent use; get it from Cluster.Attachments, not as a zero value.
type Objects struct {
	c         *Cluster
	obs       jetstream.ObjectStore
	bucket    string
	readStall time.Duration // objectReadStall; tests shorten it
}

// objectStreamConfig is the stream behind an object store bucket: what
// nats.go's CreateObjectStore makes, except that replicated buckets turn
// direct gets off, as for the KV buckets (an object written through one
// node must be readable through another right away), and that ttl (when
// set) also bounds the duplicate window, which may not exceed it.
func objectStreamConfig(bucket, descr string, ttl time.Duration, maxBytes int64, replicas int) jetstream.StreamConfig {
	dup := 2 * time.Minute
	if ttl > 0 {
		dup = min(dup, ttl)
	}
	if maxBytes <= 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:         "OBJ_" + bucket,
		Description:  descr,
		Subjects:     []string{"$O." + bucket + ".C.>", "$O." + bucket + ".M.>"},
		MaxAge:       ttl,
		MaxBytes:     maxBytes,
		MaxMsgs:      -1,
		MaxMsgSize:   -1,
		MaxConsumers: -1,
		Storage:      jetstream.FileStorage,
		Replicas:     replicas,
		Discard:      jetstream.DiscardNew,
		AllowRollup:  true,
		AllowDirect:  replicas == 1,
		Duplicates:   dup,
	}
}

// Bucket returns the object store's name.
func (o *Objects) Bucket() string { return o.bucket }

func (o *Objects) checkName(op, name string) error {
	if !chat.ValidKey(name) {
		return fmt.Errorf("%s: %s %q: %w: want 1..%d bytes of [A-Za-z0-9_=.-] without empty dot-separated parts",
			o.bucket, op, name, ErrInvalidKey, maxKeyLen)
	}
	return nil
}

// Put stores everything r holds as the object name, replacing any
// object of that name once it is completely stored. A Put that fails
// removes the object name, whatever it was: callers put each object under
// a fresh name (attachments do).
func (o *Objects) Put(ctx context.Context, name string, r io.Reader) error {
	if err := o.checkName("put", name); err != nil {
		return err
	}
	if _, err := o.obs.Put(ctx, jetstream.ObjectMeta{Name: name}, r); err != nil {
		// A put the stream refused part of (its size limit) can still
		// have stored the object's description, which nats.go publishes
		// as the chunks' acks come back: remove what there is, so that
		// the name reads as missing, not as an object whose chunks never
		// come. Best effort, within ctx or a few seconds.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if derr := o.obs.Delete(dctx, name); derr != nil && !errors.Is(derr, jetstream.ErrObjectNotFound) {
			o.c.log.Warn("remove a failed put", "bucket", o.bucket, "object", name, "err", derr)
		}
		cancel()
		return fmt.Errorf("%s: put %q: %w", o.bucket, name, storeErr(err))
	}
	return nil
}

// Get opens the object name; the caller must Close it. Reading streams
// the chunks and checks the SHA-256 digest at the end. A missing,
// deleted or expired object gives an error wrapping apierr.ErrNotFound.
func (o *Objects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := o.checkName("get", name); err != nil {
		return nil, err
	}
	// On a replicated store the ordered consumer that reads the chunks may
	// be served by a replica still catching up on a write made through
	// another node; it then ends early and the digest check fails. The
	// object is whole on the leader, so read it again, a bounded number
	// of times. Objects are at most a few tens of MiB; callers read them
	// whole anyway.
	var last error
	for attempt := range getAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s: get %q: %w", o.bucket, name, storeErr(ctx.Err()))
			case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
			}
		}
		// A read whose chunks stop coming (the object expired or was
		// deleted while it was read) would wait for ctx's deadline: each
		// attempt has its own bound, then the object's info says which.
		began := time.Now()
		actx, cancel := context.WithTimeout(ctx, o.readStall)
		res, err := o.obs.Get(actx, name)
		if err != nil {
			cancel()
			if errors.Is(err, jetstream.ErrObjectNotFound) {
				return nil, fmt.Errorf("%s: get %q: %w", o.bucket, name, apierr.ErrNotFound)
			}
			return nil, fmt.Errorf("%s: get %q: %w", o.bucket, name, storeErr(err))
		}
		data, err := io.ReadAll(res)
		_ = res.Close()
		cancel()
		if err == nil {
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		// (The read's bound ended it: nats.go reports that as the pipe's
		// timeout, a timeout of its own, or actx's error.)
		if ctx.Err() == nil && time.Since(began) >= o.readStall {
			if _, ierr := o.obs.GetInfo(ctx, name); errors.Is(ierr, jetstream.ErrObjectNotFound) {
				return nil, fmt.Errorf("%s: get %q: %w", o.bucket, name, apierr.ErrNotFound)
			}
			last = err
			continue
		}
		if !errors.Is(err, jetstream.ErrDigestMismatch) {
			return nil, fmt.Errorf("%s: read %q: %w", o.bucket, name, storeErr(err))
		}
		last = err
	}
	return nil, fmt.Errorf("%s: read %q: %w: %w", o.bucket, name, apierr.ErrUnavailable, last)
}

// getAttempts bounds the reads of one object (see Get).
const getAttempts = 5

// objectReadStall bounds one read of an object (see Get): objects are at
// most a few tens of MiB, read from NATS in well under a second.
const objectReadStall = 15 * time.Second

// Delete removes the object name; a missing one is not an error.
func (o *Objects) Delete(ctx context.Context, name string) error {
	if err := o.checkName("delete", name); err != nil {
		return err
	}
	if err := o.obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("%s: delete %q: %w", o.bucket, name, storeErr(err))
	}
	return nil
}
