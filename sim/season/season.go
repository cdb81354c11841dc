// Package season runs the simulator's buildings through a cooling season
// in a few seconds, once as they are run by hand and once under each
// energy-saving strategy, and compares the gas they burn and the comfort
// they keep. The strategies are the control laws of package
// protocol/control, the very functions Hearth's strategy runner applies to
// real devices, at the same intervals; the physics is package sim/model.
//
// A run is pure physics stepping: no clock, no network, no randomness
// beyond the seed, so the same seed gives the same table on any machine.
// Every run of a seed sees the same weather and the same people: only the
// settings differ.
package season

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hearthiot/hearth/protocol/control"
	"github.com/hearthiot/hearth/sim/model"
)

// Config is one comparison.
type Config struct {
	// Seed draws the buildings (chiller sizes, rooms) and the weather.
	Seed uint64
	// From and To bound the season, local dates; Step is the physics
	// step. Defaults: 1 June to 30 September of 2026, five minutes.
	From, To time.Time
	Step     time.Duration
	// Strategies are the strategies compared, each alone and, with more
	// than one, all together; empty means all of control.Names.
	Strategies []string
	// Rooms is how many rooms each building's air handler serves. Default 4.
	Rooms int
}

// Settings of the buildings as they are run by hand, and the ranges of
// the built-in device types the strategies are bounded by.
var (
	// FixedLead is how long before the occupied time a plant run by its
	// calendar alone starts: a building manager's safe margin.
	FixedLead = 3 * time.Hour
	// ChwRange is the chiller type's chw_setpoint_c; OutdoorAirRange the
	// air handler type's outdoor_air_pct.
	ChwRange        = control.Range{Min: 5, Max: 12, Step: 0.5}
	OutdoorAirRange = control.Range{Min: 10, Max: 100, Step: 5}
	// CapacityMargin is the chillers' capacity over their building's
	// design load; DesignCO2PPM the CO2 the rooms' design ventilation
	// holds with every seat taken.
	CapacityMargin = 1.2
	DesignCO2PPM   = 900.0
	// MaxLead bounds an optimum start.
	MaxLead = 4 * time.Hour
)

// Comfort thresholds of the figures.
const (
	SupplyToleranceK = 1.0
	CO2LimitPPM      = 1000.0
	WarmK            = 1.0 // building warmer than its set-point by more
)

// Result is one run's figures over every building.
type Result struct {
	Name string `json:"name"`
	// GasM3 is the gas burnt.
	GasM3 float64 `json:"gas_m3"`
	// SavedPct is the gas saved against the run without strategies.
	SavedPct float64 `json:"saved_pct"`
	// SupplyOffH is the occupied hours with chilled water warmer than its
	// set-point by more than SupplyToleranceK (or the plant not running),
	// summed over the buildings.
	SupplyOffH float64 `json:"supply_off_h"`
	// WarmH is the occupied hours with the building warmer than its
	// set-point by more than WarmK or with cooling left unmet (over 5 % of
	// capacity), summed over the buildings.
	WarmH float64 `json:"warm_h"`
	// CO2H is the occupied room-hours with CO2 over CO2LimitPPM, summed
	// over the rooms.
	CO2H float64 `json:"co2_h"`
	// Writes is how many settings the strategies changed: what the shadow
	// history would hold.
	Writes int `json:"writes"`
}

// Run runs the comparison: the buildings without strategies, with each
// strategy, and with all of them.
func Run(cfg Config) ([]Result, error) {
	if cfg.From.IsZero() {
		cfg.From = time.Date(2026, time.June, 1, 0, 0, 0, 0, tokyo)
	}
	if cfg.To.IsZero() {
		cfg.To = time.Date(2026, time.October, 1, 0, 0, 0, 0, tokyo)
	}
	if cfg.Step <= 0 {
		cfg.Step = 5 * time.Minute
	}
	if cfg.Rooms <= 0 {
		cfg.Rooms = 4
	}
	if !cfg.To.After(cfg.From) {
		return nil, fmt.Errorf("season from %s to %s: the end must come after the start", cfg.From.Format(time.DateOnly), cfg.To.Format(time.DateOnly))
	}
	if cfg.To.Sub(cfg.From) > 366*24*time.Hour {
		return nil, fmt.Errorf("season from %s to %s: at most a year", cfg.From.Format(time.DateOnly), cfg.To.Format(time.DateOnly))
	}
	names := cfg.Strategies
	if len(names) == 0 {
		names = control.Names
	}
	for _, n := range names {
		if !control.Known(n) {
			return nil, fmt.Errorf("strategy %q: use one of %s or all", n, strings.Join(control.Names, ", "))
		}
	}
	runs := [][]string{nil}
	for _, n := range names {
		runs = append(runs, []string{n})
	}
	if len(names) > 1 {
		runs = append(runs, slices.Clone(names))
	}
	out := make([]Result, 0, len(runs))
	for _, on := range runs {
		r := Result{Name: "none"}
		if len(on) == 1 {
			r.Name = on[0]
		} else if len(on) > 1 {
			r.Name = "all"
		}
		for i, b := range model.Buildings {
			run(&r, cfg, b, cfg.Seed*1000+uint64(i)+1, on)
		}
		if len(out) > 0 && out[0].GasM3 > 0 {
			r.SavedPct = 100 * (out[0].GasM3 - r.GasM3) / out[0].GasM3
		}
		out = append(out, r)
	}
	return out, nil
}

var tokyo = time.FixedZone("JST", 9*3600)

// occupied is when a building of kind b is in use on the day of t: its
// calendar's occupied period, from and to as minutes of the day; ok is
// false on a day it is closed.
func occupied(b model.Building, t time.Time) (from, to int, ok bool) {
	weekend := t.Weekday() == time.Saturday || t.Weekday() == time.Sunday
	switch b {
	case model.Hotel:
		return 6 * 60, 23 * 60, true
	case model.Hospital:
		return 7 * 60, 21 * 60, true
	case model.School:
		return 8 * 60, 16 * 60, !weekend
	default:
		return 8*60 + 30, 18*60 + 30, !weekend
	}
}

// run steps one building through the season with the strategies on and
// adds its figures to r.
func run(r *Result, cfg Config, b model.Building, seed uint64, on []string) {
	has := func(n string) bool { return slices.Contains(on, n) }
	ch := model.NewChiller(seed, b)
	// A machine sized with the usual margin over the building's load.
	ch.LoadKW = ch.CapacityKW / CapacityMargin
	ch.BuildingMass = true
	rooms := make([]*model.IAQ, cfg.Rooms)
	for i := range rooms {
		rooms[i] = model.NewIAQ(seed*100+uint64(i), b)
		// Ventilation designed for DesignCO2PPM with the room full.
		rooms[i].AirChanges = rooms[i].People * model.CO2PerPersonM3h * 1e6 / (rooms[i].VolumeM3 * (DesignCO2PPM - model.OutdoorCO2))
	}
	set := model.ChillerSettings{Mode: model.ModeOff, ChwSetpoint: 7, HwSetpoint: 55}
	reset := control.DefaultChilledReset
	dcv := control.DefaultDCV
	warm := control.Warmup{}
	damper := 100.0
	var lastReset, lastDCV time.Time
	var last model.ChillerReadings
	var lastCO2 float64
	var startedAt time.Time
	var outsideAtStart float64
	learning := false
	hours := cfg.Step.Hours()
	day := ""
	var occFrom, occTo time.Time
	var open bool
	var startAt time.Time

	for t := cfg.From; t.Before(cfg.To); t = t.Add(cfg.Step) {
		if d := t.Format(time.DateOnly); d != day {
			day = d
			f, to, ok := occupied(b, t)
			midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
			occFrom, occTo, open = midnight.Add(time.Duration(f)*time.Minute), midnight.Add(time.Duration(to)*time.Minute), ok
			startAt = occFrom.Add(-FixedLead)
		}
		inUse := open && !t.Before(occFrom) && t.Before(occTo)

		// The plant's start: fixed by the calendar, or optimum start from
		// the outdoor temperature the unit measured last.
		if open && has(control.OptimumStart) && set.Mode == model.ModeOff && t.Before(occFrom) {
			startAt = warm.StartAt(occFrom, true, last.OutsideC, 0, MaxLead)
		}
		wantOn := open && !t.Before(startAt) && t.Before(occTo)
		switch {
		case wantOn && set.Mode == model.ModeOff:
			set.Mode = model.ModeCooling
			if set.Mode != last.Mode {
				r.Writes += boolInt(has(control.OptimumStart))
				startedAt, learning, lastReset, outsideAtStart = t, true, t, last.OutsideC
			}
		case !wantOn && set.Mode != model.ModeOff:
			set.Mode = model.ModeOff
			set.ChwSetpoint = 7
			damper = 100
			learning = false
		}

		// The air handler's outdoor air: fixed, or by the return air's CO2.
		share := 0.2
		if set.Mode != model.ModeOff {
			if has(control.Ventilation) && (lastDCV.IsZero() || t.Sub(lastDCV) >= control.VentilationInterval) {
				if v := dcv.OutdoorAirPct(lastCO2, OutdoorAirRange); OutdoorAirRange.Moves(damper, v, true) {
					r.Writes++
					damper = v
				}
				lastDCV = t
			}
			share = damper / 100
		}
		ch.OutsideAir = share

		// The set-point reset, from the machine's last readings.
		if set.Mode == model.ModeCooling && last.Running && has(control.SetpointReset) && t.Sub(lastReset) >= control.ResetInterval {
			sp := reset.Setpoint(control.Reading{LoadPct: last.LoadPct, OutdoorC: last.OutsideC, HasOutdoor: true,
				SupplyC: last.ChwSupply, SetpointC: set.ChwSetpoint, HasSupply: last.Running}, ChwRange)
			if sp != set.ChwSetpoint {
				r.Writes++
				set.ChwSetpoint = sp
			}
			lastReset = t
		}

		last = ch.Step(t, set)
		r.GasM3 += last.GasM3h * hours
		co2 := 0.0
		for _, room := range rooms {
			room.Damper = share
			c := room.Step(t).CO2
			co2 += c
			if inUse && c > CO2LimitPPM {
				r.CO2H += hours
			}
		}
		lastCO2 = co2 / float64(len(rooms))

		// The warm-up the building needed: from the start until the supply
		// water came within tolerance of its set-point.
		if learning && last.Running && last.ChwSupply <= last.ChwSetpoint+SupplyToleranceK {
			warm = warm.Observe(true, outsideAtStart, t.Sub(startedAt), MaxLead)
			learning = false
		}
		if inUse {
			if !last.Running || last.ChwSupply > last.ChwSetpoint+SupplyToleranceK {
				r.SupplyOffH += hours
			}
			if last.RoomExcessK > WarmK || last.UnmetPct > 5 {
				r.WarmH += hours
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WriteTable writes results as a Markdown table.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| strategy\t gas m³\t saved\t supply water off set-point, h\t building warm, h\t CO2 > 1,000 ppm, room-h\t settings written\t")
	fmt.Fprintln(tw, "|---\t---:\t---:\t---:\t---:\t---:\t---:\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "| %s\t %.0f\t %s\t %.1f\t %.1f\t %.1f\t %d\t\n", r.Name, r.GasM3, pct(r), r.SupplyOffH, r.WarmH, r.CO2H, r.Writes)
	}
	return tw.Flush()
}

func pct(r Result) string {
	if r.Name == "none" {
		return "—"
	}
	return fmt.Sprintf("%.1f %%", math.Round(r.SavedPct*10)/10)
}
