package tsdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store/tsdb"
)

func TestQueryRangeReturnsExactValues(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	temp := ramp("temp", base, 10*time.Second, 60, func(i int) float64 { return 20 + float64(i)*0.25 })
	co2 := ramp("co2_ppm", base, 10*time.Second, 60, func(i int) float64 { return 400 + float64(i) })
	mustAppend(t, db, "d1", "c1", "s1", append(temp, co2...))
	mustAppend(t, db, "d2", "c1", "s1", ramp("temp", base, 10*time.Second, 60, func(int) float64 { return -5 }))
	db.Flush()

	got, err := db.QueryRange(context.Background(), `temp{device="d1"}`, base, base.Add(590*time.Second), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []tsdb.Series{{
		Labels:     map[string]string{"__name__": "temp", "device": "d1", "customer": "c1", "site": "s1"},
		Timestamps: timestamps(temp),
		Values:     values(temp),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("QueryRange mismatch (-want +got):\n%s", diff)
	}
}

// TestValuesKeepTwelveDigits documents the storage's precision: values are
// stored as decimals of about 12 significant digits, far finer than any
// sensor reading, so a reading comes back exactly as the device sent it.
// Values below 1e-6 keep fewer digits.
func TestValuesKeepTwelveDigits(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	sent := []float64{21.7, -3.25, 612, 0.001, 1234567.891, 1.0 / 3, 2.0 / 3, 1e-9 / 3}
	want := []float64{21.7, -3.25, 612, 0.001, 1234567.891, 0.333333333333, 0.666666666666, 3.33e-10}
	mustAppend(t, db, "d", "c", "s", ramp("m", base, time.Second, len(sent), func(i int) float64 { return sent[i] }))
	db.Flush()
	got, err := db.QueryRange(context.Background(), `m`, base, base.Add(time.Duration(len(sent)-1)*time.Second), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d series, want 1", len(got))
	}
	if diff := cmp.Diff(want, got[0].Values, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Abs(a) })); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
}

func TestQueryRangeDownsamples(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	// Irregular values so that avg, min and max all differ per window.
	pts := ramp("power_kw", base, 10*time.Second, 90, func(i int) float64 { return float64((i*37)%23) + 0.5 })
	mustAppend(t, db, "d", "c", "s", pts)
	mustAppend(t, db, "other", "c", "s", ramp("power_kw", base, 10*time.Second, 90, func(int) float64 { return 1000 }))
	db.Flush()

	start, end, step := base.Add(time.Minute), base.Add(15*time.Minute), time.Minute
	tests := []struct {
		query string
		agg   func([]float64) float64
	}{
		{`avg_over_time(power_kw{device="d"}[1m])`, avg},
		{`min_over_time(power_kw{device="d"}[1m])`, minOf},
		{`max_over_time(power_kw{device="d"}[1m])`, maxOf},
		{`sum_over_time(power_kw{device="d"}[1m])`, sum},
		{`count_over_time(power_kw{device="d"}[1m])`, func(v []float64) float64 { return float64(len(v)) }},
		// Without a window MetricsQL uses the step: what charts ask for.
		{`avg_over_time(power_kw{device="d"})`, avg},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := db.QueryRange(context.Background(), tt.query, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			// The reference: each step T aggregates the samples in (T-1m, T].
			var want tsdb.Series
			for ts := start; !ts.After(end); ts = ts.Add(step) {
				var window []float64
				for _, p := range pts {
					if p.Timestamp > ts.Add(-time.Minute).UnixMilli() && p.Timestamp <= ts.UnixMilli() {
						window = append(window, p.Value)
					}
				}
				if len(window) == 0 {
					continue
				}
				want.Timestamps = append(want.Timestamps, ts.UnixMilli())
				want.Values = append(want.Values, tt.agg(window))
			}
			if len(got) != 1 {
				t.Fatalf("got %d series, want 1: %+v", len(got), got)
			}
			if diff := cmp.Diff(want.Timestamps, got[0].Timestamps); diff != "" {
				t.Errorf("timestamps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want.Values, got[0].Values, cmp.Comparer(approx)); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if _, ok := got[0].Labels["device"]; !ok {
				t.Errorf("labels %v lost the device", got[0].Labels)
			}
		})
	}
}

func TestQueryInstant(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	mustAppend(t, db, "d1", "c1", "s1", ramp("temp", base, 10*time.Second, 30, func(i int) float64 { return float64(i) }))
	mustAppend(t, db, "d2", "c1", "s2", ramp("temp", base, 10*time.Second, 30, func(i int) float64 { return 100 + float64(i) }))
	db.Flush()

	at := base.Add(95 * time.Second)
	tests := []struct {
		query string
		want  []tsdb.Series
	}{
		{`temp{device="d1"}`, []tsdb.Series{{
			Labels:     map[string]string{"__name__": "temp", "device": "d1", "customer": "c1", "site": "s1"},
			Timestamps: []int64{at.UnixMilli()}, Values: []float64{9},
		}}},
		{`sum(temp)`, []tsdb.Series{{
			Labels:     map[string]string{},
			Timestamps: []int64{at.UnixMilli()}, Values: []float64{9 + 109},
		}}},
		{`max by (site) (temp)`, []tsdb.Series{
			{Labels: map[string]string{"site": "s1"}, Timestamps: []int64{at.UnixMilli()}, Values: []float64{9}},
			{Labels: map[string]string{"site": "s2"}, Timestamps: []int64{at.UnixMilli()}, Values: []float64{109}},
		}},
		{`temp{device="nobody"}`, []tsdb.Series{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := db.Query(context.Background(), tt.query, at)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Query mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQueryRefusesBadInput(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	tests := []struct {
		name       string
		query      string
		start, end time.Time
		step       time.Duration
	}{
		{"syntax", `temp{device=`, base, base.Add(time.Hour), time.Minute},
		{"empty query", ``, base, base.Add(time.Hour), time.Minute},
		{"zero step", `temp`, base, base.Add(time.Hour), 0},
		{"end before start", `temp`, base, base.Add(-time.Hour), time.Minute},
		{"too many points", `temp`, base.Add(-100 * 24 * time.Hour), base, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.QueryRange(context.Background(), tt.query, tt.start, tt.end, tt.step)
			if !errors.Is(err, tsdb.ErrInvalidQuery) {
				t.Errorf("QueryRange error = %v, want ErrInvalidQuery", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Query(ctx, `temp`, base); !errors.Is(err, context.Canceled) {
		t.Errorf("Query with cancelled context: error = %v, want context.Canceled", err)
	}
}

func TestAppendRefusesInvalidPoints(t *testing.T) {
	db := openDB(t, t.TempDir())
	now := time.Now()
	good := tsdb.Point{Metric: "ok", Timestamp: now.Add(-time.Hour).UnixMilli(), Value: 1}
	tests := []struct {
		name                   string
		device, customer, site string
		bad                    tsdb.Point
	}{
		{"empty device", "", "c", "s", good},
		{"empty metric", "d", "c", "s", tsdb.Point{Timestamp: good.Timestamp, Value: 1}},
		{"NaN", "d", "c", "s", tsdb.Point{Metric: "m", Timestamp: good.Timestamp, Value: math.NaN()}},
		{"infinity", "d", "c", "s", tsdb.Point{Metric: "m", Timestamp: good.Timestamp, Value: math.Inf(-1)}},
		{"older than retention", "d", "c", "s", tsdb.Point{Metric: "m", Timestamp: now.Add(-tsdb.DefaultRetention - time.Hour).UnixMilli()}},
		{"far future", "d", "c", "s", tsdb.Point{Metric: "m", Timestamp: now.Add(72 * time.Hour).UnixMilli()}},
		{"long metric", "d", "c", "s", tsdb.Point{Metric: strings.Repeat("m", 5000), Timestamp: good.Timestamp}},
		{"long customer", "d", strings.Repeat("c", 5000), "s", good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Append(tt.device, tt.customer, tt.site, []tsdb.Point{good, tt.bad})
			if !errors.Is(err, tsdb.ErrInvalidPoint) {
				t.Fatalf("Append error = %v, want ErrInvalidPoint", err)
			}
		})
	}
	// Nothing of any refused call was stored, not even its valid point.
	db.Flush()
	got, err := db.Query(context.Background(), `ok`, time.UnixMilli(good.Timestamp))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("refused calls stored %+v", got)
	}
	if got := db.Latest("d", "c"); got != nil {
		t.Errorf("refused calls changed Latest: %+v", got)
	}
}

func TestLatestKeepsNewestSample(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo().UnixMilli()
	steps := []struct {
		name   string
		append []tsdb.Point
		want   []tsdb.Point
	}{
		{"first", []tsdb.Point{{Metric: "b", Timestamp: base, Value: 1}, {Metric: "a", Timestamp: base, Value: 2}},
			[]tsdb.Point{{Metric: "a", Timestamp: base, Value: 2}, {Metric: "b", Timestamp: base, Value: 1}}},
		{"newer replaces", []tsdb.Point{{Metric: "a", Timestamp: base + 1000, Value: 3}},
			[]tsdb.Point{{Metric: "a", Timestamp: base + 1000, Value: 3}, {Metric: "b", Timestamp: base, Value: 1}}},
		{"older is ignored", []tsdb.Point{{Metric: "a", Timestamp: base + 500, Value: 99}},
			[]tsdb.Point{{Metric: "a", Timestamp: base + 1000, Value: 3}, {Metric: "b", Timestamp: base, Value: 1}}},
		{"same time keeps the larger value, as the storage does", []tsdb.Point{{Metric: "b", Timestamp: base, Value: 0}, {Metric: "b", Timestamp: base, Value: 7}},
			[]tsdb.Point{{Metric: "a", Timestamp: base + 1000, Value: 3}, {Metric: "b", Timestamp: base, Value: 7}}},
		{"batch out of order", []tsdb.Point{{Metric: "c", Timestamp: base + 9000, Value: 9}, {Metric: "c", Timestamp: base + 8000, Value: 8}},
			[]tsdb.Point{{Metric: "a", Timestamp: base + 1000, Value: 3}, {Metric: "b", Timestamp: base, Value: 7}, {Metric: "c", Timestamp: base + 9000, Value: 9}}},
	}
	for _, st := range steps {
		mustAppend(t, db, "d", "c", "s", st.append)
		if diff := cmp.Diff(st.want, db.Latest("d", "c")); diff != "" {
			t.Errorf("%s: Latest (-want +got):\n%s", st.name, diff)
		}
	}
	if got := db.Latest("unknown", "c"); got != nil {
		t.Errorf("Latest(unknown) = %+v, want nil", got)
	}
}

func TestDuplicateSamplesAreStoredOnce(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	p := tsdb.Point{Metric: "m", Timestamp: base.Add(30 * time.Second).UnixMilli(), Value: 5}
	// MQTT QoS 1 may deliver a message twice.
	mustAppend(t, db, "d", "c", "s", []tsdb.Point{p})
	mustAppend(t, db, "d", "c", "s", []tsdb.Point{p})
	mustAppend(t, db, "d", "c", "s", []tsdb.Point{{Metric: "m", Timestamp: p.Timestamp, Value: 4}})
	db.Flush()
	got, err := db.Query(context.Background(), `count_over_time(m[1m]) * 1000 + max_over_time(m[1m])`, base.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Values[0] != 1005 {
		t.Errorf("count*1000+max = %+v, want one sample of value 5 (1005)", got)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	base := twoHoursAgo()
	first := ramp("temp", base, time.Minute, 30, func(i int) float64 { return float64(i) / 10 })
	second := ramp("temp", base.Add(30*time.Minute), time.Minute, 30, func(i int) float64 { return -1 - float64(i)/8 })

	db, err := tsdb.Open(tsdb.Config{Dir: dir}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, "d1", "c1", "s1", first)
	mustAppend(t, db, "d2", "c1", "s1", first[:1])
	// No Flush: Close must persist what is still in memory.
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	db = openDB(t, dir)
	if diff := cmp.Diff(first[len(first)-1:], db.Latest("d1", "c1")); diff != "" {
		t.Errorf("Latest after reopen (-want +got):\n%s", diff)
	}
	mustAppend(t, db, "d1", "c1", "s1", second)
	db.Flush()
	all := append(append([]tsdb.Point(nil), first...), second...)
	got, err := db.QueryRange(context.Background(), `temp{device="d1"}`, base, base.Add(59*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []tsdb.Series{{
		Labels:     map[string]string{"__name__": "temp", "device": "d1", "customer": "c1", "site": "s1"},
		Timestamps: timestamps(all), Values: values(all),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("QueryRange after reopen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(second[len(second)-1:], db.Latest("d1", "c1")); diff != "" {
		t.Errorf("Latest after more appends (-want +got):\n%s", diff)
	}
}

// TestReopenLeavesNothingRunning opens and closes the same directory
// several times, as restart tests do, and checks that no goroutines pile up.
func TestReopenLeavesNothingRunning(t *testing.T) {
	dir := t.TempDir()
	base := twoHoursAgo()
	var counts []int
	for i := range 4 {
		db, err := tsdb.Open(tsdb.Config{Dir: dir}, testLogger())
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		mustAppend(t, db, "d", "c", "s", []tsdb.Point{{Metric: "m", Timestamp: base.Add(time.Duration(i) * time.Minute).UnixMilli(), Value: float64(i)}})
		if err := db.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
		time.Sleep(100 * time.Millisecond)
		counts = append(counts, runtime.NumGoroutine())
	}
	if counts[len(counts)-1] > counts[0]+2 {
		t.Errorf("goroutines after each Open and Close: %v; they pile up", counts)
	}
	db := openDB(t, dir)
	got, err := db.QueryRange(context.Background(), `count_over_time(m[1h])`, base.Add(30*time.Minute), base.Add(30*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Values[0] != 4 {
		t.Errorf("samples from four runs: %+v, want a count of 4", got)
	}
}

func TestOneOpenPerProcess(t *testing.T) {
	db := openDB(t, t.TempDir())
	if other, err := tsdb.Open(tsdb.Config{Dir: t.TempDir()}, testLogger()); !errors.Is(err, tsdb.ErrAlreadyOpen) {
		if other != nil {
			other.Close()
		}
		t.Fatalf("second Open error = %v, want ErrAlreadyOpen", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Another directory opens once the first DB is closed.
	openDB(t, t.TempDir())
}

func TestOpenRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  tsdb.Config
	}{
		{"no directory", tsdb.Config{}},
		{"retention under a day", tsdb.Config{Dir: t.TempDir(), Retention: time.Hour}},
		{"tiny memory", tsdb.Config{Dir: t.TempDir(), MemoryBytes: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := tsdb.Open(tt.cfg, testLogger())
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
	// A refused Open does not leave the process marked as open.
	openDB(t, t.TempDir())
}

func TestClosedDBRefusesWork(t *testing.T) {
	db, err := tsdb.Open(tsdb.Config{Dir: t.TempDir()}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := db.Append("d", "c", "s", []tsdb.Point{{Metric: "m", Timestamp: now.UnixMilli(), Value: 1}}); !errors.Is(err, tsdb.ErrClosed) {
		t.Errorf("Append error = %v, want ErrClosed", err)
	}
	if _, err := db.QueryRange(context.Background(), "m", now.Add(-time.Hour), now, time.Minute); !errors.Is(err, tsdb.ErrClosed) {
		t.Errorf("QueryRange error = %v, want ErrClosed", err)
	}
	if _, err := db.Query(context.Background(), "m", now); !errors.Is(err, tsdb.ErrClosed) {
		t.Errorf("Query error = %v, want ErrClosed", err)
	}
	q := tsdb.DownsampleQuery{Device: "d", Metric: "m", Start: now.Add(-time.Hour), End: now, Step: time.Minute}
	if _, err := db.Downsample(context.Background(), q); !errors.Is(err, tsdb.ErrClosed) {
		t.Errorf("Downsample error = %v, want ErrClosed", err)
	}
	if got := db.Stats(); got != (tsdb.Stats{}) {
		t.Errorf("Stats = %+v, want zero", got)
	}
	db.Flush()
}

func TestStatsCountStoredRows(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	mustAppend(t, db, "d1", "c", "s", ramp("a", base, time.Second, 100, func(i int) float64 { return float64(i) }))
	mustAppend(t, db, "d1", "c", "s", ramp("b", base, time.Second, 50, func(i int) float64 { return float64(i) }))
	mustAppend(t, db, "d2", "c", "s", ramp("a", base, time.Second, 25, func(i int) float64 { return float64(i) }))
	db.Flush()
	got := db.Stats()
	if got.RowsStored != 175 || got.Series != 3 || got.PendingRows != 0 || got.SizeBytes == 0 {
		t.Errorf("Stats = %+v, want 175 rows, 3 series, 0 pending, a size", got)
	}
}

// TestSearchableWithoutFlush checks that a sample appended without Flush
// is found, with its exact time and value, by every way of reading a range:
// QueryRange, Query, Downsample and the Prometheus API's query and
// query_range, for a series the storage knows and for a new one that was
// asked for before it existed.
//
// The new series is the case VictoriaMetrics alone is slow at: a query that
// found no series caches that answer until the index's filter cache is
// reset, 10 s or more later. A read flushes what was appended unless a
// flush began less than 200 ms before it, so every read made 200 ms after
// the append finds the samples at its first try.
func TestSearchableWithoutFlush(t *testing.T) {
	db := openDB(t, t.TempDir())
	now := time.Now()
	mustAppend(t, db, "d", "c", "s", []tsdb.Point{{Metric: "m", Timestamp: now.Add(-time.Minute).UnixMilli(), Value: 1}})
	db.Flush()
	ctx := context.Background()
	// Asking for the new series before it exists primes the caches with
	// "no such series".
	if got, err := db.QueryRange(ctx, `fresh{device="d"}`, now.Add(-time.Minute), now, time.Second); err != nil || len(got) != 0 {
		t.Fatalf("new series before its first sample: %+v, %v", got, err)
	}

	appended := time.Now()
	ts := appended.UnixMilli()
	mustAppend(t, db, "d", "c", "s", []tsdb.Point{{Metric: "m", Timestamp: ts, Value: 2.5}, {Metric: "fresh", Timestamp: ts, Value: -7.25}})
	time.Sleep(200 * time.Millisecond)
	for _, metric := range []string{"m", "fresh"} {
		want := map[string]float64{"m": 2.5, "fresh": -7.25}[metric]
		sel := metric + `{device="d"}`
		// Unaligned ranges are never answered from the result cache.
		from, to := appended.Add(-time.Minute+time.Millisecond), appended.Add(time.Millisecond)
		reads := []struct {
			name string
			read func() (int64, float64, bool, error)
		}{
			{"QueryRange", func() (int64, float64, bool, error) {
				// A step of 1ms puts a point on the sample's own time;
				// the window of 1ms sees no earlier sample.
				got, err := db.QueryRange(ctx, "last_over_time("+sel+"[1ms])", appended.Add(-time.Second), appended.Add(time.Millisecond), time.Millisecond)
				if err != nil || len(got) != 1 {
					return 0, 0, false, err
				}
				for i, t := range got[0].Timestamps {
					if t == ts {
						return t, got[0].Values[i], true, nil
					}
				}
				return 0, 0, false, nil
			}},
			{"Query", func() (int64, float64, bool, error) {
				got, err := db.Query(ctx, "timestamp("+sel+") * 1000", appended)
				if err != nil || len(got) != 1 || int64(got[0].Values[0]) != ts {
					return 0, 0, false, err
				}
				v, err := db.Query(ctx, sel, appended)
				if err != nil || len(v) != 1 {
					return 0, 0, false, err
				}
				return ts, v[0].Values[0], true, nil
			}},
			{"Downsample", func() (int64, float64, bool, error) {
				got, err := db.Downsample(ctx, tsdb.DownsampleQuery{Device: "d", Customer: "c", Metric: metric, Start: from, End: to, Step: time.Minute})
				// The last step, ending at to, holds the new sample alone.
				if err != nil || len(got) == 0 || got[len(got)-1].Timestamp != to.UnixMilli() {
					return 0, 0, false, err
				}
				last := got[len(got)-1]
				if last.Count != 1 || last.Min != last.Max || last.Avg != last.Max {
					return 0, 0, false, fmt.Errorf("the new sample's step: %+v", last)
				}
				return ts, last.Avg, true, nil
			}},
			{"prometheus query", func() (int64, float64, bool, error) {
				return promSample(db, "query", url.Values{"query": {sel + "[1m]"}, "time": {promTime(appended.Add(time.Millisecond))}}, ts)
			}},
			{"prometheus query_range", func() (int64, float64, bool, error) {
				return promSample(db, "query_range", url.Values{"query": {"last_over_time(" + sel + "[1ms])"}, "start": {promTime(appended.Add(-time.Second))},
					"end": {promTime(appended.Add(time.Millisecond))}, "step": {"0.001"}}, ts)
			}},
		}
		for _, r := range reads {
			gotTS, got, ok, err := r.read()
			switch {
			case err != nil:
				t.Errorf("%s of %s: %v", r.name, metric, err)
			case !ok:
				t.Errorf("%s of %s: the sample is not found %s after it was appended", r.name, metric, time.Since(appended).Round(time.Millisecond))
			case gotTS != ts || got != want:
				t.Errorf("%s of %s: %v at %d, want %v at %d", r.name, metric, got, gotTS, want, ts)
			}
		}
	}
}

// A new series is found by every read once a flush made it searchable,
// even when reads searched for it while that flush ran. VictoriaMetrics
// caches what a search found; a search that ran across the flush could
// cache "no such series" after the flush reset that cache, and without the
// read generation that answer stood until the next new series anywhere.
// The race is rare, so the test runs it many times, with readers searching
// for each new series while it is flushed.
func TestNewSeriesFoundAfterFlushDuringSearches(t *testing.T) {
	db := openDB(t, t.TempDir())
	ctx := context.Background()
	base := time.Now().Add(-time.Minute)
	const rounds = 150
	for i := range rounds {
		metric := fmt.Sprintf("fresh_%d", i)
		ts := base.Add(time.Duration(i) * time.Millisecond)
		mustAppend(t, db, "d", "c", "s", []tsdb.Point{{Metric: metric, Timestamp: ts.UnixMilli(), Value: float64(i)}})
		from, to := ts.Add(-time.Minute), ts.Add(time.Second)
		reads := []func() (bool, error){
			func() (bool, error) {
				got, err := db.Downsample(ctx, tsdb.DownsampleQuery{Device: "d", Customer: "c", Metric: metric, Start: from, End: to, Step: time.Second})
				return len(got) > 0, err
			},
			func() (bool, error) {
				got, err := db.Query(ctx, metric+`{device="d"}[2m]`, to)
				return len(got) > 0, err
			},
			func() (bool, error) {
				_, _, ok, err := promSample(db, "query", url.Values{"query": {metric + `{device="d"}[2m]`}, "time": {promTime(to)}}, ts.UnixMilli())
				return ok, err
			},
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, read := range reads {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := read(); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		time.Sleep(time.Millisecond)
		db.Flush()
		close(stop)
		wg.Wait()
		for j, read := range reads {
			if ok, err := read(); err != nil || !ok {
				t.Fatalf("round %d: read %d does not find the new series after the flush (%v)", i, j, err)
			}
		}
	}
}

// promTime writes t as the Prometheus API's seconds with milliseconds.
func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// promSample asks the Prometheus API's query (a range vector) or
// query_range (a matrix) endpoint for one series and returns its sample at
// ts, if it has one.
func promSample(db *tsdb.DB, endpoint string, args url.Values, ts int64) (int64, float64, bool, error) {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/"+endpoint+"?"+args.Encode(), nil)
	w := httptest.NewRecorder()
	db.ServePrometheus(w, r, endpoint, "c")
	if w.Code != http.StatusOK {
		return 0, 0, false, fmt.Errorf("status %d: %s", w.Code, w.Body)
	}
	var resp struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		return 0, 0, false, fmt.Errorf("decode %s: %w", w.Body, err)
	}
	if len(resp.Data.Result) != 1 {
		return 0, 0, false, nil
	}
	for _, p := range resp.Data.Result[0].Values {
		sec, _ := p[0].(float64)
		s, _ := p[1].(string)
		if at := int64(math.Round(sec * 1000)); at == ts {
			v, err := strconv.ParseFloat(s, 64)
			return at, v, err == nil, err
		}
	}
	return 0, 0, false, nil
}

func timestamps(pts []tsdb.Point) []int64 {
	ts := make([]int64, len(pts))
	for i, p := range pts {
		ts[i] = p.Timestamp
	}
	return ts
}

func values(pts []tsdb.Point) []float64 {
	vs := make([]float64, len(pts))
	for i, p := range pts {
		vs[i] = p.Value
	}
	return vs
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func avg(v []float64) float64 { return sum(v) / float64(len(v)) }

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = math.Min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = math.Max(m, x)
	}
	return m
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) }

// AppendBatch stores every record of a batch in one write, each under its
// own device, customer and site; a refused record leaves the others
// stored, and the latest values follow the records in order.
func TestAppendBatchStoresEachRecord(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo().UnixMilli()
	recs := []tsdb.Record{
		{Device: "d1", Customer: "c1", Site: "s1", Points: []tsdb.Point{{Metric: "temp", Timestamp: base, Value: 1}, {Metric: "hum", Timestamp: base, Value: 40}}},
		{Device: "d2", Customer: "c2", Points: []tsdb.Point{{Metric: "temp", Timestamp: base, Value: 2}}},
		{Device: "d3", Customer: "c1", Points: []tsdb.Point{{Metric: "temp", Timestamp: base, Value: math.NaN()}}},
		{Device: "d4", Customer: "c1"},
		{Device: "d1", Customer: "c1", Site: "s1", Points: []tsdb.Point{{Metric: "temp", Timestamp: base + 1000, Value: 3}}},
	}
	errs := make([]error, len(recs))
	errs[3] = errors.New("left from an earlier call")
	db.AppendBatch(recs, errs)
	for i, err := range errs {
		if want := i == 2; errors.Is(err, tsdb.ErrInvalidPoint) != want || (!want && err != nil) {
			t.Errorf("record %d: error %v", i, err)
		}
	}
	db.Flush()
	at := time.UnixMilli(base + 1000)
	for _, tt := range []struct {
		query string
		want  float64
	}{
		{`temp{device="d1",customer="c1",site="s1"}`, 3},
		{`hum{device="d1",customer="c1",site="s1"}`, 40},
		{`temp{device="d2",customer="c2"}`, 2},
	} {
		got, err := db.Query(context.Background(), tt.query, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || len(got[0].Values) != 1 || got[0].Values[0] != tt.want {
			t.Errorf("%s = %+v, want one sample of %v", tt.query, got, tt.want)
		}
	}
	if got, err := db.Query(context.Background(), `temp{device="d3"}`, at); err != nil || len(got) != 0 {
		t.Errorf("the refused record stored %+v (%v)", got, err)
	}
	if diff := cmp.Diff([]tsdb.Point{{Metric: "hum", Timestamp: base, Value: 40}, {Metric: "temp", Timestamp: base + 1000, Value: 3}}, db.Latest("d1", "c1")); diff != "" {
		t.Errorf("Latest(d1) (-want +got):\n%s", diff)
	}
	if got := db.Latest("d3", "c1"); got != nil {
		t.Errorf("Latest(d3) = %+v, want nil", got)
	}
}
