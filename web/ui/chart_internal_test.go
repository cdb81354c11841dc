package ui

import (
	"math"
	"testing"
)

// TestComfortBandsFollowTiles: the chart's comfort bands shade the values
// the reading tiles judge fair or poor, and no others (tried between whole
// numbers, where no edge is).
func TestComfortBandsFollowTiles(t *testing.T) {
	for metric, bands := range comfortBands {
		for x := -10.25; x <= 3000; x += 0.5 {
			want := metricBand(metric, x)
			got := "good"
			for _, b := range bands {
				if x > b.From && x < b.To {
					got = b.Level
				}
			}
			if got != want {
				t.Fatalf("%s at %v: the chart shades %q, the tiles say %q", metric, x, got, want)
			}
		}
	}
	if len(bandsOf("co2_ppm", "ppm")) != 2 || bandsOf("co2_ppm", "ppm")[1].To != nil || *bandsOf("co2_ppm", "ppm")[0].From != 1000 {
		t.Errorf("CO2 bands %+v", bandsOf("co2_ppm", "ppm"))
	}
	if math.IsInf(*bandsOf("humidity_pct", "%")[1].From, 0) {
		t.Error("an open band end is written as infinity")
	}
}

// TestChartUnit: Hearth's own metrics have their unit, others the one
// their name ends in, else none.
func TestChartUnit(t *testing.T) {
	for metric, want := range map[string]string{
		"co2_ppm": "ppm", "humidity_pct": "%", "gas_m3h": "m³/h", "zone2_temp_c": "°C", "room_rh": "%",
		"heat_kw": "kW", "running": "", "fault": "", "status": "", "counter": "",
	} {
		if got := chartUnit(metric); got != want {
			t.Errorf("chartUnit(%q) = %q, want %q", metric, got, want)
		}
	}
}
