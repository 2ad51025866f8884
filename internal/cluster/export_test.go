package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SetFollowCheck sets how often the Follows started afterwards check
// their consumer.
func (l *Log) SetFollowCheck(d time.Duration) { l.followCheck = d }

// SetSincePullWait sets how long Since waits for each event of its
// consumer before it reads the rest from the stream leader.
func (l *Log) SetSincePullWait(d time.Duration) { l.sincePullWait = d }

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

// LosePublishes makes the next n appends' publishes get no ack: with
// stored, the stream stores the event and its ack is lost; without, the
// publish never reaches the stream. Either way the future fails as
// nats.go's does when no ack came within Options.AppendAttempt.
// It returns how many were lost so far.
func (l *Log) LosePublishes(n int, stored bool) (lost func() int) {
	return l.replacePublishes(n, func(real publishFunc, subject string, data []byte, opts []jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
		if stored {
			if _, err := real(subject, data, opts...); err != nil {
				return nil, err
			}
		}
		f := &lostFuture{err: make(chan error, 1), msg: &nats.Msg{Subject: subject, Data: data}}
		time.AfterFunc(l.c.opts.AppendAttempt, func() { f.err <- jetstream.ErrAsyncPublishTimeout })
		return f, nil
	})
}

// FailPublishes makes the next n appends' publishes fail at once with
// err, as nats.go's future does (the publish never reaches the stream).
func (l *Log) FailPublishes(n int, err error) {
	l.replacePublishes(n, func(_ publishFunc, subject string, data []byte, _ []jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
		f := &lostFuture{err: make(chan error, 1), msg: &nats.Msg{Subject: subject, Data: data}}
		f.err <- err
		return f, nil
	})
}

type publishFunc = func(subject string, data []byte, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)

// replacePublishes makes fake answer the next n appends' publishes
// instead of the real publish (which it is given); the ones after go
// through. It returns how many fake has answered so far.
func (l *Log) replacePublishes(n int, fake func(real publishFunc, subject string, data []byte, opts []jetstream.PublishOpt) (jetstream.PubAckFuture, error)) (taken func() int) {
	var mu sync.Mutex
	left, done := n, 0
	real := l.publish
	l.publish = func(subject string, data []byte, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
		mu.Lock()
		take := left > 0
		if take {
			left--
			done++
		}
		mu.Unlock()
		if !take {
			return real(subject, data, opts...)
		}
		return fake(real, subject, data, opts)
	}
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return done
	}
}

// lostFuture is a publish whose ack never comes.
type lostFuture struct {
	err chan error
	msg *nats.Msg
}

func (f *lostFuture) Ok() <-chan *jetstream.PubAck { return nil }
func (f *lostFuture) Err() <-chan error            { return f.err }
func (f *lostFuture) Msg() *nats.Msg               { return f.msg }

// SetReadStall sets how long one read of an object may wait for its
// chunks (objectReadStall).
func (o *Objects) SetReadStall(d time.Duration) { o.readStall = d }
