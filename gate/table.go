package gate

import (
	"context"
	"slices"
)

// MaxTableMetrics bounds the metrics of one table, read side by side.
const MaxTableMetrics = 20

// metricInfo is what Hearth knows of a metric.
type metricInfo struct {
	unit, help string
}

// knownMetrics are the metrics of the equipment Hearth's customers run
// (air-quality sensors, absorption chiller-heaters), by the telemetry
// metric names devices send.
var knownMetrics = map[string]metricInfo{
	"co2_ppm":        {"ppm", "CO2 concentration of a room's air"},
	"temperature_c":  {"°C", "air temperature of a room"},
	"humidity_pct":   {"%", "relative humidity of a room's air"},
	"chw_supply_c":   {"°C", "chilled water leaving the chiller"},
	"chw_return_c":   {"°C", "chilled water coming back to the chiller"},
	"hw_supply_c":    {"°C", "hot water leaving the heater"},
	"hw_return_c":    {"°C", "hot water coming back to the heater"},
	"load_pct":       {"%", "load of the chiller-heater, of its capacity"},
	"gas_m3h":        {"m³/h", "gas the chiller-heater burns"},
	"outside_temp_c": {"°C", "outside air temperature"},
	"chw_setpoint_c": {"°C", "chilled water set-point"},
	"hw_setpoint_c":  {"°C", "hot water set-point"},
	"running":        {"", "1 while the equipment runs, 0 while it is stopped"},
	"fault":          {"", "the equipment's fault code, 0 when none"},
}

// MetricUnit is the unit of a metric Hearth knows, "" for others.
func MetricUnit(name string) string { return knownMetrics[name].unit }

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
	all, err := s.TelemetryMany(ctx, name, metrics, q)
	if err != nil {
		return TelemetryTable{}, err
	}
	for i, series := range all {
		t.Device, t.Units[i] = series.Device, MetricUnit(series.Metric)
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
