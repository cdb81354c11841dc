package tsdb

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/netstorage"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/searchutil"
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
// It reads the samples once, through the storage's own search (which also
// drops duplicate samples), and folds each into its step. A device moved to
// another site has one series per site; where they overlap, every sample of
// either counts once, so Avg is the mean of all the step's samples, not the
// mean of the series' means. Samples that are not finite numbers —
// staleness markers and infinities, which Append refuses but other writers
// may store — are skipped, and a step without a finite sample is left out:
// JSON cannot carry NaN or infinities.
//
// The steps are those of QueryRange with min_over_time, avg_over_time and
// max_over_time over [Step]. Downsample does not go through the query
// engine, whose one-pass form of this (aggr_over_time with min, max, sum
// and count) pays per step and rollup: for a chart of about 720 steps over
// an hour or a day of minute samples Downsample takes a fifth to a third of
// its time, over 30 days the same (reading the samples dominates).
// The engine's result cache would not make up for it: it needs Start and End
// on multiples of Step, which charts that end now are not.
//
// Invalid arguments return an error wrapping ErrInvalidQuery. Downsample
// takes one of the DB's query slots, like QueryRange: ErrBusy when none
// becomes free in time, and ctx's deadline (or 30 s) bounds the search.
func (db *DB) Downsample(ctx context.Context, q DownsampleQuery) ([]StepSummary, error) {
	start, end, step, err := q.validate()
	if err != nil {
		return nil, err
	}
	folds := make([]stepFold, (end-start)/step+1)
	for i := range folds {
		folds[i] = stepFold{min: math.Inf(1), max: math.Inf(-1)}
	}
	// The metric name goes under the empty key, as the storage keeps it.
	filters := [][]storage.TagFilter{{
		{Value: []byte(q.Metric)},
		{Key: []byte("device"), Value: []byte(q.Device)},
		{Key: []byte("customer"), Value: []byte(q.Customer)},
	}}
	// The first step reaches back to start-step, exclusive.
	sq := storage.NewSearchQuery(start-step+1, end, filters, 0)
	err = db.inSlot(ctx, func(deadline searchutil.Deadline) error {
		rss, err := netstorage.ProcessSearchQuery(nil, sq, deadline)
		if err != nil {
			return classify(err)
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
	})
	if err != nil {
		return nil, fmt.Errorf("downsample %s of device %q: %w", q.Metric, q.Device, err)
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

// foldSeries adds the finite samples of one series, sorted by time, to the
// steps ending at start, start+step, …: a sample at ts belongs to the step
// whose end is the first at or after ts.
func foldSeries(folds []stepFold, timestamps []int64, values []float64, start, step int64) {
	k, stepEnd := 0, start
	for i, ts := range timestamps {
		if ts <= start-step {
			continue
		}
		for ts > stepEnd {
			k++
			if k == len(folds) {
				return
			}
			stepEnd += step
		}
		v := values[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		f := &folds[k]
		f.min = min(f.min, v)
		f.max = max(f.max, v)
		f.sum += v
		f.n++
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
