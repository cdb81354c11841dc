package sim

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMetricNames(t *testing.T) {
	got := MetricNames(22)
	if got[0] != "chw_supply_c" || got[7] != "co2_ppm" || got[20] != "m20" || got[21] != "m21" {
		t.Errorf("MetricNames(22) = %v", got)
	}
	if len(MetricNames(0)) != 0 {
		t.Errorf("MetricNames(0) not empty")
	}
	if sorted := slices.Compact(slices.Sorted(slices.Values(MetricNames(100)))); len(sorted) != 100 {
		t.Errorf("MetricNames(100) has %d distinct names", len(sorted))
	}
}

func TestPayloadGen(t *testing.T) {
	for _, n := range []int{1, 10, 20, 25} {
		g := newPayloadGen(n, 7)
		var prevEnergy float64
		for i := range 50 {
			raw := g.next(nil)
			var m map[string]float64
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("n=%d message %d %s: %v", n, i, raw, err)
			}
			names := make([]string, 0, len(m))
			for k := range m {
				names = append(names, k)
			}
			if diff := cmp.Diff(slices.Sorted(slices.Values(MetricNames(n))), slices.Sorted(slices.Values(names))); diff != "" {
				t.Fatalf("n=%d keys (-want +got):\n%s", n, diff)
			}
			if e, ok := m["energy_kwh"]; ok {
				if e < prevEnergy {
					t.Fatalf("energy_kwh went back from %v to %v", prevEnergy, e)
				}
				prevEnergy = e
			}
			if co2, ok := m["co2_ppm"]; ok && (co2 < 300 || co2 > 1000) {
				t.Errorf("co2_ppm %v outside a plausible range", co2)
			}
		}
	}
}

func BenchmarkPayloadGen(b *testing.B) {
	g := newPayloadGen(20, 1)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = g.next(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
