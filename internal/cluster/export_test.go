package cluster

import (
	"context"
	"time"
)

// SetFollowCheck sets how often the Follows started afterwards check
// their consumer.
func (l *Log) SetFollowCheck(d time.Duration) { l.followCheck = d }

// SilenceFollows makes the consumers of every running Follow stop
// delivering without any error, as the one nats.go left silent after a
// stream leader's loss did.
func (l *Log) SilenceFollows() {
	l.followersMu.Lock()
	fs := append([]*follower(nil), l.followers...)
	l.followersMu.Unlock()
	for _, f := range fs {
		f.mu.Lock()
		cc := f.cc
		f.mu.Unlock()
		if cc != nil {
			cc.Stop()
		}
	}
}

// SetWatchCheck sets how often the Watches of k started afterwards check
// their watcher.
func (k *KV) SetWatchCheck(d time.Duration) { k.watchCheck = d }

// SilenceWatches pauses, on the server, every consumer of k's bucket
// stream that exists now (the running Watches' watchers): they stop
// delivering but keep sending idle heartbeats, so nats.go sees neither an
// error nor a gap, as with the watcher left silent after a NATS server
// was killed. It returns how many consumers it paused.
func (k *KV) SilenceWatches(ctx context.Context) (int, error) {
	stream := "KV_" + k.bucket
	st, err := k.c.js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	names := st.ConsumerNames(ctx)
	var paused []string
	for name := range names.Name() {
		paused = append(paused, name)
	}
	if err := names.Err(); err != nil {
		return 0, err
	}
	for _, name := range paused {
		if _, err := k.c.js.PauseConsumer(ctx, stream, name, time.Now().Add(time.Hour)); err != nil {
			return 0, err
		}
	}
	return len(paused), nil
}

// StreamMsgs is how many messages k's bucket stream holds (delete
// markers included).
func (k *KV) StreamMsgs(ctx context.Context) (uint64, error) {
	st, err := k.c.js.Stream(ctx, "KV_"+k.bucket)
	if err != nil {
		return 0, err
	}
	return st.CachedInfo().State.Msgs, nil
}
