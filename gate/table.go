package gate

import (
	"context"
	"slices"
)

// MaxTableMetrics bounds the metrics of one table: each is one query.
const MaxTableMetrics = 20

// metricUnits are the units of the metrics of the equipment Hearth's
// customers run (air-quality sensors, absorption chiller-heaters), by the
// telemetry metric names devices send.
var metricUnits = map[string]string{
	"co2_ppm":        "ppm",
	"temperature_c":  "°C",
	"humidity_pct":   "%",
	"chw_supply_c":   "°C",
	"chw_return_c":   "°C",
	"hw_supply_c":    "°C",
	"hw_return_c":    "°C",
	"load_pct":       "%",
	"gas_m3h":        "m³/h",
	"outside_temp_c": "°C",
	"chw_setpoint_c": "°C",
	"hw_setpoint_c":  "°C",
}

// MetricUnit is the unit of a metric Hearth knows, "" for others.
func MetricUnit(name string) string { return metricUnits[name] }

// TelemetryTable is several metrics of one device over one range, one row
// per step that any metric has a value for: what a spreadsheet export
// holds. Values are each step's averages; nil where a metric has none.
type TelemetryTable struct {
	Device  string
	Metrics []string
	Units   []string
	Times   []int64 // unix milliseconds, ascending
	Rows    [][]*float64
}

// TelemetryTable returns metrics of a device p may see as a table, each
// downsampled as Telemetry does it, with the same range and step.
func (s Scope) TelemetryTable(ctx context.Context, name string, metrics []string, q TelemetryQuery) (TelemetryTable, error) {
	switch {
	case len(metrics) == 0:
		return TelemetryTable{}, Invalid(`metric: at least one is required, e.g. metric=co2_ppm`)
	case len(metrics) > MaxTableMetrics:
		return TelemetryTable{}, Invalid(`metric: at most %d metrics per table are accepted, got %d`, MaxTableMetrics, len(metrics))
	}
	t := TelemetryTable{Metrics: metrics, Units: make([]string, len(metrics))}
	rows := map[int64][]*float64{}
	for i, m := range metrics {
		q.Metric = m
		series, err := s.Telemetry(ctx, name, q)
		if err != nil {
			return TelemetryTable{}, err
		}
		// Every metric gets the range and step the first was computed for.
		q.From, q.To, q.Step = series.From, series.To, series.Step
		t.Device, t.Units[i] = series.Device, MetricUnit(m)
		for _, p := range series.Points {
			row, ok := rows[p.Timestamp]
			if !ok {
				row = make([]*float64, len(metrics))
				rows[p.Timestamp] = row
				t.Times = append(t.Times, p.Timestamp)
			}
			v := p.Avg
			row[i] = &v
		}
	}
	slices.Sort(t.Times)
	t.Rows = make([][]*float64, len(t.Times))
	for i, ts := range t.Times {
		t.Rows[i] = rows[ts]
	}
	return t, nil
}
