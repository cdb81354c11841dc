package server_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/tsdb"
)

// BenchmarkEnergyYear measures a site of ten devices with a year of
// one-minute data (5.3 million samples: five gas rates, five gas
// counters): a year's use by month and a month's by day through the API,
// the monthly report page, and the use of one day, which is what each
// day of data costs a daily total.
func BenchmarkEnergyYear(b *testing.B) {
	h := startHearthWith(b, b.TempDir(), nil)
	op := h.token("operator", "")
	h.addCustomer(op, "acme")
	if st := h.apiCall(op, "PUT", "/api/v1/device-types/plant", json.RawMessage(`{"settings":[],"metrics":[
		{"name":"gas_m3h","unit":"m³/h","energy":{"fuel":"gas","kind":"rate"}},
		{"name":"gas_m3","unit":"m³","energy":{"fuel":"gas","kind":"counter"}},
		{"name":"outside_temp_c","unit":"°C","outdoor":true}]}`), nil); st != http.StatusCreated {
		b.Fatalf("put type: %d", st)
	}
	var site string
	for i := range 10 {
		d := h.addTypedDevice(op, "plant-"+strconv.Itoa(i), "acme", "plant")
		site = d.Device.Site
	}
	db := h.srv.TSDBForTest()
	now := time.Now().Truncate(time.Minute)
	start := now.AddDate(-1, 0, 0)
	const chunk = 20_000
	loadStart := time.Now()
	for i := range 10 {
		pts := make([]tsdb.Point, 0, chunk)
		counter := 1000.0
		for t := start; t.Before(now); t = t.Add(time.Minute) {
			x := float64(t.Unix()) / 86400
			v := 10 + 5*math.Sin(x*2*math.Pi)
			if i%2 == 0 {
				pts = append(pts, tsdb.Point{Metric: "gas_m3h", Timestamp: t.UnixMilli(), Value: v})
			} else {
				counter += v / 60
				pts = append(pts, tsdb.Point{Metric: "gas_m3", Timestamp: t.UnixMilli(), Value: counter})
			}
			if i == 0 && t.Minute()%10 == 0 {
				pts = append(pts, tsdb.Point{Metric: "outside_temp_c", Timestamp: t.UnixMilli(), Value: 15 + 10*math.Sin(x*2*math.Pi/365)})
			}
			if len(pts) >= chunk {
				if err := db.Append("plant-"+strconv.Itoa(i), "acme", site, pts); err != nil {
					b.Fatal(err)
				}
				pts = pts[:0]
			}
		}
		if err := db.Append("plant-"+strconv.Itoa(i), "acme", site, pts); err != nil {
			b.Fatal(err)
		}
	}
	db.Flush()
	b.Logf("a year of one-minute data for 10 devices loaded in %s", time.Since(loadStart).Round(time.Millisecond))
	base := "/api/v1/customers/acme/sites/" + site + "/energy"
	const email, password = "ops@bench.example", "energy-bench-password-1"
	if st := h.apiCall(op, "POST", "/api/v1/users", map[string]string{"email": email, "role": "operator", "password": password}, nil); st != http.StatusCreated {
		b.Fatalf("create user: %d", st)
	}
	c := signIn(b, h.https, h.caPool, email, password)
	lastMonth := now.AddDate(0, -1, 0).Format("2006-01")
	api := func(path string) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				if st := h.apiCall(op, "GET", path, nil, nil); st != http.StatusOK {
					b.Fatalf("%s: %d", path, st)
				}
			}
		}
	}
	b.Run("year-by-month", api(base+"?step=1mo&from="+url.QueryEscape(start.Format(time.RFC3339))))
	b.Run("month-by-day", api(base+"?step=1d&from="+url.QueryEscape(now.AddDate(0, -1, 0).Format(time.RFC3339))))
	b.Run("one-day", api(base+"?step=1d&from="+url.QueryEscape(now.AddDate(0, 0, -2).Format(time.RFC3339))+"&to="+url.QueryEscape(now.AddDate(0, 0, -1).Format(time.RFC3339))))
	b.Run("report-page", func(b *testing.B) {
		for b.Loop() {
			resp, err := c.Get(h.https + "/sites/acme/" + site + "/energy?month=" + lastMonth)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("page: %d", resp.StatusCode)
			}
		}
	})
	b.Run("report-pdf", func(b *testing.B) {
		for b.Loop() {
			resp, err := c.Get(h.https + "/sites/acme/" + site + "/energy/report.pdf?month=" + lastMonth)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("pdf: %d", resp.StatusCode)
			}
		}
	})
}
