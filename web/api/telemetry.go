package api

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of a telemetry history request.
const (
	// maxPoints per series keeps one answer within what a chart can draw
	// and what the query engine answers quickly; it is Prometheus' own
	// limit, so clients written for Prometheus already respect it.
	maxPoints = 11000
	// targetPoints is what the default step aims at: enough for a chart
	// as wide as a screen.
	targetPoints = 1000
	// defaultWindow is the range when from is not given.
	defaultWindow = time.Hour
	// maxStepMs keeps the step within what time.Duration holds, with room.
	maxStepMs = 10 * 366 * 24 * 3600 * 1000
	// maxTimeMs is the end of year 9999, the last instant RFC 3339 can
	// write.
	maxTimeMs = 253402300799999
)

// validMetricName is the telemetry metric naming rule,
// ^[A-Za-z_][A-Za-z0-9_]*$. Metric names are checked before they go into a
// query, never escaped into one. Prometheus label names follow the same
// rule.
func validMetricName(s string) bool {
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

// rangeQuery is a parsed telemetry history request. Times are unix
// milliseconds so that the arithmetic cannot overflow.
type rangeQuery struct {
	metric   string
	fromMs   int64
	toMs     int64
	stepSecs int64
}

func (q rangeQuery) from() time.Time     { return time.UnixMilli(q.fromMs).UTC() }
func (q rangeQuery) to() time.Time       { return time.UnixMilli(q.toMs).UTC() }
func (q rangeQuery) step() time.Duration { return time.Duration(q.stepSecs) * time.Second }

// pointCount is how many steps from fromMs to toMs hold, both ends included.
func pointCount(fromMs, toMs, stepSecs int64) int64 { return (toMs-fromMs)/(stepSecs*1000) + 1 }

// parseRangeQuery reads metric, from, to and step. from and to are RFC 3339
// or unix milliseconds; step is a Go duration ("30s", "5m") or a number of
// seconds, whole seconds only. Defaults: to now, from an hour before to, the
// step the smallest round one that gives at most about 1000 points.
func parseRangeQuery(v url.Values, now time.Time) (rangeQuery, error) {
	var q rangeQuery
	switch metrics := v["metric"]; {
	case len(metrics) == 0 || metrics[0] == "":
		return q, invalid(`parameter "metric": required, e.g. ?metric=co2_ppm`)
	case len(metrics) > 1:
		return q, invalid(`parameter "metric": one metric per request is accepted, got %d`, len(metrics))
	case !validMetricName(metrics[0]):
		return q, invalid(`parameter "metric" %q: a metric name is a letter or '_' followed by letters, digits and '_'`, metrics[0])
	default:
		q.metric = metrics[0]
	}
	var err error
	q.toMs = now.UnixMilli()
	if s := v.Get("to"); s != "" {
		if q.toMs, err = parseTimeParam("to", s); err != nil {
			return q, err
		}
	}
	q.fromMs = q.toMs - defaultWindow.Milliseconds()
	if s := v.Get("from"); s != "" {
		if q.fromMs, err = parseTimeParam("from", s); err != nil {
			return q, err
		}
	}
	q.fromMs = max(q.fromMs, 0)
	if q.fromMs > q.toMs {
		return q, invalid(`parameter "from" (%s) is after "to" (%s)`, formatMs(q.fromMs), formatMs(q.toMs))
	}
	if s := v.Get("step"); s != "" {
		if q.stepSecs, err = parseStepParam(s); err != nil {
			return q, err
		}
		if n := pointCount(q.fromMs, q.toMs, q.stepSecs); n > maxPoints {
			return q, invalid(`from, to and step give %d points; at most %d points per series are accepted: raise "step" or narrow the range`, n, maxPoints)
		}
		return q, nil
	}
	q.stepSecs = defaultStep(q.toMs - q.fromMs)
	return q, nil
}

// defaultStep is the smallest round step, in seconds, that cuts rangeMs
// into at most targetPoints intervals; past a day it is whole days.
func defaultStep(rangeMs int64) int64 {
	need := (rangeMs + targetPoints*1000 - 1) / (targetPoints * 1000) // seconds, rounded up
	// Round steps put chart points on round times.
	nice := []int64{
		1, 2, 5, 10, 15, 30,
		60, 2 * 60, 5 * 60, 10 * 60, 15 * 60, 30 * 60,
		3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600,
	}
	for _, s := range nice {
		if s >= need {
			return s
		}
	}
	const day = 24 * 3600
	return (need + day - 1) / day * day
}

// parseTimeParam reads unix milliseconds or an RFC 3339 time.
func parseTimeParam(name, s string) (int64, error) {
	const accepted = "RFC 3339 (2026-11-05T08:00:00Z) or unix milliseconds, from 1970 to 9999"
	var ms int64
	if strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, invalid("parameter %q %q: %s are accepted", name, s, accepted)
		}
		ms = n
	} else {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, invalid("parameter %q %q: %s are accepted", name, s, accepted)
		}
		ms = t.UnixMilli()
	}
	if ms < 0 || ms > maxTimeMs {
		return 0, invalid("parameter %q %q: %s are accepted", name, s, accepted)
	}
	return ms, nil
}

// parseStepParam reads a step in whole seconds.
func parseStepParam(s string) (int64, error) {
	const accepted = `a duration ("30s", "5m", "1h") or a number of seconds, whole seconds from 1s to 3660 days`
	var secs int64
	if strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, invalid(`parameter "step" %q: %s are accepted`, s, accepted)
		}
		secs = n
	} else {
		d, err := time.ParseDuration(s)
		if err != nil || d%time.Second != 0 {
			return 0, invalid(`parameter "step" %q: %s are accepted`, s, accepted)
		}
		secs = int64(d / time.Second)
	}
	if secs < 1 || secs > maxStepMs/1000 {
		return 0, invalid(`parameter "step" %q: %s are accepted`, s, accepted)
	}
	return secs, nil
}

// formatMs writes unix milliseconds as RFC 3339 with milliseconds, the form
// every time in the API's answers takes.
func formatMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// latestJSON is the answer of the latest-values route.
type latestJSON struct {
	Device string            `json:"device"`
	Values []latestValueJSON `json:"values"`
}

type latestValueJSON struct {
	Metric string  `json:"metric"`
	TS     int64   `json:"ts"`
	Time   string  `json:"time"`
	Value  float64 `json:"value"`
}

// showLatestTelemetry: GET /api/v1/devices/{name}/telemetry/latest.
func (a *API) showLatestTelemetry(w http.ResponseWriter, r *http.Request) {
	d := scopedDevice(r)
	values := a.telemetry.Latest(d.Name, d.Customer)
	out := latestJSON{Device: d.Name, Values: make([]latestValueJSON, 0, len(values))}
	for _, v := range values {
		if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			continue // JSON has no spelling for them
		}
		out.Values = append(out.Values, latestValueJSON{
			Metric: v.Metric,
			TS:     v.Timestamp,
			Time:   formatMs(v.Timestamp),
			Value:  v.Value,
		})
	}
	slices.SortFunc(out.Values, func(x, y latestValueJSON) int { return strings.Compare(x.Metric, y.Metric) })
	writeJSON(w, http.StatusOK, out)
}

// historyJSON is the answer of the telemetry history route.
type historyJSON struct {
	Device string      `json:"device"`
	Metric string      `json:"metric"`
	From   string      `json:"from"`
	To     string      `json:"to"`
	Step   int64       `json:"step"` // seconds
	Points []pointJSON `json:"points"`
}

type pointJSON struct {
	TS  int64   `json:"ts"`
	Avg float64 `json:"avg"`
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// queryTelemetry: GET /api/v1/devices/{name}/telemetry. The query engine
// computes the average, minimum and maximum of each step; the handler only
// lines the three answers up.
func (a *API) queryTelemetry(w http.ResponseWriter, r *http.Request) {
	d := scopedDevice(r)
	q, err := parseRangeQuery(r.URL.Query(), a.now())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The metric passed validMetricName; names are quoted as MetricsQL
	// string literals, whose escapes are Go's. The customer label keeps a
	// device name that was deleted and registered again for another
	// customer from showing the earlier owner's series; __name__ as a label
	// lets metrics such as "inf" or "nan" parse as names.
	selector := fmt.Sprintf("{__name__=%s,device=%s,customer=%s}[%ds]",
		strconv.Quote(q.metric), strconv.Quote(d.Name), strconv.Quote(d.Customer), q.stepSecs)
	var results [3]map[int64]stepValue
	for i, fn := range []string{"avg_over_time", "min_over_time", "max_over_time"} {
		series, err := a.telemetry.QueryRange(r.Context(), fn+"("+selector+")", q.from(), q.to(), q.step())
		if err != nil {
			a.writeError(w, r, fmt.Errorf("query %s of %q for device %q: %w", fn, q.metric, d.Name, err))
			return
		}
		results[i] = stepValues(series)
	}
	avg, low, high := results[0], results[1], results[2]
	points := make([]pointJSON, 0, len(avg))
	for ts, av := range avg {
		lo, okLow := low[ts]
		hi, okHigh := high[ts]
		// A sample that arrived between the three queries can give one of
		// them a step the others lack; such a step is left out.
		if !okLow || !okHigh {
			continue
		}
		points = append(points, pointJSON{TS: ts, Avg: av.sum / float64(av.n), Min: lo.min, Max: hi.max})
	}
	slices.SortFunc(points, func(x, y pointJSON) int { return cmp.Compare(x.TS, y.TS) })
	out := historyJSON{
		Device: d.Name,
		Metric: q.metric,
		From:   formatMs(q.fromMs),
		To:     formatMs(q.toMs),
		Step:   q.stepSecs,
		Points: points,
	}
	writeJSON(w, http.StatusOK, out)
}

// stepValue is what several series of one answer hold at one step.
type stepValue struct {
	sum      float64
	n        int
	min, max float64
}

// stepValues folds the series of one answer into one value per step. One
// device and metric is normally one series; a device moved to another site
// can have two, which then count alike where they overlap. Steps without a
// finite value are left out: JSON cannot carry NaN or infinities.
func stepValues(series []Series) map[int64]stepValue {
	out := map[int64]stepValue{}
	for _, s := range series {
		for i, ts := range s.Timestamps {
			if i >= len(s.Values) {
				break
			}
			v := s.Values[i]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			sv, ok := out[ts]
			if !ok {
				sv = stepValue{min: v, max: v}
			}
			sv.sum += v
			sv.n++
			sv.min = min(sv.min, v)
			sv.max = max(sv.max, v)
			out[ts] = sv
		}
	}
	return out
}

// requireTelemetry answers 503 when the server runs without telemetry.
func (a *API) requireTelemetry(next http.Handler) http.Handler {
	return a.unlessMissing(a.telemetry == nil, "telemetry is", next)
}
