package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// signal describes one realistic measurement: its name, its usual value and
// how far it wanders. The first messages of a run look like what a chiller,
// a boiler and a room sensor send, so that a broker or a time-series store
// sees realistic names and value ranges, not counters.
type signal struct {
	name   string
	center float64
	spread float64
}

// signals are used in this order; metrics beyond them are named m20, m21, …
func signals() []signal {
	return []signal{
		{"chw_supply_c", 7, 1},
		{"chw_return_c", 12, 1.5},
		{"hw_supply_c", 45, 5},
		{"hw_return_c", 38, 4},
		{"outdoor_temp_c", 15, 8},
		{"room_temp_c", 22, 1.5},
		{"rh_pct", 45, 10},
		{"co2_ppm", 650, 200},
		{"power_kw", 35, 15},
		{"energy_kwh", 12000, 0},
		{"flow_m3h", 18, 4},
		{"pressure_kpa", 250, 20},
		{"fan_speed_pct", 60, 20},
		{"valve_pos_pct", 40, 25},
		{"compressor_hz", 50, 10},
		{"cop", 4.2, 0.6},
		{"supply_air_c", 16, 2},
		{"return_air_c", 24, 1.5},
		{"damper_pct", 30, 15},
		{"pm25_ugm3", 8, 5},
	}
}

// MetricNames returns the names RunLoad uses for n values per message.
func MetricNames(n int) []string {
	known := signals()
	names := make([]string, n)
	for i := range names {
		if i < len(known) {
			names[i] = known[i].name
		} else {
			names[i] = fmt.Sprintf("m%02d", i)
		}
	}
	return names
}

// payloadGen writes one device's telemetry as a flat JSON object of
// numbers. Values drift slowly around their centre with a little noise, and
// the energy counter only grows, as a real meter's does.
type payloadGen struct {
	keys    [][]byte // `"name":` with the separating comma for all but the first
	centers []float64
	spreads []float64
	phase   float64
	step    float64
	seq     float64
	meter   int // index of the energy counter, -1 without one
	energy  float64
	rng     *rand.Rand
}

func newPayloadGen(n int, seed uint64) *payloadGen {
	known := signals()
	g := &payloadGen{
		keys:    make([][]byte, n),
		centers: make([]float64, n),
		spreads: make([]float64, n),
		meter:   -1,
		rng:     rand.New(rand.NewPCG(seed, 0x68656172746821)),
	}
	g.phase = g.rng.Float64() * 2 * math.Pi
	g.step = 0.01 + g.rng.Float64()*0.02
	for i, name := range MetricNames(n) {
		var key []byte
		if i > 0 {
			key = append(key, ',')
		}
		key = strconv.AppendQuote(key, name)
		g.keys[i] = append(key, ':')
		if i < len(known) {
			g.centers[i], g.spreads[i] = known[i].center, known[i].spread
		} else {
			g.centers[i], g.spreads[i] = 50, 25
		}
		if name == "energy_kwh" {
			g.meter = i
			g.energy = known[i].center * (0.5 + g.rng.Float64())
		}
	}
	return g
}

// next appends the next message to b.
func (g *payloadGen) next(b []byte) []byte {
	g.seq++
	wave := math.Sin(g.phase + g.seq*g.step)
	g.energy += 0.01 + g.rng.Float64()*0.02
	b = append(b, '{')
	for i, key := range g.keys {
		b = append(b, key...)
		v := g.energy
		if i != g.meter {
			v = g.centers[i] + g.spreads[i]*(0.8*wave+0.2*(2*g.rng.Float64()-1))
		}
		b = strconv.AppendFloat(b, v, 'f', 2, 64)
	}
	return append(b, '}')
}
