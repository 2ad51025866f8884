package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a token-bucket rate: Events per Per on average, at most Burst
// at once. Off disables the limit. The zero Limit is unset (callers
// substitute their default); it allows nothing if used as is.
type Limit struct {
	Events int
	Per    time.Duration
	Burst  int
	Off    bool
}

// Unlimited is the Limit that allows everything.
var Unlimited = Limit{Off: true}

// IsZero reports whether l is unset.
func (l Limit) IsZero() bool { return l == Limit{} }

// Rate is the refill rate in tokens per second.
func (l Limit) Rate() rate.Limit {
	if l.Off {
		return rate.Inf
	}
	if l.Per <= 0 {
		return 0
	}
	return rate.Limit(float64(l.Events) / l.Per.Seconds())
}

// String is the "N/period:burst" form ParseLimit reads, or "off".
func (l Limit) String() string {
	if l.Off {
		return "off"
	}
	return fmt.Sprintf("%d/%s:%d", l.Events, fmtPeriod(l.Per), l.Burst)
}

// fmtPeriod writes 1s, 1m, 1h rather than time.Duration's 1m0s, 1h0m0s.
func fmtPeriod(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// Validate reports whether l can be used: off, or a positive event
// count, period and burst.
func (l Limit) Validate() error {
	if l.Off {
		return nil
	}
	if l.Events < 1 || l.Per <= 0 || l.Burst < 1 {
		return fmt.Errorf("limit %s: want N/period:burst with N, period and burst positive, or off", l)
	}
	return nil
}

// ParseLimit reads "N/period:burst" (period a Go duration; "N/period"
// alone means a burst of N) or "off".
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return Unlimited, nil
	}
	num, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Limit{}, fmt.Errorf("limit %q: want N/period[:burst] (e.g. 5/1s:20) or off", s)
	}
	per, burst, hasBurst := strings.Cut(rest, ":")
	var l Limit
	var err error
	if l.Events, err = strconv.Atoi(num); err != nil {
		return Limit{}, fmt.Errorf("limit %q: count: %w", s, err)
	}
	if l.Per, err = time.ParseDuration(per); err != nil {
		return Limit{}, fmt.Errorf("limit %q: period: %w", s, err)
	}
	l.Burst = l.Events
	if hasBurst {
		if l.Burst, err = strconv.Atoi(burst); err != nil {
			return Limit{}, fmt.Errorf("limit %q: burst: %w", s, err)
		}
	}
	if err := l.Validate(); err != nil {
		return Limit{}, fmt.Errorf("limit %q: count, period and burst must be positive", s)
	}
	return l, nil
}

// Set implements flag.Value.
func (l *Limit) Set(s string) error {
	v, err := ParseLimit(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}
