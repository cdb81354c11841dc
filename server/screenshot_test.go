package server_test

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
)

// maxScreenshotBytes keeps the README's pictures light.
const maxScreenshotBytes = 300 << 10

// TestDashboardScreenshot draws the README's pictures in a real browser
// from a real server running the demo (serve --demo): a facility
// manager's overview of the demo customer's four sites
// (docs/dashboard.png, 1280×800) and an office chiller's page with the
// week its program ran (docs/device.png, 1280×1000, scrolled to the
// chart). It runs only when asked to:
//
//	HEARTH_SCREENSHOT=1 go test ./server -run TestDashboardScreenshot
func TestDashboardScreenshot(t *testing.T) {
	if os.Getenv("HEARTH_SCREENSHOT") == "" {
		t.Skip("set HEARTH_SCREENSHOT=1 to write docs/dashboard.png and docs/device.png")
	}
	// The pictures were asked for: a missing browser is a failure.
	t.Setenv("HEARTH_REQUIRE_TOOLS", "1")
	ctx := browser(t)
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Web.TimeZone = "Asia/Tokyo"
		c.Demo.Enabled = true
		c.Demo.Interval = 2 * time.Second
	})
	const email, password = "fm@sakura-facilities.example", "plum blossom in spring"
	if st := h.adminCall("POST", "/api/v1/users", map[string]string{"email": email, "role": "customer", "customer": "demo", "password": password}, nil); st != http.StatusCreated {
		t.Fatalf("create the facility manager: status %d", st)
	}
	op := h.token(store.RoleOperator, "")
	const pictured = "marunouchi-office-chiller"
	eventually(t, "every demo device online with readings and the chiller's week", func() bool {
		var page struct{ Devices []json.RawMessage }
		if h.apiCall(op, "GET", "/api/v1/devices?customer=demo&online=true", nil, &page) != http.StatusOK || len(page.Devices) != 16 {
			return false
		}
		_, s := h.promQuery(op, `count_over_time(chw_supply_c{device="`+pictured+`"}[8d])`)
		return len(s) == 1 && s[0].Value >= 10000
	})

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
	// The demo's chillers heat from November to April and cool otherwise.
	metrics := "chw_supply_c,chw_return_c,outside_temp_c,load_pct"
	if m := time.Now().Month(); m <= time.April || m >= time.November {
		metrics = "hw_supply_c,hw_return_c,outside_temp_c,load_pct"
	}
	chart := url.Values{"range": {"7d"}, "metrics": {metrics}}
	step("sign in and lower the chilled water set-point",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(h.https+"/login"),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), email),
		chromedp.SendKeys(css(`#password`), password),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`article.site h2 a`)),
		chromedp.Navigate(h.https+"/devices/"+pictured),
		chromedp.WaitVisible(css(`input[name="s.chw_setpoint_c"]`)),
		chromedp.SetValue(css(`input[name="s.chw_setpoint_c"]`), "6.5"),
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

	if cards != 4 {
		t.Errorf("the overview shows %d site cards, want the demo's 4", cards)
	}
	if points < 4*1000 {
		t.Errorf("the chart draws %d points, want a week of four metrics", points)
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
