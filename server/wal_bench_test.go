package server_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/wal"
)

// BenchmarkReplay measures a start after a crash with a full telemetry
// log: 100,000 messages of 20 samples (2 M samples, 1,000 devices) left in
// the log, stored again before the server is ready. It reports the start
// time and the replay rate in samples per second.
//
//	go test -run '^$' -bench Replay -benchtime 3x ./server/
func BenchmarkReplay(b *testing.B) {
	const records, points = 100_000, 20
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		l, _, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{}, func(wal.Record) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		base := time.Now().Add(-time.Hour).UnixMilli()
		for i := range records {
			r := wal.Record{Device: fmt.Sprintf("dev-%04d", i%1000), Customer: "acme", Site: "default", Points: make([]wal.Point, points)}
			for p := range points {
				r.Points[p] = wal.Point{Metric: fmt.Sprintf("m%02d", p), Timestamp: base + int64(i/1000)*1000, Value: float64(i)}
			}
			if err := l.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Close(false); err != nil { // as after a crash: the segments stay
			b.Fatal(err)
		}
		b.StartTimer()
		began := time.Now()
		h := startHearth(b, dir)
		took := time.Since(began)
		b.StopTimer()
		b.ReportMetric(took.Seconds(), "start-s")
		b.ReportMetric(records*points/took.Seconds(), "samples/s")
		h.stop()
	}
}
