package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/web/export"
)

// maxTimeMs is the end of year 9999, the last instant RFC 3339 can
// write.
const maxTimeMs = 253402300799999

// parseRangeQuery reads metric, from, to and step. from and to are RFC 3339
// or unix milliseconds; step is a Go duration ("30s", "5m") or a number of
// seconds, whole seconds only. Absent ones take the gate's defaults: to
// now, from an hour before to, the step the smallest round one that gives
// at most about 1000 points.
func parseRangeQuery(v url.Values) (gate.TelemetryQuery, error) {
	var q gate.TelemetryQuery
	switch metrics := v["metric"]; {
	case len(metrics) == 0 || metrics[0] == "":
		return q, gate.Invalid(`parameter "metric": required, e.g. ?metric=co2_ppm`)
	case len(metrics) > 1:
		return q, gate.Invalid(`parameter "metric": one metric per request is accepted, got %d`, len(metrics))
	case !gate.ValidMetricName(metrics[0]):
		return q, gate.Invalid(`parameter "metric" %q: a metric name is a letter or '_' followed by letters, digits and '_'`, metrics[0])
	default:
		q.Metric = metrics[0]
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(p.name); s != "" {
			ms, err := parseTimeParam(p.name, s)
			if err != nil {
				return q, err
			}
			*p.dst = time.UnixMilli(ms).UTC()
		}
	}
	if s := v.Get("step"); s != "" {
		secs, err := parseStepParam(s)
		if err != nil {
			return q, err
		}
		q.Step = time.Duration(secs) * time.Second
	}
	return q, nil
}

// parseTimeParam reads unix milliseconds or an RFC 3339 time.
func parseTimeParam(name, s string) (int64, error) {
	const accepted = "RFC 3339 (2026-11-05T08:00:00Z) or unix milliseconds, from 1970 to 9999"
	var ms int64
	if strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, gate.Invalid("parameter %q %q: %s are accepted", name, s, accepted)
		}
		ms = n
	} else {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, gate.Invalid("parameter %q %q: %s are accepted", name, s, accepted)
		}
		ms = t.UnixMilli()
	}
	if ms < 0 || ms > maxTimeMs {
		return 0, gate.Invalid("parameter %q %q: %s are accepted", name, s, accepted)
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
			return 0, gate.Invalid(`parameter "step" %q: %s are accepted`, s, accepted)
		}
		secs = n
	} else {
		d, err := time.ParseDuration(s)
		if err != nil || d%time.Second != 0 {
			return 0, gate.Invalid(`parameter "step" %q: %s are accepted`, s, accepted)
		}
		secs = int64(d / time.Second)
	}
	if secs < 1 || time.Duration(secs)*time.Second > gate.MaxStep {
		return 0, gate.Invalid(`parameter "step" %q: %s are accepted`, s, accepted)
	}
	return secs, nil
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
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	values, err := a.scope(r).Latest(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := latestJSON{Device: name, Values: make([]latestValueJSON, 0, len(values))}
	for _, v := range values {
		out.Values = append(out.Values, latestValueJSON{
			Metric: v.Metric,
			TS:     v.Timestamp,
			Time:   gate.FormatTime(time.UnixMilli(v.Timestamp)),
			Value:  v.Value,
		})
	}
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

// queryTelemetry: GET /api/v1/devices/{name}/telemetry. The engine
// computes the average, minimum and maximum of each step. With format=csv
// (or Accept: text/csv) the answer is the table the device page's download
// gives: one row per step, one column per metric (several metric
// parameters allowed), times in tz (default the server's zone).
func (a *API) queryTelemetry(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if f := r.URL.Query().Get("format"); f != "" && f != "csv" && f != "json" {
		a.writeError(w, r, gate.Invalid(`parameter "format" %q: "json" (the default) and "csv" are accepted`, f))
		return
	}
	if wantsCSV(r) {
		a.telemetryCSV(w, r, name)
		return
	}
	q, err := parseRangeQuery(r.URL.Query())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	series, err := a.scope(r).Telemetry(r.Context(), name, q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := historyJSON{
		Device: series.Device,
		Metric: series.Metric,
		From:   gate.FormatTime(series.From),
		To:     gate.FormatTime(series.To),
		Step:   int64(series.Step / time.Second),
		Points: make([]pointJSON, 0, len(series.Points)),
	}
	for _, p := range series.Points {
		out.Points = append(out.Points, pointJSON{TS: p.Timestamp, Avg: p.Avg, Min: p.Min, Max: p.Max})
	}
	writeJSON(w, http.StatusOK, out)
}

// wantsCSV reports whether a telemetry request asks for CSV: format=csv, or
// an Accept header that prefers text/csv to JSON.
func wantsCSV(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "csv":
		return true
	case "json":
		return false
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "text/csv") && !strings.Contains(accept, "application/json")
}

// telemetryCSV answers several metrics of a device as CSV.
func (a *API) telemetryCSV(w http.ResponseWriter, r *http.Request, name string) {
	v := r.URL.Query()
	loc := a.loc
	if tz := v.Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || len(tz) > 64 {
			a.writeError(w, r, gate.Invalid(`parameter "tz" %q: an IANA time zone such as Asia/Tokyo or UTC is accepted`, tz))
			return
		}
		loc = l
	}
	metrics := v["metric"]
	one := url.Values{}
	for k, vals := range v {
		if k != "metric" {
			one[k] = vals
		}
	}
	if len(metrics) > 0 {
		one.Set("metric", metrics[0])
	}
	q, err := parseRangeQuery(one)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	for _, m := range metrics {
		if !gate.ValidMetricName(m) {
			a.writeError(w, r, gate.Invalid(`parameter "metric" %q: a metric name is a letter or '_' followed by letters, digits and '_'`, m))
			return
		}
	}
	table, err := a.scope(r).TelemetryTable(r.Context(), name, metrics, q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	export.TelemetryCSV(w, table, loc)
}
