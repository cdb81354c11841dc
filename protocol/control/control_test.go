package control_test

import (
	"math"
	"testing"
	"time"

	"github.com/hearthiot/hearth/protocol/control"
)

var chw = control.Range{Min: 5, Max: 12, Step: 0.5}

func TestResetFollowsLoadAndWeather(t *testing.T) {
	r := control.DefaultChilledReset
	for _, c := range []struct {
		name string
		in   control.Reading
		want float64
	}{
		{"full load on a hot day holds the design", control.Reading{LoadPct: 100, OutdoorC: 34, HasOutdoor: true, SetpointC: 7}, 7},
		{"no load on a mild day heads for economy, one step", control.Reading{LoadPct: 0, OutdoorC: 20, HasOutdoor: true, SetpointC: 7}, 7.5},
		{"half load: the load decides", control.Reading{LoadPct: 50, OutdoorC: 20, HasOutdoor: true, SetpointC: 9.5}, 9.5},
		{"low load on a hot day: the weather holds it back", control.Reading{LoadPct: 10, OutdoorC: 30, HasOutdoor: true, SetpointC: 10}, 8},
		{"back to the goal at once", control.Reading{LoadPct: 100, OutdoorC: 20, HasOutdoor: true, SetpointC: 11}, 7},
		{"a supply running warm steps back", control.Reading{LoadPct: 20, OutdoorC: 20, HasOutdoor: true, SetpointC: 10, SupplyC: 11.6, HasSupply: true}, 9.5},
		{"the guard never goes below the design", control.Reading{LoadPct: 20, OutdoorC: 20, HasOutdoor: true, SetpointC: 7, SupplyC: 9, HasSupply: true}, 7},
	} {
		if got := r.Setpoint(c.in, chw); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if g := r.Goal(control.Reading{LoadPct: 0, OutdoorC: 20, HasOutdoor: true, SetpointC: 7}, chw); g != 12 {
		t.Errorf("goal at no load on a mild day: %v, want 12", g)
	}
	// Hot water heads cooler.
	hw := control.Range{Min: 40, Max: 60, Step: 0.5}
	if got := control.DefaultHotReset.Setpoint(control.Reading{LoadPct: 0, OutdoorC: 16, HasOutdoor: true, SetpointC: 55}, hw); got != 54.5 {
		t.Errorf("hot water at no load: %v, want 54.5", got)
	}
	// A type's narrower range bounds the reset.
	narrow := control.Range{Min: 6, Max: 9, Step: 1}
	if got := r.Goal(control.Reading{LoadPct: 0, OutdoorC: 20, HasOutdoor: true}, narrow); got != 9 {
		t.Errorf("goal in 6–9: %v", got)
	}
}

func TestDCV(t *testing.T) {
	damper := control.Range{Min: 10, Max: 100, Step: 5}
	for co2, want := range map[float64]float64{400: 20, 600: 20, 750: 60, 900: 100, 1500: 100, math.NaN(): 20, math.Inf(1): 100} {
		if got := control.DefaultDCV.OutdoorAirPct(co2, damper); got != want {
			t.Errorf("CO2 %v: %v %%, want %v", co2, got, want)
		}
	}
	if !damper.Moves(50, 60, true) || damper.Moves(50, 55, true) || !damper.Moves(25, 20, false) || !damper.Moves(15, 10, true) {
		t.Error("Moves: a damper moves by two steps or to an end, a set-point by any")
	}
}

func TestWarmupLearnsTheBuilding(t *testing.T) {
	var w control.Warmup
	if got := w.Lead(true, 30, 0, 4*time.Hour); got != 4*time.Hour {
		t.Errorf("the guess on a 30 °C morning: %v, want the 4 h cap", got)
	}
	// A building that needs 10 minutes a kelvin and nothing else.
	for i := range 30 {
		out := 21 + float64(i%10)
		w = w.Observe(true, out, time.Duration((out-20)*10*float64(time.Minute)), 4*time.Hour)
	}
	if len(w.Starts) != control.MaxStarts {
		t.Fatalf("kept %d starts, want %d", len(w.Starts), control.MaxStarts)
	}
	// 1.25 × 80 min + 15 min.
	if got := w.Lead(true, 28, 0, 4*time.Hour); got != 115*time.Minute {
		t.Errorf("lead at 28 °C: %v, want 1h55m", got)
	}
	if got := w.Lead(true, 15, 30*time.Minute, 4*time.Hour); got != 30*time.Minute {
		t.Errorf("lead below the balance point: %v, want the 30 min floor", got)
	}
	occupied := time.Date(2026, 7, 1, 8, 30, 0, 0, time.UTC)
	if got := w.StartAt(occupied, true, 28, 0, 4*time.Hour); !got.Equal(occupied.Add(-115 * time.Minute)) {
		t.Errorf("start: %v", got)
	}
}

// FuzzBounded: whatever a device measures, a strategy's value is within
// the type's range and on its step.
func FuzzBounded(f *testing.F) {
	f.Add(50.0, 25.0, 8.0, 7.5, 700.0, 5.0, 12.0, 0.5)
	f.Add(-1e9, math.Inf(1), math.NaN(), 0.0, -5.0, 10.0, 100.0, 5.0)
	f.Fuzz(func(t *testing.T, load, out, supply, sp, co2, lo, hi, step float64) {
		r := control.Range{Min: lo, Max: hi, Step: step}
		if r.Check() != nil || math.IsInf(lo, 0) || math.IsInf(hi, 0) || step > 0 && (hi-lo)/step > 1e6 || math.IsInf(step, 0) {
			return
		}
		in := control.Reading{LoadPct: load, OutdoorC: out, HasOutdoor: true, SupplyC: supply, SetpointC: sp, HasSupply: true}
		for _, v := range []float64{control.DefaultChilledReset.Setpoint(in, r), control.DefaultHotReset.Setpoint(in, r),
			control.DefaultChilledReset.Goal(in, r), control.DefaultDCV.OutdoorAirPct(co2, r)} {
			if math.IsNaN(v) || v < r.Min-1e-6 || v > r.Max+1e-6 {
				t.Fatalf("%v outside %+v", v, r)
			}
			if r.Step > 0 {
				// On the grid, to the six decimals Clamp keeps.
				k := math.Round((v - r.Min) / r.Step)
				if math.Abs(v-(r.Min+k*r.Step)) > 1e-6*math.Max(1, math.Abs(v)) {
					t.Fatalf("%v off the step of %+v", v, r)
				}
			}
		}
	})
}
