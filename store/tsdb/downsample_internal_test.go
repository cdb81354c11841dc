package tsdb

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmstorage"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/decimal"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/prompb"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/storage"
)

// TestDownsampleSkipsValuesThatAreNotNumbers writes what Append refuses
// straight into the storage: Prometheus staleness markers (the only NaN the
// storage keeps) and infinities.
func TestDownsampleSkipsValuesThatAreNotNumbers(t *testing.T) {
	db, err := Open(Config{Dir: t.TempDir(), MemoryBytes: 256 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	name := storage.MarshalMetricNameRaw(nil, []prompb.Label{
		{Name: "__name__", Value: "m"}, {Name: "device", Value: "d"}, {Name: "customer", Value: "c"}, {Name: "site", Value: "s"},
	})
	row := func(offset time.Duration, v float64) storage.MetricRow {
		return storage.MetricRow{MetricNameRaw: name, Timestamp: base.Add(offset).UnixMilli(), Value: v}
	}
	// A series of its own: the storage gives a block of samples one
	// decimal exponent, so 1e308 next to small values would zero them.
	bigName := storage.MarshalMetricNameRaw(nil, []prompb.Label{
		{Name: "__name__", Value: "big"}, {Name: "device", Value: "d"}, {Name: "customer", Value: "c"}, {Name: "site", Value: "s"},
	})
	big := func(offset time.Duration) storage.MetricRow {
		return storage.MetricRow{MetricNameRaw: bigName, Timestamp: base.Add(offset).UnixMilli(), Value: 1e308}
	}
	s := time.Second
	rows := []storage.MetricRow{
		row(30*s, 1), row(45*s, decimal.StaleNaN), row(50*s, math.NaN()), // (0, 1m]
		row(90*s, decimal.StaleNaN),            // (1m, 2m]: nothing but a marker
		row(150*s, math.Inf(1)), row(155*s, 2), // (2m, 3m]
		row(210*s, math.Inf(-1)),               // (3m, 4m]: nothing finite
		row(270*s, 3), row(275*s, math.Inf(1)), // (4m, 5m]
		big(30 * s), big(40 * s), // (0, 1m]: the sum overflows
		big(90 * s), // (1m, 2m]
	}
	if err := vmstorage.VMInsertAPI.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	db.Flush()

	q := DownsampleQuery{Device: "d", Customer: "c", Metric: "m", Start: base.Add(time.Minute), End: base.Add(5 * time.Minute), Step: time.Minute}
	got, err := db.Downsample(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := []StepSummary{
		{Timestamp: base.Add(time.Minute).UnixMilli(), Min: 1, Avg: 1, Max: 1, Count: 1},
		{Timestamp: base.Add(3 * time.Minute).UnixMilli(), Min: 2, Avg: 2, Max: 2, Count: 1},
		{Timestamp: base.Add(5 * time.Minute).UnixMilli(), Min: 3, Avg: 3, Max: 3, Count: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Downsample mismatch (-want +got):\n%s", diff)
	}

	q.Metric = "big"
	got, err = db.Downsample(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want = []StepSummary{{Timestamp: base.Add(2 * time.Minute).UnixMilli(), Min: 1e308, Avg: 1e308, Max: 1e308, Count: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Downsample of %s mismatch (-want +got):\n%s", q.Metric, diff)
	}
}

// TestDownsampleWaitsForASlot checks that Downsample counts against
// MaxConcurrentQueries like every other query.
func TestDownsampleWaitsForASlot(t *testing.T) {
	db, err := Open(Config{Dir: t.TempDir(), MemoryBytes: 256 << 20, MaxConcurrentQueries: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release, err := db.acquireQuery(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	now := time.Now()
	q := DownsampleQuery{Device: "d", Metric: "m", Start: now.Add(-time.Hour), End: now, Step: time.Minute}
	if _, err := db.Downsample(ctx, q); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Downsample with every slot taken: error = %v, want context.DeadlineExceeded", err)
	}
	release()
	if _, err := db.Downsample(context.Background(), q); err != nil {
		t.Errorf("Downsample with a free slot: %v", err)
	}
}
