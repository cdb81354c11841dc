package agent_test

import (
	"encoding/json"
	"runtime"
	"testing"

	"github.com/hearthiot/hearth/agent"
)

// chillerSample is a sample as the agent spools it for the chiller
// register map: its points and the agent's own metrics.
func chillerSample(b testing.TB, ts int64, i int) []byte {
	b.Helper()
	v := float64(i%1000) / 10
	p, err := json.Marshal(map[string]any{"ts": ts, "values": map[string]float64{
		"chw_setpoint_c": 7, "hw_setpoint_c": 55, "running": 1, "chw_supply_c": 7.12 + v/100, "chw_return_c": 12.34,
		"hw_supply_c": 54.87, "hw_return_c": 49.91, "load_pct": 63.4, "fault": 0, "outside_temp_c": 31.482,
		"gas_m3h": 41.7355, "gas_total_m3": 123456.78 + v, "agent_modbus_faults_total": 3, "agent_spool_backlog": float64(i),
		"agent_spool_dropped_total": 0, "agent_telemetry_rejected_total": 0,
	}})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkSpoolWeek buffers a week of one-minute chiller samples (the
// default bound, 10,080) and reports the spool's disk use, the heap it
// keeps while holding them, and the cost of one append (an fsync) and of
// sending them all back in batches of 500. Run it with
//
//	go test ./agent -run '^$' -bench SpoolWeek -benchtime 1x
func BenchmarkSpoolWeek(b *testing.B) {
	for range b.N {
		dir := b.TempDir()
		var before, held runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := agent.OpenSpool(dir, agent.SpoolOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ts := int64(1_767_225_600_000)
		var payloadBytes int
		for i := range agent.DefaultSpoolSamples {
			p := chillerSample(b, ts, i)
			payloadBytes += len(p)
			if _, err := s.Append(ts, p); err != nil {
				b.Fatal(err)
			}
			ts += 60_000
		}
		runtime.GC()
		runtime.ReadMemStats(&held)
		st := s.Stats()
		if st.Samples != agent.DefaultSpoolSamples || st.Dropped != 0 {
			b.Fatalf("stats %+v", st)
		}
		b.ReportMetric(float64(st.Bytes), "disk_bytes")
		b.ReportMetric(float64(st.Bytes)/float64(st.Samples), "disk_bytes/sample")
		b.ReportMetric(float64(payloadBytes)/float64(st.Samples), "json_bytes/sample")
		b.ReportMetric(float64(held.HeapAlloc)-float64(before.HeapAlloc), "heap_held_bytes")
		b.ReportMetric(float64(st.Segments), "segments")

		// Draining: what a back-fill after a week's outage reads.
		batches := 0
		for {
			recs, err := s.Peek(500, 112<<10)
			if err != nil {
				b.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			batches++
			if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(batches), "batches")
		s.Close()
	}
}

// BenchmarkSpoolAppend is the cost of spooling one sample: one write and
// one fsync.
func BenchmarkSpoolAppend(b *testing.B) {
	s, err := agent.OpenSpool(b.TempDir(), agent.SpoolOptions{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := chillerSample(b, 1, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Append(int64(i+1), p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpoolPeek is the cost of reading a batch of 500 samples to send.
func BenchmarkSpoolPeek(b *testing.B) {
	s, err := agent.OpenSpool(b.TempDir(), agent.SpoolOptions{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 2000 {
		if _, err := s.Append(int64(i+1), chillerSample(b, int64(i+1), i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if recs, err := s.Peek(500, 1<<20); err != nil || len(recs) != 500 {
			b.Fatalf("peek: %d, %v", len(recs), err)
		}
	}
}
