package attachments

import (
	"math"
	"time"

	"github.com/chatrooms/chatrooms/internal/ratelimit"
)

// limiter is the per-user upload limit: a ratelimit.Keyed of perSecond
// uploads a second, burst at once (an infinite rate is no limit). Safe for
// concurrent use.
type limiter struct{ k *ratelimit.Keyed }

func newLimiter(perSecond float64, burst int) *limiter {
	l := ratelimit.Unlimited
	if !math.IsInf(perSecond, 1) && perSecond > 0 {
		l = ratelimit.Limit{Events: 1, Per: time.Duration(float64(time.Second) / perSecond), Burst: max(1, burst)}
	}
	return &limiter{k: ratelimit.New(ratelimit.Config{Limit: l})}
}

// allow takes an upload from key's allowance, or reports how long until
// one is available. now is ignored: the limiter keeps its own clock.
func (l *limiter) allow(key string, _ time.Time) (bool, time.Duration) {
	return l.k.Allow(key)
}
