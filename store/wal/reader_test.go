package wal_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/wal"
)

// TestReaderTails: a reader following the log while writers append reads
// every committed record once, in commit order, across segment
// rotations, and never a half-written batch or a segment's zeros.
func TestReaderTails(t *testing.T) {
	dir := t.TempDir()
	l, _, err := wal.Open(dir, wal.Options{SegmentBytes: 64 << 10}, func(wal.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(false)
	r := l.NewReader(wal.Position{})
	defer r.Close()

	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				rec := wal.Record{Device: fmt.Sprintf("dev-%d", w), Customer: "acme", Site: "hq",
					Points: []wal.Point{{Metric: "seq", Timestamp: int64(i), Value: float64(i)}}}
				if err := l.Write(rec); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := map[string]int64{}
	n := 0
	deadline := time.After(30 * time.Second)
	for n < writers*each {
		changed := l.Changed()
		rec, ok, err := r.Next()
		if err != nil {
			t.Fatalf("after %d records: %v", n, err)
		}
		if !ok {
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("read %d of %d records", n, writers*each)
			}
			continue
		}
		if got := rec.Points[0].Timestamp; got != next[rec.Device] || rec.Customer != "acme" || rec.Site != "hq" {
			t.Fatalf("record %d: %+v; want %s's %d", n, rec, rec.Device, next[rec.Device])
		}
		next[rec.Device]++
		n++
	}
	wg.Wait()
	if _, ok, err := r.Next(); ok || err != nil {
		t.Errorf("a record past the last: %v %v", ok, err)
	}
	if st := l.Stats(); st.Points != writers*each || l.Head().Segment < 3 {
		t.Errorf("stats %+v, head %+v: want %d points over several segments", st, l.Head(), writers*each)
	}
	if r.Position() != l.Head() {
		t.Errorf("reader at %+v, head at %+v", r.Position(), l.Head())
	}
}

// TestHoldKeepsSegments: closed segments a reader holds outlive Keep and a
// clean close; those before the hold go; a reader whose segment was
// removed after all skips to the next with ErrGap; SkipSegment counts what
// it leaves.
func TestHoldKeepsSegments(t *testing.T) {
	dir := t.TempDir()
	l, _, err := wal.Open(dir, wal.Options{SegmentBytes: 16 << 10, Keep: time.Millisecond}, func(wal.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	l.Hold("remote", 1)
	write := func(n int) {
		for i := range n {
			if err := l.Write(wal.Record{Device: "d", Points: []wal.Point{{Metric: "m", Timestamp: int64(i), Value: 1}, {Metric: "n", Timestamp: int64(i), Value: 2}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(2000) // several segments
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "0000000000000001.wal")); err != nil {
		t.Fatalf("a held segment was removed: %v", err)
	}
	r := l.NewReader(wal.Position{Segment: 1})
	samples, err := r.SkipSegment()
	if err != nil || samples == 0 || r.Position().Segment != 2 {
		t.Fatalf("skip: %d samples, %v, at %+v", samples, err, r.Position())
	}
	l.Hold("remote", 3)
	time.Sleep(2500 * time.Millisecond)
	for _, n := range []string{"0000000000000001.wal", "0000000000000002.wal"} {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s outlived its hold: %v", n, err)
		}
	}
	if _, _, err := r.Next(); !errors.Is(err, wal.ErrGap) || r.Position().Segment != 3 || r.Skipped.Segment != 2 {
		t.Errorf("a removed segment: %v, at %+v, skipped %+v", err, r.Position(), r.Skipped)
	}
	r.Close()
	if err := l.Close(false); err != nil {
		t.Fatal(err)
	}
	if err := wal.RemoveSegmentsBefore(dir, 4); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if len(left) == 0 || filepath.Base(left[0]) != "0000000000000004.wal" {
		t.Errorf("left after removing those before 4: %v", left)
	}
}
