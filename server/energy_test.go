package server_test

import (
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/tsdb"
)

// energyAnswer is the energy route's answer.
type energyAnswer struct {
	Points []struct {
		Time           string   `json:"time"`
		GasM3          *float64 `json:"gas_m3"`
		ElectricityKWh *float64 `json:"electricity_kwh"`
	} `json:"points"`
}

// Consumption from counters that reset, roll over, stop for hours and
// arrive out of order (a back-fill of earlier days after later ones),
// and from a rate, equals a direct sum over the raw samples; a device
// whose type does not declare the metric is not counted.
func TestEnergyEqualsRawSum(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token("operator", "")
	h.addCustomer(op, "acme")
	for name, body := range map[string]string{
		"meter": `{"settings":[],"metrics":[
			{"name":"gas_m3","unit":"m³","energy":{"fuel":"gas","kind":"counter"}},
			{"name":"energy_kwh","unit":"kWh","energy":{"fuel":"electricity","kind":"counter"}}]}`,
		"burner": `{"settings":[],"metrics":[{"name":"gas_m3h","unit":"m³/h","energy":{"fuel":"gas","kind":"rate"}}]}`,
		"other":  `{"settings":[],"metrics":[{"name":"gas_m3","unit":"m³"}]}`,
	} {
		var raw map[string]any
		if st := h.apiCall(op, "PUT", "/api/v1/device-types/"+name, json.RawMessage(body), &raw); st != http.StatusCreated {
			t.Fatalf("put type %s: %d %v", name, st, raw)
		}
	}
	meter1 := h.addTypedDevice(op, "meter-1", "acme", "meter")
	h.addTypedDevice(op, "meter-2", "acme", "meter")
	h.addTypedDevice(op, "burner-1", "acme", "burner")
	h.addTypedDevice(op, "other-1", "acme", "other")
	site := meter1.Device.Site
	if st := h.apiCall(op, "PATCH", "/api/v1/customers/acme/sites/"+site, map[string]string{"time_zone": "Asia/Tokyo"}, nil); st != http.StatusOK {
		t.Fatalf("site's zone: %d", st)
	}
	db := h.srv.TSDBForTest()

	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	now := time.Now().In(tokyo)
	day0 := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, tokyo).AddDate(0, 0, -4)
	// Samples from two hours before day0 (so the first day has a
	// previous reading) to the end of the third day.
	start, end := day0.Add(-2*time.Hour), day0.AddDate(0, 0, 3)
	want := map[string]map[string]float64{"gas": {}, "electricity": {}}
	dayOf := func(ms int64) string { return time.UnixMilli(ms).In(tokyo).Format(time.DateOnly) }
	wantHour := map[string]float64{}
	rng := rand.New(rand.NewPCG(17, 4))
	type series struct {
		device, metric, fuel string
		pts                  []tsdb.Point
	}
	var all []series
	counter := func(device, metric, fuel string, startAt float64) {
		s := series{device: device, metric: metric, fuel: fuel}
		v := startAt
		var prev float64
		first := true
		for t := start; t.Before(end); t = t.Add(time.Minute) {
			minute := int(t.Sub(start) / time.Minute)
			// A gap of three hours on the second day, and one of 20
			// minutes across the first midnight.
			if minute >= 26*60 && minute < 29*60 || minute >= 110 && minute < 130 {
				v += 0.04 // the meter runs on while nothing arrives
				continue
			}
			v += rng.Float64() * 0.08
			switch minute {
			case 40 * 60: // the meter is replaced: it starts again at 0
				v = rng.Float64() * 0.05
			case 60 * 60: // it rolls over
				v = 0.3
			}
			ms := t.UnixMilli()
			if !first && ms > day0.UnixMilli() {
				d := v - prev
				if d < 0 {
					d = v // counted from zero after a drop
				}
				want[fuel][dayOf(ms-1)] += d
				if fuel == "electricity" { // hours starting at local hours
					wantHour[time.UnixMilli(ms-1).In(tokyo).Truncate(time.Hour).Format(time.RFC3339)] += d
				}
			}
			prev, first = v, false
			s.pts = append(s.pts, tsdb.Point{Metric: metric, Timestamp: ms, Value: math.Round(v*1e6) / 1e6})
		}
		all = append(all, s)
	}
	counter("meter-1", "gas_m3", "gas", 5000)
	counter("meter-2", "gas_m3", "gas", 9000)
	counter("meter-1", "energy_kwh", "electricity", 20000)
	// A rate: held from each sample to the next.
	rate := series{device: "burner-1", metric: "gas_m3h", fuel: "gas"}
	for t := start; t.Before(end); t = t.Add(time.Minute) {
		v := math.Round(rng.Float64()*30*1000) / 1000
		ms := t.UnixMilli()
		if ms >= day0.UnixMilli() && t.Add(time.Minute).Before(end) {
			want["gas"][dayOf(ms)] += v / 60
		}
		rate.pts = append(rate.pts, tsdb.Point{Metric: "gas_m3h", Timestamp: ms, Value: v})
	}
	all = append(all, rate)
	// Not declared by its type: stored, never counted.
	all = append(all, series{device: "other-1", metric: "gas_m3", pts: []tsdb.Point{
		{Metric: "gas_m3", Timestamp: day0.Add(time.Hour).UnixMilli(), Value: 1},
		{Metric: "gas_m3", Timestamp: day0.Add(2 * time.Hour).UnixMilli(), Value: 500},
	}})
	// Back-fill: the last day first, then the days before it.
	cut := day0.AddDate(0, 0, 2).UnixMilli()
	for _, later := range []bool{true, false} {
		for _, s := range all {
			var pts []tsdb.Point
			for _, p := range s.pts {
				if (p.Timestamp >= cut) == later {
					pts = append(pts, p)
				}
			}
			for len(pts) > 0 {
				n := min(len(pts), 5000)
				if err := db.Append(s.device, "acme", site, pts[:n]); err != nil {
					t.Fatal(err)
				}
				pts = pts[n:]
			}
		}
	}
	db.Flush()

	var got energyAnswer
	path := "/api/v1/customers/acme/sites/" + site + "/energy?step=1d&from=" + url.QueryEscape(day0.Format(time.RFC3339)) + "&to=" + url.QueryEscape(end.Format(time.RFC3339))
	if st := h.apiCall(op, "GET", path, nil, &got); st != http.StatusOK {
		t.Fatalf("energy: %d", st)
	}
	if len(got.Points) != 3 {
		t.Fatalf("%d points, want 3: %+v", len(got.Points), got)
	}
	for _, p := range got.Points {
		day := p.Time[:10]
		for _, f := range []struct {
			fuel string
			got  *float64
		}{{"gas", p.GasM3}, {"electricity", p.ElectricityKWh}} {
			w := want[f.fuel][day]
			if f.got == nil {
				t.Errorf("%s %s: absent, want %.3f", day, f.fuel, w)
				continue
			}
			// The answer keeps three decimals; the store about twelve
			// significant digits.
			if math.Abs(*f.got-w) > 0.002 {
				t.Errorf("%s %s: %.4f, direct sum %.4f", day, f.fuel, *f.got, w)
			}
		}
	}
	// Each hour of electricity, too.
	var dbg energyAnswer
	h.apiCall(op, "GET", "/api/v1/customers/acme/sites/"+site+"/energy?step=1h&from="+url.QueryEscape(day0.Format(time.RFC3339))+"&to="+url.QueryEscape(end.Format(time.RFC3339)), nil, &dbg)
	for _, p := range dbg.Points {
		if p.ElectricityKWh != nil && math.Abs(*p.ElectricityKWh-wantHour[p.Time]) > 0.001 {
			t.Errorf("hour %s: electricity %.4f, direct sum %.4f", p.Time, *p.ElectricityKWh, wantHour[p.Time])
		}
	}
	// Hours of the first day: three points.
	var hours energyAnswer
	if st := h.apiCall(op, "GET", "/api/v1/customers/acme/sites/"+site+"/energy?step=1h&from="+url.QueryEscape(day0.Format(time.RFC3339))+"&to="+url.QueryEscape(day0.Add(3*time.Hour).Format(time.RFC3339)), nil, &hours); st != http.StatusOK || len(hours.Points) != 3 {
		t.Fatalf("hours: %d %+v", st, hours)
	}
}

// A site with a baseline period of known physics: the fitted model
// recovers it through the real store and engine, the report page shows
// the month's use, baseline and savings, and its PDF reads back with
// pdftotext in English and Japanese.
func TestEnergyBaselinePageAndPDF(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token("operator", "")
	h.addCustomer(op, "acme")
	var raw map[string]any
	if st := h.apiCall(op, "PUT", "/api/v1/device-types/plant", json.RawMessage(`{"settings":[],"metrics":[
		{"name":"gas_m3h","unit":"m³/h","energy":{"fuel":"gas","kind":"rate"}},
		{"name":"outside_temp_c","unit":"°C","outdoor":true}]}`), &raw); st != http.StatusCreated {
		t.Fatalf("put type: %d %v", st, raw)
	}
	plant := h.addTypedDevice(op, "plant-1", "acme", "plant")
	h.addTypedDevice(op, "room-1", "acme", "")
	site := plant.Device.Site
	if st := h.apiCall(op, "PATCH", "/api/v1/customers/acme/sites/"+site, map[string]string{"time_zone": "Asia/Tokyo"}, nil); st != http.StatusOK {
		t.Fatalf("site's zone: %d", st)
	}
	if st := h.apiCall(op, "PATCH", "/api/v1/customers/acme/sites/"+site+"/energy/settings",
		json.RawMessage(`{"floor_area_m2":2000,"currency":"JPY","gas_price":120,"gas_co2_kg_per_m3":2.23}`), &raw); st != http.StatusOK {
		t.Fatalf("settings: %d %v", st, raw)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	now := time.Now().In(tokyo)
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, tokyo)
	baseFrom := thisMonth.AddDate(0, -3, 0)
	baseTo := thisMonth.AddDate(0, -1, 0) // two months of baseline
	// Each day's temperature, steady through the day; gas per day =
	// 100 (weekdays) or 40 (weekends) + 12 per degree below 15 °C, burnt
	// evenly over the day; the last month uses 10 % less than that.
	temp := func(d time.Time) float64 {
		n := float64(d.Sub(baseFrom).Hours() / 24)
		return 12 + 8*math.Sin(n*2*math.Pi/23) + 3*math.Cos(n*2*math.Pi/7.3)
	}
	perDay := func(d time.Time) float64 {
		base := 100.0
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			base = 40
		}
		use := base + 12*math.Max(0, 15-temp(d))
		if !d.Before(baseTo) {
			use *= 0.9
		}
		return use
	}
	db := h.srv.TSDBForTest()
	co2 := []tsdb.Point{}
	for d := baseFrom.AddDate(0, 0, -1); d.Before(now); d = d.AddDate(0, 0, 1) {
		var pts []tsdb.Point
		for m := 0; m < 24*60; m += 10 {
			ts := d.Add(time.Duration(m) * time.Minute)
			if ts.After(now) {
				break
			}
			pts = append(pts, tsdb.Point{Metric: "gas_m3h", Timestamp: ts.UnixMilli(), Value: perDay(d) / 24},
				tsdb.Point{Metric: "outside_temp_c", Timestamp: ts.UnixMilli(), Value: temp(d)})
			if !d.Before(baseTo) {
				v := 600.0
				if m >= 9*60 && m < 11*60 {
					v = 1200 // two stuffy hours a day
				}
				co2 = append(co2, tsdb.Point{Metric: "co2_ppm", Timestamp: ts.UnixMilli(), Value: v})
			}
		}
		if err := db.Append("plant-1", "acme", site, pts); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Append("room-1", "acme", site, co2); err != nil {
		t.Fatal(err)
	}
	db.Flush()

	var fitted struct {
		Baseline struct {
			Accepted     bool               `json:"accepted"`
			Refusal      string             `json:"refusal"`
			Intercepts   map[string]float64 `json:"intercepts"`
			PerHDD       float64            `json:"per_hdd"`
			PerCDD       float64            `json:"per_cdd"`
			HeatingBaseC float64            `json:"heating_base_c"`
			CVRMSE       float64            `json:"cv_rmse"`
		} `json:"baseline"`
	}
	body := map[string]string{"from": baseFrom.Format(time.DateOnly), "to": baseTo.AddDate(0, 0, -1).Format(time.DateOnly)}
	if st := h.apiCall(op, "POST", "/api/v1/customers/acme/sites/"+site+"/energy/baseline", body, &fitted); st != http.StatusOK {
		t.Fatalf("fit: %d %+v", st, fitted)
	}
	b := fitted.Baseline
	// Stated tolerance: intercepts within 2 %, the slope within 3 %, the
	// base within 0.5 °C (the samples' ten-minute steps are exact).
	if !b.Accepted || math.Abs(b.Intercepts["weekday"]-100) > 2 || math.Abs(b.Intercepts["weekend"]-40) > 0.8 ||
		math.Abs(b.PerHDD-12) > 0.36 || math.Abs(b.HeatingBaseC-15) > 0.5 {
		t.Errorf("fitted %+v; want weekday 100, weekend 40, 12 m³ per degree-day below 15 °C", b)
	}
	// The reporting month: about 10 % avoided.
	var e struct {
		Points []struct {
			GasM3    *float64 `json:"gas_m3"`
			Baseline *float64 `json:"baseline_gas_m3"`
			Avoided  *float64 `json:"avoided_gas_m3"`
		} `json:"points"`
	}
	q := "/api/v1/customers/acme/sites/" + site + "/energy?step=1mo&from=" + url.QueryEscape(baseTo.Format(time.RFC3339)) + "&to=" + url.QueryEscape(thisMonth.Format(time.RFC3339))
	if st := h.apiCall(op, "GET", q, nil, &e); st != http.StatusOK || len(e.Points) != 1 || e.Points[0].Avoided == nil {
		t.Fatalf("last month: %d %+v", st, e)
	}
	if share := *e.Points[0].Avoided / *e.Points[0].Baseline; math.Abs(share-0.1) > 0.01 {
		t.Errorf("avoided %.1f of baseline %.1f: %.3f, want 0.10", *e.Points[0].Avoided, *e.Points[0].Baseline, share)
	}
	// A month the range ends inside has its use so far and no baseline: a
	// whole month's baseline against part of its use would overstate what
	// was avoided.
	e.Points = nil
	q = "/api/v1/customers/acme/sites/" + site + "/energy?step=1mo&from=" + url.QueryEscape(baseTo.Format(time.RFC3339)) + "&to=" + url.QueryEscape(thisMonth.AddDate(0, 0, -10).Format(time.RFC3339))
	if st := h.apiCall(op, "GET", q, nil, &e); st != http.StatusOK || len(e.Points) != 1 || e.Points[0].GasM3 == nil {
		t.Fatalf("part of last month: %d %+v", st, e)
	}
	if e.Points[0].Baseline != nil || e.Points[0].Avoided != nil {
		t.Errorf("part of last month: a baseline %v, an avoided figure %v; want neither for a month the range ends inside", e.Points[0].Baseline != nil, e.Points[0].Avoided != nil)
	}

	// The page and the PDF, as the operator signs in.
	const email, password = "ops@energy.example", "energy-test-password-1"
	if st := h.apiCall(op, "POST", "/api/v1/users", map[string]string{"email": email, "role": "operator", "password": password}, nil); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	c := signIn(t, h.https, h.caPool, email, password)
	month := baseTo.Format("2006-01")
	page := getBody(t, c, h.https+"/sites/acme/"+site+"/energy?month="+month, "en")
	for _, want := range []string{"Energy report", "Gas avoided", "Gas per m² of floor", "<svg", "Accepted as a basis for savings", "report.pdf?month=" + month} {
		if !strings.Contains(page, want) {
			t.Errorf("the energy page lacks %q", want)
		}
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
			t.Fatal("pdftotext is missing and HEARTH_REQUIRE_TOOLS is set: apt-get install poppler-utils")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	for lang, wants := range map[string][]string{
		"en": {"Energy report", "Gas avoided", "Baseline and savings"},
		"ja": {"エネルギー月報", "ガス削減量", "快適性", "room-1"},
	} {
		pdf := getBody(t, c, h.https+"/sites/acme/"+site+"/energy/report.pdf?month="+month, lang)
		path := filepath.Join(t.TempDir(), "report.pdf")
		if err := os.WriteFile(path, []byte(pdf), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("pdftotext", path, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("pdftotext: %v: %s", err, out)
		}
		for _, w := range wants {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s PDF lacks %q:\n%s", lang, w, out)
			}
		}
	}
}

// getBody fetches a page in a language and fails on anything but 200.
func getBody(t *testing.T, c *http.Client, u, lang string) string {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Language", lang)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, data)
	}
	return string(data)
}
