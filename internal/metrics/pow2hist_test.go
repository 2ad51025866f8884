package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestPow2HistogramBucket(t *testing.T) {
	h := newPow2Histogram("t", "t", latencyBase)
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0}, // another node's clock ahead
		{0, 0},
		{time.Nanosecond, 0},
		{500 * time.Microsecond, 0}, // le is inclusive
		{500*time.Microsecond + 1, 1},
		{time.Millisecond, 1},
		{time.Millisecond + 1, 2},
		{3 * time.Millisecond, 3},
		{4 * time.Millisecond, 3},
		{4*time.Millisecond + 1, 4},
		{500 * time.Microsecond << 15, 15}, // the last bound, 16.384 s
		{500*time.Microsecond<<15 + 1, pow2Buckets},
		{time.Hour, pow2Buckets},
		{math.MaxInt64, pow2Buckets},
	}
	for _, tt := range tests {
		if got := h.bucket(tt.d); got != tt.want {
			t.Errorf("bucket(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// TestPow2HistogramMatchesClientLibrary observes the same durations into
// a pow2Histogram (one at a time and in batches) and into the client library's Histogram with
// latencyBuckets, and compares what a scrape of each gets: the same
// bounds, the same cumulative counts, the same count and (to the
// microsecond rounding of each observation) the same sum.
func TestPow2HistogramMatchesClientLibrary(t *testing.T) {
	ours := newPow2Histogram("t", "t", latencyBase)
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ref", Buckets: latencyBuckets})
	rng := rand.New(rand.NewPCG(1, 2))
	edges := []time.Duration{-time.Millisecond, 0, 500 * time.Microsecond, 500*time.Microsecond + 1, 8 * time.Millisecond, 20 * time.Second}
	var n int
	observe := func(d time.Duration) {
		ours.ObserveAll([]time.Duration{d})
		ref.Observe(d.Seconds())
		n++
	}
	for _, d := range edges {
		observe(d)
	}
	// Then in batches of 1 to 64, as the writers report them: log-uniform
	// over 1 ns to 30 s, so that every bucket gets some.
	for range 400 {
		batch := make([]time.Duration, 1+rng.IntN(64))
		for i := range batch {
			batch[i] = time.Duration(math.Exp(rng.Float64() * math.Log(3e10)))
			ref.Observe(batch[i].Seconds())
		}
		ours.ObserveAll(batch)
		n += len(batch)
	}
	got, want := collectOne(t, ours).GetHistogram(), collectOne(t, ref).GetHistogram()
	if got.GetSampleCount() != want.GetSampleCount() || got.GetSampleCount() != uint64(n) {
		t.Fatalf("count %d, client library %d, observed %d", got.GetSampleCount(), want.GetSampleCount(), n)
	}
	if d := math.Abs(got.GetSampleSum() - want.GetSampleSum()); d > float64(n)*0.5e-6 {
		t.Errorf("sum %v, client library %v: differ by %v", got.GetSampleSum(), want.GetSampleSum(), d)
	}
	if len(got.Bucket) != len(want.Bucket) {
		t.Fatalf("%d buckets, client library %d", len(got.Bucket), len(want.Bucket))
	}
	for i := range want.Bucket {
		g, w := got.Bucket[i], want.Bucket[i]
		if g.GetUpperBound() != w.GetUpperBound() || g.GetCumulativeCount() != w.GetCumulativeCount() {
			t.Errorf("bucket %d: le=%v count %d, client library le=%v count %d",
				i, g.GetUpperBound(), g.GetCumulativeCount(), w.GetUpperBound(), w.GetCumulativeCount())
		}
		if i > 0 && w.GetCumulativeCount() == want.Bucket[i-1].GetCumulativeCount() {
			t.Errorf("bucket %d got no observation: the test does not cover it", i)
		}
	}
}

func collectOne(t *testing.T, c prometheus.Collector) *dto.Metric {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// BenchmarkFanoutObserve is one observation of the fan-out latency, ours
// (one at a time, and five at a time as after a pool writev) against the
// client library's histogram with the same buckets.
func BenchmarkFanoutObserve(b *testing.B) {
	ds := make([]time.Duration, 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range ds {
		ds[i] = time.Duration(rng.Int64N(int64(100 * time.Millisecond)))
	}
	b.Run("pow2_one", func(b *testing.B) {
		h := newPow2Histogram("t", "t", latencyBase)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			j := i % len(ds)
			h.ObserveAll(ds[j : j+1])
		}
	})
	b.Run("pow2_batch5", func(b *testing.B) { // a pool writev's 5 frames
		h := newPow2Histogram("t", "t", latencyBase)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			j := i * 5 % (len(ds) - 5)
			h.ObserveAll(ds[j : j+5])
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*5), "ns/frame")
	})
	b.Run("client_golang", func(b *testing.B) {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ref", Buckets: latencyBuckets})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			h.Observe(ds[i%len(ds)].Seconds())
		}
	})
}
