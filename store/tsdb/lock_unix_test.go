//go:build unix

package tsdb_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/tsdb"
)

// TestOpenLockedDirectory holds the storage's lock file as another Hearth
// process would: Open must fail with an error instead of taking the process
// down, and a later Open elsewhere must still work.
func TestOpenLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "flock.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if db, err := tsdb.Open(tsdb.Config{Dir: dir}, testLogger()); err == nil {
		db.Close()
		t.Fatal("Open of a locked directory succeeded")
	}

	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	mustAppend(t, db, "d", "c", "s", []tsdb.Point{{Metric: "m", Timestamp: base.UnixMilli(), Value: 42}})
	db.Flush()
	got, err := db.Query(context.Background(), "m", base.Add(time.Second))
	if err != nil || len(got) != 1 || got[0].Values[0] != 42 {
		t.Errorf("Query after a failed Open = %+v, %v; want 42", got, err)
	}
}
