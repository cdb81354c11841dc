package tsdb_test

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/tsdb"
)

// BenchmarkAppend measures the telemetry hot path: batches of 20 points
// from 1,000 devices (20,000 series), appended from many goroutines. The
// series exist beforehand; BenchmarkAppendNewSeries measures creating them.
func BenchmarkAppend(b *testing.B) {
	db := openDB(b, b.TempDir())
	const devices, perBatch = 1_000, 20
	names := make([]string, devices)
	customers := make([]string, devices)
	sites := make([]string, devices)
	for i := range names {
		names[i] = fmt.Sprintf("dev-%05d", i)
		customers[i] = fmt.Sprintf("customer-%03d", i%100)
		sites[i] = fmt.Sprintf("site-%04d", i%1000)
	}
	metrics := make([]string, perBatch)
	for i := range metrics {
		metrics[i] = fmt.Sprintf("metric_%02d", i)
	}
	// One sample per device and minute, starting two days back so that a
	// long run stays in the past.
	start := time.Now().Add(-48 * time.Hour).Truncate(time.Minute).UnixMilli()
	var calls atomic.Int64
	appendNext := func(pts []tsdb.Point) error {
		n := calls.Add(1) - 1
		d := int(n % devices)
		ts := start + (n/devices)*60_000
		for i := range pts {
			pts[i] = tsdb.Point{Metric: metrics[i], Timestamp: ts, Value: float64(n%1000) + float64(i)/10}
		}
		return db.Append(names[d], customers[d], sites[d], pts)
	}
	// Create the series first: steady state is what the hot path sees.
	pts := make([]tsdb.Point, perBatch)
	for range devices {
		if err := appendNext(pts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		pts := make([]tsdb.Point, perBatch)
		for pb.Next() {
			if err := appendNext(pts); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkAppendNewSeries measures a fleet's first contact: 5,000 new
// devices with 20 metrics each (100,000 new series) appended into an empty
// storage by two goroutines, the slow path of the storage's index. An
// operation is the whole fleet, since the cost per series grows with the
// number of series already indexed.
func BenchmarkAppendNewSeries(b *testing.B) {
	const devices, perDevice = 5_000, 20
	metrics := make([]string, perDevice)
	for i := range metrics {
		metrics[i] = fmt.Sprintf("metric_%02d", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		db, err := tsdb.Open(tsdb.Config{Dir: b.TempDir(), MemoryBytes: 256 << 20}, testLogger())
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().Add(-time.Minute).UnixMilli()
		b.StartTimer()
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				pts := make([]tsdb.Point, perDevice)
				for i := range pts {
					pts[i] = tsdb.Point{Metric: metrics[i], Timestamp: now, Value: float64(i)}
				}
				for d := w; d < devices; d += 2 {
					if err := db.Append("dev-"+strconv.Itoa(d), "c", "s", pts); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*devices*perDevice)/b.Elapsed().Seconds(), "series/s")
}

// BenchmarkQueryRange30Days measures a chart: 30 days of one metric at
// one-minute resolution (43,200 samples) downsampled to 1,000 points.
func BenchmarkQueryRange30Days(b *testing.B) {
	db := openDB(b, b.TempDir())
	end := time.Now().Add(-time.Hour).Truncate(time.Hour)
	start := end.Add(-30 * 24 * time.Hour)
	const n = 30 * 24 * 60
	pts := ramp("power_kw", start, time.Minute, n, func(i int) float64 { return float64(i%1440) / 10 })
	for i := 0; i < n; i += 5_000 {
		mustAppend(b, db, "chiller", "c", "s", pts[i:min(i+5_000, n)])
		// Other devices' series share the index, as in a real fleet.
		mustAppend(b, db, "boiler", "c", "s", pts[i:min(i+5_000, n)])
	}
	db.Flush()
	step := end.Sub(start) / 1000
	tests := []struct {
		name  string
		query string
		// A start one millisecond off the step grid keeps VictoriaMetrics'
		// result cache out, so the engine does the whole work every time.
		offset time.Duration
	}{
		{"last", `power_kw{device="chiller"}`, time.Millisecond},
		{"avg", `avg_over_time(power_kw{device="chiller"})`, time.Millisecond},
		{"min_max_avg", `label_set(min_over_time(power_kw{device="chiller"}), "agg", "min") or label_set(max_over_time(power_kw{device="chiller"}), "agg", "max") or label_set(avg_over_time(power_kw{device="chiller"}), "agg", "avg")`, time.Millisecond},
		{"avg_cached", `avg_over_time(power_kw{device="chiller"})`, 0},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			aligned := start.UnixMilli() - start.UnixMilli()%step.Milliseconds()
			s := time.UnixMilli(aligned).Add(tt.offset)
			e := s.Add(1000 * step)
			for b.Loop() {
				got, err := db.QueryRange(context.Background(), tt.query, s, e, step)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) == 0 || len(got[0].Values) < 990 {
					b.Fatalf("got %+v; want series of about 1000 points", got)
				}
			}
		})
	}
}

// BenchmarkDownsample compares Downsample, one pass over the samples, with
// what the API did before it: three range queries (average, minimum and
// maximum over the step) lined up by timestamp. The ranges and steps are the
// API's defaults for a chart (about 720 points), one sample a minute, and
// start off the step grid, as "the last hour" from now is, so that
// VictoriaMetrics' result cache stays out.
func BenchmarkDownsample(b *testing.B) {
	db := openDB(b, b.TempDir())
	end := time.Now().Add(-time.Hour).Truncate(time.Hour)
	start := end.Add(-30 * 24 * time.Hour)
	const n = 30 * 24 * 60
	pts := ramp("power_kw", start, time.Minute, n, func(i int) float64 { return float64(i%1440) / 10 })
	for i := 0; i < n; i += 5_000 {
		mustAppend(b, db, "chiller", "c", "s", pts[i:min(i+5_000, n)])
		mustAppend(b, db, "boiler", "c", "s", pts[i:min(i+5_000, n)])
	}
	db.Flush()
	ctx := context.Background()
	for _, tt := range []struct {
		name        string
		span, step  time.Duration
		wantSamples int
	}{
		{"1h", time.Hour, 5 * time.Second, 60},
		{"1d", 24 * time.Hour, 2 * time.Minute, 24*60 + 1},
		{"30d", 30 * 24 * time.Hour, time.Hour, 30 * 24 * 60},
	} {
		q := tsdb.DownsampleQuery{
			Device: "chiller", Customer: "c", Metric: "power_kw",
			Start: end.Add(-tt.span).Add(time.Millisecond), End: end.Add(time.Millisecond), Step: tt.step,
		}
		one, err := db.Downsample(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		three, err := threeQueries(ctx, db, q)
		if err != nil {
			b.Fatal(err)
		}
		count := 0
		for _, p := range one {
			count += p.Count
		}
		if count != tt.wantSamples || len(three) != len(one) {
			b.Fatalf("%s: Downsample gave %d points of %d samples, three queries %d points; want %d samples",
				tt.name, len(one), count, len(three), tt.wantSamples)
		}
		b.Run(tt.name+"/three_queries", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := threeQueries(ctx, db, q); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tt.name+"/downsample", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := db.Downsample(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// threeQueries is how the API computed a chart before Downsample: one
// range query per aggregate, folded per timestamp and lined up.
func threeQueries(ctx context.Context, db *tsdb.DB, q tsdb.DownsampleQuery) ([]tsdb.StepSummary, error) {
	selector := fmt.Sprintf("{__name__=%s,device=%s,customer=%s}[%ds]",
		strconv.Quote(q.Metric), strconv.Quote(q.Device), strconv.Quote(q.Customer), q.Step/time.Second)
	type stepValue struct {
		sum      float64
		n        int
		min, max float64
	}
	var results [3]map[int64]stepValue
	for i, fn := range []string{"avg_over_time", "min_over_time", "max_over_time"} {
		series, err := db.QueryRange(ctx, fn+"("+selector+")", q.Start, q.End, q.Step)
		if err != nil {
			return nil, err
		}
		m := map[int64]stepValue{}
		for _, s := range series {
			for j, ts := range s.Timestamps {
				v := s.Values[j]
				if math.IsNaN(v) || math.IsInf(v, 0) {
					continue
				}
				sv, ok := m[ts]
				if !ok {
					sv = stepValue{min: v, max: v}
				}
				sv.sum += v
				sv.n++
				sv.min = min(sv.min, v)
				sv.max = max(sv.max, v)
				m[ts] = sv
			}
		}
		results[i] = m
	}
	out := make([]tsdb.StepSummary, 0, len(results[0]))
	for ts, av := range results[0] {
		lo, okLow := results[1][ts]
		hi, okHigh := results[2][ts]
		if okLow && okHigh {
			out = append(out, tsdb.StepSummary{Timestamp: ts, Min: lo.min, Avg: av.sum / float64(av.n), Max: hi.max})
		}
	}
	slices.SortFunc(out, func(x, y tsdb.StepSummary) int { return cmp.Compare(x.Timestamp, y.Timestamp) })
	return out, nil
}

var (
	openTimeSamples = flag.Int64("samples", 0, "TestOpenTime: samples to fill the storage with (0 skips the test)")
	openTimeSeries  = flag.Int("series", 1000, "TestOpenTime: number of series the samples are spread over")
	openTimeDir     = flag.String("opendir", "", "TestOpenTime: directory to fill and keep (default: a temporary one)")
)

// TestOpenTime fills a storage with -samples samples over -series series
// (one per minute each, ending now) and measures how long Open takes until a
// query answers. Run it with
//
//	go test -run TestOpenTime -args -samples=100000000
func TestOpenTime(t *testing.T) {
	if *openTimeSamples == 0 {
		t.Skip("set -samples to fill a storage and measure Open")
	}
	dir := *openTimeDir
	if dir == "" {
		dir = t.TempDir()
	}
	series := *openTimeSeries
	perSeries := int(*openTimeSamples / int64(series))
	end := time.Now().Add(-time.Minute).Truncate(time.Minute)
	first := end.Add(-time.Duration(perSeries-1) * time.Minute)

	db, err := tsdb.Open(tsdb.Config{Dir: dir}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	fillStart := time.Now()
	// Time-major order, as devices deliver: every series gets a chunk of
	// 10,000 minutes before the next chunk starts. Two writers, as there
	// are two cores here. Values and timestamps look like a sensor's: a
	// daily curve with noise, one decimal, sent about once a minute with
	// sub-second jitter, so that the disk size is not flattered.
	const chunk = 10_000
	var wg sync.WaitGroup
	var failed atomic.Bool
	for w := range 2 {
		wg.Go(func() {
			pts := make([]tsdb.Point, chunk)
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for c := 0; c < perSeries && !failed.Load(); c += chunk {
				n := min(chunk, perSeries-c)
				for s := w; s < series; s += 2 {
					for i := range n {
						minute := c + i
						day := 2 * math.Pi * float64(minute%1440) / 1440
						v := 20 + 5*math.Sin(day) + float64(s%7) + rnd.Float64() - 0.5
						ts := first.Add(time.Duration(minute)*time.Minute + time.Duration(rnd.IntN(1000))*time.Millisecond)
						pts[i] = tsdb.Point{Metric: "power_kw", Timestamp: ts.UnixMilli(), Value: math.Round(v*10) / 10}
					}
					if err := db.Append("dev-"+strconv.Itoa(s), "c", "s", pts[:n]); err != nil {
						t.Error(err)
						failed.Store(true)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	fillTime := time.Since(fillStart)
	closeStart := time.Now()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	closeTime := time.Since(closeStart)
	if t.Failed() {
		return
	}

	openStart := time.Now()
	db = openDB(t, dir)
	openTime := time.Since(openStart)
	got, err := db.QueryRange(context.Background(), `avg_over_time(power_kw{device="dev-7"})`, end.Add(-30*24*time.Hour), end, 30*24*time.Hour/1000)
	if err != nil {
		t.Fatal(err)
	}
	readyTime := time.Since(openStart)
	if len(got) != 1 || len(got[0].Values) < 990 {
		t.Fatalf("query after Open returned %d series; want 1 with about 1000 points", len(got))
	}
	st := db.Stats()
	samples := int64(series) * int64(perSeries)
	t.Logf("filled %d samples (%d series x %d) in %s: %.2f M samples/s", samples, series, perSeries, fillTime.Round(time.Millisecond), float64(samples)/fillTime.Seconds()/1e6)
	t.Logf("close %s; disk %.1f MiB (%.2f bytes/sample); rows %d, series %d", closeTime.Round(time.Millisecond), float64(st.SizeBytes)/(1<<20), float64(st.SizeBytes)/float64(samples), st.RowsStored, st.Series)
	t.Logf("open %s; open and first query (30 days, 1000 points) %s", openTime.Round(time.Millisecond), readyTime.Round(time.Millisecond))
	if *openTimeDir != "" {
		fmt.Fprintf(os.Stderr, "storage kept in %s\n", dir)
	}
}

// yearMetrics are the eight metrics of the year chart benchmarks, as an
// absorption chiller-heater reports them.
var yearMetrics = []string{
	"chw_supply_c", "chw_return_c", "hw_supply_c", "hw_return_c",
	"load_pct", "gas_m3h", "outside_temp_c", "chw_setpoint_c",
}

// loadYear appends a year of one-minute samples of yearMetrics for device
// "chiller" (4.2 million samples) and a day of another device's, and
// returns the end of the year, on the hour.
func loadYear(b *testing.B, db *tsdb.DB) time.Time {
	b.Helper()
	end := time.Now().Add(-time.Hour).Truncate(time.Hour)
	const n = 365 * 24 * 60
	start := end.Add(-n * time.Minute)
	for k, m := range yearMetrics {
		pts := ramp(m, start, time.Minute, n, func(i int) float64 { return float64(k*100) + math.Round(10*math.Sin(float64(i)/229))/10 })
		for i := 0; i < n; i += 10_000 {
			mustAppend(b, db, "chiller", "c", "s", pts[i:min(i+10_000, n)])
		}
		mustAppend(b, db, "boiler", "c", "s", pts[n-1440:])
	}
	db.Flush()
	return end
}

// BenchmarkDownsampleYear measures the data of a year chart: eight metrics
// of one device, one sample a minute for a year, 1,000 points each (a step
// of 8h45m36s), off the step grid as a range ending now is. It reports the
// median and 95th percentile of one chart's time.
//
//	go test -run '^$' -bench DownsampleYear -benchtime 40x ./store/tsdb/
func BenchmarkDownsampleYear(b *testing.B) {
	db := openDB(b, b.TempDir())
	end := loadYear(b, db).Add(-17 * time.Second)
	start := end.Add(-365 * 24 * time.Hour)
	step := end.Sub(start) / 1000
	ctx := context.Background()
	b.Run("per_metric", func(b *testing.B) {
		var took []time.Duration
		for b.Loop() {
			t0 := time.Now()
			for _, m := range yearMetrics {
				got, err := db.Downsample(ctx, tsdb.DownsampleQuery{Device: "chiller", Customer: "c", Metric: m, Start: start, End: end, Step: step})
				if err != nil {
					b.Fatal(err)
				}
				if len(got) < 990 {
					b.Fatalf("%s: %d points, want about 1000", m, len(got))
				}
			}
			took = append(took, time.Since(t0))
		}
		reportQuantiles(b, took)
	})
	b.Run("many", func(b *testing.B) {
		qs := make([]tsdb.DownsampleQuery, len(yearMetrics))
		for i, m := range yearMetrics {
			qs[i] = tsdb.DownsampleQuery{Device: "chiller", Customer: "c", Metric: m, Start: start, End: end, Step: step}
		}
		var took []time.Duration
		for b.Loop() {
			t0 := time.Now()
			got, err := db.DownsampleMany(ctx, qs)
			if err != nil {
				b.Fatal(err)
			}
			for i, s := range got {
				if len(s) < 990 {
					b.Fatalf("%s: %d points, want about 1000", yearMetrics[i], len(s))
				}
			}
			took = append(took, time.Since(t0))
		}
		reportQuantiles(b, took)
	})
}

// reportQuantiles reports the median and 95th percentile of durations in
// milliseconds, by the nearest-rank method.
func reportQuantiles(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	q := func(p float64) float64 {
		i := max(0, min(int(math.Ceil(p*float64(len(took))))-1, len(took)-1))
		return float64(took[i].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.95), "p95-ms")
}
