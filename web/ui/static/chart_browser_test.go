package static_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearthiot/hearth/web/ui/static"
)

// The range of the test page: one day from 2023-11-14 22:13:20 UTC.
const (
	pageFrom int64 = 1700000000000
	pageTo   int64 = 1700086400000
)

var chartPage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chart test</title>
<script>
window.pageErrors = [];
addEventListener("error", function (e) { pageErrors.push(String(e.message)); });
addEventListener("unhandledrejection", function (e) { pageErrors.push(String(e.reason)); });
</script>
<link rel="stylesheet" href="{{.A.URL "vendor/uPlot.min.css"}}" integrity="{{.A.Integrity "vendor/uPlot.min.css"}}">
<link rel="stylesheet" href="{{.A.URL "app.css"}}" integrity="{{.A.Integrity "app.css"}}">
<script defer src="{{.A.URL "vendor/htmx.min.js"}}" integrity="{{.A.Integrity "vendor/htmx.min.js"}}"></script>
<script defer src="{{.A.URL "vendor/uPlot.iife.min.js"}}" integrity="{{.A.Integrity "vendor/uPlot.iife.min.js"}}"></script>
<script defer src="{{.A.URL "app.js"}}" integrity="{{.A.Integrity "app.js"}}"></script>
</head>
<body>
<main>
<section class="card chart-panel">
  <div class="toolbar">
    <a id="csv" class="button secondary" data-range-link href="/export.csv?device=boiler-1&amp;from={{.From}}&amp;to={{.To}}#rows">CSV</a>
    <button id="reset" type="button" data-chart-reset>Reset</button>
  </div>
  <div id="c1" class="chart" style="width: 600px" data-src="/series?metrics=co2,temperature&amp;from={{.From}}&amp;to={{.To}}" data-tz="Asia/Tokyo" data-lang="en"></div>
</section>
<section class="card chart-panel"><div id="c2" class="chart" data-src="/empty?from={{.From}}&amp;to={{.To}}" data-lang="ja"></div></section>
<section class="card chart-panel"><div id="c3" class="chart" data-src="/fail?from={{.From}}&amp;to={{.To}}"></div></section>
<div id="later" hx-get="/fragment" hx-trigger="load"></div>
</main>
</body>
</html>
`))

// seriesLog records the requests the charts make for series.
type seriesLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (l *seriesLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r)
}

func (l *seriesLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// waitFor returns the first logged request after the first skip ones that
// satisfies ok, or fails the test after a few seconds.
func (l *seriesLog) waitFor(t *testing.T, skip int, what string, ok func(*http.Request) bool) *http.Request {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, r := range l.reqs[skip:] {
			if ok(r) {
				l.mu.Unlock()
				return r
			}
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var seen []string
	for _, r := range l.reqs {
		seen = append(seen, r.URL.RequestURI())
	}
	t.Fatalf("no request %s; requests: %q", what, seen)
	return nil
}

func queryInt(r *http.Request, key string) int64 {
	n, _ := strconv.ParseInt(r.URL.Query().Get(key), 10, 64)
	return n
}

// seriesAnswer is what the series endpoint answers for the metrics asked
// for: CO2 every 10 minutes and temperature every 10 minutes offset by 5,
// so the chart must merge the timestamps, with one gap in the temperature.
func seriesAnswer(metrics string, from, to int64) map[string]any {
	var t1, t2 []int64
	var v1, v2 []any
	step := (to - from) / 144
	for i := int64(0); i < 144; i++ {
		t1 = append(t1, from+i*step)
		v1 = append(v1, 600+300*math.Sin(float64(i)/20))
		t2 = append(t2, from+i*step+step/2)
		if i == 70 {
			v2 = append(v2, nil)
		} else {
			v2 = append(v2, 21+2*math.Cos(float64(i)/30))
		}
	}
	all := []map[string]any{
		{"metric": "co2", "label": "CO2", "unit": "ppm", "t": t1, "v": v1},
		{"metric": "temperature", "label": "Temperature", "unit": "°C", "t": t2, "v": v2},
	}
	series := []map[string]any{}
	for _, s := range all {
		if slices.Contains(strings.Split(metrics, ","), s["metric"].(string)) {
			series = append(series, s)
		}
	}
	return map[string]any{"from": from, "to": to, "series": series}
}

func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HEARTH_REQUIRE_TOOLS") == "1" {
		t.Fatal("no Chromium on PATH and HEARTH_REQUIRE_TOOLS=1")
	}
	t.Skip("no Chromium on PATH: app.js is not tested in a browser (install chromium, or set HEARTH_REQUIRE_TOOLS=1 to make this a failure)")
	return ""
}

// TestChartsInBrowser loads a page with the real assets in headless
// Chromium: charts draw, say "no data" or the HTTP error, initialise in
// fragments htmx swaps in, and a drag zooms, moving the page URL and the
// range links along; the reset button goes back.
func TestChartsInBrowser(t *testing.T) {
	t.Parallel()
	chrome := browserPath(t)
	a := newAssets(t)

	var log seriesLog
	mux := http.NewServeMux()
	mux.Handle(static.Prefix, a.Handler())
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err := chartPage.Execute(w, map[string]any{"A": a, "From": pageFrom, "To": pageTo})
		if err != nil {
			t.Errorf("render page: %v", err)
		}
	})
	mux.HandleFunc("/fragment", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<section class="card chart-panel"><div id="c4" class="chart" data-src="/series?metrics=co2&amp;from=%d&amp;to=%d"></div></section>`, pageFrom, pageTo)
	})
	mux.HandleFunc("/series", func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(seriesAnswer(r.URL.Query().Get("metrics"), queryInt(r, "from"), queryInt(r, "to")))
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"from":%d,"to":%d,"series":[{"metric":"co2","label":"CO2","unit":"ppm","t":[],"v":[]}]}`, pageFrom, pageTo)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		http.Error(w, "telemetry engine stopped", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.WindowSize(1024, 1400))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)

	pageURL := fmt.Sprintf("%s/page?site=7&from=%d&to=%d", srv.URL, pageFrom, pageTo)
	err := chromedp.Do(bctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.CSS("#c1 canvas")),
		chromedp.WaitVisible(chromedp.CSS("#c4 canvas")),
	)
	if err != nil {
		t.Fatalf("load page: %v", err)
	}

	first := log.waitFor(t, 0, "from chart c1", func(r *http.Request) bool {
		return r.URL.Query().Get("metrics") == "co2,temperature"
	})
	if got, want := first.URL.RawQuery, fmt.Sprintf("metrics=co2,temperature&from=%d&to=%d&points=600", pageFrom, pageTo); got != want {
		t.Errorf("first request query %q, want %q", got, want)
	}
	if got := first.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept %q, want application/json", got)
	}

	messages := func(id string) string {
		return fmt.Sprintf(`(function () { var m = document.querySelector("#%s .chart-message"); return m && !m.hidden ? m.textContent : ""; })()`, id)
	}
	checks := []struct {
		name string
		expr string
	}{
		{"c2 says no data in Japanese", messages("c2") + ` === "データなし"`},
		{"c3 names the HTTP status", messages("c3") + `.indexOf("HTTP 503") >= 0`},
		{"c1 shows no message", messages("c1") + ` === ""`},
		{"c1 legend names both series", `document.querySelector("#c1 .u-legend").textContent.indexOf("CO2") >= 0 && document.querySelector("#c1 .u-legend").textContent.indexOf("Temperature") >= 0`},
		{"c1 has a second y axis for the second unit", `document.querySelectorAll("#c1 .u-axis").length === 3`},
		{"c4 has one y axis", `document.querySelectorAll("#c4 .u-axis").length === 2`},
		{"reset is disabled at the original range", `document.getElementById("reset").disabled`},
	}
	for _, c := range checks {
		if err := chromedp.Do(bctx, chromedp.Poll[chromedp.Void](c.expr, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	// Drag across the second quarter of the plot.
	box, err := chromedp.Run(bctx, chromedp.Evaluate[struct{ X, Y, W, H float64 }](
		`(function () { var r = document.querySelector("#c1 .u-over").getBoundingClientRect(); return {X: r.left, Y: r.top, W: r.width, H: r.height}; })()`))
	if err != nil {
		t.Fatalf("plot box: %v", err)
	}
	y := box.Y + box.H/2
	x0, x1 := box.X+box.W/4, box.X+box.W/2
	err = chromedp.Do(bctx,
		chromedp.MouseEvent(chromedp.MousePressed, x0, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(chromedp.MouseMoved, (x0+x1)/2, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, x1, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, x1, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
	if err != nil {
		t.Fatalf("drag: %v", err)
	}
	zoomed := log.waitFor(t, 0, "for the dragged range", func(r *http.Request) bool {
		return r.URL.Query().Get("metrics") == "co2,temperature" && queryInt(r, "from") != pageFrom
	})
	from, to := queryInt(zoomed, "from"), queryInt(zoomed, "to")
	span := float64(pageTo - pageFrom)
	if d := math.Abs(float64(from-pageFrom)/span - 0.25); d > 0.02 {
		t.Errorf("zoomed from %d is %.3f of the range off the quarter mark", from, d)
	}
	if d := math.Abs(float64(to-pageFrom)/span - 0.5); d > 0.02 {
		t.Errorf("zoomed to %d is %.3f of the range off the half mark", to, d)
	}
	if got := zoomed.URL.Query().Get("points"); got != "600" {
		t.Errorf("zoomed request points=%s, want 600", got)
	}

	wantPage := fmt.Sprintf("%s/page?site=7&from=%d&to=%d", srv.URL, from, to)
	wantLink := fmt.Sprintf("/export.csv?device=boiler-1&from=%d&to=%d#rows", from, to)
	for _, c := range []struct{ name, expr string }{
		{"page URL carries the zoomed range", fmt.Sprintf(`location.href === %q`, wantPage)},
		{"range link carries the zoomed range", fmt.Sprintf(`document.getElementById("csv").getAttribute("href") === %q`, wantLink)},
		{"reset is enabled", `!document.getElementById("reset").disabled`},
		{"c1 is drawn again", `!!document.querySelector("#c1 canvas") && !document.getElementById("c1").classList.contains("is-loading")`},
	} {
		if err := chromedp.Do(bctx, chromedp.Poll[chromedp.Void](c.expr, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
			href, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href + " " + document.getElementById("csv").getAttribute("href")`))
			t.Errorf("%s: %v (now %s)", c.name, err, href)
		}
	}

	before := log.len()
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#reset"))); err != nil {
		t.Fatalf("click reset: %v", err)
	}
	log.waitFor(t, before, "back at the original range", func(r *http.Request) bool {
		return queryInt(r, "from") == pageFrom && queryInt(r, "to") == pageTo
	})
	for _, c := range []struct{ name, expr string }{
		{"page URL is back", fmt.Sprintf(`location.href === %q`, pageURL)},
		{"range link is back", fmt.Sprintf(`document.getElementById("csv").getAttribute("href") === %q`, fmt.Sprintf("/export.csv?device=boiler-1&from=%d&to=%d#rows", pageFrom, pageTo))},
		{"reset is disabled again", `document.getElementById("reset").disabled`},
	} {
		if err := chromedp.Do(bctx, chromedp.Poll[chromedp.Void](c.expr, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	errs, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`window.pageErrors`))
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Errorf("script errors on the page: %s", strings.Join(errs, "; "))
	}
}
