package tsdb_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store/tsdb"
)

// layOut writes a snapshot's files into dir as their names say, as a
// restore does.
func layOut(t *testing.T, snap *tsdb.Snapshot, dir string) {
	t.Helper()
	for _, f := range snap.Files {
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			t.Fatal(err)
		}
		data := f.Data
		if f.Path != "" {
			src, err := os.Open(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			data, err = io.ReadAll(src)
			src.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		if int64(len(data)) != f.Size {
			t.Fatalf("%s: %d bytes, the snapshot says %d", f.Name, len(data), f.Size)
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// queryAll queries a device's temp from start to end, one step a minute;
// past the last sample a step repeats it for a while, so end should be the
// last sample's.
func queryAll(t *testing.T, db *tsdb.DB, device string, start, end time.Time) []tsdb.Series {
	t.Helper()
	got, err := db.QueryRange(context.Background(), `temp{device="`+device+`"}`, start, end, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSnapshotRestores: a directory laid out from a snapshot opens with
// every sample appended before the snapshot (without a Flush: the
// snapshot writes what is in memory) and the latest values of then, and
// none appended after; the snapshot stays readable while the storage goes
// on, and the next Open deletes one that was never released.
func TestSnapshotRestores(t *testing.T) {
	dir := t.TempDir()
	base := twoHoursAgo()
	before := ramp("temp", base, time.Minute, 30, func(i int) float64 { return float64(i) / 4 })
	after := ramp("temp", base.Add(30*time.Minute), time.Minute, 30, func(i int) float64 { return -float64(i) })

	db, err := tsdb.Open(tsdb.Config{Dir: dir}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, "d1", "c1", "s1", before)
	snap, err := db.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	mustAppend(t, db, "d1", "c1", "s1", after)
	db.Flush()
	stale, err := db.Snapshot() // never released
	if err != nil {
		t.Fatal(err)
	}
	if len(stale.Files) == 0 {
		t.Fatal("the second snapshot has no files")
	}
	restored := t.TempDir()
	layOut(t, snap, restored)
	if err := snap.Release(); err != nil {
		t.Errorf("Release: %v", err)
	}
	if err := snap.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*")); len(names) != 1 {
		t.Errorf("after one release, snapshots left: %v, want the one never released", names)
	}

	db2 := openDB(t, restored)
	want := []tsdb.Series{{
		Labels:     map[string]string{"__name__": "temp", "device": "d1", "customer": "c1", "site": "s1"},
		Timestamps: timestamps(before), Values: values(before),
	}}
	if diff := cmp.Diff(want, queryAll(t, db2, "d1", base, base.Add(29*time.Minute))); diff != "" {
		t.Errorf("restored series (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before[len(before)-1:], db2.Latest("d1", "c1")); diff != "" {
		t.Errorf("restored latest (-want +got):\n%s", diff)
	}
	if err := db2.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening the original deletes the snapshot left behind.
	db3 := openDB(t, dir)
	if names, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*")); len(names) != 0 {
		t.Errorf("Open left stale snapshots: %v", names)
	}
	if n := len(queryAll(t, db3, "d1", base, base.Add(59*time.Minute))[0].Values); n != 60 {
		t.Errorf("original has %d samples, want 60", n)
	}
}

// TestStoredFilesRestores: the files of a closed storage directory, laid
// out elsewhere, open with everything it had.
func TestStoredFilesRestores(t *testing.T) {
	dir := t.TempDir()
	base := twoHoursAgo()
	pts := ramp("temp", base, time.Minute, 45, func(i int) float64 { return float64(i) })
	db, err := tsdb.Open(tsdb.Config{Dir: dir}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, "d2", "c1", "s1", pts)
	if _, err := db.Snapshot(); err != nil { // left behind: not part of the files
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	snap, err := tsdb.StoredFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files {
		if filepath.Base(f.Name) == "snapshots" || f.Name == "flock.lock" || len(f.Name) > 9 && f.Name[:9] == "snapshots" {
			t.Errorf("stored files include %s", f.Name)
		}
	}
	restored := t.TempDir()
	layOut(t, snap, restored)
	db2 := openDB(t, restored)
	if got := queryAll(t, db2, "d2", base, base.Add(44*time.Minute)); len(got) != 1 || !cmp.Equal(got[0].Values, values(pts)) {
		t.Errorf("restored from stored files: %+v", got)
	}
	if diff := cmp.Diff(pts[len(pts)-1:], db2.Latest("d2", "c1")); diff != "" {
		t.Errorf("restored latest (-want +got):\n%s", diff)
	}
	empty, err := tsdb.StoredFiles(filepath.Join(t.TempDir(), "missing"))
	if err != nil || len(empty.Files) != 0 {
		t.Errorf("StoredFiles of a missing directory: %v, %v", empty, err)
	}
}
