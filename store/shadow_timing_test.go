package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// benchWritersPerCPU is b.SetParallelism's factor: with 32 writers per CPU,
// more shadows are written at once than a batch window sees on a loaded
// box, as when a fleet reports at the same time.
const benchWritersPerCPU = 32

// BenchmarkPutShadowParallel writes shadows with their history entries from
// many goroutines, each updating its own device's shadow as a device would,
// once with one transaction and fsync per write (update) and once with
// bbolt's batches (batch), on a real file, in one run. It reports writes
// per commit, which says how many fsyncs batching saved, and for batch how
// many times update's rate of writes it reached (x-update-rate).
func BenchmarkPutShadowParallel(b *testing.B) {
	writers := benchWritersPerCPU * runtime.GOMAXPROCS(0)
	nsPerOp := map[string]float64{}
	for _, bb := range []struct {
		name  string
		write func(s *Store) func(func(*bolt.Tx) error) error
	}{
		{"update", func(s *Store) func(func(*bolt.Tx) error) error { return s.update }},
		{"batch", func(s *Store) func(func(*bolt.Tx) error) error { return s.batch }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			s := benchShadowStore(b, writers)
			write := bb.write(s)
			var next atomic.Int64
			commits := int(s.Commits())
			b.SetParallelism(benchWritersPerCPU)
			b.ResetTimer()
			began := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				device := benchDevice(int(next.Add(1) - 1))
				for v := int64(1); pb.Next(); v++ {
					var trimmed int
					fn, err := s.shadowWrite(Shadow{Device: device, Version: v, Doc: benchShadowDoc(v)}, v-1, benchHistory(device, v), &trimmed)
					if err == nil {
						err = write(fn)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(began)
			b.StopTimer()
			commits = int(s.Commits()) - commits
			b.ReportMetric(float64(b.N)/float64(max(commits, 1)), "writes/commit")
			nsPerOp[bb.name] = float64(elapsed) / float64(b.N)
			if bb.name == "batch" && nsPerOp["update"] > 0 {
				// Shadows written per second, as a multiple of update's.
				b.ReportMetric(nsPerOp["update"]/nsPerOp["batch"], "x-update-rate")
			}
		})
	}
}

// benchShadowStore opens a store with n devices in b.TempDir().
func benchShadowStore(b *testing.B, n int) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "hearth.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.CreateCustomer(Customer{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	ds := make([]Device, n)
	for i := range ds {
		ds[i] = Device{Name: benchDevice(i), Customer: "bench"}
	}
	if err := s.CreateDevicesInOneTransaction(ds); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchDevice(i int) string { return fmt.Sprintf("ahu-%04d", i) }

// benchShadowDoc is a shadow of the size a gateway reports: a dozen
// settings with their metadata.
func benchShadowDoc(v int64) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"state":{"desired":{"sp":%d,"mode":"auto","fan":3},`+
		`"reported":{"sp":%d,"mode":"auto","fan":3,"fw":"1.4.2","supply_c":7.1,"return_c":12.3}},`+
		`"metadata":{"desired":{"sp":{"timestamp":1795747550},"mode":{"timestamp":1795747550},"fan":{"timestamp":1795747550}},`+
		`"reported":{"sp":{"timestamp":1795747551},"mode":{"timestamp":1795747551},"fan":{"timestamp":1795747551},`+
		`"fw":{"timestamp":1795747551},"supply_c":{"timestamp":1795747551},"return_c":{"timestamp":1795747551}}},`+
		`"version":%d,"timestamp":1795747551}`, v, v, v))
}

// benchHistory is the entry of a device's report that changed one key.
func benchHistory(device string, v int64) *HistoryEntry {
	return &HistoryEntry{
		Device: device, Version: v, Actor: "device:" + device, Channel: "mqtt",
		Update:  json.RawMessage(fmt.Sprintf(`{"state":{"reported":{"sp":%d}},"clientToken":"t-%d"}`, v, v)),
		Changes: []HistoryChange{{Section: SectionReported, Key: "sp", Old: json.RawMessage(fmt.Sprint(v - 1)), New: json.RawMessage(fmt.Sprint(v))}},
	}
}
