package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hearthiot/hearth/device"
)

// TestHistoryFitsInBrowser opens the history of a device that was sent
// the longest program, on a 1,366 px wide window, in a real browser: on
// the device page and on the operators' history page the table keeps to
// its container, with the day plan wrapped and not scrolled sideways,
// and so does the program's JSON once opened.
func TestHistoryFitsInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.reg.CreateDevice(device.DeviceSpec{Name: "acme-boiler-1", Customer: "acme", Site: "tokyo-tower", Type: "boiler"}); err != nil {
		t.Fatal(err)
	}
	op := e.signIn(opUser)
	prog := longProgram(48)
	if r := e.post(op, "/admin/devices/acme-boiler-1/shadow", url.Values{"update": {`{"state":{"desired":{"program":` + prog + `}}}`}}); r.status != http.StatusSeeOther {
		t.Fatalf("write the program: %d\n%s", r.status, r.body)
	}
	e.deviceUpdate("acme-boiler-1", `{"state":{"reported":{"program":`+prog+`}}}`)

	step, js := signedInBrowser(t, e, opUser)
	type css = chromedp.CSS
	step("a 1,366 px wide window", chromedp.EmulateViewport(1366, 900))
	// fits measures the history table against its scrolling container
	// and the page against the window: 0 when both fit, else the widest
	// overflow in whole pixels (a fraction is rounding, not overflow).
	const fits = `(() => {
		const t = document.querySelector('table.history');
		const box = t.closest('.table-scroll');
		return String(Math.floor(Math.max(0, box.scrollWidth - box.clientWidth, t.getBoundingClientRect().right - box.getBoundingClientRect().right,
			document.documentElement.scrollWidth - window.innerWidth)));
	})()`
	for _, page := range []string{"/devices/acme-boiler-1", "/admin/history"} {
		step("open "+page,
			chromedp.Navigate(e.srv.URL+page),
			chromedp.WaitVisible(css(`table.history details summary`)),
		)
		plan := js("the day plan", `document.querySelector('table.history td.what').innerText`)
		if !strings.Contains(plan, "Daily operating program: 00:00 Heating, Flow temperature set-point 40 °C") || !strings.Contains(plan, "23:30 Off") {
			t.Errorf("%s: the history's first change reads %q, want the day plan from 00:00 to 23:30", page, plan)
		}
		if over := js("the table's overflow", fits); over != "0" {
			t.Errorf("%s: the history table overflows its container by %s px on a 1,366 px window", page, over)
		}
		step("open the program's JSON on "+page,
			chromedp.Click(css(`table.history details summary`)),
			chromedp.WaitVisible(css(`table.history details pre`)),
		)
		if over := js("the table's overflow with the JSON open", fits); over != "0" {
			t.Errorf("%s: with the program's JSON open, the history table overflows its container by %s px", page, over)
		}
		if lines := js("the JSON's lines", `String(document.querySelector('table.history details pre').innerText.split('\n').length)`); lines == "1" {
			t.Errorf("%s: the program's JSON is one line; want it indented", page)
		}
	}
}
