package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatrooms/chatrooms/internal/chat"
)

// Watch calls fn with every current entry, then onReady (if not nil),
// then fn with every change (Deleted set for deletions, purges and TTL
// expiries), in revision order, on one goroutine, until ctx ends or the
// Cluster closes. It returns once the watch is established.
//
// The watch is nats.go's key watcher, an ordered consumer on the bucket's
// stream, which has been seen to go silent for good after a NATS server
// was killed (no error, no entry), as Follow's consumer does. So Watch
// supervises it the same way: when the stream's last sequence is past the
// last revision taken from the watcher, no entry is waiting, and nothing
// moved for a whole check interval, the watcher is replaced by one
// resuming right after that revision. Entries are passed to fn once
// each, by revision, across replacements. The buckets keep one revision
// per key, so a key changed several times while the watcher was silent
// is passed once, with its latest value (or as deleted).
func (k *KV) Watch(ctx context.Context, fn func(chat.Entry), onReady func()) error {
	// Everything up to the stream's last sequence now is delivered (or
	// superseded by a later revision that is) once the watcher's initial
	// entries are: the stream may end in a sequence no watcher ever
	// delivers (an expired delete marker of the nodes bucket).
	floor, err := k.lastSeq(ctx)
	if err != nil {
		return fmt.Errorf("%s: watch: %w", k.bucket, storeErr(err))
	}
	w, err := k.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("%s: watch: %w", k.bucket, storeErr(err))
	}
	x := &kvWatch{
		k:     k,
		floor: floor,
		swap:  make(chan jetstream.KeyWatcher),
		stop:  make(chan struct{}),
	}
	go x.supervise(ctx, w)
	go x.loop(ctx, w, fn, onReady)
	return nil
}

// lastSeq is the last sequence of the bucket's stream, which every put,
// delete, purge and expiry marker advances: one stream-info request
// (bounded by the default request timeout where ctx has no deadline).
func (k *KV) lastSeq(ctx context.Context) (uint64, error) {
	st, err := k.c.js.Stream(ctx, "KV_"+k.bucket)
	if err != nil {
		return 0, err
	}
	return st.CachedInfo().State.LastSeq, nil
}

// kvWatch is one Watch: the loop calling fn with the current watcher's
// entries, and supervise replacing a watcher that went silent.
type kvWatch struct {
	k *KV
	// floor is the stream's last sequence before the first watcher
	// started: taken as delivered once the initial entries are.
	floor uint64
	// taken is the revision of the last entry the loop took from a
	// watcher (before calling fn with it, so that a slow fn does not look
	// like a silent watcher), or floor once ready if that is more.
	// Written by the loop only.
	taken atomic.Uint64
	// swap hands a replacement watcher from supervise to the loop.
	swap chan jetstream.KeyWatcher
	stop chan struct{} // closed when the loop ends
}

// loop passes the entries of the current watcher to fn, skipping those
// at or below the last revision taken (a replacement's first ones).
func (x *kvWatch) loop(ctx context.Context, w jetstream.KeyWatcher, fn func(chat.Entry), onReady func()) {
	defer func() {
		close(x.stop)
		stopWatcher(w)
	}()
	updates := w.Updates()
	ready := false
	// resumed: the entries come from a replacement, which delivers every
	// change after its start, deletions included, before its marker.
	resumed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.k.c.done:
			return
		case nw := <-x.swap:
			go stopWatcher(w)
			w, updates, resumed = nw, nw.Updates(), true
		case e, ok := <-updates:
			if !ok {
				return // the connection closed
			}
			if e == nil {
				if !ready {
					ready = true
					if x.floor > x.taken.Load() {
						x.taken.Store(x.floor)
					}
					if onReady != nil {
						onReady()
					}
				}
				continue
			}
			rev := e.Revision()
			if rev <= x.taken.Load() {
				continue // delivered before a replacement
			}
			x.taken.Store(rev)
			deleted := e.Operation() != jetstream.KeyValuePut
			if deleted && !ready && !resumed {
				continue // a past deletion, not a current entry
			}
			fn(chat.Entry{Key: e.Key(), Value: e.Value(), Revision: rev, Deleted: deleted})
		}
	}
}

// stopWatcher stops w and drains its channel until Stop closes it: the
// watcher's delivery callback may be blocked on a full channel.
func stopWatcher(w jetstream.KeyWatcher) {
	updates := w.Updates()
	_ = w.Stop()
	for range updates {
	}
}

// supervise replaces the watcher when the bucket's stream holds entries
// past the last revision taken, none is waiting in the watcher, and the
// revision taken did not move since the previous check: the watcher went
// silent. Its requests run here, never on the loop.
func (x *kvWatch) supervise(ctx context.Context, cur jetstream.KeyWatcher) {
	t := time.NewTicker(x.k.watchCheck)
	defer t.Stop()
	var stall stallCheck
	for {
		select {
		case <-t.C:
		case <-x.stop:
			return
		}
		last, err := x.k.lastSeq(ctx)
		if err != nil {
			stall.unknown() // NATS away: the watcher's own recovery runs
			continue
		}
		taken := x.taken.Load()
		if !stall.silent(last, taken, len(cur.Updates()) == 0) {
			continue
		}
		x.k.c.log.Warn("kv watch went silent; replacing it",
			"bucket", x.k.bucket, "delivered", taken, "stream_last", last)
		nw, err := x.k.kv.WatchAll(ctx, jetstream.ResumeFromRevision(taken+1))
		if err != nil {
			if ctx.Err() == nil && !x.k.c.closing() {
				x.k.c.log.Warn("kv watch: replace the watcher", "bucket", x.k.bucket, "error", storeErr(err))
			}
			continue
		}
		select {
		case x.swap <- nw:
			cur = nw
			stall.replaced(last)
		case <-x.stop:
			stopWatcher(nw)
			return
		}
	}
}
