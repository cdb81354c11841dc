package model

import (
	"math"
	"math/rand/v2"
	"time"
)

// Chiller modes, as devices report them in state.reported.mode.
const (
	ModeCooling = "cooling"
	ModeHeating = "heating"
	ModeOff     = "off"
)

// Chiller fault codes (0 is none).
const (
	FaultNone = iota
	FaultFlame
	FaultCoolingWater
	FaultGeneratorTemp
)

// FaultText names a fault code.
func FaultText(code int) string {
	switch code {
	case FaultNone:
		return ""
	case FaultFlame:
		return "burner flame failure"
	case FaultCoolingWater:
		return "low cooling water flow"
	case FaultGeneratorTemp:
		return "high generator temperature"
	}
	return "unknown fault"
}

// ChillerSettings are what an operator or a program sets on a chiller.
type ChillerSettings struct {
	Mode        string  // ModeCooling, ModeHeating or ModeOff
	ChwSetpoint float64 // chilled water supply set-point, °C (5–12)
	HwSetpoint  float64 // hot water supply set-point, °C (40–60)
}

// DefaultChillerSettings is how a chiller leaves the factory.
var DefaultChillerSettings = ChillerSettings{Mode: ModeCooling, ChwSetpoint: 7, HwSetpoint: 55}

// ChillerReadings are one set of a chiller's measurements.
type ChillerReadings struct {
	Mode                 string
	Running              bool
	Fault                int
	ChwSupply, ChwReturn float64 // °C
	HwSupply, HwReturn   float64 // °C
	LoadPct              float64 // delivered heat or cold over capacity, %
	GasM3h               float64 // gas burnt, m³/h
	OutsideC             float64 // °C, from the unit's own sensor
	ChwSetpoint          float64 // °C, the set-point in effect
	HwSetpoint           float64 // °C

	// What the building felt, which no sensor of the machine reports: the
	// cooling asked for and left unmet (% of capacity), and how far the
	// building's mass is warmer than its set-point (K). Comfort figures
	// of the season run come from them; they are not telemetry.
	DemandPct, UnmetPct float64
	RoomExcessK         float64
}

// Values are the readings as telemetry metrics, named as Hearth's pages
// know them.
func (r ChillerReadings) Values() map[string]float64 {
	running := 0.0
	if r.Running {
		running = 1
	}
	return map[string]float64{
		"chw_supply_c": r.ChwSupply, "chw_return_c": r.ChwReturn,
		"hw_supply_c": r.HwSupply, "hw_return_c": r.HwReturn,
		"load_pct": r.LoadPct, "gas_m3h": r.GasM3h, "outside_temp_c": r.OutsideC,
		"chw_setpoint_c": r.ChwSetpoint, "hw_setpoint_c": r.HwSetpoint,
		"running": running, "fault": float64(r.Fault),
	}
}

// Chiller is a direct-fired absorption chiller-heater on a building's
// water loop: it cools water in summer and heats it in winter by burning
// gas.
//
// The building asks for heat or cold in proportion to the people in it and
// to the outside temperature's distance from a comfortable balance point.
// The machine delivers up to its capacity, which shrinks when the
// chilled-water set-point is lowered (the absorber works against a lower
// evaporator pressure) and in hot weather (warmer cooling water); past it
// the supply water drifts from its set-point. The return water is warmer
// (cooling) or cooler (heating) than the supply by the load over the
// loop's fixed flow. Gas follows the delivered load over the machine's
// efficiency: a cooling COP of about 1.2 at 7 °C, 3 % worse for each degree
// colder (and better for each degree warmer), and a heating efficiency of
// 88 %. A stopped machine's water drifts toward the plant room's
// temperature. Faults stop it for half an hour to two hours, about once a
// month.
//
// Three parts of the building matter to the energy-saving strategies:
//
//   - Outdoor air. About half of the weather's part of the cooling demand,
//     and the latent load of humid summer air, come in with the outdoor
//     air the air handlers take; OutsideAir scales them (1 is the design
//     rate).
//   - The coils. Warmer chilled water cools less: the building's coils
//     take at most 10 % less per kelvin above 7 °C, and cooling asked for
//     beyond that is left unmet.
//   - The building's mass (BuildingMass). While the plant is off in warm weather the
//     building warms (toward 0.4 K per kelvin outdoors above 20 °C, and 3 K
//     more with people in it, over about three hours); a plant that starts
//     is asked for that heat on top of the running load, runs at its
//     capacity with its supply water above the set-point until the
//     building is nearly back (the warm-up a start needs, longer on a warm
//     morning), and cooling left unmet warms the building again.
type Chiller struct {
	// CapacityKW is the cooling capacity at 7 °C; heating is 80 % of it.
	CapacityKW float64
	Building   Building
	Climate    Climate
	// LoadKW is the building's design cooling load, what its demand is
	// reckoned from. Zero is CapacityKW: a machine sized without margin,
	// short of capacity on the hottest afternoons, as the fleet's are.
	LoadKW float64
	// BuildingMass turns on the building's mass: heat that builds up
	// while the plant is off and must be pulled down after a start. The
	// season run turns it on; the fleet's machines leave it off, so their
	// supply water settles within minutes of a start.
	BuildingMass bool
	// OutsideAir is the share of the design outdoor air the air handlers
	// take now (0.2 to 1, say). Zero is the fixed-rate default: the design
	// rate while the building is in use, a fifth of it otherwise.
	OutsideAir float64

	rnd     *rand.Rand // instrument noise and faults
	wrnd    *rand.Rand // weather, the same for every run of a seed
	weather weather
	excess  float64 // K the building's mass is above its set-point
	last    time.Time
	started bool

	chwSupply, chwReturn, hwSupply, hwReturn float64
	load                                     float64 // kW delivered
	fault                                    int
	faultUntil                               time.Time
	planned                                  time.Time // a fault due then, whatever chance says
}

// PlanFault makes the machine fault at the first step at or after at when
// it runs then (or as soon after as it runs), besides its chance faults;
// a demonstration sees an alarm without waiting a month.
func (c *Chiller) PlanFault(at time.Time) { c.planned = at }

// NewChiller is a chiller of the given building with a size and quirks
// drawn from seed.
func NewChiller(seed uint64, b Building) *Chiller {
	r := newRand(seed)
	return &Chiller{
		CapacityKW: 350 + 50*float64(r.IntN(10)), // 350–800 kW
		Building:   b,
		Climate:    Tokyo,
		rnd:        r,
		wrnd:       newRand(seed ^ 0xc2b2ae35),
	}
}

const (
	coilLossPerK   = 0.10 // coil capacity lost per kelvin of chilled water above 7 °C
	massKWhPerK    = 0.5  // the building's heat capacity, hours of full capacity per kelvin
	massTau        = 3 * time.Hour
	pullDownTau    = 30 * time.Minute
	designDeltaK   = 5.0 // supply-return difference at full load
	gasKWhPerM3    = 12.5
	heatingEffic   = 0.88
	coolingCOP7    = 1.2
	supplyTau      = 6 * time.Minute
	idleTau        = 40 * time.Minute
	faultsPerMonth = 1.0
)

// Step advances the chiller to local time t under settings s and returns
// what its sensors read then.
func (c *Chiller) Step(t time.Time, s ChillerSettings) ChillerReadings {
	dt := t.Sub(c.last)
	if !c.started {
		dt = maxStep
	}
	dt = max(0, min(dt, maxStep))
	c.last = t
	c.weather.step(c.wrnd, dt)
	outside := c.Climate.OutsideC(t) + c.weather.offset
	occupancy := Occupancy(c.Building, t)

	// Faults come and go.
	if c.fault != FaultNone && !t.Before(c.faultUntil) {
		c.fault = FaultNone
	}
	running := s.Mode == ModeCooling || s.Mode == ModeHeating
	due := !c.planned.IsZero() && !t.Before(c.planned)
	if running && c.fault == FaultNone && c.started && (due || c.rnd.Float64() < faultsPerMonth*dt.Hours()/(30*24)) {
		c.planned = time.Time{}
		c.fault = 1 + c.rnd.IntN(3)
		c.faultUntil = t.Add(30*time.Minute + time.Duration(c.rnd.IntN(90))*time.Minute)
	}
	running = running && c.fault == FaultNone

	oa := c.OutsideAir
	if oa <= 0 {
		oa = 1
		if occupancy < 0.1 {
			oa = 0.2
		}
	}
	warm := math.Max(0, outside-18)
	humid := 0.0
	if outside > 18 {
		humid = clamp((c.Climate.OutsideHumidity(t)-60)/20, 0, 1)
	}
	base := c.LoadKW
	if base <= 0 {
		base = c.CapacityKW
	}
	massKWh := massKWhPerK * base
	plantRoom := 0.5*outside + 0.5*20
	var demand, capacity, steady, coil float64
	switch {
	case running && s.Mode == ModeCooling:
		steady = base * clamp(0.1+0.5*occupancy+0.02*warm+oa*(0.02*warm+0.06*humid), 0.05, 1.3)
		pull := 0.0
		if c.BuildingMass {
			pull = massKWh * c.excess / pullDownTau.Hours()
		}
		demand = steady + pull
		capacity = c.CapacityKW * (1 - 0.03*math.Max(0, 7-s.ChwSetpoint) + 0.01*math.Max(0, s.ChwSetpoint-7)) *
			(1 - 0.012*math.Max(0, outside-32))
		coil = base * (1 - coilLossPerK*math.Max(0, s.ChwSetpoint-7)) * 1.3
	case running && s.Mode == ModeHeating:
		demand = 0.8 * c.CapacityKW * clamp(0.1+0.35*occupancy+0.05*math.Max(0, 16-outside), 0.05, 1.3)
		capacity = 0.8 * c.CapacityKW
		steady, coil = demand, demand
	}
	delivered := math.Min(demand, capacity)
	taken := math.Min(delivered, coil)
	c.load = follow(c.load, taken, dt, supplyTau)
	if !c.started {
		c.load = taken
	}
	// The building's mass: warming toward its floating temperature while
	// not cooled, cooled by what the plant delivers beyond the running
	// load, warmed by the load left unmet.
	unmet := 0.0
	if !c.BuildingMass {
		c.excess = 0
		if running && s.Mode == ModeCooling {
			unmet = math.Max(0, steady-taken)
		}
	} else if running && s.Mode == ModeCooling {
		c.excess = math.Max(0, c.excess-(taken-steady)*dt.Hours()/massKWh)
		unmet = math.Max(0, steady-taken)
	} else if !running || s.Mode != ModeHeating {
		float := math.Max(0, 0.4*(outside-20)) + 3*occupancy
		if c.started {
			c.excess = follow(c.excess, float, dt, massTau)
		}
	}

	switch {
	case running && s.Mode == ModeCooling:
		// Short of capacity, the supply rises by the heat left behind.
		// Short of coil, the water comes back less warm: the supply holds.
		target := s.ChwSetpoint + designDeltaK*math.Max(0, demand-capacity)/c.CapacityKW
		target = math.Min(target, math.Max(plantRoom, s.ChwSetpoint))
		c.chwSupply = c.settle(c.chwSupply, target, dt, supplyTau)
		c.chwReturn = c.chwSupply + designDeltaK*c.load/c.CapacityKW
		c.hwSupply = c.settle(c.hwSupply, plantRoom, dt, idleTau)
		c.hwReturn = c.settle(c.hwReturn, plantRoom, dt, idleTau)
	case running && s.Mode == ModeHeating:
		target := s.HwSetpoint - designDeltaK*math.Max(0, demand-capacity)/(0.8*c.CapacityKW)
		c.hwSupply = c.settle(c.hwSupply, target, dt, supplyTau)
		c.hwReturn = c.hwSupply - designDeltaK*c.load/(0.8*c.CapacityKW)
		c.chwSupply = c.settle(c.chwSupply, plantRoom, dt, idleTau)
		c.chwReturn = c.settle(c.chwReturn, plantRoom, dt, idleTau)
	default:
		for _, v := range []*float64{&c.chwSupply, &c.chwReturn, &c.hwSupply, &c.hwReturn} {
			*v = c.settle(*v, plantRoom, dt, idleTau)
		}
	}
	c.started = true

	var gas float64
	switch {
	case running && s.Mode == ModeCooling:
		cop := coolingCOP7 * (1 - 0.03*(7-s.ChwSetpoint))
		gas = c.load / (cop * gasKWhPerM3)
	case running && s.Mode == ModeHeating:
		gas = c.load / (heatingEffic * gasKWhPerM3)
	}
	mode := s.Mode
	if mode == "" {
		mode = ModeOff
	}
	noise := func(v float64) float64 { return round(v+0.03*c.rnd.NormFloat64(), 2) }
	return ChillerReadings{
		Mode: mode, Running: running, Fault: c.fault,
		ChwSupply: noise(c.chwSupply), ChwReturn: noise(c.chwReturn),
		HwSupply: noise(c.hwSupply), HwReturn: noise(c.hwReturn),
		LoadPct: round(100*c.load/c.CapacityKW, 1), GasM3h: round(gas, 2),
		OutsideC: noise(outside), ChwSetpoint: s.ChwSetpoint, HwSetpoint: s.HwSetpoint,
		DemandPct: 100 * steady / c.CapacityKW, UnmetPct: 100 * unmet / c.CapacityKW, RoomExcessK: c.excess,
	}
}

// settle is follow, except that the first step starts at the target.
func (c *Chiller) settle(v, target float64, dt, tau time.Duration) float64 {
	if !c.started {
		return target
	}
	return follow(v, target, dt, tau)
}
