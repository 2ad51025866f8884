package cluster

import "time"

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
