package tsdb_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store/tsdb"
)

// at returns a point of metric at base+offset.
func at(metric string, base time.Time, offset time.Duration, v float64) tsdb.Point {
	return tsdb.Point{Metric: metric, Timestamp: base.Add(offset).UnixMilli(), Value: v}
}

func TestDownsampleSummarisesEachStep(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	s := time.Second
	// The device moved from site s1 to s2 around base+1m; both series
	// count where they overlap.
	mustAppend(t, db, "d", "c", "s1", []tsdb.Point{
		at("temp", base, 0, 100), // before the first step: (base, base+1m]
		at("temp", base, 30*s, 2),
		at("temp", base, 60*s, 3), // on a step's end: belongs to that step
		at("temp", base, 61*s, 10),
		at("temp", base, 120*s, -4),
		at("temp", base, 240*s, 8),
	})
	mustAppend(t, db, "d", "c", "s2", []tsdb.Point{
		at("temp", base, 45*s, 7),
		at("temp", base, 50*s, 12),
		at("temp", base, 55*s, 5),
		at("temp", base, 240*s, 9),
	})
	// Not the device's metric for this customer: another customer (the
	// name registered again), another device, another metric.
	mustAppend(t, db, "d", "other", "s1", []tsdb.Point{at("temp", base, 30*s, 1000), at("temp", base, 180*s, 1000)})
	mustAppend(t, db, "e", "c", "s1", []tsdb.Point{at("temp", base, 30*s, -1000)})
	mustAppend(t, db, "d", "c", "s1", []tsdb.Point{at("humidity", base, 30*s, 50)})
	mustAppend(t, db, "d", "", "", []tsdb.Point{at("temp", base, 30*s, 77)})
	db.Flush()

	ms := func(d time.Duration) int64 { return base.Add(d).UnixMilli() }
	tests := []struct {
		name       string
		start, end time.Time
		step       time.Duration
		want       []tsdb.StepSummary
	}{
		{
			name:  "minute steps",
			start: base.Add(time.Minute), end: base.Add(5 * time.Minute), step: time.Minute,
			want: []tsdb.StepSummary{
				// (base, base+1m]: 2, 3 from s1 and 7, 12, 5 from s2. The mean
				// of all samples is 5.8; the mean of the two series' means
				// would be 5.25.
				{Timestamp: ms(time.Minute), Min: 2, Avg: 5.8, Max: 12, Count: 5},
				{Timestamp: ms(2 * time.Minute), Min: -4, Avg: 3, Max: 10, Count: 2},
				// (base+2m, base+3m] has no sample of the device: left out;
				// the other customer's sample there is not the device's.
				{Timestamp: ms(4 * time.Minute), Min: 8, Avg: 8.5, Max: 9, Count: 2},
			},
		},
		{
			name:  "one step over everything",
			start: base.Add(5 * time.Minute), end: base.Add(6 * time.Minute), step: 5*time.Minute + time.Second,
			want: []tsdb.StepSummary{
				// (base-1s, base+5m]: every sample of the device.
				{Timestamp: ms(5 * time.Minute), Min: -4, Avg: 15.2, Max: 100, Count: 10},
			},
		},
		{
			name:  "steps off the minute",
			start: base.Add(45 * s), end: base.Add(2 * time.Minute), step: 15 * time.Second,
			want: []tsdb.StepSummary{
				// (base+30s, base+45s]
				{Timestamp: ms(45 * s), Min: 7, Avg: 7, Max: 7, Count: 1},
				{Timestamp: ms(60 * s), Min: 3, Avg: 20.0 / 3, Max: 12, Count: 3},
				{Timestamp: ms(75 * s), Min: 10, Avg: 10, Max: 10, Count: 1},
				{Timestamp: ms(120 * s), Min: -4, Avg: -4, Max: -4, Count: 1},
			},
		},
		{
			name:  "end off the grid",
			start: base.Add(time.Minute), end: base.Add(2*time.Minute + 59*s), step: time.Minute,
			want: []tsdb.StepSummary{
				{Timestamp: ms(time.Minute), Min: 2, Avg: 5.8, Max: 12, Count: 5},
				{Timestamp: ms(2 * time.Minute), Min: -4, Avg: 3, Max: 10, Count: 2},
			},
		},
		{
			name:  "no samples in range",
			start: base.Add(-time.Hour), end: base.Add(-time.Minute), step: time.Minute,
			want: []tsdb.StepSummary{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tsdb.DownsampleQuery{Device: "d", Customer: "c", Metric: "temp", Start: tt.start, End: tt.end, Step: tt.step}
			got, err := db.Downsample(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(approx)); diff != "" {
				t.Errorf("Downsample mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("other customer", func(t *testing.T) {
		q := tsdb.DownsampleQuery{Device: "d", Customer: "other", Metric: "temp", Start: base, End: base.Add(5 * time.Minute), Step: time.Minute}
		got, err := db.Downsample(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		want := []tsdb.StepSummary{
			{Timestamp: ms(time.Minute), Min: 1000, Avg: 1000, Max: 1000, Count: 1},
			{Timestamp: ms(3 * time.Minute), Min: 1000, Avg: 1000, Max: 1000, Count: 1},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Downsample mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("no customer", func(t *testing.T) {
		q := tsdb.DownsampleQuery{Device: "d", Metric: "temp", Start: base, End: base.Add(5 * time.Minute), Step: time.Minute}
		got, err := db.Downsample(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		want := []tsdb.StepSummary{{Timestamp: ms(time.Minute), Min: 77, Avg: 77, Max: 77, Count: 1}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Downsample mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("unknown device", func(t *testing.T) {
		q := tsdb.DownsampleQuery{Device: "nobody", Customer: "c", Metric: "temp", Start: base, End: base.Add(5 * time.Minute), Step: time.Minute}
		got, err := db.Downsample(context.Background(), q)
		if err != nil || len(got) != 0 {
			t.Errorf("Downsample = %v, %v; want nothing", got, err)
		}
	})
}

// TestDownsampleMatchesReference compares many steps over irregular samples
// with a plain computation of the same windows.
func TestDownsampleMatchesReference(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	s1 := ramp("power_kw", base, 10*time.Second, 360, func(i int) float64 { return float64((i*37)%23) + 0.5 })
	s2 := ramp("power_kw", base.Add(40*time.Minute+3*time.Second), 7*time.Second, 300, func(i int) float64 { return float64((i*11)%17) - 3.25 })
	mustAppend(t, db, "chiller", "c", "s1", s1)
	mustAppend(t, db, "chiller", "c", "s2", s2)
	mustAppend(t, db, "chiller", "c2", "s1", ramp("power_kw", base, 10*time.Second, 360, func(int) float64 { return 1e6 }))
	db.Flush()
	all := append(append([]tsdb.Point(nil), s1...), s2...)

	for _, step := range []time.Duration{time.Second, 10 * time.Second, 45 * time.Second, time.Minute, 7 * time.Minute, 25 * time.Minute} {
		start := base.Add(-3*time.Minute + 1234*time.Millisecond)
		end := base.Add(75 * time.Minute)
		q := tsdb.DownsampleQuery{Device: "chiller", Customer: "c", Metric: "power_kw", Start: start, End: end, Step: step}
		t.Run(step.String(), func(t *testing.T) {
			got, err := db.Downsample(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			want := []tsdb.StepSummary{}
			for ts := start; !ts.After(end); ts = ts.Add(step) {
				var window []float64
				for _, p := range all {
					if p.Timestamp > ts.Add(-step).UnixMilli() && p.Timestamp <= ts.UnixMilli() {
						window = append(window, p.Value)
					}
				}
				if len(window) > 0 {
					want = append(want, tsdb.StepSummary{Timestamp: ts.UnixMilli(), Min: minOf(window), Avg: avg(window), Max: maxOf(window), Count: len(window)})
				}
			}
			if len(want) == 0 {
				t.Fatal("the reference has no steps")
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(approx)); diff != "" {
				t.Errorf("Downsample mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDownsampleNamesThatAreWords checks that metric names the query
// language knows as numbers select their series.
func TestDownsampleNamesThatAreWords(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	for i, name := range []string{"inf", "nan", "Inf", "NaN", "by", "sum", "offset"} {
		mustAppend(t, db, "d", "c", "s", []tsdb.Point{at(name, base, 30*time.Second, float64(i))})
	}
	db.Flush()
	for i, name := range []string{"inf", "nan", "Inf", "NaN", "by", "sum", "offset"} {
		q := tsdb.DownsampleQuery{Device: "d", Customer: "c", Metric: name, Start: base.Add(time.Minute), End: base.Add(2 * time.Minute), Step: time.Minute}
		got, err := db.Downsample(context.Background(), q)
		if err != nil {
			t.Errorf("Downsample(%q): %v", name, err)
			continue
		}
		want := []tsdb.StepSummary{{Timestamp: base.Add(time.Minute).UnixMilli(), Min: float64(i), Avg: float64(i), Max: float64(i), Count: 1}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Downsample(%q) mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestDownsampleRefusesBadInput(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	good := tsdb.DownsampleQuery{Device: "d", Customer: "c", Metric: "temp", Start: base, End: base.Add(time.Hour), Step: time.Minute}
	tests := []struct {
		name    string
		change  func(q *tsdb.DownsampleQuery)
		message string
	}{
		{"empty device", func(q *tsdb.DownsampleQuery) { q.Device = "" }, "empty device name"},
		{"long device", func(q *tsdb.DownsampleQuery) { q.Device = strings.Repeat("d", 4097) }, "at most 4096 bytes"},
		{"empty metric", func(q *tsdb.DownsampleQuery) { q.Metric = "" }, "a metric name is a letter"},
		{"metric starts with a digit", func(q *tsdb.DownsampleQuery) { q.Metric = "1temp" }, `metric "1temp"`},
		{"metric with a dash", func(q *tsdb.DownsampleQuery) { q.Metric = "temp-c" }, `metric "temp-c"`},
		{"metric with a quote", func(q *tsdb.DownsampleQuery) { q.Metric = `t"}` }, "a metric name is a letter"},
		{"metric with a brace", func(q *tsdb.DownsampleQuery) { q.Metric = "temp{x}" }, "a metric name is a letter"},
		{"zero step", func(q *tsdb.DownsampleQuery) { q.Step = 0 }, "at least 1s"},
		{"negative step", func(q *tsdb.DownsampleQuery) { q.Step = -time.Minute }, "at least 1s"},
		{"step below a second", func(q *tsdb.DownsampleQuery) { q.Step = 999 * time.Millisecond }, "at least 1s"},
		{"step in microseconds", func(q *tsdb.DownsampleQuery) { q.Step = time.Second + time.Microsecond }, "whole milliseconds"},
		{"start equals end", func(q *tsdb.DownsampleQuery) { q.End = q.Start }, "is not before end"},
		{"end before start", func(q *tsdb.DownsampleQuery) { q.End = q.Start.Add(-time.Minute) }, "is not before end"},
		{"start and end in one millisecond", func(q *tsdb.DownsampleQuery) { q.End = q.Start.Add(time.Microsecond) }, "is not before end"},
		{"start before 1970", func(q *tsdb.DownsampleQuery) { q.Start = time.Time{} }, "start 0001-01-01T00:00:00Z: times from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z are accepted"},
		{"end after 9999", func(q *tsdb.DownsampleQuery) { q.End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "end 10000-01-01T00:00:00Z"},
		{"too many points", func(q *tsdb.DownsampleQuery) { q.End = q.Start.Add(11_000 * time.Second); q.Step = time.Second }, "11001 points; at most 11000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := good
			tt.change(&q)
			got, err := db.Downsample(context.Background(), q)
			if !errors.Is(err, tsdb.ErrInvalidQuery) {
				t.Fatalf("Downsample = %v, %v; want ErrInvalidQuery", got, err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not say %q", err, tt.message)
			}
		})
	}

	t.Run("most points", func(t *testing.T) {
		q := good
		q.Step = time.Second
		q.End = q.Start.Add((tsdb.MaxDownsamplePoints - 1) * time.Second)
		if _, err := db.Downsample(context.Background(), q); err != nil {
			t.Errorf("Downsample with %d points: %v", tsdb.MaxDownsamplePoints, err)
		}
	})
	t.Run("from 1970", func(t *testing.T) {
		q := good
		q.Start, q.End = time.UnixMilli(0), time.UnixMilli(0).Add(time.Hour)
		if got, err := db.Downsample(context.Background(), q); err != nil || len(got) != 0 {
			t.Errorf("Downsample = %v, %v; want nothing", got, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := db.Downsample(ctx, good); !errors.Is(err, context.Canceled) {
			t.Errorf("Downsample with cancelled context: error = %v, want context.Canceled", err)
		}
	})
}
