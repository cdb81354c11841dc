package tsdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/netstorage"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/searchutil"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmstorage"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/decimal"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/storage"
)

// MaxDownsamplePoints is the most steps one Downsample call may ask for:
// Prometheus' own limit per series, so that a range a Prometheus client
// would ask for is accepted, and more than any chart draws.
const MaxDownsamplePoints = 11_000

// DownsampleQuery asks for one metric of one device, summarised per step.
type DownsampleQuery struct {
	// Device and Customer select the series as Append labelled them. The
	// customer is part of the selection so that a device name deleted and
	// registered again for another customer never shows the earlier
	// owner's samples; "" selects series appended without a customer.
	Device, Customer string
	// Metric is a letter or '_' followed by letters, digits and '_'.
	Metric string
	// Start and End (after Start) bound the steps: there is one step
	// ending at Start, Start+Step, … up to End, each over the samples in
	// (its end - Step, its end]. Times count in whole milliseconds, from
	// 1970 to the end of the year 9999.
	Start, End time.Time
	// Step is at least a second, in whole milliseconds, and gives at most
	// MaxDownsamplePoints steps from Start to End.
	Step time.Duration
}

// StepSummary is what the samples of one step hold.
type StepSummary struct {
	Timestamp     int64 // unix milliseconds: the end of the step
	Min, Avg, Max float64
	Count         int // samples in the step, at least 1
}

// stepFold is a StepSummary under construction.
type stepFold struct {
	min, max, sum float64
	n             int
}

// Downsample returns the minimum, average and maximum of one metric of one
// device at every step of q that holds a sample, sorted by time.
//
// It reads the samples once, block by block from the storage's own search,
// and folds each into its step as it goes, without first gathering a
// series into one array: a year of one-minute samples is half a million of
// them. Duplicate samples (the same millisecond twice, as a repeated QoS 1
// delivery stores them) count once, with the value the storage's own
// deduplication keeps. Blocks of one series that overlap in time — recent
// samples in parts not merged yet, a repeated delivery in another part —
// are merged before they are folded, as the query engine merges them.
//
// A device moved to another site has one series per site; where they
// overlap, every sample of either counts once, so Avg is the mean of all the
// step's samples, not the mean of the series' means. Samples that are not
// finite numbers — staleness markers and infinities, which Append refuses
// but other writers may store — are skipped, and a step without a finite
// sample is left out: JSON cannot carry NaN or infinities.
//
// The steps are those of QueryRange with min_over_time, avg_over_time and
// max_over_time over [Step]. Downsample does not go through the query
// engine, whose one-pass form of this (aggr_over_time with min, max, sum
// and count) pays per step and rollup. The engine's result cache would not
// make up for it: it needs Start and End on multiples of Step, which charts
// that end now are not.
//
// Invalid arguments return an error wrapping ErrInvalidQuery. Downsample
// takes one of the DB's query slots, like QueryRange: ErrBusy when none
// becomes free in time, and ctx's deadline (or 30 s) bounds the search.
func (db *DB) Downsample(ctx context.Context, q DownsampleQuery) ([]StepSummary, error) {
	out, err := db.DownsampleMany(ctx, []DownsampleQuery{q})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// DownsampleMany is Downsample for several queries at once, such as the
// metrics of one chart: it takes one query slot and runs the queries side
// by side on up to GOMAXPROCS goroutines. The answers are in the order of
// qs. Any invalid query fails the call before anything is read; so does
// an empty qs.
func (db *DB) DownsampleMany(ctx context.Context, qs []DownsampleQuery) ([][]StepSummary, error) {
	if len(qs) == 0 {
		return nil, fmt.Errorf("%w: no query", ErrInvalidQuery)
	}
	for _, q := range qs {
		if _, _, _, err := q.validate(); err != nil {
			return nil, err
		}
	}
	out := make([][]StepSummary, len(qs))
	err := db.inSlot(ctx, func(deadline searchutil.Deadline) error {
		gen := db.readFilter()
		errs := make([]error, len(qs))
		next := atomic.Int64{}
		work := func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(qs) {
					return
				}
				out[i], errs[i] = downsample(qs[i], gen, deadline)
			}
		}
		var wg sync.WaitGroup
		for range min(len(qs), runtime.GOMAXPROCS(0)) - 1 {
			wg.Go(work)
		}
		work()
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// downsample answers one valid query within a query slot.
func downsample(q DownsampleQuery, gen storage.TagFilter, deadline searchutil.Deadline) ([]StepSummary, error) {
	start, end, step, _ := q.validate()
	folds := make([]stepFold, (end-start)/step+1)
	reset := func() {
		for i := range folds {
			folds[i] = stepFold{min: math.Inf(1), max: math.Inf(-1)}
		}
	}
	reset()
	// The metric name goes under the empty key, as the storage keeps it.
	filters := [][]storage.TagFilter{{
		{Value: []byte(q.Metric)},
		{Key: []byte("device"), Value: []byte(q.Device)},
		{Key: []byte("customer"), Value: []byte(q.Customer)},
		gen,
	}}
	// The first step reaches back to start-step, exclusive.
	sq := storage.NewSearchQuery(start-step+1, end, filters, 0)
	merged, err := foldBlocks(folds, sq, deadline, start, step)
	if err == nil && !merged {
		reset()
		err = foldMerged(folds, sq, deadline, start, step)
	}
	if err != nil {
		return nil, fmt.Errorf("downsample %s of device %q: %w", q.Metric, q.Device, classify(err))
	}
	out := make([]StepSummary, 0, len(folds))
	for i, f := range folds {
		if f.n == 0 {
			continue
		}
		avg := f.sum / float64(f.n)
		if math.IsInf(avg, 0) {
			continue // finite samples whose sum is not
		}
		out = append(out, StepSummary{Timestamp: start + int64(i)*step, Min: f.min, Avg: avg, Max: f.max, Count: f.n})
	}
	return out, nil
}

// foldBlocks folds the samples of sq into folds block by block. The search
// yields the blocks of a series one after another, in order of their first
// timestamp. Blocks that overlap in time — parts not merged yet, such as
// two flushes' worth of samples that went to different shards — are merged
// and deduplicated before they are folded, as the query engine does it.
//
// It returns false, with folds partly filled, if a series' blocks do not
// come one after another after all (one metric name under two series IDs):
// then only foldMerged, which gathers blocks by name, reads them right.
func foldBlocks(folds []stepFold, sq *storage.SearchQuery, deadline searchutil.Deadline, start, step int64) (bool, error) {
	sr, _, err := vmstorage.GetSearch(nil, sq, deadline.Deadline())
	if err != nil {
		return false, err
	}
	defer vmstorage.PutSearch(sr)
	tr := sq.GetTimeRange()
	b := blockBufs.Get().(*blockBuf)
	defer blockBufs.Put(b)
	clear(b.seen)
	b.name = b.name[:0]
	// The pending samples are the series' latest blocks, merged: the next
	// block may still overlap them.
	b.pts, b.pvs = b.pts[:0], b.pvs[:0]
	foldPending := func() {
		n := dedupSorted(b.pts, b.pvs)
		foldSeries(folds, b.pts[:n], b.pvs[:n], start, step)
		b.pts, b.pvs = b.pts[:0], b.pvs[:0]
	}
	for sr.NextMetricBlock() {
		if deadline.Exceeded() {
			return false, fmt.Errorf("timeout exceeded while reading the samples: %s", deadline.String())
		}
		sr.MetricBlockRef.BlockRef.MustReadBlock(&b.block)
		if err := b.block.UnmarshalData(); err != nil {
			return false, fmt.Errorf("read a block of samples: %w", err)
		}
		b.ts, b.vs = b.block.AppendRowsWithTimeRangeFilter(b.ts[:0], b.vs[:0], tr)
		if len(b.ts) == 0 {
			continue
		}
		name := sr.MetricBlockRef.MetricName
		switch {
		case !bytes.Equal(name, b.name):
			foldPending()
			if _, ok := b.seen[string(name)]; ok {
				return false, nil
			}
			b.seen[string(name)] = struct{}{}
			b.name = append(b.name[:0], name...)
			b.ts, b.pts = b.pts, b.ts
			b.vs, b.pvs = b.pvs, b.vs
		case len(b.pts) == 0 || b.ts[0] > b.pts[len(b.pts)-1]:
			foldPending()
			b.ts, b.pts = b.pts, b.ts
			b.vs, b.pvs = b.pvs, b.vs
		default:
			b.mts, b.mvs = mergeSamples(b.mts[:0], b.mvs[:0], b.pts, b.pvs, b.ts, b.vs)
			b.mts, b.pts = b.pts, b.mts
			b.mvs, b.pvs = b.pvs, b.mvs
		}
	}
	if err := sr.Error(); err != nil {
		return false, err
	}
	foldPending()
	return true, nil
}

// blockBuf is what foldBlocks reuses from one call to the next.
type blockBuf struct {
	block   storage.Block
	name    []byte              // the series being read
	seen    map[string]struct{} // the series read
	ts, pts []int64             // the block read, the pending samples
	vs, pvs []float64
	mts     []int64 // room for merging
	mvs     []float64
}

var blockBufs = sync.Pool{New: func() any { return &blockBuf{seen: map[string]struct{}{}} }}

// mergeSamples appends the samples of a and b, each sorted by time, to
// dts and dvs in time order.
func mergeSamples(dts []int64, dvs []float64, ats []int64, avs []float64, bts []int64, bvs []float64) ([]int64, []float64) {
	i, j := 0, 0
	for i < len(ats) && j < len(bts) {
		if ats[i] <= bts[j] {
			dts, dvs = append(dts, ats[i]), append(dvs, avs[i])
			i++
		} else {
			dts, dvs = append(dts, bts[j]), append(dvs, bvs[j])
			j++
		}
	}
	dts, dvs = append(dts, ats[i:]...), append(dvs, avs[i:]...)
	dts, dvs = append(dts, bts[j:]...), append(dvs, bvs[j:]...)
	return dts, dvs
}

// dedupSorted keeps one sample of each run of equal timestamps in ts (sorted)
// and vs, in place, and returns how many are left. The value kept is the
// one the storage's deduplication keeps (storage.DeduplicateSamples with an
// interval of 1 ms): the largest, a staleness marker only when nothing else.
// The storage deduplicates every block it writes, so this finds nothing to
// do unless that changes; it keeps the fold exact if it does.
func dedupSorted(ts []int64, vs []float64) int {
	// The common case, nothing to drop, in a tight loop.
	first := 1
	for first < len(ts) && ts[first] != ts[first-1] {
		first++
	}
	if first >= len(ts) {
		return len(ts)
	}
	n := first - 1
	for i := first - 1; i < len(ts); {
		j := i + 1
		for j < len(ts) && ts[j] == ts[i] {
			j++
		}
		v := vs[j-1]
		for k := j - 2; k >= i; k-- {
			c := vs[k]
			switch {
			case decimal.IsStaleNaN(c):
			case decimal.IsStaleNaN(v):
				v = c
			case c > v:
				v = c
			}
		}
		ts[n], vs[n] = ts[i], v
		n++
		i = j
	}
	return n
}

// foldMerged folds the samples of sq into folds as the query engine reads
// them: each series merged from its blocks and deduplicated.
func foldMerged(folds []stepFold, sq *storage.SearchQuery, deadline searchutil.Deadline, start, step int64) error {
	rss, err := netstorage.ProcessSearchQuery(nil, sq, deadline)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	return rss.RunParallel(nil, func(rs *netstorage.Result, _ uint) error {
		// One device's metric is one series, or a few: folding them
		// one at a time costs nothing worth a fold per worker.
		mu.Lock()
		defer mu.Unlock()
		foldSeries(folds, rs.Timestamps, rs.Values, start, step)
		return nil
	})
}

// foldSeries adds the finite samples of one series, sorted by time, to the
// steps ending at start, start+step, …: a sample at ts belongs to the step
// whose end is the first at or after ts.
func foldSeries(folds []stepFold, timestamps []int64, values []float64, start, step int64) {
	i := 0
	for i < len(timestamps) && timestamps[i] <= start-step {
		i++
	}
	if i == len(timestamps) {
		return
	}
	// The step of the first sample, found by division rather than by
	// walking from the first step: a series arrives in blocks.
	k := int64(0)
	if ts := timestamps[i]; ts > start {
		k = (ts - start + step - 1) / step
	}
	if k >= int64(len(folds)) {
		return
	}
	stepEnd := start + k*step
	for i < len(timestamps) {
		for timestamps[i] > stepEnd {
			k++
			if k == int64(len(folds)) {
				return
			}
			stepEnd += step
		}
		// The step's samples, folded in locals.
		f := folds[k]
		for ; i < len(timestamps) && timestamps[i] <= stepEnd; i++ {
			v := values[i]
			if v-v != 0 { // NaN or an infinity
				continue
			}
			if v < f.min {
				f.min = v
			}
			if v > f.max {
				f.max = v
			}
			f.sum += v
			f.n++
		}
		folds[k] = f
	}
}

// validate checks q and returns its start, end and step in milliseconds.
func (q DownsampleQuery) validate() (start, end, step int64, err error) {
	invalid := func(format string, args ...any) (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("%w: %s", ErrInvalidQuery, fmt.Sprintf(format, args...))
	}
	switch {
	case q.Device == "":
		return invalid("empty device name")
	case len(q.Device) > maxLabelLen || len(q.Customer) > maxLabelLen || len(q.Metric) > maxLabelLen:
		return invalid("device, customer and metric names are at most %d bytes long", maxLabelLen)
	case !validMetricName(q.Metric):
		return invalid("metric %q: a metric name is a letter or '_' followed by letters, digits and '_'", q.Metric)
	case q.Step < time.Second || q.Step%time.Millisecond != 0:
		return invalid("step %s: a step is at least 1s, in whole milliseconds", q.Step)
	}
	// The storage keeps no sample before 1970, and RFC 3339 writes no
	// year after 9999.
	minTime := time.UnixMilli(0).UTC()
	maxTime := time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
	for _, t := range [...]struct {
		name string
		t    time.Time
	}{{"start", q.Start}, {"end", q.End}} {
		if t.t.Before(minTime) || t.t.After(maxTime) {
			return invalid("%s %s: times from %s to %s are accepted", t.name, t.t.UTC().Format(time.RFC3339Nano),
				minTime.Format(time.RFC3339), maxTime.Format(time.RFC3339))
		}
	}
	start, end, step = q.Start.UnixMilli(), q.End.UnixMilli(), q.Step.Milliseconds()
	if start >= end {
		return invalid("start %s is not before end %s", q.Start.UTC().Format(time.RFC3339Nano), q.End.UTC().Format(time.RFC3339Nano))
	}
	if n := (end-start)/step + 1; n > MaxDownsamplePoints {
		return invalid("range %s with step %s gives %d points; at most %d are accepted: raise the step or narrow the range",
			q.End.Sub(q.Start), q.Step, n, MaxDownsamplePoints)
	}
	return start, end, step, nil
}

// validMetricName is the telemetry metric naming rule,
// ^[A-Za-z_][A-Za-z0-9_]*$, the same as Prometheus' for label names.
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
