package ui

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// The device page's chart beyond lines of data: which metrics it charts
// (a person's choice per device type, kept by the gate), each metric's
// unit (one y axis per unit), comfort bands and set-points drawn on the
// axis of their unit, and a comparison with an earlier span.

// chartUnit is the unit of a metric its device type does not give one:
// Hearth's own table of the metrics it knows, else the unit its name ends
// in (presenter.unit asks the type first).
func chartUnit(metric string) string {
	if u := metricUnit(metric); u != "" {
		return u
	}
	return unitBySuffix(metric)
}

// unitSuffixes are the name endings that say a metric's unit, by the
// conventions devices follow (co2_ppm, temperature_c, humidity_pct).
var unitSuffixes = []struct{ suffix, unit string }{
	{"_mm_s", "mm/s"}, {"_m_s", "m/s"}, {"_ppm", "ppm"}, {"_pct", "%"}, {"_rh", "%"}, {"_c", "°C"}, {"_f", "°F"}, {"_k", "K"},
	{"_m3h", "m³/h"}, {"_m3", "m³"}, {"_lph", "L/h"}, {"_kw", "kW"}, {"_kwh", "kWh"}, {"_w", "W"}, {"_wh", "Wh"},
	{"_v", "V"}, {"_a", "A"}, {"_hz", "Hz"}, {"_pa", "Pa"}, {"_kpa", "kPa"}, {"_hpa", "hPa"}, {"_bar", "bar"},
	{"_lux", "lx"}, {"_db", "dB"}, {"_s", "s"}, {"_rpm", "rpm"},
}

// unitBySuffix is the unit metric's name ends in, "" for none.
func unitBySuffix(metric string) string {
	m := strings.ToLower(metric)
	for _, s := range unitSuffixes {
		if strings.HasSuffix(m, s.suffix) {
			return s.unit
		}
	}
	return ""
}

// chartBand is a span of a metric's values drawn behind the lines: the
// same judgement the reading tiles show (metricBand). A nil From or To
// runs to the edge of the chart.
type chartBand struct {
	Metric string   `json:"metric"`
	Unit   string   `json:"unit"`
	From   *float64 `json:"from"`
	To     *float64 `json:"to"`
	Level  string   `json:"level"` // fair or poor
}

// comfortBands are the spans metricBand judges fair or poor, for the
// metrics it judges on a scale: CO2 above 1000 and 1500 ppm, humidity
// outside 40–60 and 30–70 %. A test holds them to metricBand.
var comfortBands = map[string][]struct {
	From, To float64
	Level    string
}{
	"co2_ppm": {{1000, 1500, "fair"}, {1500, math.Inf(1), "poor"}},
	"humidity_pct": {{math.Inf(-1), 30, "poor"}, {30, 40, "fair"}, {60, 70, "fair"},
		{70, math.Inf(1), "poor"}},
}

func bandsOf(metric, unit string) []chartBand {
	var out []chartBand
	for _, b := range comfortBands[metric] {
		cb := chartBand{Metric: metric, Unit: unit, Level: b.Level}
		if !math.IsInf(b.From, 0) {
			cb.From = &b.From
		}
		if !math.IsInf(b.To, 0) {
			cb.To = &b.To
		}
		out = append(out, cb)
	}
	return out
}

// chartLine is a horizontal line on the axis of its unit: a set-point the
// device reported, or one asked of it that it has not reported yet.
type chartLine struct {
	Key   string  `json:"key"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
	Label string  `json:"label"`
	Kind  string  `json:"kind"` // reported or desired
}

// isSetpoint says whether a setting is a set-point a chart draws: a
// number whose key names a set-point (chw_setpoint, zone1.setpoint_c).
func isSetpoint(f settingField) bool {
	k := strings.ToLower(f.Key)
	return f.Input == "number" && (strings.Contains(k, "setpoint") || strings.Contains(k, "set_point"))
}

// setpointLines are the set-points of the device the person may see on
// its settings form, as lines: the reported value, and the desired one
// while it differs.
func (u *UI) setpointLines(v view, sc gate.Scope, name string) []chartLine {
	fields, _, err := u.settingFields(v, sc, name)
	if err != nil {
		u.logger.Warn("cannot read set-points for a chart", "device", name, "error", err)
		return nil
	}
	var out []chartLine
	for _, f := range fields {
		if !isSetpoint(f) {
			continue
		}
		unit := f.Unit
		if unit == "" {
			unit = chartUnit(f.Key)
		}
		add := func(s, kind string) {
			if x, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(x, 0) && !math.IsNaN(x) {
				label := v.T("device.chart.setpoint.reported", f.Label)
				if kind == "desired" {
					label = v.T("device.chart.setpoint.desired", f.Label)
				}
				out = append(out, chartLine{Key: f.Key, Unit: unit, Value: x, Kind: kind, Label: label})
			}
		}
		add(f.Reported, "reported")
		if f.Desired != "" && f.Desired != f.Reported {
			add(f.Desired, "desired")
		}
	}
	return out
}

// compareShift is how far back a comparison's series are taken: the span
// before the chart's (previous), or a week (week); 0 for none.
func compareShift(mode string, from, to time.Time) (time.Duration, error) {
	switch mode {
	case "":
		return 0, nil
	case "previous":
		return to.Sub(from), nil
	case "week":
		return 7 * 24 * time.Hour, nil
	}
	return 0, badRequest(`compare ` + strconv.Quote(mode) + `: "previous" or "week" is accepted`)
}

// compareModes are the comparisons the chart offers, "" for none.
var compareModes = []string{"", "previous", "week"}

// chartChoice is one metric the picker offers.
type chartChoice struct {
	Metric, Label, Unit string
	Checked             bool
}

// pickMetrics decides what the device page charts: the metrics the URL
// names, else the person's choice for the device's type (the metrics of
// it this device has, once it has sent any), else the default.
func (u *UI) pickMetrics(r *http.Request, sc gate.Scope, d gate.DeviceView, rs []reading) (metrics []string, fromURL bool) {
	q := r.URL.Query()
	if q.Get("metrics") != "" {
		return chartMetrics(q, rs), true
	}
	chosen, err := sc.ChartMetrics(d.Name)
	if err != nil {
		u.logger.Warn("cannot read chart choice", "device", d.Name, "error", err)
	}
	if chosen == nil && d.Type != "" {
		if s := u.sessions.GetString(r.Context(), chartSessionKey(d.Type)); s != "" {
			chosen = strings.Split(s, ",")
		}
	}
	if len(rs) > 0 {
		chosen = slices.DeleteFunc(chosen, func(m string) bool {
			return !slices.ContainsFunc(rs, func(x reading) bool { return x.Metric == m })
		})
	}
	if len(chosen) > 0 {
		return chosen, false
	}
	return chartMetrics(url.Values{}, rs), false
}

// chartChoices are the metrics the picker offers: the device's readings,
// then any charted metric it has not sent lately.
func chartChoices(pr presenter, rs []reading, charted []string) []chartChoice {
	var out []chartChoice
	for _, r := range rs {
		out = append(out, chartChoice{Metric: r.Metric, Label: r.Label, Unit: pr.unit(r.Metric), Checked: slices.Contains(charted, r.Metric)})
	}
	for _, m := range charted {
		if !slices.ContainsFunc(out, func(c chartChoice) bool { return c.Metric == m }) {
			out = append(out, chartChoice{Metric: m, Label: pr.label(m), Unit: pr.unit(m), Checked: true})
		}
	}
	return out
}

// chartSessionKey keeps the chart choice of a person who has no user
// record (admitted by a groups claim) for the session.
func chartSessionKey(deviceType string) string { return "chart." + deviceType }

// saveChartMetrics: POST /devices/{name}/chart, the metrics picked (metric,
// repeated) kept for the person and the device's type; none picked goes
// back to the default. A script's request (Accept: application/json) is
// answered 204; a form goes back to the page at the range it showed.
func (u *UI) saveChartMetrics(w http.ResponseWriter, r *http.Request) {
	sc := u.scope(r)
	d, err := sc.Device(chi.URLParam(r, "name"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, badRequest("the form could not be read"))
		return
	}
	metrics := r.PostForm["metric"]
	err = sc.SetChartMetrics(d.Name, metrics)
	if errors.Is(err, gate.ErrNoUserRecord) && d.Type != "" {
		// Kept for the session: metrics passed the gate's checks.
		u.sessions.Put(r.Context(), chartSessionKey(d.Type), strings.Join(metrics, ","))
		err = nil
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	back := url.Values{}
	for _, k := range []string{"range", "from", "to", "compare"} {
		if s := r.PostFormValue(k); s != "" {
			back.Set(k, s)
		}
	}
	to := "/devices/" + url.PathEscape(d.Name)
	if len(back) > 0 {
		to += "?" + back.Encode()
	}
	http.Redirect(w, r, to+"#chart", http.StatusSeeOther)
}

// The page charts at most as many metrics as a kept choice holds: this
// does not compile when the two bounds differ.
var _ = [1]struct{}{}[maxMetrics-store.MaxChartMetrics]

// compareLabelKey is the catalogue key naming a comparison.
func compareLabelKey(mode string) string {
	switch mode {
	case "previous":
		return "device.chart.compare.previous"
	case "week":
		return "device.chart.compare.week"
	}
	return "device.chart.compare.none"
}

// compareSeriesLabel names a comparison's series.
func compareSeriesLabel(v view, mode, label string) string {
	if mode == "week" {
		return v.T("device.chart.compare.label.week", label)
	}
	return v.T("device.chart.compare.label.previous", label)
}

// rangeHref is a range button's link: the range, and what else the page
// shows that the URL names.
func rangeHref(d devicePageData, key string) string {
	q := url.Values{"range": {key}}
	if d.MetricsInURL {
		q.Set("metrics", joinMetrics(d.Metrics))
	}
	if d.Compare != "" {
		q.Set("compare", d.Compare)
	}
	return "?" + q.Encode()
}
