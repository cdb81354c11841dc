package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/export"
)

// Chart ranges offered as buttons; the URL keeps the choice (?range=) or
// an explicit from/to (unix milliseconds), so a view can be shared.
var ranges = []struct {
	Key string
	D   time.Duration
}{
	{"1h", time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour},
	{"30d", 30 * 24 * time.Hour}, {"1y", 365 * 24 * time.Hour},
}

// Bounds of chart requests.
const (
	defaultRange  = 24 * time.Hour
	maxRange      = 5 * 366 * 24 * time.Hour
	maxChartPts   = 2000
	defaultPoints = 1000
	maxMetrics    = 8
	historyRows   = 20
	historyScan   = 100
)

// chartRange reads the range of a device page or chart request: a range
// key, from and to in unix milliseconds, or from_local and to_local as a
// datetime-local form sends them, in the page's time zone.
func chartRange(q url.Values, now time.Time, loc *time.Location) (from, to time.Time, key string, err error) {
	for _, name := range []string{"from", "to"} {
		if s := q.Get(name + "_local"); s != "" && q.Get(name) == "" {
			lt, perr := time.ParseInLocation("2006-01-02T15:04", s, loc)
			if perr != nil {
				return time.Time{}, time.Time{}, "", fmt.Errorf("%s %q is not a date and time", name, s)
			}
			q.Set(name, strconv.FormatInt(lt.UnixMilli(), 10))
		}
	}
	to = now
	key = q.Get("range")
	if key == "" && q.Get("from") == "" {
		key = "24h"
	}
	for _, rg := range ranges {
		if rg.Key == key {
			return now.Add(-rg.D), now, key, nil
		}
	}
	parse := func(name string) (time.Time, error) {
		s := q.Get(name)
		if s == "" {
			return time.Time{}, nil
		}
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 || ms > 253402300799999 {
			return time.Time{}, fmt.Errorf("%s %q is not a time in unix milliseconds", name, s)
		}
		return time.UnixMilli(ms), nil
	}
	if from, err = parse("from"); err != nil {
		return
	}
	t2, err := parse("to")
	if err != nil {
		return
	}
	if !t2.IsZero() {
		to = t2
	}
	if from.IsZero() {
		from = to.Add(-defaultRange)
	}
	if !from.Before(to) || to.Sub(from) > maxRange {
		return time.Time{}, time.Time{}, "", errors.New("the range must start before it ends and span at most 5 years")
	}
	return from, to, "", nil
}

// chartMetrics are the metrics a chart shows: ?metrics=a,b, or the
// device's known readings (at most 4), else its first metrics.
func chartMetrics(q url.Values, rs []reading) []string {
	if s := q.Get("metrics"); s != "" {
		ms := strings.Split(s, ",")
		if len(ms) > maxMetrics {
			ms = ms[:maxMetrics]
		}
		return ms
	}
	var out []string
	for _, r := range rs {
		if len(out) == 4 {
			break
		}
		out = append(out, r.Metric)
	}
	return out
}

// devicePageData is everything the device page shows.
type devicePageData struct {
	Device   gate.DeviceView
	Readings []reading
	Metrics  []string
	// MetricsInURL: the URL names the metrics, so links keep naming them;
	// otherwise they follow the person's choice.
	MetricsInURL bool
	// Choices are the metrics the picker offers.
	Choices []chartChoice
	// Compare is the comparison the chart shows: "", previous or week.
	Compare   string
	RangeKey  string
	From, To  time.Time
	SeriesURL string
	CSVURL    string
	Settings  []settingField
	Flash     string
	FlashErr  bool
	History   []historyRow
	Violation []string
	// Schedule is the device's operating calendar; nil when the server
	// runs none.
	Schedule *deviceSchedule
	// Alarms are the device's open alarms; nil when the server runs no
	// alarms.
	Alarms *deviceAlarmsData
	// Jobs are the device's job executions; nil when the server runs no
	// jobs.
	Jobs *deviceJobsData
	// Rates are the device's rate limits; nil when the server limits
	// nothing.
	Rates *deviceRates
}

// deviceRates is the device page's part on its rate limits: each limit's
// rate, and, once the device was slowed or refused, how often and when
// last. Telemetry or Shadow is nil when the server does not limit it.
type deviceRates struct {
	Telemetry, Shadow *rateLine
	// Slowed is whether the device was ever held back or refused.
	Slowed bool
}

// rateLine is one rate limit as the page writes it.
type rateLine struct {
	Limited   bool   // false: no limit
	PerSecond string // as people write numbers: 25, 0.5
	Burst     int
	Delayed   uint64
	Refused   uint64
	// LastDelayed and LastRefused say how long ago the last was
	// ("3 min ago"), and LastDelayedAt and LastRefusedAt when.
	LastDelayed, LastRefused     string
	LastDelayedAt, LastRefusedAt string
}

// newDeviceRates is the rate limits of a device view; nil when it has
// none.
func newDeviceRates(v view, d gate.DeviceView, now time.Time) *deviceRates {
	if d.TelemetryRate == nil && d.ShadowRate == nil {
		return nil
	}
	line := func(u *device.RateUse) *rateLine {
		if u == nil {
			return nil
		}
		return &rateLine{
			Limited: u.PerSecond > 0, PerSecond: strconv.FormatFloat(u.PerSecond, 'f', -1, 64), Burst: u.Burst,
			Delayed: u.Delayed, LastDelayed: ago(v, now, u.LastDelayed), LastDelayedAt: v.Time(u.LastDelayed),
			Refused: u.Refused, LastRefused: ago(v, now, u.LastRefused), LastRefusedAt: v.Time(u.LastRefused),
		}
	}
	r := &deviceRates{Telemetry: line(d.TelemetryRate), Shadow: line(d.ShadowRate)}
	for _, u := range []*device.RateUse{d.TelemetryRate, d.ShadowRate} {
		r.Slowed = r.Slowed || u != nil && u.Slowed()
	}
	return r
}

// ago says how long before now ts was, as a person reads it: just now,
// minutes, hours, then days.
func ago(v view, now, ts time.Time) string {
	d := now.Sub(ts)
	switch {
	case ts.IsZero():
		return ""
	case d < time.Minute:
		return v.T("device.rates.just_now")
	case d < time.Hour:
		return v.T("device.rates.min_ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return v.T("device.rates.h_ago", int(d/time.Hour))
	}
	return v.T("device.rates.d_ago", int(d/(24*time.Hour)))
}

func (u *UI) showDevice(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	sc := u.scope(r)
	d, err := sc.Device(chi.URLParam(r, "name"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.inDeviceSiteZone(&v, sc, d)
	q := r.URL.Query()
	from, to, key, err := chartRange(q, u.now(), v.loc)
	if err != nil {
		u.fail(w, r, badRequest(err.Error()))
		return
	}
	data := devicePageData{Device: d, Readings: u.readings(v, sc, d, 0), RangeKey: key, From: from, To: to}
	data.Rates = newDeviceRates(v, d, u.now())
	data.Metrics, data.MetricsInURL = u.pickMetrics(r, sc, d, data.Readings)
	data.Choices = chartChoices(u.presenter(v, sc, d), data.Readings, data.Metrics)
	if _, err := compareShift(q.Get("compare"), from, to); err != nil {
		u.fail(w, r, err)
		return
	}
	data.Compare = q.Get("compare")
	params := url.Values{"metrics": {strings.Join(data.Metrics, ",")}, "from": {ms(from)}, "to": {ms(to)}}
	base := "/devices/" + url.PathEscape(d.Name)
	data.CSVURL = base + "/export.csv?" + params.Encode()
	if data.Compare != "" {
		params.Set("compare", data.Compare)
	}
	data.SeriesURL = base + "/series?" + params.Encode()
	if data.Settings, data.Violation, err = u.settingFields(v, sc, d.Name); err != nil {
		u.fail(w, r, err)
		return
	}
	data.Flash = u.sessions.PopString(r.Context(), keyFlash)
	data.FlashErr = strings.HasPrefix(data.Flash, "!")
	data.Flash = strings.TrimPrefix(data.Flash, "!")
	if data.History, err = u.historyRows(v, sc, d.Name); err != nil {
		u.fail(w, r, err)
		return
	}
	if data.Alarms, err = u.deviceAlarms(v, r, sc, d); err != nil {
		u.fail(w, r, err)
		return
	}
	if data.Jobs, err = u.deviceJobs(v, sc, d.Name); err != nil {
		u.fail(w, r, err)
		return
	}
	sched, ok, err := u.deviceSchedule(v, sc, d.Name)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if ok {
		msg := u.sessions.PopString(r.Context(), keyScheduleFlash)
		sched.Flash, sched.FlashErr = strings.TrimPrefix(msg, "!"), strings.HasPrefix(msg, "!")
		data.Schedule = &sched
	}
	u.render(w, r, http.StatusOK, devicePage(v, data))
}

// deviceLive is a device page's live part: its state and latest values.
func (u *UI) deviceLive(r *http.Request) (templ.Component, liveWatch, error) {
	v := u.view(r)
	sc := u.scope(r)
	d, err := sc.Device(chi.URLParam(r, "name"))
	if err != nil {
		return nil, liveWatch{}, err
	}
	u.inDeviceSiteZone(&v, sc, d)
	return liveValues(v, d, u.readings(v, sc, d, 0)), liveWatch{devices: []string{d.Name}}, nil
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func joinMetrics(ms []string) string { return strings.Join(ms, ",") }

// localInput writes a time for a datetime-local input in the page's zone.
func localInput(v view, ts time.Time) string { return ts.In(v.loc).Format("2006-01-02T15:04") }

// bound writes a setting's minimum or maximum for an input; "" when unset.
func bound(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

// stepOf is the step attribute of a number input: the setting's step, 1
// for integers, "any" otherwise.
func stepOf(f settingField) string {
	switch {
	case f.Step != nil:
		return bound(f.Step)
	case f.Type == store.SettingInteger:
		return "1"
	}
	return "any"
}

func unixMilli(v int64) time.Time { return time.UnixMilli(v) }

// seriesJSON is the chart data the page's script draws.
type seriesJSON struct {
	From   int64        `json:"from"`
	To     int64        `json:"to"`
	Series []seriesLine `json:"series"`
	// Bands are the comfort bands of the metrics charted, Lines the
	// device's set-points; the chart draws those of a unit it has an
	// axis for.
	Bands []chartBand `json:"bands"`
	Lines []chartLine `json:"lines"`
}

type seriesLine struct {
	Metric string     `json:"metric"`
	Label  string     `json:"label"`
	Unit   string     `json:"unit"`
	T      []int64    `json:"t"`
	V      []*float64 `json:"v"`
	// ShiftMs is set on a comparison's series: its values are from this
	// many milliseconds earlier, its times moved onto the chart's range.
	ShiftMs int64 `json:"shift_ms,omitempty"`
}

// chartData queries the metrics of a chart request, one average per
// step, the step chosen so that each series has about points points. The
// device is looked up first: with no metrics nothing else would ask the
// gate about it, and another customer's device or an unknown one must be
// not found, not an empty chart. A device of the person's with no metrics
// named is a chart with no lines: its page asks for that while the device
// has sent no readings yet.
func (u *UI) chartData(r *http.Request) (seriesJSON, error) {
	v := u.view(r)
	sc := u.scope(r)
	name := chi.URLParam(r, "name")
	d, err := sc.Device(name)
	if err != nil {
		return seriesJSON{}, err
	}
	pr := u.presenter(v, sc, d)
	metrics, tq, err := u.chartQuery(r)
	if err != nil {
		return seriesJSON{}, err
	}
	from, to, step := tq.From, tq.To, tq.Step
	mode := r.URL.Query().Get("compare")
	shift, err := compareShift(mode, from, to)
	if err != nil {
		return seriesJSON{}, err
	}
	out := seriesJSON{From: from.UnixMilli(), To: to.UnixMilli(), Series: []seriesLine{}, Bands: []chartBand{}, Lines: []chartLine{}}
	// All metrics of the chart are read side by side in one query; a
	// comparison's are a second one.
	query := func(shift time.Duration) ([]seriesLine, error) {
		if len(metrics) == 0 {
			return nil, nil
		}
		all, err := sc.TelemetryMany(r.Context(), name, metrics, gate.TelemetryQuery{From: from.Add(-shift), To: to.Add(-shift), Step: step})
		if err != nil {
			return nil, err
		}
		lines := make([]seriesLine, len(all))
		for k, ts := range all {
			m, pts := ts.Metric, ts.Points
			line := seriesLine{Metric: m, Label: pr.label(m), Unit: pr.unit(m), T: make([]int64, len(pts)), V: make([]*float64, len(pts)),
				ShiftMs: shift.Milliseconds()}
			for i, p := range pts {
				line.T[i] = p.Timestamp + shift.Milliseconds()
				val := p.Avg
				line.V[i] = &val
			}
			lines[k] = line
		}
		return lines, nil
	}
	lines, err := query(0)
	if err != nil {
		return seriesJSON{}, err
	}
	for _, line := range lines {
		out.Series = append(out.Series, line)
		out.Bands = append(out.Bands, bandsOf(line.Metric, line.Unit)...)
	}
	if shift > 0 {
		lines, err := query(shift)
		if err != nil {
			return seriesJSON{}, err
		}
		for _, line := range lines {
			line.Label = compareSeriesLabel(v, mode, line.Label)
			out.Series = append(out.Series, line)
		}
	}
	if len(metrics) > 0 {
		out.Lines = append(out.Lines, u.setpointLines(v, sc, name)...)
	}
	return out, nil
}

func (u *UI) series(w http.ResponseWriter, r *http.Request) {
	data, err := u.chartData(r)
	if err != nil {
		status, msg := u.errorStatus(r, err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(data)
}

// chartQuery reads the chart's metrics, range and step: the step is chosen
// so that each series has about points points.
func (u *UI) chartQuery(r *http.Request) ([]string, gate.TelemetryQuery, error) {
	q := r.URL.Query()
	from, to, _, err := chartRange(q, u.now(), u.loc)
	if err != nil {
		return nil, gate.TelemetryQuery{}, badRequest(err.Error())
	}
	points := defaultPoints
	if s := q.Get("points"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10 || n > maxChartPts {
			return nil, gate.TelemetryQuery{}, badRequest(fmt.Sprintf("points %q: a whole number from 10 to %d", s, maxChartPts))
		}
		points = n
	}
	step := to.Sub(from) / time.Duration(points)
	step = max(step.Truncate(time.Second), time.Second)
	return chartMetrics(q, nil), gate.TelemetryQuery{From: from, To: to, Step: step}, nil
}

// exportCSV writes what the chart shows: one row per time, one column per
// metric, times in the page's time zone, as the API's CSV does.
// Another customer's device or an unknown one is not found whatever the
// query says; a CSV without metrics is refused (400).
func (u *UI) exportCSV(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	sc := u.scope(r)
	d, err := sc.Device(chi.URLParam(r, "name"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	metrics, tq, err := u.chartQuery(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	table, err := sc.TelemetryTable(r.Context(), d.Name, metrics, tq)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	export.TelemetryCSV(w, table, v.loc)
}

// settingField is one setting on the device page's form.
type settingField struct {
	store.Setting
	Label    string // in the page's language
	Input    string // number, select, checkbox, text
	Options  []settingOption
	Reported string
	Desired  string
	Value    string // what the form shows: desired, else reported
	// ReportedText and DesiredText show the values to the reader: an
	// allowed value by its label.
	ReportedText, DesiredText string
	Editable                  bool
	Flagged                   bool
}

// settingOption is one allowed value of a select: the value the form
// sends, and its label in the page's language.
type settingOption struct {
	Value, Label string
}

// text shows a value of the field to the reader: an allowed value by its
// label, anything else as it is.
func (f settingField) text(value string) string {
	for _, o := range f.Options {
		if o.Value == value {
			return o.Label
		}
	}
	return value
}

// settingFields lists the settings the person may see on the form:
// customers the customer-editable ones, operators all simple ones.
func (u *UI) settingFields(v view, sc gate.Scope, name string) ([]settingField, []string, error) {
	sch, _, err := sc.Settings(name)
	if err != nil || sch == nil {
		return nil, nil, err
	}
	doc, vs, err := sc.Shadow(name, "")
	var se *shadow.Error
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		err = nil
	}
	if err != nil {
		return nil, nil, err
	}
	flagged := map[string]bool{}
	var msgs []string
	for _, vi := range vs {
		flagged[vi.Key] = true
		msgs = append(msgs, vi.Message)
	}
	var out []settingField
	for _, st := range sch.Settings() {
		if st.Type == store.SettingObject || st.Type == store.SettingArray {
			continue
		}
		if !v.Operator && !st.CustomerEditable {
			continue
		}
		f := settingField{Setting: st, Label: settings.Label(st, v.Lang), Editable: sc.Principal().MayChangeSettings(), Flagged: flagged[st.Key]}
		f.Reported = display(lookup(doc.State.Reported, st.Key))
		f.Desired = display(lookup(doc.State.Desired, st.Key))
		f.Value = f.Desired
		if f.Value == "" {
			f.Value = f.Reported
		}
		switch {
		case len(st.Enum) > 0:
			f.Input = "select"
			for _, e := range st.Enum {
				var s any
				if json.Unmarshal(e, &s) == nil {
					f.Options = append(f.Options, settingOption{Value: display(s), Label: settings.ValueLabel(st, e, v.Lang)})
				}
			}
		case st.Type == store.SettingBoolean:
			f.Input = "checkbox"
		case st.Type == store.SettingNumber || st.Type == store.SettingInteger:
			f.Input = "number"
		default:
			f.Input = "text"
		}
		f.ReportedText, f.DesiredText = f.text(f.Reported), f.text(f.Desired)
		out = append(out, f)
	}
	return out, msgs, nil
}

func lookup(m map[string]any, key string) any {
	var cur any = m
	for _, part := range strings.Split(key, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[part]
	}
	return cur
}

// display writes a shadow value for a form: strings bare, the rest JSON.
func display(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// saveSettings turns the settings form into a desired update of the
// classic shadow, with only the values that changed, through the same
// scope as the API: customers are held to their settings, every value to
// its rules, and the history names the person.
func (u *UI) saveSettings(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	sc := u.scope(r)
	name := chi.URLParam(r, "name")
	back := "/devices/" + url.PathEscape(name) + "#settings"
	fields, _, err := u.settingFields(v, sc, name)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, badRequest("the form could not be read"))
		return
	}
	desired := map[string]any{}
	var problems []string
	for _, f := range fields {
		raw, present := r.PostForm["s."+f.Key]
		if f.Input == "checkbox" {
			val := present && len(raw) > 0 && raw[0] == "on"
			if f.Value == "" && !val || f.Value == strconv.FormatBool(val) {
				continue
			}
			nest(desired, f.Key, val)
			continue
		}
		if !present || len(raw) == 0 || raw[0] == f.Value || raw[0] == "" && f.Value == "" {
			continue
		}
		val, err := formValue(f.Setting, raw[0])
		if err != nil {
			problems = append(problems, f.Label+": "+err.Error())
			continue
		}
		nest(desired, f.Key, val)
	}
	if len(problems) > 0 {
		u.sessions.Put(r.Context(), keyFlash, "!"+v.T("device.settings.error", strings.Join(problems, "; ")))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	if len(desired) == 0 {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	body, err := json.Marshal(map[string]any{"state": map[string]any{"desired": desired}})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if _, err := sc.UpdateShadow(name, "", body); err != nil {
		// A refusal the person can act on (a rule, a key they may not
		// change) is shown on the form; anything else is an error page.
		switch p := gate.Describe(err); p.Kind {
		case gate.KindInvalid, gate.KindForbidden, gate.KindConflict, gate.KindTooLarge:
			u.sessions.Put(r.Context(), keyFlash, "!"+v.T("device.settings.error", formRefusal(fields, err, p.Message)))
		default:
			u.fail(w, r, err)
			return
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	u.sessions.Put(r.Context(), keyFlash, v.T("device.settings.saved"))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// formRefusal words a refused settings update for the form: each value a
// rule refused is named by its label on the form, in the reader's
// language, and keeps the rule's message ("Chilled water set-point: 20
// is above the maximum 12 °C"). The rules speak of desired.KEY, as the
// API and devices read them; a key the form does not show keeps that
// name, and any other refusal is msg as it is.
func formRefusal(fields []settingField, err error, msg string) string {
	relabel := func(key, text string) string {
		for _, f := range fields {
			if f.Key != key {
				continue
			}
			if rest, ok := strings.CutPrefix(text, "desired."+key+": "); ok {
				return f.Label + ": " + rest
			}
		}
		return text
	}
	var ve *settings.Error
	if errors.As(err, &ve) && len(ve.Violations) > 0 {
		parts := make([]string, len(ve.Violations))
		for i, vi := range ve.Violations {
			parts[i] = relabel(vi.Key, vi.Message)
		}
		return strings.Join(parts, "; ")
	}
	var fe *settings.ForbiddenError
	if errors.As(err, &fe) {
		return relabel(fe.Key, fe.Error())
	}
	return msg
}

// formValue reads a form value as the setting's type; the rules (range,
// step, allowed values) are the shadow service's to check.
func formValue(st store.Setting, s string) (any, error) {
	s = strings.TrimSpace(s)
	switch st.Type {
	case store.SettingNumber, store.SettingInteger:
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return json.Number(s), nil
	case store.SettingBoolean:
		return s == "on" || s == "true", nil
	}
	if len(st.Enum) > 0 {
		// Allowed values are JSON; the form shows them as display does.
		for _, e := range st.Enum {
			var x any
			if json.Unmarshal(e, &x) == nil && display(x) == s {
				return x, nil
			}
		}
	}
	return s, nil
}

// nest sets a dotted key in m: nest(m, "zone1.setpoint", 21).
func nest(m map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// historyRow is one change on the device page.
type historyRow struct {
	When  string
	Who   string
	Lines []historyLine
}

// historyRows are the device's newest changes, worded for the reader.
// Updates that changed nothing are left out, so up to historyScan entries
// are read to fill the table.
func (u *UI) historyRows(v view, sc gate.Scope, name string) ([]historyRow, error) {
	entries, _, err := sc.History(name, store.HistoryQuery{Limit: historyScan})
	if err != nil {
		return nil, err
	}
	words := newHistoryWords(v, sc, entries, true)
	out := make([]historyRow, 0, historyRows)
	for _, e := range entries {
		if len(out) == historyRows {
			break
		}
		// The device page shows no flags (its settings say which values
		// break a rule), so an entry without changes has nothing to show.
		lines := words.lines(e)
		if len(lines) == 0 {
			continue
		}
		out = append(out, historyRow{When: v.Time(e.Time), Who: actorLabel(e.Actor), Lines: lines})
	}
	return out, nil
}

// actorLabel shows who made a change: the person's e-mail, the device's
// name, the token's name.
func actorLabel(a string) string {
	for _, prefix := range []string{"user:", "device:", "token:"} {
		if s, ok := strings.CutPrefix(a, prefix); ok {
			return s
		}
	}
	return a
}

// badRequest is an error the API's mapping answers with 400.
func badRequest(msg string) error { return fmt.Errorf("%s: %w", msg, store.ErrInvalid) }
