package gate

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
)

// LatestValue is the newest value of one metric.
type LatestValue struct {
	Metric    string
	Timestamp int64 // unix milliseconds
	Value     float64
}

// DownsampleQuery asks the engine for one metric of one device (as stored
// for its customer), one point per step from Start to End.
type DownsampleQuery struct {
	Device, Customer, Metric string
	Start, End               time.Time
	Step                     time.Duration
}

// Point is one step of a downsampled series: the minimum, average and
// maximum of the samples in the step.
type Point struct {
	Timestamp int64 // unix milliseconds, the step's end
	Min       float64
	Avg       float64
	Max       float64
}

// Bounds of a telemetry history request.
const (
	// MaxPoints per series keeps one answer within what a chart can draw
	// and what the query engine answers quickly; it is Prometheus' own
	// limit, so clients written for Prometheus already respect it.
	MaxPoints = 11000
	// targetPoints is what the default step aims at: enough for a chart
	// as wide as a screen.
	targetPoints = 1000
	// DefaultWindow is the range when the start is not given.
	DefaultWindow = time.Hour
	// MaxStep keeps the step within what time.Duration holds, with room.
	MaxStep = 10 * 366 * 24 * time.Hour
)

// TelemetryQuery asks for one metric of a device over a time range. A zero
// To is now, a zero From is DefaultWindow before To, and a zero Step is the
// smallest round step that gives at most about 1000 points. Steps are
// whole seconds.
type TelemetryQuery struct {
	Metric   string
	From, To time.Time
	Step     time.Duration
}

// TelemetrySeries is the answer to a TelemetryQuery, with the range and
// step it was computed for.
type TelemetrySeries struct {
	Device, Metric string
	From, To       time.Time
	Step           time.Duration
	Points         []Point
}

// ValidMetricName is the telemetry metric naming rule,
// ^[A-Za-z_][A-Za-z0-9_]*$. Metric names are checked before they reach the
// engine, never escaped into a query. Prometheus label names follow the
// same rule.
func ValidMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// telemetry is the engine, or why there is none.
func (s Scope) telemetry() (Telemetry, error) {
	if s.g.telemetry == nil {
		return nil, Unavailable("telemetry is not available on this server")
	}
	return s.g.telemetry, nil
}

// Latest returns the newest value of each metric of a device p may see,
// sorted by metric, without values JSON cannot carry (NaN, infinities).
func (s Scope) Latest(name string) ([]LatestValue, error) {
	d, err := s.Device(name)
	if err != nil {
		return nil, err
	}
	if _, err := s.telemetry(); err != nil {
		return nil, err
	}
	return s.LatestOf(d)
}

// LatestOf is Latest for a device the scope has listed (Devices), without
// reading the device again: a page that shows every device's values would
// otherwise read each twice. A device of another customer is not found,
// as in Latest. A server without telemetry has no values, so a page of
// many devices shows them without readings rather than failing.
func (s Scope) LatestOf(d DeviceView) ([]LatestValue, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if !s.p.Operator() && d.Customer != s.p.Customer {
		return nil, NotFound("device")
	}
	if s.g.telemetry == nil {
		return nil, nil
	}
	out := s.g.telemetry.Latest(d.Name, d.Customer)
	out = slices.DeleteFunc(out, func(v LatestValue) bool { return math.IsNaN(v.Value) || math.IsInf(v.Value, 0) })
	slices.SortFunc(out, func(x, y LatestValue) int { return strings.Compare(x.Metric, y.Metric) })
	return out, nil
}

// Telemetry returns one metric of a device p may see, downsampled by the
// engine to one point per step with each step's minimum, average and
// maximum, so a chart gets as many points as it is wide whatever the range.
func (s Scope) Telemetry(ctx context.Context, name string, q TelemetryQuery) (TelemetrySeries, error) {
	out, err := s.TelemetryMany(ctx, name, []string{q.Metric}, q)
	if err != nil {
		return TelemetrySeries{}, err
	}
	return out[0], nil
}

// TelemetryMany is Telemetry for several metrics of one device over the
// same range and step (q.Metric is ignored), such as the lines of one
// chart: the engine reads them side by side in one query. The series are
// in the order of metrics.
func (s Scope) TelemetryMany(ctx context.Context, name string, metrics []string, q TelemetryQuery) ([]TelemetrySeries, error) {
	d, err := s.Device(name)
	if err != nil {
		return nil, err
	}
	tm, err := s.telemetry()
	if err != nil {
		return nil, err
	}
	if len(metrics) == 0 {
		return nil, Invalid(`metric: at least one is required, e.g. metric=co2_ppm`)
	}
	for _, m := range metrics {
		if !ValidMetricName(m) {
			return nil, Invalid(`metric %q: a metric name is a letter or '_' followed by letters, digits and '_'`, m)
		}
	}
	if q.To.IsZero() {
		q.To = s.g.now()
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-DefaultWindow)
	}
	q.From, q.To = q.From.Truncate(time.Millisecond).UTC(), q.To.Truncate(time.Millisecond).UTC()
	if q.From.Before(time.UnixMilli(0)) {
		q.From = time.UnixMilli(0).UTC()
	}
	if q.From.After(q.To) {
		return nil, Invalid(`"from" (%s) is after "to" (%s)`, FormatTime(q.From), FormatTime(q.To))
	}
	// Spans are counted in milliseconds: ten thousand years do not fit a
	// time.Duration.
	spanMs := q.To.UnixMilli() - q.From.UnixMilli()
	switch {
	case q.Step == 0:
		q.Step = defaultStep(spanMs)
	case q.Step < time.Second || q.Step > MaxStep || q.Step%time.Second != 0:
		return nil, Invalid(`step %s: whole seconds from 1s to %d days are accepted`, q.Step, MaxStep/(24*time.Hour))
	default:
		if n := spanMs/q.Step.Milliseconds() + 1; n > MaxPoints {
			return nil, Invalid(`from, to and step give %d points; at most %d points per series are accepted: raise "step" or narrow the range`, n, MaxPoints)
		}
	}
	qs := make([]DownsampleQuery, len(metrics))
	for i, m := range metrics {
		qs[i] = DownsampleQuery{Device: d.Name, Customer: d.Customer, Metric: m, Start: q.From, End: q.To, Step: q.Step}
	}
	pts, err := tm.DownsampleMany(ctx, qs)
	if err != nil {
		if len(metrics) == 1 {
			return nil, fmt.Errorf("query %q of device %q: %w", metrics[0], d.Name, err)
		}
		return nil, fmt.Errorf("query %s of device %q: %w", strings.Join(metrics, ", "), d.Name, err)
	}
	out := make([]TelemetrySeries, len(metrics))
	for i, m := range metrics {
		out[i] = TelemetrySeries{Device: d.Name, Metric: m, From: q.From, To: q.To, Step: q.Step, Points: pts[i]}
	}
	return out, nil
}

// defaultStep is the smallest round step that cuts spanMs milliseconds
// into at most targetPoints intervals; past a day it is whole days.
func defaultStep(spanMs int64) time.Duration {
	need := (spanMs + targetPoints*1000 - 1) / (targetPoints * 1000) // seconds, rounded up
	// Round steps put chart points on round times.
	for _, st := range [...]int64{
		1, 2, 5, 10, 15, 30,
		60, 2 * 60, 5 * 60, 10 * 60, 15 * 60, 30 * 60,
		3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600,
	} {
		if st >= need {
			return time.Duration(st) * time.Second
		}
	}
	const day = 24 * 3600
	return time.Duration((need+day-1)/day*day) * time.Second
}

// FormatTime writes a time as RFC 3339 with milliseconds in UTC, the form
// every time in the API's answers takes.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// ServePrometheus answers one Prometheus HTTP API endpoint through the
// query engine, restricted to p's customer's series whatever the request
// says; operators see every series.
func (s Scope) ServePrometheus(w http.ResponseWriter, r *http.Request, endpoint string) error {
	if err := s.check(); err != nil {
		return err
	}
	tm, err := s.telemetry()
	if err != nil {
		return err
	}
	customer := ""
	if !s.p.Operator() {
		customer = s.p.Customer
	}
	tm.ServePrometheus(w, r, endpoint, customer)
	return nil
}

// ServePrometheusLabelValues answers /label/{label}/values, refusing a
// label name that breaks the naming rule before it reaches the engine.
func (s Scope) ServePrometheusLabelValues(w http.ResponseWriter, r *http.Request, label string) error {
	if !ValidMetricName(label) {
		return Invalid("label name %q: a letter or '_' followed by letters, digits and '_' is accepted", label)
	}
	return s.ServePrometheus(w, r, "label/"+label+"/values")
}

// PrometheusVersion is the Prometheus version whose HTTP API the engine
// speaks, as VictoriaMetrics claims it; Grafana asks for it to pick which
// Prometheus features to use.
func (s Scope) PrometheusVersion() (string, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	if _, err := s.telemetry(); err != nil {
		return "", err
	}
	return "2.24.0", nil
}

// MetricMetadata is what the Prometheus API's /metadata says of a metric.
type MetricMetadata struct {
	Type string `json:"type"`
	Help string `json:"help"`
	Unit string `json:"unit"`
}

// PrometheusMetadata describes the metrics p may see (or only metric, when
// set), at most limit of them (0: all), for Grafana's query builder and
// metric browser. Every telemetry metric is a gauge: a reading at a time.
func (s Scope) PrometheusMetadata(ctx context.Context, metric string, limit int) (map[string][]MetricMetadata, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	tm, err := s.telemetry()
	if err != nil {
		return nil, err
	}
	if metric != "" && !ValidMetricName(metric) {
		return nil, Invalid("metric %q: a metric name is a letter or '_' followed by letters, digits and '_'", metric)
	}
	if limit < 0 {
		return nil, Invalid("limit %d: a number of metrics from 0 (all) is accepted", limit)
	}
	customer := ""
	if !s.p.Operator() {
		customer = s.p.Customer
	}
	names, err := tm.MetricNames(ctx, customer, 0)
	if err != nil {
		return nil, err
	}
	out := map[string][]MetricMetadata{}
	for _, n := range names {
		if metric != "" && n != metric || limit > 0 && len(out) == limit {
			continue
		}
		info := knownMetrics[n]
		help := info.help
		if help == "" {
			help = "telemetry metric " + n
		}
		out[n] = []MetricMetadata{{Type: "gauge", Help: help, Unit: info.unit}}
	}
	return out, nil
}
