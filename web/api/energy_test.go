package api_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/gate"
)

// dayTemp is the fake weather: a mean outdoor temperature per day that
// swings between 5 and 25 °C over a fortnight.
func dayTemp(t time.Time) float64 {
	d := t.In(tokyo)
	n := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
	return 15 + 10*math.Sin(float64(n)*2*math.Pi/14)
}

// weatherTelemetry answers every downsample with the day's temperature in
// each hour.
type weatherTelemetry struct{ *fakeTelemetry }

func (w weatherTelemetry) Downsample(_ context.Context, q gate.DownsampleQuery) ([]gate.Point, error) {
	var out []gate.Point
	for t := q.Start.Add(q.Step); !t.After(q.End); t = t.Add(q.Step) {
		v := dayTemp(t.Add(-time.Minute))
		out = append(out, gate.Point{Timestamp: t.UnixMilli(), Min: v, Avg: v, Max: v})
	}
	return out, nil
}

// fakeEnergy answers acme's boiler's gas counter: per hour, 1 m³ plus
// 0.1 m³ per degree below 15 °C of the day.
type fakeEnergy struct{}

func (fakeEnergy) Use(_ context.Context, q gate.EnergyUseQuery) ([]gate.EnergyUseSeries, error) {
	if q.Customer != acme || q.Metric != "gas_m3" {
		return nil, nil
	}
	s := gate.EnergyUseSeries{Device: acmeDevice}
	for t := q.Start; !t.After(q.End); t = t.Add(q.Step) {
		s.Timestamps = append(s.Timestamps, t.UnixMilli())
		s.Values = append(s.Values, 1+0.1*math.Max(0, 15-dayTemp(t.Add(-time.Minute))))
	}
	return []gate.EnergyUseSeries{s}, nil
}

func TestSiteEnergy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{energy: fakeEnergy{}, weather: weatherTelemetry{&fakeTelemetry{}}})
	site := "/api/v1/customers/" + acme + "/sites/" + acmeSite
	boiler := `{"settings":[],"metrics":[
		{"name":"gas_m3","unit":"m³","energy":{"fuel":"gas","kind":"counter"}},
		{"name":"outside_c","unit":"°C","outdoor":true}]}`
	e.run(t, []scenario{
		{name: "an energy metric in the wrong unit", method: "PUT", path: "/api/v1/device-types/boiler", as: asOperator,
			body:   `{"settings":[],"metrics":[{"name":"gas_m3","unit":"L","energy":{"fuel":"gas","kind":"counter"}}]}`,
			status: 400, contains: []string{`a gas counter is in \"m³\"`}},
		{name: "boilers declare their gas counter", method: "PUT", path: "/api/v1/device-types/boiler", as: asOperator, body: boiler, status: 201},
		{name: "two days", method: "GET", path: site + "/energy?from=2026-10-01T00:00:00%2B09:00&to=2026-10-03T00:00:00%2B09:00&step=1d", as: asAcme,
			status: 200, contains: []string{`"time":"2026-10-01T00:00:00+09:00","gas_m3":`, `"time":"2026-10-02T00:00:00+09:00","gas_m3":`, `"time_zone":"Asia/Tokyo"`},
			notContains: []string{"electricity_kwh", "baseline_gas_m3", "2026-10-03T00"}},
		{name: "hours", method: "GET", path: site + "/energy?from=2026-10-01T00:00:00%2B09:00&to=2026-10-01T03:00:00%2B09:00&step=1h", as: asAcme,
			status: 200, contains: []string{`"time":"2026-10-01T02:00:00+09:00","gas_m3":`}},
		{name: "a step that is not one", method: "GET", path: site + "/energy?step=2d", as: asAcme, status: 400, contains: []string{`\"1h\", \"1d\" or \"1mo\"`}},
		{name: "a range backwards", method: "GET", path: site + "/energy?from=2026-10-03T00:00:00Z&to=2026-10-01T00:00:00Z", as: asAcme, status: 400},
		{name: "a customer reads the settings", method: "GET", path: site + "/energy/settings", as: asAcme, status: 200, contains: []string{`"site":"` + acmeSite + `"`}},
		{name: "a customer may not change them", method: "PATCH", path: site + "/energy/settings", as: asAcme, body: `{"floor_area_m2":1200}`, status: 403},
		{name: "nor fit a baseline", method: "POST", path: site + "/energy/baseline", as: asAcme, body: `{"from":"2026-08-01","to":"2026-09-30"}`, status: 403},
		{name: "a negative price", method: "PATCH", path: site + "/energy/settings", as: asOperator, body: `{"gas_price":-3}`, status: 400},
		{name: "a currency that is not one", method: "PATCH", path: site + "/energy/settings", as: asOperator, body: `{"currency":"yen"}`, status: 400, contains: []string{"ISO 4217"}},
		{name: "an operator sets floor area and prices", method: "PATCH", path: site + "/energy/settings", as: asOperator,
			body: `{"floor_area_m2":1200,"currency":"JPY","gas_price":150,"gas_co2_kg_per_m3":2.23}`, status: 200,
			contains: []string{`"floor_area_m2":1200`, `"gas_price":150`}},
		{name: "and clears one", method: "PATCH", path: site + "/energy/settings", as: asOperator, body: `{"gas_price":null}`, status: 200,
			notContains: []string{"gas_price"}, contains: []string{`"floor_area_m2":1200`}},
		{name: "a baseline of too few days", method: "POST", path: site + "/energy/baseline", as: asOperator, body: `{"from":"2026-09-01","to":"2026-09-10"}`,
			status: 400, contains: []string{"at least 30"}},
		{name: "a baseline ending in the future", method: "POST", path: site + "/energy/baseline", as: asOperator, body: `{"from":"2026-09-01","to":"2026-12-10"}`,
			status: 400, contains: []string{"not yet over"}},
		{name: "a baseline of bad dates", method: "POST", path: site + "/energy/baseline", as: asOperator, body: `{"from":"yesterday","to":"2026-09-10"}`, status: 400},
		{name: "a baseline fitted", method: "POST", path: site + "/energy/baseline", as: asOperator, body: `{"from":"2026-08-01","to":"2026-09-30"}`,
			status: 200, contains: []string{`"accepted":true`, `"days":61`}},
		{name: "a customer reads the baseline", method: "GET", path: site + "/energy/settings", as: asAcme, status: 200,
			contains: []string{`"r2":`, `"cv_rmse":`, `"per_hdd":`}},
		{name: "savings against it", method: "GET", path: site + "/energy?from=2026-10-01T00:00:00%2B09:00&to=2026-10-03T00:00:00%2B09:00&step=1d", as: asAcme,
			status: 200, contains: []string{`"baseline_gas_m3":`, `"avoided_gas_m3":`, `"avoided_gas_m3_uncertainty":`, `"outdoor_c":`}},
	})
}

// The CSV has the same figures, one row per day in the site's zone.
func TestSiteEnergyCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{energy: fakeEnergy{}, weather: weatherTelemetry{&fakeTelemetry{}}})
	e.run(t, []scenario{{name: "boilers declare their gas counter", method: "PUT", path: "/api/v1/device-types/boiler", as: asOperator,
		body: `{"settings":[],"metrics":[{"name":"gas_m3","unit":"m³","energy":{"fuel":"gas","kind":"counter"}}]}`, status: 201}})
	for _, sc := range []scenario{
		{path: "/api/v1/customers/acme/sites/acme-hq/energy?from=2026-10-01T00:00:00%2B09:00&to=2026-10-03T00:00:00%2B09:00&format=csv"},
		{path: "/api/v1/customers/acme/sites/acme-hq/energy?from=2026-10-01T00:00:00%2B09:00&to=2026-10-03T00:00:00%2B09:00", header: map[string]string{"Accept": "text/csv"}},
	} {
		sc.method, sc.as = "GET", asAcme
		rec := e.do(t, e.api.Handler(), sc)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("%s: %d %s", sc.path, rec.Code, rec.Header().Get("Content-Type"))
		}
		want := "time (Asia/Tokyo),gas (m³),electricity (kWh),baseline gas (m³),avoided gas (m³),\"avoided gas uncertainty (m³, 90 %)\",outdoor (°C)\n" +
			"2026-10-01T00:00:00+09:00,24,,,,,\n2026-10-02T00:00:00+09:00,34.413,,,,,\n"
		if got := rec.Body.String(); got != want {
			t.Errorf("%s:\n%s\nwant\n%s", sc.path, got, want)
		}
	}
}

// Any from, to and step is answered 200 with points in order, one per
// step within the range, or 400 saying what was wrong; never a failure
// of the server.
func FuzzEnergyQuery(f *testing.F) {
	for _, seed := range [][3]string{
		{"", "", ""},
		{"2026-10-01T00:00:00+09:00", "2026-10-03T00:00:00+09:00", "1d"},
		{"1793862000000", "1793865600000", "1h"},
		{"0", "253402300799999", "1mo"},
		{"2026-10-01T00:00:00Z", "2026-09-01T00:00:00Z", "1d"},
		{"x", "", "2d"},
		{"", "", "1mo"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	e := newEnv(f, envOptions{energy: fakeEnergy{}, weather: weatherTelemetry{&fakeTelemetry{}}})
	f.Fuzz(func(t *testing.T, from, to, step string) {
		v := url.Values{}
		for k, s := range map[string]string{"from": from, "to": to, "step": step} {
			if s != "" {
				v.Set(k, s)
			}
		}
		rec := e.do(t, e.api.Handler(), scenario{method: "GET", as: asAcme, path: "/api/v1/customers/acme/sites/acme-hq/energy?" + v.Encode()})
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			if !strings.Contains(rec.Body.String(), "parameter") && !strings.Contains(rec.Body.String(), "range") {
				t.Fatalf("%v: message %s says nothing of what was wrong", v, rec.Body)
			}
			return
		default:
			t.Fatalf("%v: status %d: %s", v, rec.Code, rec.Body)
		}
		var got struct {
			Points []struct {
				Time string `json:"time"`
			} `json:"points"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		var prev time.Time
		for _, p := range got.Points {
			pt, err := time.Parse(time.RFC3339, p.Time)
			if err != nil || !pt.After(prev) {
				t.Fatalf("%v: point %q out of order or unreadable", v, p.Time)
			}
			prev = pt
		}
	})
}
