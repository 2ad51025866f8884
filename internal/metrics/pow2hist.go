package metrics

import (
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// pow2Buckets is the number of finite buckets of a pow2Histogram: upper
// bounds base, 2·base, … 2^(pow2Buckets-1)·base, the bounds of
// latencyBuckets.
const pow2Buckets = 16

// pow2Histogram is a Prometheus histogram of durations whose buckets are
// a base and its doublings (latencyBuckets), observed with an integer
// shift and atomic additions, a write's durations together
// (ObserveAll): the fan-out latency is observed once a delivery, 200,000
// times a second under load, and the client library's Histogram.Observe
// (a binary search of the bounds, a compare-and-swap loop on a float
// sum, four atomic operations each time) took 2.9 % of the server's core
// at that rate and 6.5 % in a burst of room switches
// (docs/measurements.md). It exposes the same series a
// prometheus.Histogram with those buckets would: _bucket{le}, _sum in
// seconds, _count.
type pow2Histogram struct {
	desc   *prometheus.Desc
	baseNs int64
	counts [pow2Buckets + 1]atomic.Uint64 // the last one is +Inf's own
	sumUs  atomic.Int64                   // microseconds: no overflow in 290,000 years at 1 s a second
}

func newPow2Histogram(name, help string, base time.Duration) *pow2Histogram {
	return &pow2Histogram{
		desc:   prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil),
		baseNs: int64(base),
	}
}

// bucket is the index of the first bucket whose upper bound (inclusive,
// as Prometheus' le) is at least d; pow2Buckets past the last bound.
func (h *pow2Histogram) bucket(d time.Duration) int {
	if d <= time.Duration(h.baseNs) {
		return 0
	}
	// d in (base·2^(i-1), base·2^i] ⇔ (d-1)/base in [2^(i-1), 2^i).
	q := (int64(d) - 1) / h.baseNs                 // ≥ 0: d > base > 0
	return min(bits.Len64(uint64(q)), pow2Buckets) //nolint:gosec // q ≥ 0, as above
}

// ObserveAll counts every duration of ds, adding to each bucket once:
// the durations of one write are mostly a bucket or two apart. Safe for
// concurrent use.
func (h *pow2Histogram) ObserveAll(ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	var counts [pow2Buckets + 1]uint64
	var sum int64
	lo, hi := pow2Buckets, 0 // the buckets touched
	for _, d := range ds {
		b := h.bucket(d)
		counts[b]++
		lo, hi = min(lo, b), max(hi, b)
		sum += roundUs(d)
	}
	for i := lo; i <= hi; i++ {
		if n := counts[i]; n > 0 {
			h.counts[i].Add(n)
		}
	}
	h.sumUs.Add(sum)
}

// roundUs is d in whole microseconds, rounded half away from zero.
func roundUs(d time.Duration) int64 {
	return int64(d.Round(time.Microsecond) / time.Microsecond)
}

// Describe implements prometheus.Collector.
func (h *pow2Histogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector. The buckets are read one by
// one while observations go on, so a scrape may count an observation in
// _count and not yet in _sum (or the other way), as with the client
// library's histograms read mid-observation; every bucket is
// cumulative and _count is the +Inf bucket.
func (h *pow2Histogram) Collect(ch chan<- prometheus.Metric) {
	buckets := make(map[float64]uint64, pow2Buckets)
	var cum uint64
	for i := range pow2Buckets {
		cum += h.counts[i].Load()
		buckets[(time.Duration(h.baseNs) << i).Seconds()] = cum
	}
	cum += h.counts[pow2Buckets].Load()
	sum := float64(h.sumUs.Load()) / 1e6
	ch <- prometheus.MustNewConstHistogram(h.desc, cum, sum, buckets)
}
