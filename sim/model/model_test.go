package model_test

import (
	"math"
	"testing"
	"time"

	"github.com/hearthiot/hearth/sim/model"
)

var tokyo, _ = time.LoadLocation("Asia/Tokyo")

// run steps a chiller minute by minute from start through until, and
// returns the readings at each whole hour of local time.
func runChiller(c *model.Chiller, start time.Time, hours int, s model.ChillerSettings) map[int]model.ChillerReadings {
	out := map[int]model.ChillerReadings{}
	for m := 0; m <= hours*60; m++ {
		t := start.Add(time.Duration(m) * time.Minute)
		r := c.Step(t, s)
		if t.Minute() == 0 {
			out[m/60] = r
		}
	}
	return out
}

func TestChillerCoolingDay(t *testing.T) {
	day := time.Date(2026, 8, 5, 0, 0, 0, 0, tokyo) // a Wednesday in August
	c := model.NewChiller(7, model.Office)
	rs := runChiller(c, day, 23, model.DefaultChillerSettings)
	for h, r := range rs {
		if !r.Running || r.Mode != model.ModeCooling {
			continue // a fault
		}
		if r.ChwReturn <= r.ChwSupply {
			t.Errorf("%02d:00: return %.2f not warmer than supply %.2f while cooling", h, r.ChwReturn, r.ChwSupply)
		}
		if r.ChwSupply < 6.8 {
			t.Errorf("%02d:00: supply %.2f below the set-point 7", h, r.ChwSupply)
		}
		if r.GasM3h <= 0 {
			t.Errorf("%02d:00: no gas while cooling", h)
		}
	}
	if rs[15].LoadPct <= rs[4].LoadPct {
		t.Errorf("load at 15:00 %.1f %% not above 04:00 %.1f %%", rs[15].LoadPct, rs[4].LoadPct)
	}
	if rs[15].GasM3h <= rs[4].GasM3h {
		t.Errorf("gas at 15:00 %.2f not above 04:00 %.2f", rs[15].GasM3h, rs[4].GasM3h)
	}
	if d := rs[15].ChwReturn - rs[15].ChwSupply; d < 3 || d > 6 {
		t.Errorf("afternoon supply-return difference %.2f K, want about the design 5 K", d)
	}
}

// At the same load, a colder set-point costs gas; and past its capacity on
// a hot afternoon the supply water rises above a low set-point.
func TestChillerSetpointCostsGas(t *testing.T) {
	at := time.Date(2026, 8, 5, 10, 0, 0, 0, tokyo)
	night := time.Date(2026, 8, 5, 2, 0, 0, 0, tokyo)
	warm, cold := model.DefaultChillerSettings, model.DefaultChillerSettings
	warm.ChwSetpoint, cold.ChwSetpoint = 9, 5
	w := runChiller(model.NewChiller(11, model.Office), night, 1, warm)[1]
	c := runChiller(model.NewChiller(11, model.Office), night, 1, cold)[1]
	if !(c.GasM3h > w.GasM3h*1.05) {
		t.Errorf("gas at 5 °C %.2f m³/h, at 9 °C %.2f: want the colder set-point to burn more", c.GasM3h, w.GasM3h)
	}
	hot := runChiller(model.NewChiller(11, model.Office), at, 5, cold)[5] // 15:00
	if hot.LoadPct < 90 || hot.ChwSupply < cold.ChwSetpoint+0.2 {
		t.Errorf("hot afternoon at 5 °C: load %.1f %%, supply %.2f; want the machine at capacity and the supply above its set-point", hot.LoadPct, hot.ChwSupply)
	}
}

func TestChillerHeatingAndOff(t *testing.T) {
	day := time.Date(2026, 1, 14, 0, 0, 0, 0, tokyo)
	s := model.DefaultChillerSettings
	s.Mode = model.ModeHeating
	rs := runChiller(model.NewChiller(3, model.Hotel), day, 12, s)
	for h, r := range rs {
		if r.Running && (r.HwReturn >= r.HwSupply || math.Abs(r.HwSupply-s.HwSetpoint) > 3) {
			t.Errorf("%02d:00 heating: supply %.2f return %.2f, want supply near %.0f and return below it", h, r.HwSupply, r.HwReturn, s.HwSetpoint)
		}
	}
	c := model.NewChiller(3, model.Office)
	runChiller(c, day, 2, s)
	s.Mode = model.ModeOff
	off := runChiller(c, day.Add(2*time.Hour), 6, s)
	last := off[6]
	if last.Running || last.GasM3h != 0 || last.LoadPct > 1 {
		t.Errorf("six hours off: %+v; want stopped, no gas, no load", last)
	}
	if last.HwSupply > 30 {
		t.Errorf("six hours off the hot water is still at %.1f °C; want it cooled toward the plant room", last.HwSupply)
	}
	if off[1].HwSupply <= last.HwSupply {
		t.Errorf("hot water does not cool after stopping: %.1f then %.1f", off[1].HwSupply, last.HwSupply)
	}
}

func TestChillerFaultsAboutMonthly(t *testing.T) {
	c := model.NewChiller(5, model.Hospital)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, tokyo)
	faults, prev := 0, 0
	for m := 0; m < 365*24*12; m++ { // every 5 minutes for a year
		r := c.Step(start.Add(time.Duration(m)*5*time.Minute), model.DefaultChillerSettings)
		if r.Fault != 0 && prev == 0 {
			faults++
			if model.FaultText(r.Fault) == "" {
				t.Errorf("fault %d has no text", r.Fault)
			}
		}
		if r.Fault != 0 && r.Running {
			t.Fatal("running with a fault")
		}
		prev = r.Fault
	}
	if faults < 4 || faults > 30 {
		t.Errorf("%d faults in a year, want about one a month", faults)
	}
}

func TestDeterministic(t *testing.T) {
	start := time.Date(2026, 5, 1, 8, 0, 0, 0, tokyo)
	a, b := model.NewChiller(42, model.School), model.NewChiller(42, model.School)
	x, y := model.NewIAQ(42, model.School), model.NewIAQ(42, model.School)
	for m := range 600 {
		at := start.Add(time.Duration(m) * time.Minute)
		if a.Step(at, model.DefaultChillerSettings) != b.Step(at, model.DefaultChillerSettings) || x.Step(at) != y.Step(at) {
			t.Fatalf("two models of seed 42 differ at %s", at)
		}
	}
	if model.NewChiller(1, model.Office).CapacityKW == model.NewChiller(2, model.Office).CapacityKW &&
		model.NewIAQ(1, model.Office).VolumeM3 == model.NewIAQ(2, model.Office).VolumeM3 {
		t.Error("seeds 1 and 2 give the same equipment")
	}
}

func TestIAQ(t *testing.T) {
	s := model.NewIAQ(9, model.Office)
	day := time.Date(2026, 10, 7, 0, 0, 0, 0, tokyo) // a Wednesday
	at := map[int]model.IAQReadings{}
	for m := 0; m <= 24*60; m++ {
		tt := day.Add(time.Duration(m) * time.Minute)
		r := s.Step(tt)
		if tt.Minute() == 0 {
			at[m/60] = r
		}
		if r.CO2 < model.OutdoorCO2-40 || r.Humidity < 0 || r.Humidity > 100 {
			t.Fatalf("%s: %+v out of physical bounds", tt, r)
		}
	}
	if at[3].CO2 > 520 {
		t.Errorf("CO2 at 03:00 in an empty office: %.0f ppm, want close to outdoor air", at[3].CO2)
	}
	// Mid-afternoon, the room is near its steady state: 420 ppm plus what
	// the people breathe out over the air changes.
	people := s.People * model.Occupancy(model.Office, day.Add(15*time.Hour))
	steady := model.OutdoorCO2 + people*0.018/s.VolumeM3*1e6/s.AirChanges
	if math.Abs(at[15].CO2-steady) > 0.08*steady {
		t.Errorf("CO2 at 15:00: %.0f ppm, want the room's steady state %.0f", at[15].CO2, steady)
	}
	if at[15].Temperature <= at[3].Temperature {
		t.Errorf("temperature at 15:00 %.1f not above 03:00 %.1f", at[15].Temperature, at[3].Temperature)
	}
	// After the people leave, the air clears within a few time constants.
	if at[22].CO2 >= at[17].CO2 {
		t.Errorf("CO2 at 22:00 %.0f not below 17:00 %.0f", at[22].CO2, at[17].CO2)
	}
}

func TestOccupancy(t *testing.T) {
	wed := func(h int) time.Time { return time.Date(2026, 10, 7, h, 0, 0, 0, tokyo) }
	sun := time.Date(2026, 10, 11, 11, 0, 0, 0, tokyo)
	for _, b := range model.Buildings {
		for h := range 24 {
			if o := model.Occupancy(b, wed(h)); o < 0 || o > 1 {
				t.Errorf("%s at %02d:00: occupancy %.2f", b, h, o)
			}
		}
	}
	if model.Occupancy(model.Office, wed(11)) < 0.8 || model.Occupancy(model.Office, wed(3)) > 0.1 || model.Occupancy(model.Office, sun) > 0.2 {
		t.Error("an office is not full on a weekday morning and empty at night and on Sunday")
	}
	if model.Occupancy(model.Hotel, wed(23)) <= model.Occupancy(model.Hotel, wed(12)) {
		t.Error("a hotel is not fuller at night than at noon")
	}
	if model.Occupancy(model.Hospital, wed(3)) < 0.5 {
		t.Error("a hospital empties at night")
	}
}

// A planned fault comes at its time (here the first step after it, while
// the machine runs), lasts its half hour or more, and comes once.
func TestChillerPlannedFault(t *testing.T) {
	c := model.NewChiller(5, model.Hospital)
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, tokyo)
	c.PlanFault(start.Add(20 * time.Minute))
	var began, ended time.Time
	faults := 0
	prev := 0
	for m := 0; m <= 6*60; m++ { // every minute for six hours
		at := start.Add(time.Duration(m) * time.Minute)
		r := c.Step(at, model.DefaultChillerSettings)
		if r.Fault != 0 && prev == 0 {
			faults++
			if began.IsZero() {
				began = at
			}
		}
		if r.Fault == 0 && prev != 0 && ended.IsZero() {
			ended = at
		}
		prev = r.Fault
	}
	if !began.Equal(start.Add(20 * time.Minute)) {
		t.Errorf("the planned fault began at %s, want 10:20", began.Format("15:04"))
	}
	if d := ended.Sub(began); d < 30*time.Minute || d > 2*time.Hour {
		t.Errorf("the planned fault lasted %s, want 30 minutes to 2 hours", d)
	}
	if faults != 1 {
		t.Errorf("%d faults in six hours after a planned one; want it alone", faults)
	}
}
