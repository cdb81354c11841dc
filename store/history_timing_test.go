package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// BenchmarkPutShadowWithHistory is one accepted shadow update made by a
// writer alone: the version check, the shadow, a history entry with its
// indexes, and the fsync, after the batch delay in which no other write
// joined (see BenchmarkPutShadowParallel for many writers).
func BenchmarkPutShadowWithHistory(b *testing.B) {
	s, _ := shadowFleet(b)
	v := int64(0)
	for b.Loop() {
		v++
		h := entry("d1", "", v, "device:d1")
		h.Time = time.Time{}
		if err := s.PutShadow(store.Shadow{Device: "d1", Version: v, Doc: doc(int(v))}, v-1, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHistoryFirstPage reads the newest page of one device whose
// history is 100,000 entries long, beside another device's.
func BenchmarkHistoryFirstPage(b *testing.B) {
	const entries = 100_000
	s, _ := shadowFleet(b)
	for chunk := 0; chunk < entries; chunk += 10_000 {
		es := make([]store.HistoryEntry, 0, 2*10_000)
		for i := chunk; i < chunk+10_000; i++ {
			for _, device := range []string{"d1", "d2"} {
				es = append(es, store.HistoryEntry{
					Device: device, Version: int64(i + 1), Time: at(0).Add(time.Duration(i) * time.Second),
					Actor: "device:" + device, Channel: "mqtt",
					Update:  json.RawMessage(`{"state":{"reported":{"sp":21}}}`),
					Changes: []store.HistoryChange{{Section: store.SectionReported, Key: "sp", Old: json.RawMessage(`20`), New: json.RawMessage(`21`)}},
				})
			}
		}
		if err := s.AppendHistoryInOneTransaction(es); err != nil {
			b.Fatal(err)
		}
	}
	classic := ""
	for _, bb := range []struct {
		name string
		q    store.HistoryQuery
	}{
		{"device", store.HistoryQuery{Device: "d1"}},
		{"shadow", store.HistoryQuery{Device: "d1", Shadow: &classic}},
		{"fleet", store.HistoryQuery{}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				es, next, err := s.History(bb.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(es) != store.DefaultHistoryLimit || next == "" {
					b.Fatalf("page of %d entries, cursor %q", len(es), next)
				}
			}
		})
	}
}
