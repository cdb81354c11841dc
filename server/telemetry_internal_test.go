package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store/tsdb"
	"github.com/hearthiot/hearth/store/wal"
)

// With the telemetry log, readings reach the time-series store one group
// commit at a time, in one write per group: every message's readings are
// stored, under its own device, in order; each message gets its own
// result, so a refused one does not fail the others of its group.
func TestReadingsAreStoredPerGroupCommit(t *testing.T) {
	db, err := tsdb.Open(tsdb.Config{Dir: t.TempDir(), MemoryBytes: 64 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}()
	log, _, err := wal.Open(t.TempDir(), wal.Options{}, func(wal.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	w := newReadingWriter(db, log, nil)

	const devices, messages = 4, 100
	base := time.Now().Add(-time.Hour).UnixMilli()
	type result struct {
		dev, msg int
		err      error
	}
	results := make(chan result, devices*messages)
	var wg sync.WaitGroup
	for d := range devices {
		var waits []func() error
		for m := range messages {
			v := float64(m)
			if d == 0 && m == 50 {
				v = math.NaN() // the store refuses it
			}
			wait, err := w.WriteReadings(fmt.Sprintf("dev-%d", d), "cust", "site",
				[]device.Reading{{Metric: "temp", Timestamp: base + int64(m), Value: v}, {Metric: "hum", Timestamp: base + int64(m), Value: 2 * v}})
			if err != nil {
				t.Fatal(err)
			}
			waits = append(waits, wait)
		}
		wg.Go(func() {
			for m, wait := range waits {
				results <- result{d, m, wait()}
			}
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		refused := r.dev == 0 && r.msg == 50
		var te *device.TelemetryError
		if refused != errors.As(r.err, &te) || (!refused && r.err != nil) {
			t.Errorf("dev-%d message %d: error %v", r.dev, r.msg, r.err)
		}
	}
	if err := log.Close(true); err != nil {
		t.Fatal(err)
	}
	if n := w.groups.writes.Load(); n == 0 || n >= devices*messages {
		t.Errorf("%d writes to the store for %d messages; want fewer, one per group commit", n, devices*messages)
	}

	db.Flush()
	for d := range devices {
		dev := fmt.Sprintf("dev-%d", d)
		got, err := db.Query(context.Background(), fmt.Sprintf(`count_over_time(temp{device=%q,customer="cust",site="site"}[1h])`, dev), time.UnixMilli(base+messages))
		if err != nil {
			t.Fatal(err)
		}
		want := float64(messages)
		if d == 0 {
			want--
		}
		if len(got) != 1 || len(got[0].Values) != 1 || got[0].Values[0] != want {
			t.Errorf("%s: %+v samples of temp stored, want %v", dev, got, want)
		}
		latest := db.Latest(dev, "cust")
		wantLatest := []tsdb.Point{{Metric: "hum", Timestamp: base + messages - 1, Value: 2 * (messages - 1)}, {Metric: "temp", Timestamp: base + messages - 1, Value: messages - 1}}
		if fmt.Sprint(latest) != fmt.Sprint(wantLatest) {
			t.Errorf("%s: latest %v, want %v", dev, latest, wantLatest)
		}
	}
}
