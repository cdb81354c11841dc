package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestLivePagesInBrowser: in a real browser, a new reading shows on the
// overview and on the device's page without a reload, "updated N s ago"
// counts up, and stopping the server shows that the connection is lost.
func TestLivePagesInBrowser(t *testing.T) {
	l := newLiveEnv(t)
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 7.25)
	step, js := signedInBrowser(t, l.env, acmeUser)
	type css = chromedp.CSS
	// waitFor evaluates expr every 200 ms until it is "true", at most d.
	waitFor := func(what, expr string, d time.Duration) {
		t.Helper()
		for range int(d / (200 * time.Millisecond)) {
			if js(what, "String(Boolean("+expr+"))") == "true" {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("browser: %s: not so after %v; the live part reads %q, its status %q", what, d,
			js("the live part", `document.querySelector("[data-live]").textContent`),
			js("the status", `document.querySelector("[data-live-status]").textContent`))
	}
	const live = `document.querySelector("[data-live]").textContent`
	const ago = `document.querySelector("[data-live-ago]").textContent`
	for _, page := range []struct{ path, before, after string }{
		{"/", "7.3", "8.8"},
		{"/devices/acme-chiller-1", "8.75", "9.5"}, // the overview's reading
	} {
		step("open "+page.path,
			chromedp.Navigate(l.srv.URL+page.path),
			chromedp.WaitVisible(css(`[data-live]`)),
		)
		js("mark the page", `window.liveMark = "kept"`)
		waitFor("the stream is open", ago+`.startsWith("Updated")`, 10*time.Second)
		if got := js("the live part", live); !strings.Contains(got, page.before) {
			t.Errorf("%s shows %q; want %s", page.path, got, page.before)
		}
		value := map[string]float64{"8.8": 8.75, "9.5": 9.5}[page.after]
		l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", value)
		waitFor("the new reading shows on "+page.path, live+`.includes("`+page.after+`")`, 15*time.Second)
		if mark := js("the page's mark", `String(window.liveMark)`); mark != "kept" {
			t.Errorf("%s was reloaded to show the new reading; want it updated in place", page.path)
		}
	}
	waitFor(`"updated N s ago" counts`, `/Updated [1-9]/.test(`+ago+`)`, 5*time.Second)
	if lost := js("the banner", `String(document.querySelector("[data-live-lost]").hidden)`); lost != "true" {
		t.Errorf("the connection-lost banner is shown while connected")
	}

	l.pages.Close()
	l.srv.Close()
	waitFor("the connection-lost banner shows", `!document.querySelector("[data-live-lost]").hidden`, 15*time.Second)
	if got := js("the banner's text", `document.querySelector("[data-live-lost]").textContent`); !strings.Contains(got, "Connection lost") {
		t.Errorf("the banner reads %q; want it to say the connection is lost", got)
	}
}
