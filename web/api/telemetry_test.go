package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/gate"
)

func TestLatestTelemetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.run(t, []scenario{
		{name: "own device", method: "GET", path: "/api/v1/devices/" + acmeDevice + "/telemetry/latest", as: asAcme, status: 200,
			contains: []string{
				`{"device":"acme-boiler-1","values":[{"metric":"co2_ppm","ts":1793865570000,"time":"2026-11-05T07:59:30.000Z","value":612},` +
					`{"metric":"temp_c","ts":1793865570000,"time":"2026-11-05T07:59:30.000Z","value":21.5}]}`,
			}},
		{name: "missing device", method: "GET", path: "/api/v1/devices/nothing/telemetry/latest", as: asOperator, status: 404},
	})
}

func TestQueryTelemetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := e.do(t, e.api.Handler(), scenario{method: "GET", as: asAcme,
		path: "/api/v1/devices/" + acmeDevice + "/telemetry?metric=co2_ppm&from=2026-11-05T07:00:00Z&to=1793865600000&step=1m"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	type point struct {
		TS            int64
		Avg, Min, Max float64
	}
	var got struct {
		Device, Metric, From, To string
		Step                     int64
		Points                   []point
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	from := time.Date(2026, 11, 5, 7, 0, 0, 0, time.UTC).UnixMilli()
	want := got
	want.Device, want.Metric = acmeDevice, "co2_ppm"
	want.From, want.To, want.Step = "2026-11-05T07:00:00.000Z", "2026-11-05T08:00:00.000Z", 60
	want.Points = []point{{from, 20, 18, 23}, {from + 60000, 21, 19, 24}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	queries, _ := e.telemetry.recorded()
	wantQueries := []gate.DownsampleQuery{{
		Device: acmeDevice, Customer: acme, Metric: "co2_ppm",
		Start: time.UnixMilli(from).UTC(), End: testNow, Step: time.Minute,
	}}
	if diff := cmp.Diff(wantQueries, queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func TestQueryTelemetryScenarios(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	path := "/api/v1/devices/" + acmeDevice + "/telemetry"
	e.run(t, []scenario{
		{name: "defaults", method: "GET", path: path + "?metric=temp_c", as: asAcme, status: 200,
			contains: []string{`"from":"2026-11-05T07:00:00.000Z"`, `"to":"2026-11-05T08:00:00.000Z"`, `"step":5,`, `"points":[{"ts":`}},
		{name: "no metric", method: "GET", path: path, as: asAcme, status: 400, contains: []string{`parameter \"metric\": required`}},
		{name: "two metrics", method: "GET", path: path + "?metric=a&metric=b", as: asAcme, status: 400, contains: []string{"one metric per request"}},
		{name: "query injection", method: "GET", path: path + "?metric=" + url.QueryEscape(`x{device="globex-chiller-7"}`), as: asAcme, status: 400,
			contains: []string{"a metric name is a letter"}},
		{name: "from after to", method: "GET", path: path + "?metric=a&from=2026-11-05T09:00:00Z", as: asAcme, status: 400, contains: []string{"is after"}},
		{name: "too many points", method: "GET", path: path + "?metric=a&from=2026-11-01T00:00:00Z&step=1", as: asAcme, status: 400,
			contains: []string{"at most 11000 points per series"}},
		{name: "bad time", method: "GET", path: path + "?metric=a&from=yesterday", as: asAcme, status: 400,
			contains: []string{`parameter \"from\" \"yesterday\"`, "RFC 3339"}},
		{name: "fractional step", method: "GET", path: path + "?metric=a&step=1.5s", as: asAcme, status: 400, contains: []string{"whole seconds"}},
		{name: "zero step", method: "GET", path: path + "?metric=a&step=0", as: asAcme, status: 400, contains: []string{"whole seconds"}},
		{name: "negative step", method: "GET", path: path + "?metric=a&step=-5s", as: asAcme, status: 400},
	})
	if queries, _ := e.telemetry.recorded(); len(queries) != 1 {
		t.Errorf("%d queries ran, want 1 (only the valid request may query): %v", len(queries), queries)
	}
}

func TestQueryTelemetryErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"engine failure", errors.New("disk on fire /var/lib/secret"), 500, `"code":"internal"`},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, `"code":"timeout"`},
		{"busy", fmt.Errorf("acquire query slot: %w: too many concurrent queries", gate.ErrTelemetryUnavailable), 503, `"code":"unavailable"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			e.telemetry.err = tt.err
			e.run(t, []scenario{{name: tt.name, method: "GET", path: "/api/v1/devices/" + acmeDevice + "/telemetry?metric=a", as: asOperator,
				status: tt.status, contains: []string{tt.code}, notContains: []string{"disk on fire", "/var/lib"}}})
		})
	}
}

func TestWithoutTelemetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noTelemetry: true})
	var scenarios []scenario
	for _, path := range []string{
		"/api/v1/devices/" + acmeDevice + "/telemetry/latest",
		"/api/v1/devices/" + acmeDevice + "/telemetry?metric=a",
		"/prometheus/api/v1/query?query=up",
		"/prometheus/api/v1/labels",
		"/prometheus/api/v1/status/buildinfo",
	} {
		scenarios = append(scenarios, scenario{name: path, method: "GET", path: path, as: asOperator, status: 503, contains: []string{`"code":"unavailable"`}})
	}
	scenarios = append(scenarios, scenario{name: "the rest works", method: "GET", path: "/api/v1/devices/" + acmeDevice, as: asOperator, status: 200})
	e.run(t, scenarios)
}

func TestPrometheus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	form := url.Values{"query": {"avg(co2_ppm)"}}.Encode()
	e.run(t, []scenario{
		{name: "operator query", method: "GET", path: "/prometheus/api/v1/query?query=up", as: asOperator, status: 200,
			contains: []string{`"endpoint":"query"`, `"customer":""`, `"query":"up"`}},
		{name: "customer query", method: "GET", path: "/prometheus/api/v1/query_range?query=up", as: asAcme, status: 200,
			contains: []string{`"endpoint":"query_range"`, `"customer":"acme"`}},
		{name: "customer form post", method: "POST", path: "/prometheus/api/v1/query", as: asGlobex, body: form,
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 200,
			contains: []string{`"customer":"globex"`, `"query":"avg(co2_ppm)"`}},
		{name: "labels", method: "GET", path: "/prometheus/api/v1/labels", as: asAcme, status: 200, contains: []string{`"endpoint":"labels"`, `"customer":"acme"`}},
		{name: "series", method: "POST", path: "/prometheus/api/v1/series", as: asAcme, status: 200, contains: []string{`"endpoint":"series"`}},
		{name: "label values", method: "GET", path: "/prometheus/api/v1/label/__name__/values", as: asAcme, status: 200,
			contains: []string{`"endpoint":"label/__name__/values"`, `"customer":"acme"`}},
		{name: "bad label name", method: "GET", path: "/prometheus/api/v1/label/a-b/values", as: asAcme, status: 400, contains: []string{`label name \"a-b\"`}},
		{name: "buildinfo", method: "GET", path: "/prometheus/api/v1/status/buildinfo", as: asAcme, status: 200,
			contains: []string{`{"status":"success","data":{"version":"2.24.0"}}`}},
		{name: "unknown endpoint", method: "GET", path: "/prometheus/api/v1/targets", as: asAcme, status: 404},
		{name: "metadata", method: "GET", path: "/prometheus/api/v1/metadata", as: asAcme, status: 200,
			contains:    []string{`{"status":"success","data":{`, `"co2_ppm":[{"type":"gauge","help":"CO2 concentration of a room's air","unit":"ppm"}]`, `"temp_c":[{"type":"gauge"`},
			notContains: []string{"globex"}},
		{name: "metadata of one metric", method: "GET", path: "/prometheus/api/v1/metadata?metric=temp_c", as: asAcme, status: 200,
			contains: []string{`"temp_c"`}, notContains: []string{"co2_ppm"}},
		{name: "metadata limited", method: "GET", path: "/prometheus/api/v1/metadata?limit=1", as: asOperator, status: 200,
			contains: []string{`"co2_ppm"`}, notContains: []string{"temp_c", "globex_only_metric"}},
		{name: "metadata of a bad name", method: "GET", path: "/prometheus/api/v1/metadata?metric=a-b", as: asAcme, status: 400},
		{name: "rules", method: "GET", path: "/prometheus/api/v1/rules", as: asAcme, status: 200, contains: []string{`{"status":"success","data":{"groups":[]}}`}},
		{name: "exemplars", method: "GET", path: "/prometheus/api/v1/query_exemplars?query=up", as: asAcme, status: 200, contains: []string{`{"status":"success","data":[]}`}},
	})
	_, scopes := e.telemetry.recorded()
	want := []string{"query|", "query_range|acme", "query|globex", "labels|acme", "series|acme", "label/__name__/values|acme",
		"metadata|acme", "metadata|acme", "metadata|"}
	if diff := cmp.Diff(want, scopes); diff != "" {
		t.Errorf("prometheus calls (-want +got):\n%s", diff)
	}
}

// rangeAnswer asks for a telemetry history through the router and reads
// the range and step of the answer; status is the answer's status.
func rangeAnswer(t *testing.T, e *env, query string) (status int, from, to time.Time, step time.Duration, body string) {
	t.Helper()
	rec := e.do(t, e.api.Handler(), scenario{method: "GET", as: asAcme, path: "/api/v1/devices/" + acmeDevice + "/telemetry?" + query})
	if rec.Code != http.StatusOK {
		return rec.Code, time.Time{}, time.Time{}, 0, rec.Body.String()
	}
	var got struct {
		From, To string
		Step     int64
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	from, err1 := time.Parse(time.RFC3339Nano, got.From)
	to, err2 := time.Parse(time.RFC3339Nano, got.To)
	if err1 != nil || err2 != nil {
		t.Fatalf("answer times %q %q: %v %v", got.From, got.To, err1, err2)
	}
	return rec.Code, from, to, time.Duration(got.Step) * time.Second, rec.Body.String()
}

// TestTelemetryRange: the parameters of a history request, their defaults
// and bounds, as the answer reports the range it was computed for.
func TestTelemetryRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	now := testNow
	hourAgo := now.Add(-time.Hour)
	tests := []struct {
		name     string
		query    string
		from, to time.Time
		step     time.Duration
	}{
		{"defaults", "metric=a", hourAgo, now, 5 * time.Second},
		{"unix ms", "metric=a&from=1793862000000&to=1793865600000&step=60", hourAgo, now, time.Minute},
		{"rfc 3339 with offset", "metric=a&from=2026-11-05T16:00:00%2B09:00&step=1h", now.Add(-time.Hour), now, time.Hour},
		{"only to", "metric=a&to=2026-11-04T00:00:00Z", time.Date(2026, 11, 3, 23, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC), 5 * time.Second},
		{"a day", "metric=a&from=2026-11-04T08:00:00Z", now.Add(-24 * time.Hour), now, 2 * time.Minute},
		{"a year", "metric=a&from=2025-11-05T08:00:00Z", now.AddDate(-1, 0, 0), now, 12 * time.Hour},
		{"ten years", "metric=a&from=2016-11-05T08:00:00Z", now.AddDate(-10, 0, 0), now, 4 * 24 * time.Hour},
		{"one instant", "metric=a&from=1793865600000&to=1793865600000", now, now, time.Second},
		{"exactly the limit", "metric=a&from=1793865600000&to=1793876599000&step=1", now, now.Add(10999 * time.Second), time.Second},
		{"digits below milliseconds dropped", "metric=a&from=2026-11-05T07:00:00.123456Z", hourAgo.Add(123 * time.Millisecond), now, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, from, to, step, body := rangeAnswer(t, e, tt.query)
			if status != http.StatusOK {
				t.Fatalf("%s: status %d: %s", tt.query, status, body)
			}
			if !from.Equal(tt.from) || !to.Equal(tt.to) || step != tt.step {
				t.Errorf("%s: range %s to %s step %s; want %s to %s step %s", tt.query, from, to, step, tt.from, tt.to, tt.step)
			}
		})
	}
	for _, q := range []string{
		"metric=a&from=1793865600000&to=1793876600000&step=1", // 11001 points
		"metric=a&from=-1",
		"metric=a&from=99999999999999999999",
		"metric=a&to=253402300800000",
		"metric=a&from=1969-12-31T23:59:59Z&to=1970-01-01T00:00:01Z",
		"metric=a&step=1ms",
		"metric=a&step=999999999999",
		"metric=a&step=1e3",
		"metric=1a",
		"metric=",
	} {
		if status, _, _, _, body := rangeAnswer(t, e, q); status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", q, status, body)
		}
	}
}

// FuzzTelemetryRange checks the telemetry query parameters from any
// client: whatever is accepted is a range the query engine can answer
// within the point limit, and whatever is refused is a 400 that says why.
func FuzzTelemetryRange(f *testing.F) {
	for _, seed := range [][4]string{
		{"co2_ppm", "", "", ""},
		{"co2_ppm", "2026-11-05T07:00:00Z", "2026-11-05T08:00:00Z", "60"},
		{"temp_c", "1793862000000", "1793865600000", "1m"},
		{"a", "0", "253402300799999", ""},
		{"a", "0", "253402300799999", "3660d"},
		{"a", "1793865600000", "1793876599000", "1"},
		{"a", "2026-11-05T16:00:00+09:00", "", "1h30m"},
		{"a", "", "1", "1s"},
		{"x{y}", "-1", "1e3", "1.5s"},
		{"_", "9999-12-31T23:59:59.999999999Z", "", "0"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	e := newEnv(f, envOptions{})
	f.Fuzz(func(t *testing.T, metric, from, to, step string) {
		v := url.Values{}
		for k, s := range map[string]string{"metric": metric, "from": from, "to": to, "step": step} {
			if s != "" {
				v.Set(k, s)
			}
		}
		status, gotFrom, gotTo, gotStep, body := rangeAnswer(t, e, v.Encode())
		switch status {
		case http.StatusOK:
		case http.StatusBadRequest:
			if !strings.Contains(body, "parameter") && !strings.Contains(body, "points") && !strings.Contains(body, "is after") {
				t.Fatalf("%v: message %s says nothing of what was wrong", v, body)
			}
			return
		default:
			t.Fatalf("%v: status %d: %s", v, status, body)
		}
		if gotFrom.After(gotTo) || gotFrom.Before(time.Unix(0, 0)) || gotTo.Year() > 9999 {
			t.Fatalf("%v: range %s to %s accepted", v, gotFrom, gotTo)
		}
		if gotStep < time.Second || gotStep%time.Second != 0 {
			t.Fatalf("%v: step %s accepted", v, gotStep)
		}
		points := (gotTo.UnixMilli()-gotFrom.UnixMilli())/gotStep.Milliseconds() + 1
		limit := int64(11000)
		if step == "" {
			limit = 1001
		}
		if points > limit {
			t.Fatalf("%v: %d points accepted, limit %d", v, points, limit)
		}
	})
}

// TestTelemetryCSV: the history as the device page's download gives it,
// from the API: one row per step, one column per metric, times in the
// named zone or the server's.
func TestTelemetryCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	path := "/api/v1/devices/" + acmeDevice + "/telemetry?from=2026-11-05T07:00:00Z&to=2026-11-05T08:00:00Z&step=1m"
	want := "time (Asia/Tokyo),co2_ppm (ppm),temp_c\n" +
		"2026-11-05T16:00:00+09:00,20,20\n" +
		"2026-11-05T16:01:00+09:00,21,21\n"
	for _, sc := range []scenario{
		{name: "format=csv", path: path + "&metric=co2_ppm&metric=temp_c&format=csv"},
		{name: "Accept: text/csv", path: path + "&metric=co2_ppm&metric=temp_c", header: map[string]string{"Accept": "text/csv"}},
	} {
		sc.method, sc.as = "GET", asAcme
		rec := e.do(t, e.api.Handler(), sc)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("%s: status %d, %s: %s", sc.name, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		if got := rec.Body.String(); got != want {
			t.Errorf("%s: CSV\n%s\nwant\n%s", sc.name, got, want)
		}
		if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="acme-boiler-1.csv"` {
			t.Errorf("%s: Content-Disposition %q", sc.name, cd)
		}
	}
	rec := e.do(t, e.api.Handler(), scenario{method: "GET", as: asAcme, path: path + "&metric=co2_ppm&format=csv&tz=UTC"})
	if !strings.HasPrefix(rec.Body.String(), "time (UTC),co2_ppm (ppm)\n2026-11-05T07:00:00Z,20\n") {
		t.Errorf("tz=UTC: %s", rec.Body)
	}
	e.run(t, []scenario{
		{name: "bad zone", method: "GET", path: path + "&metric=a&format=csv&tz=Mars/Olympus", as: asAcme, status: 400, contains: []string{`parameter \"tz\"`}},
		{name: "bad format", method: "GET", path: path + "&metric=a&format=xml", as: asAcme, status: 400, contains: []string{`parameter \"format\"`}},
		{name: "no metric", method: "GET", path: path + "&format=csv", as: asAcme, status: 400, contains: []string{"metric"}},
		{name: "a bad metric among good", method: "GET", path: path + "&metric=a&metric=x%7By%7D&format=csv", as: asAcme, status: 400, contains: []string{"a metric name is a letter"}},
		{name: "another customer's device", method: "GET", path: "/api/v1/devices/" + globexDevice + "/telemetry?metric=a&format=csv", as: asAcme, status: 404},
	})
}
