package tsdb_test

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/tsdb"
)

// testLogger shows warnings and errors only. It writes to stderr, not t.Log:
// VictoriaMetrics' background goroutines may log after a test has ended.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openDB opens a DB in dir and closes it when the test ends. Only one DB can
// be open in a process, so tests in this package do not run in parallel.
func openDB(tb testing.TB, dir string) *tsdb.DB {
	tb.Helper()
	db, err := tsdb.Open(tsdb.Config{Dir: dir, MemoryBytes: 256 << 20}, testLogger())
	if err != nil {
		tb.Fatalf("Open(%q): %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// twoHoursAgo returns a time two hours back, truncated to the hour, so that
// sample timestamps are well inside the retention, far enough from now for
// queries to be exact, and aligned to any step that divides an hour.
func twoHoursAgo() time.Time {
	return time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
}

// ramp returns n points of metric, every interval from start, valued f(i).
func ramp(metric string, start time.Time, interval time.Duration, n int, f func(i int) float64) []tsdb.Point {
	pts := make([]tsdb.Point, n)
	for i := range pts {
		pts[i] = tsdb.Point{Metric: metric, Timestamp: start.Add(time.Duration(i) * interval).UnixMilli(), Value: f(i)}
	}
	return pts
}

func mustAppend(tb testing.TB, db *tsdb.DB, device, customer, site string, pts []tsdb.Point) {
	tb.Helper()
	if err := db.Append(device, customer, site, pts); err != nil {
		tb.Fatalf("Append(%q): %v", device, err)
	}
}
