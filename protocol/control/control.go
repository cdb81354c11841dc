// Package control holds the control laws of Hearth's energy-saving
// strategies: what set-point, damper opening or start time a strategy asks
// for, from what was measured. The server's strategy runner applies them
// to real devices through their shadows; the simulator's season run
// applies the very same functions to its physics, so that the saving the
// simulator shows is the saving of the code that runs.
//
// The package is pure: it takes numbers and times and returns numbers and
// times. It keeps no state, reads no clock and knows nothing of devices,
// shadows or the network, and it imports only the standard library, like
// the rest of package protocol.
package control

import (
	"fmt"
	"math"
	"time"
)

// Strategy names, as sites switch them on and as the shadow history names
// their writes ("strategy:setpoint_reset").
const (
	SetpointReset = "setpoint_reset"
	Ventilation   = "co2_ventilation"
	OptimumStart  = "optimum_start"
)

// Names lists every strategy, in the order pages show them.
var Names = []string{SetpointReset, Ventilation, OptimumStart}

// Known reports whether name is a strategy.
func Known(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// Range is the values a setting may take: a device type's minimum,
// maximum and step. A zero Step means any value.
type Range struct {
	Min, Max, Step float64
}

// Clamp brings v into the range and onto its step grid (rounded to the
// nearest step that lies inside the range).
func (r Range) Clamp(v float64) float64 {
	if math.IsNaN(v) {
		return r.Min
	}
	v = math.Max(r.Min, math.Min(r.Max, v))
	if r.Step > 0 {
		v = r.Min + math.Round((v-r.Min)/r.Step)*r.Step
		if v > r.Max {
			v -= r.Step
		}
	}
	// Keep the decimals a person would type: 9.5, not 9.499999999.
	return math.Round(v*1e6) / 1e6
}

// Check refuses a range that cannot hold a value.
func (r Range) Check() error {
	if math.IsNaN(r.Min) || math.IsNaN(r.Max) || r.Min > r.Max || r.Step < 0 {
		return fmt.Errorf("range %g–%g step %g holds no value", r.Min, r.Max, r.Step)
	}
	return nil
}

// ResetBasis is what a set-point reset follows.
type ResetBasis string

// Bases of a set-point reset.
const (
	// ByLoad resets from the machine's part load: the less it delivers,
	// the further the set-point moves toward the economical end.
	ByLoad ResetBasis = "load"
	// ByOutdoor resets from the outdoor temperature between two points.
	ByOutdoor ResetBasis = "outdoor"
	// ByBoth takes the less economical of the two: the load's reset,
	// held back on a hot (or cold) day, when a coil short of cold (or
	// hot) water would read to the machine as low load.
	ByBoth ResetBasis = "both"
)

// Bases lists the bases a reset accepts.
var Bases = []ResetBasis{ByBoth, ByLoad, ByOutdoor}

// Reset is a chilled- or hot-water set-point reset: the design set-point
// at full load (or at the design outdoor temperature), moved linearly
// toward Economy as load falls (or as the outdoor temperature approaches
// Mild). For chilled water Economy is warmer than Design; for hot water it
// is cooler. Both are clamped to the device type's range.
type Reset struct {
	Basis ResetBasis
	// Design is the set-point at full load or at DesignOutdoorC; Economy
	// at no load or at MildOutdoorC.
	Design, Economy float64
	// DesignOutdoorC and MildOutdoorC are the outdoor temperatures of the
	// two ends when Basis is ByOutdoor (for cooling 33 and 20 °C, say).
	DesignOutdoorC, MildOutdoorC float64
	// Tolerance is how far the supply water may stray from its set-point
	// before the reset gives way (kelvin): a supply that cannot be held is
	// a sign that the set-point is too economical for the load.
	Tolerance float64
}

// DefaultChilledReset is the reset of a chilled-water loop: 7 °C at full
// load, up to 11 °C at no load, giving way when the supply runs more than
// 1 K warm.
var DefaultChilledReset = Reset{Basis: ByBoth, Design: 7, Economy: 12, DesignOutdoorC: 32, MildOutdoorC: 22, Tolerance: 1}

// DefaultHotReset is the reset of a hot-water loop: 55 °C at full load,
// down to 45 °C at no load.
var DefaultHotReset = Reset{Basis: ByBoth, Design: 55, Economy: 45, DesignOutdoorC: 0, MildOutdoorC: 16, Tolerance: 1}

// Reading is what a reset looks at: the machine's part load (0–100 %), the
// outdoor temperature, and its supply water against the set-point held.
type Reading struct {
	LoadPct, OutdoorC     float64
	SupplyC, SetpointC    float64
	HasOutdoor, HasSupply bool
}

// Goal is where the reset is heading, in the range r: the set-point of
// the load and the outdoor temperature alone, before the supply's guard
// and the one-step-at-a-time move of Setpoint. A person's change holds
// while the goal stays the same (see package strategy).
func (c Reset) Goal(in Reading, r Range) float64 {
	byLoad := 1 - in.LoadPct/100
	byOutdoor := 0.0
	if in.HasOutdoor && c.DesignOutdoorC != c.MildOutdoorC {
		byOutdoor = (in.OutdoorC - c.DesignOutdoorC) / (c.MildOutdoorC - c.DesignOutdoorC)
	}
	var share float64
	switch c.Basis {
	case ByOutdoor:
		share = byOutdoor
	case ByLoad:
		share = byLoad
	default:
		share = math.Min(byLoad, byOutdoor)
	}
	if math.IsNaN(share) {
		share = 0 // nothing to go by: the design value
	}
	share = math.Max(0, math.Min(1, share))
	return r.Clamp(c.Design + share*(c.Economy-c.Design))
}

// Setpoint is the set-point the reset asks for, in the range r, for a
// machine that is running (a stopped machine's load says nothing).
//
// The share of the way from Design to Economy is 1 − load, or how mild the
// outdoor air is between the two outdoor points, or the smaller of the
// two. When the supply water
// runs beyond its set-point by more than the tolerance (warmer for chilled
// water, cooler for hot water), the machine is short of capacity and the
// set-point is not moved further toward Economy than it is now; it moves
// back toward Design by a step, so that comfort wins over saving.
func (c Reset) Setpoint(in Reading, r Range) float64 {
	target := c.Goal(in, r)
	if in.HasSupply && in.SetpointC != 0 {
		warmer := c.Economy > c.Design // chilled water: economy is warmer
		off := in.SupplyC - in.SetpointC
		if !warmer {
			off = -off
		}
		if off > c.Tolerance {
			step := r.Step
			if step == 0 {
				step = 0.5
			}
			back := in.SetpointC - step
			if !warmer {
				back = in.SetpointC + step
			}
			if warmer {
				target = math.Max(c.Design, math.Min(target, back))
			} else {
				target = math.Min(c.Design, math.Max(target, back))
			}
		}
	}
	// Toward economy by at most one step at a time, toward the design
	// value at once: a load that rises finds the water cold enough sooner
	// than a load that falls finds it warm.
	if in.SetpointC != 0 {
		step := r.Step
		if step == 0 {
			step = 0.5
		}
		if c.Economy > c.Design {
			target = math.Min(target, in.SetpointC+step)
		} else {
			target = math.Max(target, in.SetpointC-step)
		}
	}
	return r.Clamp(target)
}

// DCV is demand-controlled ventilation: the outdoor-air damper opened in
// proportion to the measured CO2 between Low (the minimum opening) and
// High (fully open), so that rooms get outdoor air when people are there
// and the plant does not cool or heat air nobody breathes.
type DCV struct {
	// LowPPM is the CO2 at or below which the damper stays at its
	// minimum; HighPPM the CO2 at which it is fully open. High stays
	// under the 1,000 ppm of the building hygiene standard with a margin
	// for rooms that run above the return air's average.
	LowPPM, HighPPM float64
	// MinPct is the smallest opening while the building is in use; the
	// device type's minimum outdoor air bounds it from below.
	MinPct float64
}

// DefaultDCV opens from 20 % at 600 ppm to fully open at 900 ppm.
var DefaultDCV = DCV{LowPPM: 600, HighPPM: 900, MinPct: 20}

// OutdoorAirPct is the damper opening (% of the design outdoor air) for a
// measured CO2, in the range r.
func (d DCV) OutdoorAirPct(co2 float64, r Range) float64 {
	lo := math.Max(d.MinPct, r.Min)
	if d.HighPPM <= d.LowPPM {
		return r.Clamp(r.Max)
	}
	share := math.Max(0, math.Min(1, (co2-d.LowPPM)/(d.HighPPM-d.LowPPM)))
	if math.IsNaN(co2) {
		share = 0
	}
	// Round up to the step so the opening never falls short of the law.
	v := lo + share*(r.Max-lo)
	if r.Step > 0 {
		v = r.Min + math.Ceil((v-r.Min)/r.Step-1e-9)*r.Step
	}
	return r.Clamp(v)
}

// Moves reports whether a strategy should write next in place of held: a
// set-point moves by any step, a damper only by at least two steps or to
// an end of its range, so that a room's CO2 wandering by a few ppm does not
// fill the shadow's history.
func (r Range) Moves(held, next float64, damper bool) bool {
	if held == next {
		return false
	}
	if !damper || r.Step == 0 {
		return true
	}
	return math.Abs(next-held) >= 2*r.Step-1e-9 || next == r.Min || next == r.Max
}

// Warmup is a building's recorded need before its occupied time: how long
// its plant took from a start until the supply water reached the
// set-point, against how far the outdoor air was beyond the balance point
// then (hotter mornings for cooling, colder for heating: a building that
// floated further overnight needs longer). Lead fits a line through the
// recent starts; until there are enough of them it uses a conservative
// guess.
type Warmup struct {
	Starts []Start `json:"starts,omitempty"`
}

// Start is one observed start: the outdoor excess over the balance point
// (K) and the minutes until the supply water was at its set-point.
type Start struct {
	ExcessK float64 `json:"excess_k"`
	Minutes float64 `json:"minutes"`
}

// MaxStarts is how many recent starts a Warmup keeps: about a month of
// working days.
const MaxStarts = 20

// Guess is the warm-up before enough starts were observed: an hour, and a
// quarter of an hour more per kelvin.
var Guess = struct{ BaseMin, PerKMin float64 }{60, 15}

// Balance points of the warm-up model: outdoor temperatures at which the
// building needs neither cooling nor heating in the morning.
const (
	CoolingBalanceC = 20.0
	HeatingBalanceC = 14.0
)

// Excess is how far the outdoor air is beyond the balance point of the
// mode.
func Excess(cooling bool, outdoorC float64) float64 {
	if cooling {
		return math.Max(0, outdoorC-CoolingBalanceC)
	}
	return math.Max(0, HeatingBalanceC-outdoorC)
}

// fit is the line minutes = base + perK × excess through the starts, by
// least squares, both parts kept from going negative; ok is false with
// fewer than three starts or starts whose excess hardly differs (the
// slope would be noise), when the mean takes the guess's slope.
func (w Warmup) fit() (base, perK float64) {
	n := float64(len(w.Starts))
	if n == 0 {
		return Guess.BaseMin, Guess.PerKMin
	}
	var sx, sy, sxx, sxy float64
	for _, s := range w.Starts {
		sx += s.ExcessK
		sy += s.Minutes
		sxx += s.ExcessK * s.ExcessK
		sxy += s.ExcessK * s.Minutes
	}
	mx, my := sx/n, sy/n
	varX := sxx/n - mx*mx
	if n < 3 || varX < 1 {
		// Too little spread: keep the guess's slope through the mean.
		perK = Guess.PerKMin
	} else {
		perK = math.Max(0, (sxy/n-mx*my)/varX)
	}
	base = my - perK*mx
	if base < 0 {
		base = 0
		perK = my / math.Max(mx, 1e-9)
	}
	return base, perK
}

// Lead is how long before the occupied time the plant should start,
// between minLead and maxLead: the recorded need at this outdoor
// temperature, plus a margin of a quarter and a quarter of an hour.
func (w Warmup) Lead(cooling bool, outdoorC float64, minLead, maxLead time.Duration) time.Duration {
	base, perK := w.fit()
	m := 1.25*(base+perK*Excess(cooling, outdoorC)) + 15
	d := time.Duration(m * float64(time.Minute)).Round(time.Minute)
	return max(minLead, min(maxLead, d))
}

// Observe records one start: the plant took took to bring its supply
// water to the set-point with the outdoor air at outdoorC. A start that
// took longer than maxLead (the load of the day came on top of the
// warm-up) counts as maxLead. The oldest start beyond MaxStarts is
// forgotten.
func (w Warmup) Observe(cooling bool, outdoorC float64, took, maxLead time.Duration) Warmup {
	if took < 0 || math.IsNaN(outdoorC) {
		return w
	}
	took = min(took, maxLead)
	starts := append([]Start(nil), w.Starts...)
	starts = append(starts, Start{ExcessK: math.Round(Excess(cooling, outdoorC)*100) / 100, Minutes: math.Round(took.Minutes()*10) / 10})
	if len(starts) > MaxStarts {
		starts = starts[len(starts)-MaxStarts:]
	}
	return Warmup{Starts: starts}
}

// StartAt is when the plant should start for an occupied time: occupied
// minus the lead.
func (w Warmup) StartAt(occupied time.Time, cooling bool, outdoorC float64, minLead, maxLead time.Duration) time.Time {
	return occupied.Add(-w.Lead(cooling, outdoorC, minLead, maxLead))
}

// How often a strategy may write a device's setting: a set-point reset at
// most every quarter of an hour (the loop needs that long to settle), a
// damper every five minutes (a room's air changes in about that time).
// Hearth's runner and the simulator's season apply the same intervals.
const (
	ResetInterval       = 15 * time.Minute
	VentilationInterval = 5 * time.Minute
	// StartInterval is how often optimum start looks again at a plant
	// waiting for its start.
	StartInterval = time.Minute
)
