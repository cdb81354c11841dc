package ui

import (
	"strings"

	"github.com/hearthiot/hearth/gate"
)

// metricInfo is how the pages judge and order a metric they know (its unit
// is the gate's, gate.MetricUnit); other metrics show under their own
// name.
type metricInfo struct {
	// band judges a value: "good", "fair" or "poor", "" for no judgement.
	band func(v float64) string
	// Key marks the readings shown on overview cards, in this order.
	Key int
}

// knownMetrics are the readings of the equipment Hearth's customers run:
// air-quality sensors and absorption chiller-heaters. The names are the
// telemetry metric names devices send.
var knownMetrics = map[string]metricInfo{
	"co2_ppm":        {band: co2Band, Key: 1},
	"temperature_c":  {Key: 2},
	"humidity_pct":   {band: humidityBand, Key: 3},
	"chw_supply_c":   {Key: 4},
	"chw_return_c":   {Key: 5},
	"hw_supply_c":    {Key: 6},
	"hw_return_c":    {Key: 7},
	"load_pct":       {},
	"gas_m3h":        {},
	"outside_temp_c": {},
	"chw_setpoint_c": {},
	"hw_setpoint_c":  {},
	"running":        {},
	"fault":          {band: faultBand},
}

// co2Band: under 1000 ppm is good indoor air, under 1500 acceptable.
func co2Band(v float64) string {
	switch {
	case v < 1000:
		return "good"
	case v < 1500:
		return "fair"
	}
	return "poor"
}

// humidityBand: 40–60 % is comfortable, 30–70 % acceptable.
func humidityBand(v float64) string {
	switch {
	case v >= 40 && v <= 60:
		return "good"
	case v >= 30 && v <= 70:
		return "fair"
	}
	return "poor"
}

func faultBand(v float64) string {
	if v != 0 {
		return "poor"
	}
	return "good"
}

// metricLabel is a metric's label in language l from the catalogue
// ("metric.co2_ppm"), or its name made readable.
func metricLabel(l, name string) string {
	if messages.has("metric." + name) {
		return t(l, "metric."+name)
	}
	return strings.ReplaceAll(name, "_", " ")
}

// metricUnit is the unit of a metric Hearth knows, as every export says it.
func metricUnit(name string) string { return gate.MetricUnit(name) }

func metricBand(name string, v float64) string {
	if m, ok := knownMetrics[name]; ok && m.band != nil {
		return m.band(v)
	}
	return ""
}
