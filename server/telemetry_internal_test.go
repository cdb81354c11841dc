package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"syscall"
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
	w := newReadingWriter(db, log, nil, make(appendSlots, 4))

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
	w.groups.close()
	if _, err := w.WriteReadings("dev-0", "cust", "site", []device.Reading{{Metric: "temp", Timestamp: base, Value: 1}}); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("a write after close: %v, want the log's ErrClosed", err)
	}
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

// BenchmarkStoreReadings measures what storing a telemetry message costs
// behind the broker: appending its 20 readings to the telemetry log,
// waiting for the commit, storing them in the time-series store. 256
// writers stand for the connections with a message in flight. It reports
// the process's CPU time per message (cpu-µs/msg: less sensitive to other
// work on the machine than the time per message) and the messages per
// commit, for two ways of storing:
//
//	per-message  each message's readings stored on their own once the
//	             commit is durable, a commit as soon as the previous ends
//	per-commit   what the server does: the readings of a commit stored in
//	             one write, commits at least 2 ms apart
//
// go test -run '^$' -bench StoreReadings -benchtime 20000x ./server/
func BenchmarkStoreReadings(b *testing.B) {
	for _, mode := range []string{"per-message", "per-commit"} {
		b.Run(mode, func(b *testing.B) {
			db, err := tsdb.Open(tsdb.Config{Dir: b.TempDir(), MemoryBytes: 256 << 20}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			opts := wal.Options{}
			if mode == "per-commit" {
				opts.CommitInterval = telemetryCommitInterval
			}
			log, _, err := wal.Open(b.TempDir(), opts, func(wal.Record) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			defer log.Close(true)
			rw := newReadingWriter(db, log, nil, make(appendSlots, 4))
			defer rw.groups.close()
			write := rw.WriteReadings
			if mode == "per-message" {
				write = func(dev, customer, site string, rs []device.Reading) (func() error, error) {
					rec := wal.Record{Device: dev, Customer: customer, Site: site, Points: make([]wal.Point, len(rs))}
					for i, r := range rs {
						rec.Points[i] = wal.Point(r)
					}
					c, err := log.Append(rec)
					if err != nil {
						return nil, err
					}
					return func() error {
						if err := c.Wait(); err != nil {
							return err
						}
						pts := make([]tsdb.Point, len(rs))
						for i, r := range rs {
							pts[i] = tsdb.Point(r)
						}
						return db.Append(dev, customer, site, pts)
					}, nil
				}
			}
			names := make([]string, 20)
			for i := range names {
				names[i] = fmt.Sprintf("metric_%02d", i)
			}
			var next atomic.Int64
			start := time.Now().Add(-time.Hour).UnixMilli()
			syncs0 := log.Stats().Syncs
			cpu0 := processCPU(b)
			b.ResetTimer()
			b.SetParallelism(128) // 256 writers on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				rs := make([]device.Reading, len(names))
				for pb.Next() {
					n := next.Add(1)
					dev := fmt.Sprintf("dev-%04d", n%1000)
					for i := range rs {
						rs[i] = device.Reading{Metric: names[i], Timestamp: start + n/1000, Value: float64(n)}
					}
					wait, err := write(dev, "cust", "site", rs)
					if err == nil {
						err = wait()
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
			if syncs := log.Stats().Syncs - syncs0; syncs > 0 {
				b.ReportMetric(float64(b.N)/float64(syncs), "msgs/commit")
			}
		})
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
