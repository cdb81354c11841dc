package server_test

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store/tsdb"
)

// maxScreenshotBytes keeps the README's pictures light.
const maxScreenshotBytes = 300 << 10

// seedDevice is one device of the pictured customer, with the values it
// reports.
type seedDevice struct {
	name, typ string
	values    map[string]float64
	offline   bool // reports, then disconnects: the card asks for attention
}

func airQuality(name string, co2, temp, humidity float64) seedDevice {
	return seedDevice{name: name, typ: "air-quality", values: map[string]float64{"co2_ppm": co2, "temperature_c": temp, "humidity_pct": humidity}}
}

func chillerNow(name string, load, outside float64) seedDevice {
	return seedDevice{name: name, typ: "chiller", values: map[string]float64{
		"chw_supply_c": 7.1, "chw_return_c": 7.1 + 0.08*load, "hw_supply_c": 55, "hw_return_c": 50.2,
		"load_pct": load, "gas_m3h": 0.3 * load, "outside_temp_c": outside, "chw_setpoint_c": 7,
	}}
}

// TestDashboardScreenshot draws the README's pictures in a real browser
// from a real server: a facility manager's overview of three hotels
// (docs/dashboard.png, 1280×800) and a chiller's page with a day of its
// chart (docs/device.png, 1280×1000, scrolled to the chart). It runs only when asked to:
//
//	HEARTH_SCREENSHOT=1 go test ./server -run TestDashboardScreenshot
func TestDashboardScreenshot(t *testing.T) {
	if os.Getenv("HEARTH_SCREENSHOT") == "" {
		t.Skip("set HEARTH_SCREENSHOT=1 to write docs/dashboard.png and docs/device.png")
	}
	// The pictures were asked for: a missing browser is a failure.
	t.Setenv("HEARTH_REQUIRE_TOOLS", "1")
	ctx := browser(t)
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) { c.Web.TimeZone = "Asia/Tokyo" })

	const customer, email, password = "sakura", "fm@sakura-hotels.example", "plum blossom in spring"
	sites := []struct {
		name, title string
		devices     []seedDevice
	}{
		{"shinjuku", "Hotel Sakura Shinjuku", []seedDevice{
			airQuality("shinjuku-aq-banquet", 1180, 24.1, 38),
			airQuality("shinjuku-aq-lobby", 640, 22.8, 46),
			airQuality("shinjuku-aq-restaurant", 820, 23.4, 51),
			chillerNow("shinjuku-chiller-1", 62, 27.3),
		}},
		{"yokohama", "Hotel Sakura Yokohama Bay", []seedDevice{
			airQuality("yokohama-aq-gym", 1540, 25.2, 63),
			airQuality("yokohama-aq-lobby", 590, 22.1, 48),
			{name: "yokohama-aq-spa", typ: "air-quality", values: map[string]float64{"co2_ppm": 710, "temperature_c": 26.4, "humidity_pct": 67}, offline: true},
			chillerNow("yokohama-chiller-1", 48, 25.9),
		}},
		{"kyoto", "Sakura Kyoto Conference Center", []seedDevice{
			airQuality("kyoto-aq-foyer", 520, 21.9, 42),
			airQuality("kyoto-aq-hall-a", 760, 22.5, 44),
			airQuality("kyoto-aq-hall-b", 930, 23, 47),
			chillerNow("kyoto-chiller-1", 55, 28.4),
		}},
	}
	must := func(what string, st, want int) {
		t.Helper()
		if st != want {
			t.Fatalf("%s: status %d, want %d", what, st, want)
		}
	}
	must("create the customer", h.adminCall("POST", "/api/v1/customers", map[string]string{"name": customer, "display_name": "Sakura Hotels"}, nil), http.StatusCreated)
	must("define the chiller type", h.adminCall("PUT", "/api/v1/device-types/chiller", json.RawMessage(chillerType), nil), http.StatusCreated)
	must("create the facility manager", h.adminCall("POST", "/api/v1/users", map[string]string{"email": email, "role": "customer", "customer": customer, "password": password}, nil), http.StatusCreated)
	issued := map[string]issuedDevice{}
	for _, s := range sites {
		must("create site "+s.name, h.adminCall("POST", "/api/v1/customers/"+customer+"/sites", map[string]string{"name": s.name, "display_name": s.title}, nil), http.StatusCreated)
		for _, d := range s.devices {
			var iss issuedDevice
			must("create device "+d.name, h.adminCall("POST", "/api/v1/devices", map[string]string{"name": d.name, "customer": customer, "site": s.name, "type": d.typ}, &iss), http.StatusCreated)
			issued[d.name] = iss
		}
	}

	// A day of one-minute history of the pictured chiller, searchable at
	// once; then every device connects and reports what it measures now.
	const pictured = "shinjuku-chiller-1"
	now := time.Now().Truncate(time.Minute)
	db := h.srv.TSDBForTest()
	var pts []tsdb.Point
	for i := 24 * 60; i > 0; i-- {
		at := now.Add(-time.Duration(i) * time.Minute)
		for m, v := range chillerDay(at) {
			pts = append(pts, tsdb.Point{Metric: m, Timestamp: at.UnixMilli(), Value: v})
		}
	}
	if err := db.Append(pictured, customer, "shinjuku", pts); err != nil {
		t.Fatal(err)
	}
	db.Flush()
	for _, s := range sites {
		for _, d := range s.devices {
			c, _, err := h.v3(d.name, issued[d.name], true, "")
			if err != nil {
				t.Fatalf("connect %s: %v", d.name, err)
			}
			values := d.values
			if d.name == pictured {
				values = chillerDay(now)
			}
			payload, err := json.Marshal(values)
			if err != nil {
				t.Fatal(err)
			}
			publishV3(t, c, "hearth/things/"+d.name+"/telemetry", string(payload))
			if d.typ == "chiller" {
				publishV3(t, c, "$aws/things/"+d.name+"/shadow/update", `{"state": {"reported": {"chw_setpoint": 7, "hw_setpoint": 55, "mode": "cooling"}}}`)
			}
			if d.offline {
				c.Disconnect(250)
			}
		}
	}

	type css = chromedp.CSS
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	shot := func(what string) []byte {
		t.Helper()
		img, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
		return img
	}
	chart := url.Values{"range": {"24h"}, "metrics": {"chw_supply_c,chw_return_c,outside_temp_c,load_pct"}}
	step("sign in and lower the chilled water set-point",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(h.https+"/login"),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), email),
		chromedp.SendKeys(css(`#password`), password),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`article.site h2 a`)),
		chromedp.Navigate(h.https+"/devices/"+pictured),
		chromedp.WaitVisible(css(`input[name="s.chw_setpoint"]`)),
		chromedp.SetValue(css(`input[name="s.chw_setpoint"]`), "6.5"),
		chromedp.Click(css(`form.settings button[type=submit]`)),
		chromedp.WaitVisible(css(`#settings .notice`)),
	)
	step("open the overview",
		chromedp.Navigate(h.https+"/"),
		chromedp.WaitVisible(css(`article.site h2 a`)),
	)
	cards, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('article.site').length`))
	if err != nil {
		t.Fatal(err)
	}
	overview := shot("overview")
	step("open the chiller's page",
		chromedp.EmulateViewport(1280, 1000),
		chromedp.Navigate(h.https+"/devices/"+pictured+"?"+chart.Encode()),
		chromedp.WaitVisible(css(`.chart canvas`)),
	)
	points, err := chromedp.Run(ctx, chromedp.Poll[int](`Number(document.querySelector('.chart').dataset.points || 0) || false`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("browser: chart data: %v", err)
	}
	// The chart panel at the top, as after scrolling past the live values.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.scrollTo(0, document.querySelector('.chart-panel').getBoundingClientRect().top + window.scrollY - 16), true)`)); err != nil {
		t.Fatalf("browser: scroll to the chart: %v", err)
	}
	device := shot("device page")

	// The customer's default site has no devices and its own card.
	if cards != len(sites)+1 {
		t.Errorf("the overview shows %d site cards, want %d", cards, len(sites)+1)
	}
	if points < 4*1000 {
		t.Errorf("the chart draws %d points, want a day of four metrics", points)
	}
	for _, p := range []struct {
		name   string
		img    []byte
		width  int
		height int
	}{
		{"dashboard.png", overview, 1280, 800},
		{"device.png", device, 1280, 1000},
	} {
		cfg, err := png.DecodeConfig(bytes.NewReader(p.img))
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if cfg.Width != p.width || cfg.Height != p.height || len(p.img) > maxScreenshotBytes {
			t.Errorf("%s: %d×%d, %d bytes; want %d×%d and at most %d bytes", p.name, cfg.Width, cfg.Height, len(p.img), p.width, p.height, maxScreenshotBytes)
			continue
		}
		path := filepath.Join("..", "docs", p.name)
		if err := os.WriteFile(path, p.img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d bytes", path, len(p.img))
	}
}

// chillerDay is what an absorption chiller-heater on a warm day reports at
// a time: the load follows the afternoon's heat, the chilled water return
// follows the load.
func chillerDay(at time.Time) map[string]float64 {
	tokyo := time.FixedZone("JST", 9*60*60)
	hour := float64(at.In(tokyo).Hour()) + float64(at.Minute())/60
	minute := float64(at.Unix() / 60)
	wobble := 0.3*math.Sin(minute/7) + 0.2*math.Sin(minute/3.1)
	outside := 24 + 5*math.Cos((hour-15)*math.Pi/12) + 0.3*math.Sin(minute/11)
	load := math.Max(15, 20+4.5*(outside-20)+2.5*math.Sin(minute/23)+1.5*math.Sin(minute/7.3))
	round := func(v float64) float64 { return math.Round(v*10) / 10 }
	return map[string]float64{
		"chw_supply_c":   round(7 + 0.25*wobble),
		"chw_return_c":   round(7 + 0.075*load + wobble),
		"hw_supply_c":    round(55 + wobble),
		"hw_return_c":    round(50 + wobble),
		"load_pct":       round(load),
		"gas_m3h":        round(0.3 * load),
		"outside_temp_c": round(outside),
		"chw_setpoint_c": 7,
	}
}
