package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store/tsdb"
	"github.com/hearthiot/hearth/web/ui/static"
)

// The fleet BenchmarkPages loads: one customer with pageSites sites of
// pageDevicesPerSite devices each (air-quality sensors and one chiller per
// site), every device with its latest values, and one chiller with
// chartDays of one-minute history of eight metrics.
const (
	pageSites          = 100
	pageDevicesPerSite = 10
	chartDays          = 30
	chartPoints        = 1000
	benchCustomer      = "bench"
	benchUser          = "fm@bench.example"
	benchPassword      = "correct horse battery staple"
	chartDevice        = "site-000-chiller"
)

// chillerMetrics are the eight metrics of the chart benchmark, as an
// absorption chiller-heater reports them.
var chillerMetrics = []string{
	"chw_supply_c", "chw_return_c", "hw_supply_c", "hw_return_c",
	"load_pct", "gas_m3h", "outside_temp_c", "chw_setpoint_c",
}

// BenchmarkPages measures the server time of the pages a facility manager
// opens, end to end over HTTPS on loopback with a signed-in session: the
// overview of 100 sites and 1,000 devices, a device page, and a chart's
// data (30 days of 8 one-minute metrics, 1,000 points per series). Each
// sub-benchmark reports the median and 95th percentile of its requests.
//
//	go test -run '^$' -bench Pages -benchtime 200x ./server/
func BenchmarkPages(b *testing.B) {
	f := startPageFleet(b)

	b.Run("overview", func(b *testing.B) {
		body := f.get(b, "/")
		var sites []json.RawMessage
		if st := f.call(b, "GET", "/api/v1/customers/"+benchCustomer+"/sites", nil, &sites); st != http.StatusOK || len(sites) < pageSites {
			b.Fatalf("list sites: status %d, %d sites", st, len(sites))
		}
		// Every customer also has its default site, which has no devices
		// here and no card.
		if n := strings.Count(string(body), `class="card site"`); n != len(sites)-1 {
			b.Fatalf("the overview shows %d sites, want %d", n, len(sites)-1)
		}
		var zipped bytes.Buffer
		zw := gzip.NewWriter(&zipped)
		if _, err := zw.Write(body); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		assets, err := static.New()
		if err != nil {
			b.Fatal(err)
		}
		wire := f.wireBytes(b, "/")
		f.measure(b, func(time.Time) string { return "/" })
		// What a browser downloads on its first visit: the overview as
		// served to a client that accepts gzip, and the assets, which are
		// served compressed. html-gzip-bytes is what the overview would
		// weigh compressed.
		b.ReportMetric(float64(len(body)), "html-bytes")
		b.ReportMetric(float64(wire), "html-wire-bytes")
		b.ReportMetric(float64(zipped.Len()), "html-gzip-bytes")
		b.ReportMetric(float64(assets.TotalBytes(true)), "assets-gzip-bytes")
		b.ReportMetric(float64(wire+assets.TotalBytes(true)), "first-visit-bytes")
	})

	b.Run("device", func(b *testing.B) {
		body := string(f.get(b, "/devices/"+chartDevice))
		if !strings.Contains(body, `class="chart"`) || strings.Count(body, `<td class="who">`) != 20 {
			b.Fatalf("the device page lacks its chart or its 20 history rows:\n%s", body)
		}
		f.measure(b, func(time.Time) string { return "/devices/" + chartDevice })
	})

	// A browser asks for the range ending now: every request asks for a
	// range of its own.
	seriesPath := func(now time.Time) string {
		q := url.Values{
			"metrics": {strings.Join(chillerMetrics, ",")},
			"from":    {fmt.Sprint(now.Add(-chartDays * 24 * time.Hour).UnixMilli())},
			"to":      {fmt.Sprint(now.UnixMilli())},
			"points":  {fmt.Sprint(chartPoints)},
		}
		return "/devices/" + chartDevice + "/series?" + q.Encode()
	}
	b.Run("series", func(b *testing.B) {
		f.checkSeries(b, seriesPath(time.Now()))
		f.measure(b, seriesPath)
	})
}

// yearDevice is the chiller BenchmarkChartYear charts over a year.
const yearDevice = "site-001-chiller"

// BenchmarkChartYear measures the server time of a year chart: one
// chiller's eight metrics, one sample a minute for a year (4.2 million
// samples), 1,000 points per series, in the one request the device page
// sends, over HTTPS with a signed-in session. It reports the median and
// 95th percentile of the requests.
//
//	go test -run '^$' -bench ChartYear -benchtime 100x ./server/
func BenchmarkChartYear(b *testing.B) {
	f := startPageFleet(b)
	db := f.srv.TSDBForTest()
	now := time.Now().Truncate(time.Minute)
	const n = 365 * 24 * 60
	start := now.Add(-n * time.Minute)
	const chunk = 10_000
	pts := make([]tsdb.Point, 0, chunk)
	for k, m := range chillerMetrics {
		for i := range n {
			pts = append(pts, tsdb.Point{Metric: m, Timestamp: start.Add(time.Duration(i) * time.Minute).UnixMilli(), Value: chillerValue(k, float64(i))})
			if len(pts) == chunk || i == n-1 {
				if err := db.Append(yearDevice, benchCustomer, siteName(1), pts); err != nil {
					b.Fatal(err)
				}
				pts = pts[:0]
			}
		}
	}
	db.Flush()
	path := func(now time.Time) string {
		q := url.Values{
			"metrics": {strings.Join(chillerMetrics, ",")},
			"from":    {fmt.Sprint(now.Add(-365 * 24 * time.Hour).UnixMilli())},
			"to":      {fmt.Sprint(now.UnixMilli())},
			"points":  {fmt.Sprint(chartPoints)},
		}
		return "/devices/" + yearDevice + "/series?" + q.Encode()
	}
	f.checkSeriesOf(b, path(time.Now()))
	f.measure(b, path)
}

// pageFleet is a running server loaded with the benchmark's fleet, and a
// client signed in as the customer's facility manager.
type pageFleet struct {
	srv    *server.Server
	base   string
	admin  *http.Client
	client *http.Client
}

// startPageFleet starts a server with the default configuration on
// loopback ports and loads the fleet: the records through the admin
// socket's API, the telemetry straight into the time-series store.
func startPageFleet(tb testing.TB) *pageFleet {
	tb.Helper()
	t0 := time.Now()
	dir := tb.TempDir()
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Addr = "127.0.0.1:0"
	cfg.MQTT.PlainAddr = ""
	cfg.Web.TimeZone = "Asia/Tokyo"
	cfg.ShutdownTimeout = 20 * time.Second
	logger := slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(cfg, "bench", logger, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			tb.Errorf("stop: %v", err)
		}
	})
	caPEM, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		tb.Fatal("ca.pem holds no certificate")
	}
	sock := server.SocketPath(dir)
	f := &pageFleet{
		srv:  srv,
		base: "https://" + srv.HTTPAddr().String(),
		admin: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 8,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		}},
	}
	f.loadRecords(tb)
	f.loadTelemetry(tb)
	f.client = signIn(tb, f.base, pool, benchUser, benchPassword)
	tb.Logf("fleet of %d sites and %d devices loaded in %s", pageSites, pageSites*pageDevicesPerSite, time.Since(t0).Round(time.Millisecond))
	return f
}

// siteName and deviceNames name the fleet: nine air-quality sensors and a
// chiller per site.
func siteName(i int) string { return fmt.Sprintf("site-%03d", i) }

func deviceNames(site int) []string {
	out := make([]string, 0, pageDevicesPerSite)
	for j := 1; j < pageDevicesPerSite; j++ {
		out = append(out, fmt.Sprintf("%s-aq-%02d", siteName(site), j))
	}
	return append(out, siteName(site)+"-chiller")
}

// chillerType is the device type of the chillers: the settings the device
// page shows as a form.
const chillerType = `{"settings": [
	{"key": "chw_setpoint", "type": "number", "unit": "°C", "description": "Chilled water set-point", "minimum": 5, "maximum": 12, "step": 0.5, "customer_editable": true},
	{"key": "hw_setpoint", "type": "number", "unit": "°C", "description": "Hot water set-point", "minimum": 40, "maximum": 60, "step": 0.5, "customer_editable": true},
	{"key": "mode", "type": "string", "description": "Operating mode", "enum": ["cooling", "heating", "off"], "customer_editable": true}
]}`

func (f *pageFleet) loadRecords(tb testing.TB) {
	tb.Helper()
	must := func(what string, want, got int) {
		tb.Helper()
		if got != want {
			tb.Fatalf("%s: status %d, want %d", what, got, want)
		}
	}
	must("create the customer", http.StatusCreated, f.call(tb, "POST", "/api/v1/customers", map[string]string{"name": benchCustomer, "display_name": "Bench Hotels"}, nil))
	if st := f.call(tb, "PUT", "/api/v1/device-types/chiller", json.RawMessage(chillerType), nil); st != http.StatusCreated && st != http.StatusOK {
		tb.Fatalf("define the chiller type: status %d", st)
	}
	if st := f.call(tb, "PUT", "/api/v1/device-types/air-sensor", json.RawMessage(`{"settings": []}`), nil); st != http.StatusCreated && st != http.StatusOK {
		tb.Fatalf("define the air sensor type: status %d", st)
	}
	parallel(tb, pageSites, func(i int) error {
		if st := f.call(tb, "POST", "/api/v1/customers/"+benchCustomer+"/sites", map[string]string{"name": siteName(i), "display_name": fmt.Sprintf("Hotel %03d", i)}, nil); st != http.StatusCreated {
			return fmt.Errorf("create site %s: status %d", siteName(i), st)
		}
		return nil
	})
	parallel(tb, pageSites*pageDevicesPerSite, func(k int) error {
		site := k / pageDevicesPerSite
		name := deviceNames(site)[k%pageDevicesPerSite]
		typ := "air-sensor"
		if strings.HasSuffix(name, "-chiller") {
			typ = "chiller"
		}
		body := map[string]string{"name": name, "customer": benchCustomer, "site": siteName(site), "type": typ}
		if st := f.call(tb, "POST", "/api/v1/devices", body, nil); st != http.StatusCreated {
			return fmt.Errorf("create device %s: status %d", name, st)
		}
		return nil
	})
	must("create the facility manager", http.StatusCreated, f.call(tb, "POST", "/api/v1/users",
		map[string]string{"email": benchUser, "role": "customer", "customer": benchCustomer, "password": benchPassword}, nil))
	// Twenty changes of the chiller's set-points: a full history table on
	// its page.
	for i := range 20 {
		desired := map[string]any{"state": map[string]any{"desired": map[string]any{"chw_setpoint": 6.5 + 0.5*float64(i%4), "mode": "cooling"}}}
		must("change a set-point", http.StatusOK, f.call(tb, "PATCH", "/api/v1/devices/"+chartDevice+"/shadow", desired, nil))
	}
}

// loadTelemetry gives every device a minute-old reading of each of its
// metrics, and the chart's chiller chartDays of one-minute history, and
// makes it all searchable.
func (f *pageFleet) loadTelemetry(tb testing.TB) {
	tb.Helper()
	db := f.srv.TSDBForTest()
	now := time.Now().Truncate(time.Minute)
	for site := range pageSites {
		for j, name := range deviceNames(site) {
			x := float64(site*pageDevicesPerSite + j)
			ts := now.Add(-time.Minute).UnixMilli()
			var pts []tsdb.Point
			if strings.HasSuffix(name, "-chiller") {
				for k, m := range chillerMetrics {
					pts = append(pts, tsdb.Point{Metric: m, Timestamp: ts, Value: chillerValue(k, x)})
				}
			} else {
				pts = []tsdb.Point{
					{Metric: "co2_ppm", Timestamp: ts, Value: 450 + math.Mod(x*37, 900)},
					{Metric: "temperature_c", Timestamp: ts, Value: 20 + math.Mod(x*0.7, 6)},
					{Metric: "humidity_pct", Timestamp: ts, Value: 35 + math.Mod(x*1.3, 30)},
				}
			}
			if err := db.Append(name, benchCustomer, siteName(site), pts); err != nil {
				tb.Fatal(err)
			}
		}
	}
	const n = chartDays * 24 * 60
	start := now.Add(-n * time.Minute)
	const chunk = 5_000
	pts := make([]tsdb.Point, 0, chunk)
	for k, m := range chillerMetrics {
		for i := range n {
			pts = append(pts, tsdb.Point{Metric: m, Timestamp: start.Add(time.Duration(i) * time.Minute).UnixMilli(), Value: chillerValue(k, float64(i))})
			if len(pts) == chunk || i == n-1 {
				if err := db.Append(chartDevice, benchCustomer, siteName(0), pts); err != nil {
					tb.Fatal(err)
				}
				pts = pts[:0]
			}
		}
	}
	db.Flush()
}

// chillerValue is a believable reading of metric k at minute i: a daily
// cycle around the metric's usual level.
func chillerValue(k int, i float64) float64 {
	level := []float64{7, 12, 55, 50, 60, 18, 24, 7}[k]
	swing := []float64{0.8, 1.2, 2, 2, 25, 8, 5, 0}[k]
	v := level + swing*math.Sin(2*math.Pi*i/1440)
	return math.Round(v*10) / 10
}

// parallel runs fn for 0..n-1 on eight goroutines and fails tb with the
// first error.
func parallel(tb testing.TB, n int, fn func(i int) error) {
	tb.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		tb.Fatal(first)
	}
}

// call calls the API over the admin socket as the local operator. It may
// run on any goroutine: failures are returned as a status of 0.
func (f *pageFleet) call(tb testing.TB, method, path string, in, out any) int {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			tb.Error(err)
			return 0
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://hearth"+path, body)
	if err != nil {
		tb.Error(err)
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.admin.Do(req)
	if err != nil {
		tb.Errorf("%s %s: %v", method, path, err)
		return 0
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Errorf("%s %s: %v", method, path, err)
		return 0
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			tb.Errorf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
			return 0
		}
	}
	return resp.StatusCode
}

// signIn signs in with the local account as a browser does (a form post
// from the server's own origin) and returns a client that keeps the
// session cookie and does not follow redirects.
func signIn(tb testing.TB, base string, pool *x509.CertPool, email, password string) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool},
			MaxIdleConnsPerHost: 4,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	form := url.Values{"email": {email}, "password": {password}, "next": {"/"}}
	req, err := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		tb.Fatalf("sign in as %s: status %d to %q, want 303 to /", email, resp.StatusCode, resp.Header.Get("Location"))
	}
	return c
}

// get fetches a page as the signed-in customer and fails on anything but
// 200.
func (f *pageFleet) get(tb testing.TB, path string) []byte {
	tb.Helper()
	resp, err := f.client.Get(f.base + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, body)
	}
	return body
}

// wireBytes is how many body bytes path sends to a client that accepts
// gzip, compressed or not.
func (f *pageFleet) wireBytes(tb testing.TB, path string) int64 {
	tb.Helper()
	req, err := http.NewRequest("GET", f.base+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	// Set by hand, the header keeps the transport from decompressing.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := f.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	return n
}

// checkSeries fails unless path answers every chart metric with about
// chartPoints points.
func (f *pageFleet) checkSeries(tb testing.TB, path string) {
	tb.Helper()
	f.checkSeriesOf(tb, path)
}

// checkSeriesOf is checkSeries for any chart of the chiller metrics.
func (f *pageFleet) checkSeriesOf(tb testing.TB, path string) {
	tb.Helper()
	var data struct {
		Series []struct {
			Metric string     `json:"metric"`
			T      []int64    `json:"t"`
			V      []*float64 `json:"v"`
		} `json:"series"`
	}
	if err := json.Unmarshal(f.get(tb, path), &data); err != nil {
		tb.Fatal(err)
	}
	var got []string
	for _, s := range data.Series {
		got = append(got, s.Metric)
		if len(s.T) < chartPoints*98/100 || len(s.T) > chartPoints+1 || len(s.V) != len(s.T) {
			tb.Errorf("series %s: %d times, %d values; want about %d", s.Metric, len(s.T), len(s.V), chartPoints)
		}
	}
	if !slices.Equal(got, chillerMetrics) {
		tb.Fatalf("series of %v, want %v", got, chillerMetrics)
	}
}

// measure requests path(now) in b.Loop, reading each answer whole, and
// reports the median and 95th percentile of the request times.
func (f *pageFleet) measure(b *testing.B, path func(now time.Time) string) {
	b.Helper()
	var took []time.Duration
	var buf bytes.Buffer
	for b.Loop() {
		t0 := time.Now()
		resp, err := f.client.Get(f.base + path(t0))
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		took = append(took, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d: %s", resp.StatusCode, buf.Bytes())
		}
	}
	slices.Sort(took)
	b.ReportMetric(quantileMS(took, 0.50), "p50-ms")
	b.ReportMetric(quantileMS(took, 0.95), "p95-ms")
	b.ReportMetric(float64(buf.Len()), "resp-bytes")
}

// quantileMS is the q-quantile of sorted durations in milliseconds, by the
// nearest-rank method.
func quantileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

// tbWriter sends the server's warnings to the test or benchmark log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
