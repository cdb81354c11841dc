package model

import (
	"math"
	"math/rand/v2"
	"time"
)

// OutdoorCO2 is the CO2 of outside air, in ppm.
const OutdoorCO2 = 420

// IAQReadings are one set of an air-quality sensor's measurements.
type IAQReadings struct {
	CO2         float64 // ppm
	Temperature float64 // °C
	Humidity    float64 // % relative humidity
}

// Values are the readings as telemetry metrics.
func (r IAQReadings) Values() map[string]float64 {
	return map[string]float64{"co2_ppm": r.CO2, "temperature_c": r.Temperature, "humidity_pct": r.Humidity}
}

// IAQ is a CO2, temperature and humidity sensor in one room.
//
// CO2 follows the mass balance of a well-mixed room: each person breathes
// out about 18 litres of CO2 an hour, and ventilation replaces the air a
// number of times an hour with outdoor air at 420 ppm, so the
// concentration approaches 420 + generation / air changes with a time
// constant of one over the air changes. The ventilation runs at its design
// rate while the building is in use and at a fifth of it otherwise; rooms
// differ in size, in how many people they hold and in how well they are
// ventilated, so some sites' air is good and others' is not. Temperature
// rises with the people and drifts with the weather around the building's
// set-point; humidity follows the outdoor air, dried by the air
// conditioning and raised by the people.
type IAQ struct {
	VolumeM3 float64
	People   float64 // at full occupancy
	// AirChanges is the design ventilation rate, per hour.
	AirChanges float64
	// Damper is the share of the design outdoor air the room gets now,
	// set by the air handler that serves it (demand-controlled
	// ventilation). Zero is the fixed-rate default: the design rate while
	// the building is in use, a fifth of it otherwise.
	Damper   float64
	Building Building
	Climate  Climate

	rnd     *rand.Rand
	weather weather
	last    time.Time
	started bool

	co2, temp, humidity float64
}

// NewIAQ is a sensor in a room of the given building, the room's size,
// crowd and ventilation drawn from seed.
func NewIAQ(seed uint64, b Building) *IAQ {
	r := newRand(seed)
	volume := 80 + 20*float64(r.IntN(10)) // 80–260 m³
	return &IAQ{
		VolumeM3:   volume,
		People:     math.Round(volume / (8 + 4*r.Float64())), // one person per 8–12 m³
		AirChanges: 1.2 + 2.4*r.Float64(),                    // poorly to well ventilated
		Building:   b,
		Climate:    Tokyo,
		rnd:        r,
	}
}

// CO2PerPersonM3h is the CO2 one person breathes out, m³ an hour.
const CO2PerPersonM3h = 0.018

// Step advances the room to local time t and returns what the sensor reads.
func (s *IAQ) Step(t time.Time) IAQReadings {
	dt := t.Sub(s.last)
	if !s.started {
		dt = maxStep
	}
	dt = max(0, min(dt, maxStep))
	s.last = t
	s.weather.step(s.rnd, dt)
	occupancy := Occupancy(s.Building, t)
	people := s.People * occupancy
	ach := s.AirChanges
	switch {
	case s.Damper > 0:
		ach *= s.Damper
	case occupancy < 0.1:
		ach *= 0.2
	}
	steady := OutdoorCO2 + people*CO2PerPersonM3h/s.VolumeM3*1e6/ach
	outside := s.Climate.OutsideC(t) + s.weather.offset
	tempTarget := 22 + 1.8*occupancy + 0.08*(outside-22)
	humTarget := clamp(0.6*s.Climate.OutsideHumidity(t)+6*occupancy, 20, 80)
	if !s.started {
		s.co2, s.temp, s.humidity = steady, tempTarget, humTarget
		s.started = true
	} else {
		s.co2 = steady + (s.co2-steady)*math.Exp(-ach*dt.Hours())
		s.temp = follow(s.temp, tempTarget, dt, 40*time.Minute)
		s.humidity = follow(s.humidity, humTarget, dt, time.Hour)
	}
	return IAQReadings{
		CO2:         math.Round(s.co2 + 8*s.rnd.NormFloat64()),
		Temperature: round(s.temp+0.05*s.rnd.NormFloat64(), 1),
		Humidity:    round(clamp(s.humidity+0.3*s.rnd.NormFloat64(), 0, 100), 1),
	}
}
