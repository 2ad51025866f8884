package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys is Config.MaxKeys's default.
const DefaultMaxKeys = 100_000

// sweepEvery is how often a shard drops its idle keys.
const sweepEvery = time.Minute

const numShards = 16

// Config configures a Keyed limiter. Zero fields take the defaults shown.
type Config struct {
	// Limit is what each key may do; the zero Limit or an Off one allows
	// everything.
	Limit Limit
	// Share, if set, returns how many nodes enforce this limit together
	// (at least 1): each then allows its share, Limit divided by the
	// count (burst rounded down, at least 1), so that the keys' total over
	// every node stays within Limit. It is called without any lock held.
	Share func() int
	// MaxKeys bounds the keys remembered (default DefaultMaxKeys). Past
	// it, keys whose bucket is full (idle ones, which lose nothing by
	// being forgotten) are dropped first, then arbitrary ones.
	MaxKeys int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Keyed is a set of token buckets, one per key (a user id, a client
// address). Safe for concurrent use; build one with New.
type Keyed struct {
	cfg    Config
	off    bool
	seed   maphash.Seed
	shards [numShards]keyedShard
}

type keyedShard struct {
	mu        sync.Mutex
	m         map[string]*entry
	swept     time.Time // last sweep of idle keys
	fullSweep time.Time // last sweep forced by MaxKeys
}

type entry struct {
	lim   *rate.Limiter
	share int
}

// New returns a Keyed limiter.
func New(cfg Config) *Keyed {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	k := &Keyed{cfg: cfg, off: cfg.Limit.Off || cfg.Limit.IsZero(), seed: maphash.MakeSeed()}
	now := cfg.Now()
	for i := range k.shards {
		k.shards[i].m = make(map[string]*entry)
		k.shards[i].swept = now
	}
	return k
}

// Limit returns the configured limit.
func (k *Keyed) Limit() Limit { return k.cfg.Limit }

// shareOf is the rate and burst of one node's share.
func (k *Keyed) shareOf(n int) (rate.Limit, int) {
	l := k.cfg.Limit
	return l.Rate() / rate.Limit(n), max(1, l.Burst/n)
}

// Allow takes one token from key's bucket. When there is none it takes
// nothing and returns false and how long until there will be one.
func (k *Keyed) Allow(key string) (ok bool, retryAfter time.Duration) {
	ok, retryAfter, _ = k.take(key, false)
	return ok, retryAfter
}

// Take is Allow for an event that may not happen after all (e.g. the
// nickname turns out to be taken): when ok, undo gives the token back
// (as far as later takes left room for it). undo is never nil.
func (k *Keyed) Take(key string) (ok bool, retryAfter time.Duration, undo func()) {
	return k.take(key, true)
}

func (k *Keyed) take(key string, undoable bool) (ok bool, retryAfter time.Duration, undo func()) {
	undo = func() {}
	if k == nil || k.off {
		return true, 0, undo
	}
	share := 1
	if k.cfg.Share != nil {
		share = max(1, k.cfg.Share())
	}
	now := k.cfg.Now()
	sh := &k.shards[maphash.String(k.seed, key)%numShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if now.Sub(sh.swept) >= sweepEvery {
		sh.sweep(now)
	}
	e := sh.m[key]
	if e == nil {
		sh.makeRoom(now, k.cfg.MaxKeys/numShards+1)
		r, b := k.shareOf(share)
		e = &entry{lim: rate.NewLimiter(r, b), share: share}
		sh.m[key] = e
	} else if e.share != share {
		r, b := k.shareOf(share)
		e.lim.SetLimitAt(now, r)
		e.lim.SetBurstAt(now, b)
		e.share = share
	}
	if undoable {
		if r := e.lim.ReserveN(now, 1); r.OK() && r.DelayFrom(now) == 0 {
			// At the time of the take: a reservation cancelled later
			// counts as used (x/time/rate).
			return true, 0, func() { r.CancelAt(now) }
		} else if r.OK() {
			r.CancelAt(now)
		}
	} else if e.lim.AllowN(now, 1) {
		return true, 0, undo
	}
	// Not enough tokens: the wait is the time to refill the missing part.
	missing := 1 - e.lim.TokensAt(now)
	wait := time.Duration(missing / float64(e.lim.Limit()) * float64(time.Second))
	return false, max(wait, time.Millisecond), undo
}

// makeRoom keeps the shard under max keys before one is added.
func (sh *keyedShard) makeRoom(now time.Time, limit int) {
	if len(sh.m) < limit {
		return
	}
	// A full sweep is O(keys): at most once a second however hard the
	// shard is pushed; in between, arbitrary keys make room.
	if now.Sub(sh.fullSweep) >= time.Second {
		sh.fullSweep = now
		sh.sweep(now)
	}
	for key := range sh.m {
		if len(sh.m) < limit {
			break
		}
		delete(sh.m, key)
	}
}

// sweep forgets the keys whose bucket is full again: a new bucket would
// be the same.
func (sh *keyedShard) sweep(now time.Time) {
	sh.swept = now
	for key, e := range sh.m {
		if e.lim.TokensAt(now) >= float64(e.lim.Burst()) {
			delete(sh.m, key)
		}
	}
}

// Forget drops key's bucket (e.g. the user is gone).
func (k *Keyed) Forget(key string) {
	if k == nil || k.off {
		return
	}
	sh := &k.shards[maphash.String(k.seed, key)%numShards]
	sh.mu.Lock()
	delete(sh.m, key)
	sh.mu.Unlock()
}

// Len is the number of keys remembered.
func (k *Keyed) Len() int {
	n := 0
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Counter counts concurrent uses per key (e.g. sessions per client
// address) up to a maximum. Safe for concurrent use; build one with
// NewCounter. Keys with no use are not kept, so its memory is bounded by
// the uses held.
type Counter struct {
	max int
	mu  sync.Mutex
	m   map[string]int
}

// NewCounter returns a Counter allowing maxUses per key; 0 or less means
// no maximum.
func NewCounter(maxUses int) *Counter {
	return &Counter{max: maxUses, m: make(map[string]int)}
}

// Acquire takes one use of key, or returns false when key holds the
// maximum. release gives the use back; it may be called more than once.
func (c *Counter) Acquire(key string) (release func(), ok bool) {
	c.mu.Lock()
	if c.max > 0 && c.m[key] >= c.max {
		c.mu.Unlock()
		return nil, false
	}
	c.m[key]++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			if c.m[key]--; c.m[key] <= 0 {
				delete(c.m, key)
			}
			c.mu.Unlock()
		})
	}, true
}

// Count is how many uses key holds.
func (c *Counter) Count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}
