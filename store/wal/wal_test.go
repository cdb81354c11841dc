package wal_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/wal"
)

func record(dev string, i int) wal.Record {
	return wal.Record{Device: dev, Customer: "acme", Site: "hq", Points: []wal.Point{
		{Metric: "co2_ppm", Timestamp: int64(1_700_000_000_000 + i), Value: float64(i)},
		{Metric: "temperature_c", Timestamp: int64(1_700_000_000_000 + i), Value: 21.5},
	}}
}

// collect opens the log in dir and returns what it replays.
func collect(t *testing.T, dir string, opts wal.Options) (*wal.Log, []wal.Record, wal.ReplayStats) {
	t.Helper()
	var got []wal.Record
	l, st, err := wal.Open(dir, opts, func(r wal.Record) error { got = append(got, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return l, got, st
}

// Records written by many goroutines at once are all replayed, each
// writer's in its order, after fewer commits than records (group commit).
func TestWriteAndReplay(t *testing.T) {
	dir := t.TempDir()
	l, got, _ := collect(t, dir, wal.Options{})
	if len(got) != 0 {
		t.Fatalf("a new log replayed %d records", len(got))
	}
	const writers, each = 64, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.Write(record(fmt.Sprintf("dev-%02d", w), i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := l.Stats()
	if st.Records != writers*each || st.Syncs >= st.Records {
		t.Errorf("stats %+v: want %d records in fewer commits", st, writers*each)
	}
	t.Logf("%d records in %d commits", st.Records, st.Syncs)
	if err := l.Close(false); err != nil {
		t.Fatal(err)
	}
	l, got, rs := collect(t, dir, wal.Options{})
	defer l.Close(false)
	if len(got) != writers*each || rs.Cut != 0 || rs.Points != 2*writers*each {
		t.Fatalf("replayed %d records (%+v), want %d and no cut", len(got), rs, writers*each)
	}
	next := map[string]int{}
	for _, r := range got {
		if want := next[r.Device]; r.Points[0].Value != float64(want) || r.Customer != "acme" || r.Site != "hq" || len(r.Points) != 2 {
			t.Fatalf("record %+v out of order or damaged (want value %d)", r, want)
		}
		next[r.Device]++
	}
}

// A torn tail and a flipped byte are cut at the last good record: what
// came before the damage is replayed, the segment is cut and the next
// opening finds nothing to cut.
func TestDamageIsCut(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(t *testing.T, path string)
		want   int
	}{
		{"torn last record", func(t *testing.T, path string) {
			flip(t, path, 8+9*recordSize(t, path)+recordSize(t, path)-1) // its last byte
		}, 9},
		{"flipped byte in the fifth record", func(t *testing.T, path string) {
			flip(t, path, 8+4*recordSize(t, path)+20)
		}, 4},
		{"data past the end of the records", func(t *testing.T, path string) {
			flip(t, path, 8+10*recordSize(t, path)+5000) // in the zeros a segment is made of
		}, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _, _ := collect(t, dir, wal.Options{})
			for i := range 10 {
				if err := l.Write(record("dev", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(false); err != nil {
				t.Fatal(err)
			}
			segs, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
			slices.Sort(segs)
			tt.damage(t, segs[0])
			l, got, st := collect(t, dir, wal.Options{})
			if len(got) != tt.want || st.Cut != 1 {
				t.Errorf("replayed %d records, cut %d; want %d and one cut", len(got), st.Cut, tt.want)
			}
			for i, r := range got {
				if r.Points[0].Value != float64(i) {
					t.Errorf("record %d replayed as %v", i, r.Points[0].Value)
				}
			}
			// Writing goes on in a new segment; the next opening cuts nothing.
			if err := l.Write(record("dev", 99)); err != nil {
				t.Fatal(err)
			}
			l.Close(false)
			l, got, st = collect(t, dir, wal.Options{})
			defer l.Close(false)
			if len(got) != tt.want+1 || st.Cut != 0 {
				t.Errorf("after the cut: %d records, cut %d; want %d and none", len(got), st.Cut, tt.want+1)
			}
		})
	}
}

// Segments rotate at their size, closed ones are removed once older than
// Keep, and a clean close after the store holds everything removes all.
func TestRotateRemoveAndCleanClose(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l, _, _ := collect(t, dir, wal.Options{SegmentBytes: 1024, Keep: time.Second, Now: clock})
	for i := range 200 {
		if err := l.Write(record("dev", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Stats().Segments; n < 5 {
		t.Fatalf("%d segments after 200 records of a 1 KiB segment size", n)
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for l.Stats().Segments > 1 {
		if time.Now().After(deadline) {
			segs, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
			t.Fatalf("closed segments not removed after Keep: %d left", len(segs))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := l.Write(record("dev", 500)); err != nil {
		t.Fatal(err)
	}
	last := l.Head().Segment
	if err := l.Close(true); err != nil {
		t.Fatal(err)
	}
	// The newest segment stays, emptied, so that the next log numbers its
	// segments after it and a reader's saved position never names a
	// segment of another log.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("a clean close left %d segments; want the newest, emptied", len(segs))
	}
	if fi, err := os.Stat(segs[0]); err != nil || fi.Size() != 8 {
		t.Errorf("the newest segment after a clean close: %v, %v; want its 8-byte header alone", fi, err)
	}
	if err := l.Write(record("dev", 501)); err == nil {
		t.Error("a closed log took a record")
	}
	l, got, _ := collect(t, dir, wal.Options{})
	defer l.Close(false)
	if len(got) != 0 {
		t.Errorf("the log after a clean close replayed %d records", len(got))
	}
	if h := l.Head().Segment; h != last+1 {
		t.Errorf("the next log writes segment %d; want %d, after the last one", h, last+1)
	}
	// A reader saved at the end of the emptied segment goes on with what
	// the next log writes.
	if err := l.Write(record("dev", 502)); err != nil {
		t.Fatal(err)
	}
	r := l.NewReader(wal.Position{Segment: last, Offset: 8})
	defer r.Close()
	rec, ok, err := r.Next()
	if err != nil || !ok || rec.Points[0].Value != 502 {
		t.Errorf("a reader at the emptied segment: %+v, %v, %v; want the next log's record", rec, ok, err)
	}
}

// recordSize is the size of the first record of a segment, header included;
// the tests' records are all of one size.
func recordSize(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return 8 + int(binary.LittleEndian.Uint32(b[8:12]))
}

// flip changes one byte of a file.
func flip(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func FuzzReplay(f *testing.F) {
	dir := f.TempDir()
	l, _, err := wal.Open(dir, wal.Options{}, func(wal.Record) error { return nil })
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		if err := l.Write(record("dev", i)); err != nil {
			f.Fatal(err)
		}
	}
	l.Close(false)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	good, _ := os.ReadFile(segs[0])
	good = good[:8+3*(8+int(binary.LittleEndian.Uint32(good[8:12])))+64] // the records and a few zeros
	f.Add(good)
	f.Add(good[:len(good)-70])
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "0000000000000001.wal"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		n := 0
		l, st, err := wal.Open(dir, wal.Options{}, func(r wal.Record) error { n++; return nil })
		if err != nil {
			t.Fatalf("a damaged log refused to open: %v", err)
		}
		l.Close(false)
		// What was kept replays the same again, with nothing to cut.
		m := 0
		l, st2, err := wal.Open(dir, wal.Options{}, func(r wal.Record) error { m++; return nil })
		if err != nil || m != n || st2.Cut != 0 {
			t.Fatalf("second opening: %d records (first %d), %+v, %v; first %+v", m, n, st2, err, st)
		}
		l.Close(false)
	})
}

// A segment of a newer format stops the opening with a message that says
// so (an older Hearth on a newer one's data); a file that is no segment is
// cut away.
func TestFormatVersion(t *testing.T) {
	dir := t.TempDir()
	newer := append([]byte("HWAL"), 2, 0, 0, 0)
	if err := os.WriteFile(filepath.Join(dir, "0000000000000001.wal"), newer, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wal.Open(dir, wal.Options{}, func(wal.Record) error { return nil }); !errors.Is(err, wal.ErrNewerFormat) || !strings.Contains(err.Error(), "format 2") {
		t.Errorf("a newer segment: %v; want ErrNewerFormat naming the version", err)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "0000000000000001.wal"), []byte("not a log at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, got, st := collect(t, dir, wal.Options{})
	defer l.Close(false)
	if len(got) != 0 || st.Cut != 1 {
		t.Errorf("a file that is no segment: %d records, cut %d", len(got), st.Cut)
	}
	if _, err := os.Stat(filepath.Join(dir, "0000000000000001.wal")); !os.IsNotExist(err) {
		t.Errorf("the file that is no segment is still there: %v", err)
	}
}

// With a commit interval, a record appended soon after a commit waits for
// the interval to pass and shares the next commit with what follows it;
// the first record after a quiet spell is committed at once.
func TestCommitIntervalGathersRecords(t *testing.T) {
	const interval = 3 * time.Second
	l, _, _ := collect(t, t.TempDir(), wal.Options{CommitInterval: interval})
	defer l.Close(false)
	start := time.Now()
	if err := l.Write(record("dev-1", 0)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= interval {
		t.Fatalf("the first record took %s to commit; want it committed at once", took)
	}
	c2, err := l.Append(record("dev-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c2.Done():
		t.Fatal("a record appended right after a commit was committed before the interval passed")
	case <-time.After(300 * time.Millisecond):
	}
	c3, err := l.Append(record("dev-2", 0))
	if err != nil {
		t.Fatal(err)
	}
	if c2.Done() != c3.Done() {
		t.Error("two records appended within the interval went to different commits")
	}
	if err := c3.Wait(); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Records != 3 || st.Syncs != 2 {
		t.Errorf("stats %+v: want 3 records in 2 commits", st)
	}
}
