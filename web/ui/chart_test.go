package ui_test

import (
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/tsdb"
)

// chartEnv is a server whose acme chiller sent a day of CO2, temperature,
// humidity, gas and load readings a minute apart, and the same a week
// earlier at other values; globex's chiller sent CO2.
func chartEnv(t *testing.T) (*env, time.Time) {
	t.Helper()
	db, err := tsdb.Open(tsdb.Config{Dir: t.TempDir(), MemoryBytes: 256 << 20}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	e := newEnv(t, envOptions{telemetry: tsdbTelemetry{db}})
	now := time.Now().Truncate(time.Minute)
	values := map[string]float64{"co2_ppm": 900, "temperature_c": 22, "humidity_pct": 45, "gas_m3h": 12, "load_pct": 60}
	var this, before []tsdb.Point
	for i := range 24 * 60 {
		ts := now.Add(-time.Duration(i) * time.Minute)
		for m, v := range values {
			this = append(this, tsdb.Point{Metric: m, Timestamp: ts.UnixMilli(), Value: v})
			before = append(before, tsdb.Point{Metric: m, Timestamp: ts.Add(-7 * 24 * time.Hour).UnixMilli(), Value: v / 2})
		}
	}
	for _, pts := range [][]tsdb.Point{this, before} {
		if err := db.Append("acme-chiller-1", "acme", "tokyo-tower", pts); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Append("globex-chiller-9", "globex", "osaka-dome", []tsdb.Point{{Metric: "co2_ppm", Timestamp: now.UnixMilli(), Value: 2000}}); err != nil {
		t.Fatal(err)
	}
	// A second chiller of acme's has sent load only.
	e.addDevices("acme-chiller-2")
	if err := db.Append("acme-chiller-2", "acme", "tokyo-tower", []tsdb.Point{{Metric: "load_pct", Timestamp: now.UnixMilli(), Value: 30}}); err != nil {
		t.Fatal(err)
	}
	db.Flush()
	return e, now
}

var seriesSrc = regexp.MustCompile(`class="chart" data-src="([^"]+)"`)

// chartedMetrics is what the device page's chart asks for.
func chartedMetrics(t *testing.T, r response) string {
	t.Helper()
	m := seriesSrc.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("device page: %d, no chart\n%s", r.status, excerpt(r.body))
	}
	u, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("metrics")
}

// checkedMetrics are the metrics the page's picker has checked.
func checkedMetrics(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<input type="checkbox" name="metric" value="([a-z0-9_]+)"( checked)?`).FindAllStringSubmatch(body, -1) {
		if m[2] != "" {
			out = append(out, m[1])
		}
	}
	return out
}

// TestChartMetricsKept: the metrics picked on a device's page are kept
// for the person and the device type, through the real router and store:
// the type's other devices chart them too (those they have), another
// person and another type are not affected, a URL naming metrics wins, and
// none picked is the default again. A bad metric is refused and nothing
// is kept; another customer's device is not found.
func TestChartMetricsKept(t *testing.T) {
	e, _ := chartEnv(t)
	c := e.signIn(acmeUser)
	const page = "/devices/acme-chiller-1"
	def := "co2_ppm,temperature_c,humidity_pct,gas_m3h"
	r := e.get(c, page)
	if got := chartedMetrics(t, r); got != def {
		t.Errorf("default chart %q, want %q", got, def)
	}
	if got := checkedMetrics(r.body); strings.Join(got, ",") != def || !strings.Contains(r.body, `value="load_pct"`) {
		t.Errorf("the picker checks %q and offers load_pct: %v; want the default checked", got, strings.Contains(r.body, `value="load_pct"`))
	}

	r = e.post(c, page+"/chart", url.Values{"metric": {"load_pct", "co2_ppm", "load_pct"}, "range": {"7d"}})
	if r.status != http.StatusSeeOther || r.location != page+"?range=7d#chart" {
		t.Fatalf("pick: %d to %q; want 303 to the page at its range", r.status, r.location)
	}
	u, err := e.st.GetUser(acmeUser)
	if err != nil || !slices.Equal(u.ChartMetrics["chiller"], []string{"load_pct", "co2_ppm"}) {
		t.Fatalf("stored choice %v (%v); want load_pct, co2_ppm for chiller", u.ChartMetrics, err)
	}
	r = e.get(c, page+"?range=7d")
	if got := chartedMetrics(t, r); got != "load_pct,co2_ppm" {
		t.Errorf("chart after picking %q, want load_pct,co2_ppm", got)
	}
	if got := checkedMetrics(r.body); !slices.Equal(got, []string{"co2_ppm", "load_pct"}) {
		t.Errorf("the picker checks %v after picking", got)
	}
	if !strings.Contains(r.body, `data-range="7d" href="?range=7d" aria-current="true"`) {
		t.Errorf("the 7d button is not current, or names metrics the choice keeps:\n%s", excerpt(r.body))
	}
	// The type's other device charts what it has of the choice.
	if got := chartedMetrics(t, e.get(c, "/devices/acme-chiller-2")); got != "load_pct" {
		t.Errorf("the other chiller charts %q, want load_pct", got)
	}
	// A URL naming metrics shows them, and links keep naming them.
	r = e.get(c, page+"?metrics=gas_m3h")
	if got := chartedMetrics(t, r); got != "gas_m3h" || !strings.Contains(r.body, `href="?metrics=gas_m3h&amp;range=1h"`) {
		t.Errorf("a URL naming gas charts %q, its range links keep it: %v", got, strings.Contains(r.body, `href="?metrics=gas_m3h&amp;range=1h"`))
	}
	// Another person of acme's has the default.
	if got := chartedMetrics(t, e.get(e.signIn(opUser), page)); got != def {
		t.Errorf("the operator charts %q, want the default", got)
	}

	// A script's post is answered 204.
	r = e.do(c, "POST", page+"/chart", url.Values{"metric": {"humidity_pct"}}, map[string]string{"Accept": "application/json"})
	if r.status != http.StatusNoContent {
		t.Errorf("script's pick: %d, want 204", r.status)
	}
	if got := chartedMetrics(t, e.get(c, page)); got != "humidity_pct" {
		t.Errorf("chart after the script's pick %q", got)
	}
	// Refused: a bad name, too many; nothing changes.
	nine := url.Values{"metric": {"a", "b", "c", "d", "e", "f", "g", "h", "i"}}
	for _, bad := range []url.Values{{"metric": {"bad-name"}}, nine} {
		if r := e.post(c, page+"/chart", bad); r.status != http.StatusBadRequest {
			t.Errorf("pick %v: %d, want 400", bad, r.status)
		}
	}
	if u, _ := e.st.GetUser(acmeUser); !slices.Equal(u.ChartMetrics["chiller"], []string{"humidity_pct"}) {
		t.Errorf("a refused pick changed the choice: %v", u.ChartMetrics)
	}
	// Another customer's device is not found, and nothing is kept.
	if r := e.post(c, "/devices/globex-chiller-9/chart", url.Values{"metric": {"co2_ppm"}}); r.status != http.StatusNotFound || strings.Contains(r.body, "osaka") {
		t.Errorf("pick on globex's device: %d, want 404", r.status)
	}
	// None picked forgets the choice.
	if r := e.post(c, page+"/chart", url.Values{}); r.status != http.StatusSeeOther {
		t.Errorf("pick none: %d", r.status)
	}
	if u, _ := e.st.GetUser(acmeUser); u.ChartMetrics != nil && u.ChartMetrics["chiller"] != nil {
		t.Errorf("picking none kept %v", u.ChartMetrics)
	}
	if got := chartedMetrics(t, e.get(c, page)); got != def {
		t.Errorf("chart after picking none %q, want the default", got)
	}
}

type seriesAnswer struct {
	From, To int64
	Series   []struct {
		Metric, Label, Unit string
		T                   []int64
		V                   []*float64
		ShiftMs             int64 `json:"shift_ms"`
	}
	Bands []struct {
		Metric, Unit, Level string
		From, To            *float64
	}
	Lines []struct {
		Key, Unit, Label, Kind string
		Value                  float64
	}
}

// TestChartSeriesCompare: the chart's data names each metric's unit, the
// comfort bands of the metrics charted and the device's set-points; asked
// to compare, it adds each metric a week earlier (or the span before),
// moved onto the chart's range. Another customer's device is not found
// whatever is asked.
func TestChartSeriesCompare(t *testing.T) {
	e, now := chartEnv(t)
	e.report("acme-chiller-1", `{"chw_setpoint":7}`)
	c := e.signIn(acmeUser)
	from, to := now.Add(-6*time.Hour), now
	q := "?metrics=co2_ppm,humidity_pct&from=" + strconv.FormatInt(from.UnixMilli(), 10) + "&to=" + strconv.FormatInt(to.UnixMilli(), 10) + "&points=60"
	get := func(query string) seriesAnswer {
		t.Helper()
		r := e.get(c, "/devices/acme-chiller-1/series"+query)
		var a seriesAnswer
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &a) != nil {
			t.Fatalf("series%s: %d %s", query, r.status, r.body)
		}
		return a
	}
	a := get(q + "&compare=week")
	if len(a.Series) != 4 {
		t.Fatalf("%d series, want 2 and 2 a week earlier: %+v", len(a.Series), a.Series)
	}
	for i, want := range []struct {
		metric, unit string
		shift        int64
		value        float64
	}{{"co2_ppm", "ppm", 0, 900}, {"humidity_pct", "%", 0, 45}, {"co2_ppm", "ppm", 7 * 24 * 3600 * 1000, 450}, {"humidity_pct", "%", 7 * 24 * 3600 * 1000, 22.5}} {
		s := a.Series[i]
		if s.Metric != want.metric || s.Unit != want.unit || s.ShiftMs != want.shift || len(s.T) < 50 {
			t.Errorf("series %d: %s %q shift %d, %d points; want %s %q shift %d", i, s.Metric, s.Unit, s.ShiftMs, len(s.T), want.metric, want.unit, want.shift)
			continue
		}
		if s.T[0] < from.UnixMilli() || s.T[len(s.T)-1] > to.UnixMilli() {
			t.Errorf("series %d runs %d to %d, outside the chart's %d to %d", i, s.T[0], s.T[len(s.T)-1], from.UnixMilli(), to.UnixMilli())
		}
		if v := s.V[len(s.V)/2]; v == nil || *v != want.value {
			t.Errorf("series %d: value %v, want %v", i, v, want.value)
		}
	}
	if !strings.Contains(a.Series[2].Label, "a week earlier") {
		t.Errorf("the comparison's label %q does not say it is a week earlier", a.Series[2].Label)
	}
	var co2 []string
	for _, b := range a.Bands {
		if b.Metric == "co2_ppm" && b.From != nil {
			co2 = append(co2, b.Level+"@"+strconv.FormatFloat(*b.From, 'f', -1, 64))
		}
	}
	if !slices.Equal(co2, []string{"fair@1000", "poor@1500"}) {
		t.Errorf("CO2 bands %v, want fair from 1000 and poor from 1500", co2)
	}
	if len(a.Lines) != 1 || a.Lines[0].Key != "chw_setpoint" || a.Lines[0].Value != 7 || a.Lines[0].Unit != "°C" || a.Lines[0].Kind != "reported" {
		t.Errorf("set-point lines %+v, want the reported chw_setpoint 7 °C", a.Lines)
	}
	// The span before a six-hour chart is the six hours before.
	if a := get(q + "&compare=previous"); len(a.Series) != 4 || a.Series[3].ShiftMs != 6*3600*1000 {
		t.Errorf("compare=previous: %d series, shift %d", len(a.Series), a.Series[len(a.Series)-1].ShiftMs)
	}
	if r := e.get(c, "/devices/acme-chiller-1/series"+q+"&compare=year"); r.status != http.StatusBadRequest {
		t.Errorf("compare=year: %d, want 400", r.status)
	}
	// The page keeps the comparison in its chart and its links.
	r := e.get(c, "/devices/acme-chiller-1?compare=week")
	contains(t, "the page comparing", r, http.StatusOK, `compare=week`, `<option value="week" selected>`, `href="?compare=week&range=1h"`)
	for _, path := range []string{"/devices/globex-chiller-9/series" + q + "&compare=week", "/devices/globex-chiller-9/series" + q + "&compare=previous",
		"/devices/globex-chiller-9?compare=week"} {
		if r := e.get(c, path); r.status != http.StatusNotFound || strings.Contains(r.body, "2000") {
			t.Errorf("GET %s as acme: %d, want 404", path, r.status)
		}
	}
}
