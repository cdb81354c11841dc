package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 1 << 20, 123456789, 1<<40 - 1} {
		b := bucketOf(v)
		if b < prev {
			t.Errorf("bucketOf(%d) = %d, below bucket %d of a smaller value", v, b, prev)
		}
		prev = b
		if up := bucketUpper(b); up < v {
			t.Errorf("bucketUpper(bucketOf(%d)) = %d, below the value", v, up)
		}
		if b > 0 && bucketUpper(b-1) >= v {
			t.Errorf("value %d also fits bucket %d (upper %d)", v, b-1, bucketUpper(b-1))
		}
	}
	for _, v := range []int64{1 << 40, math.MaxInt64} {
		if b := bucketOf(v); b != histBuckets-1 {
			t.Errorf("bucketOf(%d) = %d, want last bucket %d", v, b, histBuckets-1)
		}
	}
	if b := bucketOf(-5); b != 0 {
		t.Errorf("bucketOf(-5) = %d, want 0", b)
	}
	for i := histSub; i < histBuckets-1; i++ {
		lo, up := bucketUpper(i-1)+1, bucketUpper(i)
		if bucketOf(lo) != i || bucketOf(up) != i {
			t.Fatalf("bucket %d spans %d..%d but bucketOf gives %d..%d", i, lo, up, bucketOf(lo), bucketOf(up))
		}
		if width := float64(up-lo+1) / float64(lo); width > 1.0/histSub+1e-9 {
			t.Fatalf("bucket %d is %.4f wide relative to its value", i, width)
		}
	}
}

func TestQuantile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	values := make([]int64, 100_000)
	for i := range values {
		// Log-normal around 1 ms, like broker latencies.
		values[i] = int64(float64(time.Millisecond) * math.Exp(rng.NormFloat64()))
		h.record(values[i])
	}
	slices.Sort(values)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := values[int(math.Ceil(q*float64(len(values))))-1]
		got := int64(h.quantile(q))
		if got < exact || float64(got-exact) > float64(exact)/histSub {
			t.Errorf("quantile(%v) = %d, exact %d: outside [exact, exact+1/%d]", q, got, exact, histSub)
		}
	}
	if got := h.quantile(1); int64(got) != values[len(values)-1] {
		t.Errorf("quantile(1) = %d, want max %d", got, values[len(values)-1])
	}
	var empty histogram
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all histogram
	for i := int64(1); i <= 1000; i++ {
		all.record(i * 1000)
		if i%2 == 0 {
			a.record(i * 1000)
		} else {
			b.record(i * 1000)
		}
	}
	a.merge(&b)
	if a != all {
		t.Errorf("merged histogram differs: total %d max %d, want %d %d", a.total, a.max, all.total, all.max)
	}
}
