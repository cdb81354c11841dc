// Package model is the physics of the equipment Hearth's simulators play:
// an absorption chiller-heater serving a building, and an indoor
// air-quality sensor in a room. Both follow the weather and the people in
// the building through the day, the week and the year, so that a
// simulated fleet shows what a real one would: chilled water that drifts
// above its set-point when the afternoon load exceeds the machine's
// capacity, gas use that rises with load and with a colder set-point,
// CO2 that climbs in a full meeting room and falls when it empties.
//
// The models are pure and deterministic: each is built from a seed and
// advanced with Step(t, …) to the time t; the same seed and the same
// times give the same readings. Nothing here reads the clock, sleeps or
// talks to the network; the fleet simulator and the Modbus simulator
// drive the models and carry their readings.
package model

import (
	"math"
	"math/rand/v2"
	"time"
)

// Building is the kind of building a device serves; it decides when people
// are there.
type Building string

// Buildings Hearth's customers run.
const (
	Office   Building = "office"
	Hotel    Building = "hotel"
	Hospital Building = "hospital"
	School   Building = "school"
)

// Buildings lists every kind, for picking one per site.
var Buildings = []Building{Office, Hotel, Hospital, School}

// Occupancy is the share of a building's people present at local time t,
// from 0 to 1.
func Occupancy(b Building, t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	weekend := t.Weekday() == time.Saturday || t.Weekday() == time.Sunday
	switch b {
	case Hotel:
		// Guests in the evening and at night, few at midday.
		return clamp(0.55+0.35*math.Cos((h-23)*math.Pi/12)+map[bool]float64{true: 0.1}[weekend], 0, 1)
	case Hospital:
		// Always occupied; busier in visiting and outpatient hours.
		return clamp(0.6+0.3*bump(h, 8.5, 17.5), 0, 1)
	case School:
		if weekend {
			return 0.02
		}
		return 0.02 + 0.93*bump(h, 8.25, 15.5) - 0.3*bump(h, 12, 13)
	default: // Office
		if weekend {
			return 0.03 + 0.05*bump(h, 9, 17)
		}
		return 0.03 + 0.92*bump(h, 8.5, 18.5) - 0.25*bump(h, 12, 13)
	}
}

// bump is 1 between from and to (hours), with half-hour ramps, else 0.
func bump(h, from, to float64) float64 {
	return clamp((h-from+0.5)/0.5, 0, 1) * clamp((to-h)/0.5, 0, 1)
}

// Climate is a place's yearly and daily temperature and humidity cycle.
type Climate struct {
	MeanC, YearAmplitudeC, DayAmplitudeC float64
	// WarmestDay is the day of the year with the warmest mean (about
	// August 5th in Tokyo).
	WarmestDay int
	// HumidityMin and HumidityMax are the outdoor relative humidity of the
	// driest (coldest) and wettest (warmest) season, in percent.
	HumidityMin, HumidityMax float64
}

// Tokyo is the climate of the simulators unless told otherwise: a mean of
// 16 °C, from about 5 °C in January to 27 °C in August, dry winters and
// humid summers.
var Tokyo = Climate{MeanC: 16, YearAmplitudeC: 11, DayAmplitudeC: 4, WarmestDay: 217, HumidityMin: 45, HumidityMax: 78}

// season is -1 at the coldest time of year, +1 at the warmest.
func (c Climate) season(t time.Time) float64 {
	day := float64(t.YearDay()) + float64(t.Hour())/24
	return math.Cos((day - float64(c.WarmestDay)) * 2 * math.Pi / 365.25)
}

// OutsideC is the outside temperature at local time t, before weather
// noise: warmest at 14:00, coldest before dawn.
func (c Climate) OutsideC(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	return c.MeanC + c.YearAmplitudeC*c.season(t) + c.DayAmplitudeC*math.Cos((h-14)*math.Pi/12)
}

// OutsideHumidity is the outdoor relative humidity at t, in percent:
// higher in summer and at night.
func (c Climate) OutsideHumidity(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	mid := (c.HumidityMin + c.HumidityMax) / 2
	return clamp(mid+(c.HumidityMax-c.HumidityMin)/2*c.season(t)+8*math.Cos(h*math.Pi/12), 10, 100)
}

// weather is slow random variation around a climate: passing fronts that
// make a day warmer or cooler than usual.
type weather struct {
	offset float64 // °C
}

func (w *weather) step(r *rand.Rand, dt time.Duration) {
	// An Ornstein-Uhlenbeck walk with a time constant of two days and a
	// spread of 2 °C.
	const tau = 48 * time.Hour
	a := math.Exp(-dt.Hours() / tau.Hours())
	w.offset = w.offset*a + 2*math.Sqrt(1-a*a)*r.NormFloat64()
}

// follow moves v toward target with time constant tau over dt: the answer
// of a first-order system, exact for any step length.
func follow(v, target float64, dt, tau time.Duration) float64 {
	return target + (v-target)*math.Exp(-dt.Seconds()/tau.Seconds())
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// round keeps d decimal places, as an instrument shows them.
func round(v float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(v*p) / p
}

// maxStep bounds the time one Step advances a model: a simulator that was
// paused for hours resumes from a settled state rather than integrating a
// long jump.
const maxStep = 15 * time.Minute

// newRand is the models' random source, deterministic for a seed.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
