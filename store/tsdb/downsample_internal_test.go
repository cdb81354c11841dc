package tsdb

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/searchutil"
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

// TestDownsampleBlocksMatchReference checks the block-by-block fold against
// a plain computation over the raw samples and against the engine's merged
// reading, over several parts and blocks, gaps, steps whose ends fall on
// samples, a duplicate inside a part and, last, a duplicate in another
// part (overlapping blocks, which the merged reading answers).
func TestDownsampleBlocksMatchReference(t *testing.T) {
	db, err := Open(Config{Dir: t.TempDir(), MemoryBytes: 256 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Hour)
	type sample struct {
		ts int64
		v  float64
	}
	var raw []sample // what the device's metric should count, deduplicated
	var pts []Point
	for i := range 40_000 {
		if i%5000 > 4700 { // gaps of 50 minutes
			continue
		}
		ts := base.Add(time.Duration(i) * 10 * time.Second).UnixMilli()
		v := float64((i*37)%101) - 20.5
		pts = append(pts, Point{Metric: "m", Timestamp: ts, Value: v})
		raw = append(raw, sample{ts, v})
		if len(pts) == 9_000 { // one part per Append and Flush
			if err := db.Append("d", "c", "s1", pts); err != nil {
				t.Fatal(err)
			}
			db.Flush()
			pts = pts[:0]
		}
	}
	// A repeated delivery inside the last part: the larger value counts.
	dup := raw[len(raw)-10]
	pts = append(pts, Point{Metric: "m", Timestamp: dup.ts, Value: dup.v + 100})
	raw[len(raw)-10].v = dup.v + 100
	if err := db.Append("d", "c", "s1", pts); err != nil {
		t.Fatal(err)
	}
	// The device at another site for a while: a series of its own.
	var other []Point
	for i := range 500 {
		ts := base.Add(20*time.Hour + time.Duration(i)*7*time.Second).UnixMilli()
		other = append(other, Point{Metric: "m", Timestamp: ts, Value: float64(i % 13)})
		raw = append(raw, sample{ts, float64(i % 13)})
	}
	if err := db.Append("d", "c", "s2", other); err != nil {
		t.Fatal(err)
	}
	db.Flush()

	reference := func(start, end, step int64) []StepSummary {
		slices.SortFunc(raw, func(a, b sample) int { return cmpInt(a.ts, b.ts) })
		var out []StepSummary
		for e := start; e <= end; e += step {
			s := StepSummary{Timestamp: e, Min: math.Inf(1), Max: math.Inf(-1)}
			sum := 0.0
			i, _ := slices.BinarySearchFunc(raw, e-step+1, func(r sample, ts int64) int { return cmpInt(r.ts, ts) })
			for ; i < len(raw) && raw[i].ts <= e; i++ {
				r := raw[i]
				s.Min, s.Max, sum = min(s.Min, r.v), max(s.Max, r.v), sum+r.v
				s.Count++
			}
			if s.Count > 0 {
				s.Avg = sum / float64(s.Count)
				out = append(out, s)
			}
		}
		return out
	}
	approx := cmp.Comparer(func(a, b float64) bool { return a == b || math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) })
	check := func(t *testing.T) {
		for _, step := range []time.Duration{10 * time.Second, 70 * time.Second, time.Hour, 7 * time.Hour, 24 * time.Hour} {
			// Step ends on sample times, and off them.
			for _, offset := range []time.Duration{0, 3 * time.Second} {
				q := DownsampleQuery{Device: "d", Customer: "c", Metric: "m", Start: base.Add(offset), End: base.Add(5 * 24 * time.Hour), Step: step}
				if n := q.End.Sub(q.Start)/step + 1; n > MaxDownsamplePoints {
					q.End = q.Start.Add((MaxDownsamplePoints - 1) * step)
				}
				start, end, st, err := q.validate()
				if err != nil {
					t.Fatal(err)
				}
				want := reference(start, end, st)
				got, err := db.Downsample(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, approx); diff != "" {
					t.Errorf("step %s, offset %s: Downsample mismatch (-want +got):\n%s", step, offset, diff)
				}
				// Both readings, side by side.
				folds := func(read func([]stepFold, *storage.SearchQuery) error) []stepFold {
					f := make([]stepFold, (end-start)/st+1)
					for i := range f {
						f[i] = stepFold{min: math.Inf(1), max: math.Inf(-1)}
					}
					filters := [][]storage.TagFilter{{{Value: []byte("m")}, {Key: []byte("device"), Value: []byte("d")}, {Key: []byte("customer"), Value: []byte("c")}}}
					if err := read(f, storage.NewSearchQuery(start-st+1, end, filters, 0)); err != nil {
						t.Fatal(err)
					}
					return f
				}
				deadline := searchutil.NewDeadline(time.Now(), time.Minute, "")
				merged := folds(func(f []stepFold, sq *storage.SearchQuery) error { return foldMerged(f, sq, deadline, start, st) })
				ok := false
				blocks := folds(func(f []stepFold, sq *storage.SearchQuery) (err error) {
					ok, err = foldBlocks(f, sq, deadline, start, st)
					return err
				})
				if !ok {
					t.Errorf("step %s: the blocks were not folded one by one", step)
				} else {
					if diff := cmp.Diff(merged, blocks, approx, cmp.AllowUnexported(stepFold{})); diff != "" {
						t.Errorf("step %s, offset %s: block fold differs from the merged one (-merged +blocks):\n%s", step, offset, diff)
					}
				}
			}
		}
	}
	t.Run("parts apart", func(t *testing.T) { check(t) })

	// The same sample delivered again after its part was written: two
	// blocks of the series overlap, and the larger value counts once.
	again := raw[100]
	if err := db.Append("d", "c", "s1", []Point{{Metric: "m", Timestamp: again.ts, Value: again.v + 1000}}); err != nil {
		t.Fatal(err)
	}
	raw[100].v = again.v + 1000
	db.Flush()
	t.Run("overlapping parts", func(t *testing.T) { check(t) })
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestDownsampleManyKeepsOrder checks that the answers of DownsampleMany
// are those of Downsample, in the order asked, and that one invalid query
// fails the call.
func TestDownsampleManyKeepsOrder(t *testing.T) {
	db, err := Open(Config{Dir: t.TempDir(), MemoryBytes: 256 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	var qs []DownsampleQuery
	for k := range 7 {
		m := "m" + string(rune('a'+k))
		var pts []Point
		for i := range 600 {
			pts = append(pts, Point{Metric: m, Timestamp: base.Add(time.Duration(i) * 5 * time.Second).UnixMilli(), Value: float64(k*1000 + i%97)})
		}
		if err := db.Append("d", "c", "s", pts); err != nil {
			t.Fatal(err)
		}
		qs = append(qs, DownsampleQuery{Device: "d", Customer: "c", Metric: m, Start: base.Add(time.Minute), End: base.Add(time.Hour), Step: time.Duration(k+1) * time.Minute})
	}
	db.Flush()
	got, err := db.DownsampleMany(context.Background(), qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range qs {
		want, err := db.Downsample(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || want[0].Min < float64(i*1000) || want[0].Max >= float64((i+1)*1000) {
			t.Fatalf("query %d: %+v is not its metric's", i, want)
		}
		if diff := cmp.Diff(want, got[i]); diff != "" {
			t.Errorf("query %d: DownsampleMany differs from Downsample (-Downsample +DownsampleMany):\n%s", i, diff)
		}
	}
	bad := append(qs[:3:3], DownsampleQuery{Device: "d", Metric: "1x", Start: base, End: base.Add(time.Hour), Step: time.Minute})
	if _, err := db.DownsampleMany(context.Background(), bad); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("DownsampleMany with an invalid query: error = %v, want ErrInvalidQuery", err)
	}
	if _, err := db.DownsampleMany(context.Background(), nil); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("DownsampleMany of nothing: error = %v, want ErrInvalidQuery", err)
	}
}

// TestDedupSortedMatchesStorage checks that dedupSorted keeps what the
// storage's own deduplication (at 1 ms) keeps, staleness markers included.
// The storage writes blocks deduplicated already; dedupSorted makes the
// block fold exact even for a block that is not.
func TestDedupSortedMatchesStorage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + rng.IntN(12)
		ts := make([]int64, n)
		vs := make([]float64, n)
		var t0 int64 = 1000
		for i := range ts {
			t0 += int64(rng.IntN(2)) // runs of equal timestamps
			ts[i] = t0
			switch rng.IntN(5) {
			case 0:
				vs[i] = decimal.StaleNaN
			default:
				vs[i] = float64(rng.IntN(7) - 3)
			}
		}
		wantTS, wantVS := storage.DeduplicateSamples(slices.Clone(ts), slices.Clone(vs), 1)
		gotTS, gotVS := slices.Clone(ts), slices.Clone(vs)
		k := dedupSorted(gotTS, gotVS)
		same := func(a, b float64) bool { return a == b || decimal.IsStaleNaN(a) && decimal.IsStaleNaN(b) }
		if !slices.Equal(wantTS, gotTS[:k]) || !slices.EqualFunc(wantVS, gotVS[:k], same) {
			t.Fatalf("dedup of %v %v: got %v %v, want %v %v", ts, vs, gotTS[:k], gotVS[:k], wantTS, wantVS)
		}
	}
}
