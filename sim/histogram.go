package sim

import (
	"math"
	"math/bits"
	"time"
)

// The latency histogram is log-linear: values below 2^histSubBits ns get a
// bucket each, every higher power of two is split into histSub equal
// buckets, so a bucket is at most 1/32 (about 3%) wide relative to its
// value. Values of 2^histMaxExp ns (about 18 minutes) and more share the last
// bucket; the exact maximum is kept separately.
const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histMaxExp  = 40
	histBuckets = (histMaxExp - histSubBits + 1) * histSub
)

// histogram counts latencies in a fixed number of buckets, so that a long
// run at a high rate uses the same memory as a short one. It is not safe for
// concurrent use; each device keeps its own and they are merged at the end.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    int64
}

func bucketOf(v int64) int {
	if v < histSub {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 1
	if e >= histMaxExp {
		return histBuckets - 1
	}
	sub := int(v>>(e-histSubBits)) & (histSub - 1)
	return (e-histSubBits+1)*histSub + sub
}

// bucketUpper returns the largest value that falls into bucket i.
func bucketUpper(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	if i == histBuckets-1 {
		return math.MaxInt64
	}
	e := i/histSub + histSubBits - 1
	shift := e - histSubBits
	lower := int64(histSub+i%histSub) << shift
	return lower + 1<<shift - 1
}

func (h *histogram) record(d int64) {
	h.counts[bucketOf(d)]++
	h.total++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns an upper bound of the q-quantile (0 < q <= 1), never
// above the largest recorded value; 0 when nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketUpper(i), h.max))
		}
	}
	return time.Duration(h.max)
}
