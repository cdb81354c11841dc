package modbussim

import (
	"math"
	"time"

	"github.com/hearthiot/hearth/sim/model"
)

// chiller plays chiller.yaml: model.Chiller under the settings written to
// its holding registers and coil, and a gas meter that integrates the
// model's gas flow.
type chiller struct {
	m         *model.Chiller
	settings  model.ChillerSettings
	runEnable bool
	gasTotal  float64 // m³
	last      time.Time
	started   bool
}

func newChiller(seed uint64, b model.Building) *chiller {
	return &chiller{
		m:         model.NewChiller(seed, b),
		settings:  model.DefaultChillerSettings,
		runEnable: true,
		// A meter that has run for a few years; past 655.35 m³, so that
		// both words of its register are in use.
		gasTotal: 40000 + float64(seed%10000),
	}
}

func (c *chiller) step(t time.Time) map[string]any {
	s := c.settings
	if !c.runEnable {
		s.Mode = model.ModeOff
	}
	r := c.m.Step(t, s)
	if c.started && t.After(c.last) {
		c.gasTotal += r.GasM3h * min(t.Sub(c.last).Hours(), 0.25)
	}
	c.started, c.last = true, t
	out := map[string]any{}
	for k, v := range r.Values() {
		out[k] = v
	}
	out["mode"] = c.settings.Mode
	out["run_enable"] = c.runEnable
	out["gas_total_m3"] = math.Round(c.gasTotal*100) / 100
	return out
}

func (c *chiller) set(key string, v any) {
	switch key {
	case "mode":
		c.settings.Mode, _ = v.(string)
	case "chw_setpoint_c":
		c.settings.ChwSetpoint, _ = v.(float64)
	case "hw_setpoint_c":
		c.settings.HwSetpoint, _ = v.(float64)
	case "run_enable":
		c.runEnable, _ = v.(bool)
	}
}

// iaq plays iaq.yaml: model.IAQ, with the sensor's own uptime counter,
// CO2 alarm relay and temperature calibration offset.
type iaq struct {
	m        *model.IAQ
	powered  time.Time
	alarmPPM float64
	offsetC  float64
}

func newIAQ(seed uint64, b model.Building, now time.Time) *iaq {
	// Powered some days ago, so that the uptime needs both words.
	up := 3*24*time.Hour + time.Duration(seed%86400)*time.Second
	return &iaq{m: model.NewIAQ(seed, b), powered: now.Add(-up), alarmPPM: 1000}
}

func (s *iaq) step(t time.Time) map[string]any {
	r := s.m.Step(t)
	return map[string]any{
		"humidity_pct":         r.Humidity,
		"temperature_c":        r.Temperature + s.offsetC,
		"co2_ppm":              r.CO2,
		"uptime_s":             math.Floor(max(0, t.Sub(s.powered).Seconds())),
		"co2_alarm":            r.CO2 >= s.alarmPPM,
		"co2_alarm_ppm":        s.alarmPPM,
		"temperature_offset_c": s.offsetC,
	}
}

func (s *iaq) set(key string, v any) {
	f, _ := v.(float64)
	switch key {
	case "co2_alarm_ppm":
		s.alarmPPM = f
	case "temperature_offset_c":
		s.offsetC = f
	}
}
