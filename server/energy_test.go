package server_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
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
