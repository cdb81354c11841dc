package ui_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDeviceChartInBrowser opens a device's page in a real browser on a
// server with stored telemetry: CO2 and humidity are on axes of their
// own units, CO2's comfort bands and the set-point are drawn; picking metrics changes the
// chart's series at once and keeps the choice; a drag over the chart moves
// the From and To fields and the page URL to the range picked, and no
// range button is current until the zoom is reset.
func TestDeviceChartInBrowser(t *testing.T) {
	e, _ := chartEnv(t)
	e.report("acme-chiller-1", `{"chw_setpoint":7}`)
	step, js := signedInBrowser(t, e, acmeUser)
	type css = chromedp.CSS
	step("open the device",
		chromedp.Navigate(e.srv.URL+"/devices/acme-chiller-1"),
		chromedp.WaitVisible(css(`.chart canvas`)),
	)
	scales := func() map[string]string {
		t.Helper()
		var m map[string]string
		if err := json.Unmarshal([]byte(js("scales", `document.querySelector(".chart").dataset.scales || "{}"`)), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	s := scales()
	if s["CO2 (ppm)"] == "" || s["Humidity (%)"] == "" || s["CO2 (ppm)"] == s["Humidity (%)"] || s["Temperature (°C)"] == "" {
		t.Errorf("series and their scales %v; want CO2 and humidity on scales of their own", s)
	}
	if got := js("bands", `document.querySelector(".chart").dataset.bands`); got == "0" || got == "" {
		t.Errorf("%s comfort bands drawn, want CO2's", got)
	}
	if got := js("set-points", `document.querySelector(".chart").dataset.lines`); got != "1" {
		t.Errorf("%s set-point lines drawn, want the chilled water set-point on the °C axis", got)
	}
	if got := js("current range", `Array.from(document.querySelectorAll("[data-range][aria-current]")).map(a => a.dataset.range).join()`); got != "24h" {
		t.Errorf("current range buttons %q, want 24h", got)
	}

	// Temperature off, load on: load shares humidity's axis (both %).
	step("pick metrics",
		chromedp.Click(css(`input[name="metric"][value="temperature_c"]`)),
		chromedp.Click(css(`input[name="metric"][value="load_pct"]`)),
	)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s = scales()
		if _, ok := s["Temperature (°C)"]; !ok && s["Load (%)"] != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := s["Temperature (°C)"]; ok || s["Load (%)"] == "" || s["Load (%)"] != s["Humidity (%)"] {
		t.Errorf("after picking, series and scales %v; want load beside humidity, no temperature", s)
	}
	want := []string{"co2_ppm", "humidity_pct", "gas_m3h", "load_pct"}
	for {
		u, err := e.st.GetUser(acmeUser)
		if err == nil && slices.Equal(u.ChartMetrics["chiller"], want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kept choice %v (%v), want %v", u.ChartMetrics, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Drag across the middle of the plot.
	type box struct{ X, Y, W, H float64 }
	step("bring the chart into view", chromedp.ScrollIntoView(css(`.chart .u-over`)))
	var b box
	if err := json.Unmarshal([]byte(js("plot box",
		`(function () { var r = document.querySelector(".chart .u-over").getBoundingClientRect(); return JSON.stringify({X: r.left, Y: r.top, W: r.width, H: r.height}); })()`)), &b); err != nil {
		t.Fatal(err)
	}
	before := js("from field", `document.querySelector('input[name="from_local"]').value`)
	y, x0, x1 := b.Y+b.H/2, b.X+b.W/4, b.X+b.W/2
	step("drag over the chart",
		chromedp.MouseEvent(chromedp.MousePressed, x0, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(chromedp.MouseMoved, (x0+x1)/2, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, x1, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, x1, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
	var page *url.URL
	var err error
	for {
		page, err = url.Parse(js("page URL", `location.href`))
		if err != nil {
			t.Fatal(err)
		}
		if page.Query().Get("from") != "" || time.Now().After(deadline.Add(5*time.Second)) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fromMs, _ := strconv.ParseInt(page.Query().Get("from"), 10, 64)
	toMs, _ := strconv.ParseInt(page.Query().Get("to"), 10, 64)
	if fromMs == 0 || toMs <= fromMs || page.Query().Has("range") {
		t.Fatalf("page URL after the drag %s; want the dragged from and to, no range", page)
	}
	if span := time.Duration(toMs-fromMs) * time.Millisecond; span < 5*time.Hour || span > 7*time.Hour {
		t.Errorf("dragged a quarter of a day, the URL says %s", span)
	}
	wantFrom := time.UnixMilli(fromMs).UTC().Format("2006-01-02T15:04")
	wantTo := time.UnixMilli(toMs).UTC().Format("2006-01-02T15:04")
	gotFrom := js("from field", `document.querySelector('input[name="from_local"]').value`)
	gotTo := js("to field", `document.querySelector('input[name="to_local"]').value`)
	if gotFrom != wantFrom || gotTo != wantTo || gotFrom == before {
		t.Errorf("From and To after the drag %s and %s (before %s); want %s and %s", gotFrom, gotTo, before, wantFrom, wantTo)
	}
	if got := js("current range", `Array.from(document.querySelectorAll("[data-range][aria-current]")).map(a => a.dataset.range).join()`); got != "" {
		t.Errorf("range button %q is current after a drag", got)
	}
	kept := js("kept range", `Array.from(document.querySelectorAll("form[data-chart-metrics] [data-chart-keep]")).map(i => i.name + "=" + i.value).join("&")`)
	if want := "from=" + strconv.FormatInt(fromMs, 10) + "&to=" + strconv.FormatInt(toMs, 10); kept != want {
		t.Errorf("the picker keeps %q, want %q", kept, want)
	}

	step("reset the zoom", chromedp.Click(css(`[data-chart-reset]`)))
	for {
		got := js("current range", `Array.from(document.querySelectorAll("[data-range][aria-current]")).map(a => a.dataset.range).join()`)
		if got == "24h" {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("current range after reset %q, want 24h", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
