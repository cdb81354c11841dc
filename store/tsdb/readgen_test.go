package tsdb

import (
	"testing"
	"time"
)

// The read generation moves on with a flush after an append that may have
// added index entries, and only then: cached searches stay valid while
// devices append samples of series the storage knows.
func TestReadGenerationMovesWithNewIndexEntries(t *testing.T) {
	db, err := Open(Config{Dir: t.TempDir(), MemoryBytes: 256 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().Truncate(time.Second)
	at := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	steps := []struct {
		name  string
		site  string
		pts   []Point
		moves bool
	}{
		{"a new series", "s", []Point{{Metric: "m", Timestamp: at(-2 * time.Second), Value: 1}}, true},
		{"a newer sample of it", "s", []Point{{Metric: "m", Timestamp: at(-time.Second), Value: 2}}, false},
		{"a new metric", "s", []Point{{Metric: "n", Timestamp: at(-time.Second), Value: 3}}, true},
		{"another site", "t", []Point{{Metric: "n", Timestamp: at(0), Value: 4}}, true},
		{"a sample two days back", "t", []Point{{Metric: "n", Timestamp: at(-48 * time.Hour), Value: 5}}, true},
	}
	for _, s := range steps {
		before := db.readGen.Load()
		if err := db.Append("d", "c", s.site, s.pts); err != nil {
			t.Fatal(err)
		}
		db.Flush()
		if moved := db.readGen.Load() != before; moved != s.moves {
			t.Errorf("%s: generation moved = %v, want %v", s.name, moved, s.moves)
		}
	}
	// A flush with nothing appended leaves it.
	before := db.readGen.Load()
	db.Flush()
	if db.readGen.Load() != before {
		t.Error("a flush with nothing appended moved the generation")
	}
}
