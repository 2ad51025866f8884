package chattest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
)

var _ chat.KV = (*KV)(nil)

// ErrInvalidKey is returned for keys chat.KV does not allow.
var ErrInvalidKey = errors.New("chattest: invalid key")

// KV is an in-memory chat.KV with the semantics of a JetStream key-value
// bucket keeping one revision a key:
//   - revisions are one increasing sequence for the whole bucket; every
//     write, deletion and expiry takes the next one;
//   - Create fails with ErrExists on a live key and succeeds on a missing
//     or deleted one;
//   - Update fails with ErrNotFound on a missing or deleted key and with
//     ErrConflict when the key is at another revision (or rev is 0);
//   - Delete with rev 0 always succeeds and leaves a delete marker (even
//     for a missing key); with rev > 0 it fails with ErrConflict unless
//     the key (or its marker) is at rev;
//   - with a TTL, an entry not written again within TTL expires: it is
//     replaced by a marker that watches report as deleted, and a delete
//     marker itself goes after TTL without a trace;
//   - watches get the live entries in revision order, then onReady, then
//     every change, on one goroutine per watch.
//
// Safe for concurrent use. The zero value is not usable: call NewKV.
type KV struct {
	name  string
	clock chat.Clock
	ttl   time.Duration

	mu       sync.Mutex
	rev      uint64
	entries  map[string]*kvEntry // live entries and delete markers
	watchers map[*kvWatcher]struct{}
	fail     func(op, key string) error
	calls    map[string]int
	hold     map[string]chan struct{} // op → closed on release
	held     int                      // calls waiting in a hold
}

type kvEntry struct {
	value   []byte
	rev     uint64
	deleted bool
	expiry  chat.Timer // nil without a TTL
}

// NewKV returns an empty bucket called name (for error messages). With
// ttl > 0 entries expire on clock (nil: real time).
func NewKV(name string, clock chat.Clock, ttl time.Duration) *KV {
	if clock == nil {
		clock = realClock{}
	}
	return &KV{name: name, clock: clock, ttl: ttl, entries: map[string]*kvEntry{}, watchers: map[*kvWatcher]struct{}{}, calls: map[string]int{}}
}

// FailWith makes every later call consult fn first: when fn returns an
// error (for op "get", "create", "update", "delete", "keys" or "watch"
// and the key, "" for keys and watch), the call fails with it and changes
// nothing. Nil stops the failures. Wrap apierr.ErrUnavailable to act as an
// outage.
func (k *KV) FailWith(fn func(op, key string) error) {
	k.mu.Lock()
	k.fail = fn
	k.mu.Unlock()
}

// Hold makes later calls of op wait, before they do anything, until
// release is called (or their context ends): a test lines up calls that
// then race. Held counts the calls waiting.
func (k *KV) Hold(op string) (release func()) {
	ch := make(chan struct{})
	k.mu.Lock()
	if k.hold == nil {
		k.hold = map[string]chan struct{}{}
	}
	k.hold[op] = ch
	k.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			k.mu.Lock()
			if k.hold[op] == ch {
				delete(k.hold, op)
			}
			k.mu.Unlock()
			close(ch)
		})
	}
}

// Held returns how many calls wait in a Hold.
func (k *KV) Held() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.held
}

// wait blocks a call of op while a Hold of op is on.
func (k *KV) wait(ctx context.Context, op string) {
	k.mu.Lock()
	ch := k.hold[op]
	if ch != nil {
		k.held++
	}
	k.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
	k.mu.Lock()
	k.held--
	k.mu.Unlock()
}

// Calls returns how many calls of op were made (failed ones included).
func (k *KV) Calls(op string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls[op]
}

// begin checks the key, counts the call and asks FailWith's function;
// it returns with k.mu held when err is nil.
func (k *KV) begin(ctx context.Context, op, key string, checkKey bool) error {
	if checkKey && !chat.ValidKey(key) {
		return fmt.Errorf("%s: %s %q: %w", k.name, op, key, ErrInvalidKey)
	}
	k.wait(ctx, op)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s %q: %w", k.name, op, key, err)
	}
	k.mu.Lock()
	k.calls[op]++
	if k.fail != nil {
		if err := k.fail(op, key); err != nil {
			k.mu.Unlock()
			return fmt.Errorf("%s: %s %q: %w", k.name, op, key, err)
		}
	}
	return nil
}

// Get implements chat.KV.
func (k *KV) Get(ctx context.Context, key string) (chat.Entry, error) {
	if err := k.begin(ctx, "get", key, true); err != nil {
		return chat.Entry{}, err
	}
	defer k.mu.Unlock()
	e := k.entries[key]
	if e == nil || e.deleted {
		return chat.Entry{}, fmt.Errorf("%s: get %q: %w", k.name, key, apierr.ErrNotFound)
	}
	return chat.Entry{Key: key, Value: slices.Clone(e.value), Revision: e.rev}, nil
}

// Create implements chat.KV.
func (k *KV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := k.begin(ctx, "create", key, true); err != nil {
		return 0, err
	}
	defer k.mu.Unlock()
	if e := k.entries[key]; e != nil && !e.deleted {
		return 0, fmt.Errorf("%s: create %q: %w", k.name, key, apierr.ErrExists)
	}
	return k.putLocked(key, value), nil
}

// Update implements chat.KV.
func (k *KV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := k.begin(ctx, "update", key, true); err != nil {
		return 0, err
	}
	defer k.mu.Unlock()
	e := k.entries[key]
	switch {
	case e == nil || e.deleted:
		return 0, fmt.Errorf("%s: update %q: %w", k.name, key, apierr.ErrNotFound)
	case rev == 0 || e.rev != rev:
		return 0, fmt.Errorf("%s: update %q at revision %d (it is at %d): %w", k.name, key, rev, e.rev, apierr.ErrConflict)
	}
	return k.putLocked(key, value), nil
}

// Delete implements chat.KV.
func (k *KV) Delete(ctx context.Context, key string, rev uint64) error {
	if err := k.begin(ctx, "delete", key, true); err != nil {
		return err
	}
	defer k.mu.Unlock()
	if e := k.entries[key]; rev != 0 && (e == nil || e.rev != rev) {
		return fmt.Errorf("%s: delete %q at revision %d: %w", k.name, key, rev, apierr.ErrConflict)
	}
	k.markLocked(key)
	return nil
}

// Purge deletes a live key whatever its revision, as the bucket's
// expiry or an operator's purge does: a marker takes its place and
// watches see it deleted.
func (k *KV) Purge(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.entries[key]; e != nil && !e.deleted {
		k.markLocked(key)
	}
}

// Keys implements chat.KV.
func (k *KV) Keys(ctx context.Context) ([]string, error) {
	if err := k.begin(ctx, "keys", "", false); err != nil {
		return nil, err
	}
	defer k.mu.Unlock()
	keys := []string{}
	for key, e := range k.entries {
		if !e.deleted {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// Revision is the bucket's last revision (0 while empty).
func (k *KV) Revision() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.rev
}

// putLocked stores value at the next revision and tells the watches.
func (k *KV) putLocked(key string, value []byte) uint64 {
	k.rev++
	e := k.entries[key]
	if e == nil {
		e = &kvEntry{}
		k.entries[key] = e
	}
	e.value, e.rev, e.deleted = slices.Clone(value), k.rev, false
	k.expireLocked(key, e, k.expire)
	k.notifyLocked(chat.Entry{Key: key, Value: slices.Clone(value), Revision: k.rev})
	return k.rev
}

// markLocked replaces the key by a delete marker at the next revision.
func (k *KV) markLocked(key string) {
	k.rev++
	e := k.entries[key]
	if e == nil {
		e = &kvEntry{}
		k.entries[key] = e
	}
	e.value, e.rev, e.deleted = nil, k.rev, true
	k.expireLocked(key, e, k.forget)
	k.notifyLocked(chat.Entry{Key: key, Revision: k.rev, Deleted: true})
}

// expireLocked (re)arms the TTL of e: at its end, then(key, rev) runs.
func (k *KV) expireLocked(key string, e *kvEntry, then func(key string, rev uint64)) {
	if e.expiry != nil {
		e.expiry.Stop()
		e.expiry = nil
	}
	if k.ttl <= 0 {
		return
	}
	rev := e.rev
	e.expiry = k.clock.AfterFunc(k.ttl, func() { then(key, rev) })
}

// expire turns a live entry still at rev into a marker (TTL expiry).
func (k *KV) expire(key string, rev uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.entries[key]; e != nil && !e.deleted && e.rev == rev {
		k.markLocked(key)
	}
}

// forget drops a delete marker still at rev (the marker's own TTL).
func (k *KV) forget(key string, rev uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.entries[key]; e != nil && e.deleted && e.rev == rev {
		delete(k.entries, key)
	}
}

// Watch implements chat.KV.
func (k *KV) Watch(ctx context.Context, fn func(chat.Entry), onReady func()) error {
	if err := k.begin(ctx, "watch", "", false); err != nil {
		return err
	}
	w := &kvWatcher{wake: make(chan struct{}, 1)}
	for key, e := range k.entries {
		if !e.deleted {
			w.queue = append(w.queue, kvItem{e: chat.Entry{Key: key, Value: slices.Clone(e.value), Revision: e.rev}})
		}
	}
	slices.SortFunc(w.queue, func(a, b kvItem) int { return cmp.Compare(a.e.Revision, b.e.Revision) })
	w.queue = append(w.queue, kvItem{ready: true})
	k.watchers[w] = struct{}{}
	k.mu.Unlock()
	go func() {
		<-ctx.Done()
		k.mu.Lock()
		delete(k.watchers, w)
		k.mu.Unlock()
	}()
	go w.run(ctx, fn, onReady)
	return nil
}

func (k *KV) notifyLocked(e chat.Entry) {
	for w := range k.watchers {
		w.push(kvItem{e: e})
	}
}

// kvWatcher is one Watch: an unbounded queue drained by one goroutine,
// so that writers never wait for a watch's callback.
type kvWatcher struct {
	mu    sync.Mutex
	queue []kvItem
	wake  chan struct{}
}

type kvItem struct {
	e     chat.Entry
	ready bool // the initial entries are delivered
}

func (w *kvWatcher) push(it kvItem) {
	w.mu.Lock()
	w.queue = append(w.queue, it)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *kvWatcher) run(ctx context.Context, fn func(chat.Entry), onReady func()) {
	for {
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, it := range q {
			if ctx.Err() != nil {
				return
			}
			if it.ready {
				if onReady != nil {
					onReady()
				}
				continue
			}
			fn(it.e)
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
	}
}

// realClock is real time, for fakes given no Clock.
type realClock struct{}

func (realClock) Now() time.Time                                 { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) chat.Timer { return time.AfterFunc(d, f) }
func (realClock) NewTicker(d time.Duration) chat.Ticker          { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }
