package ui_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// TestJobInBrowser: in a real browser, an operator goes from the
// navigation to the form of a new job, is refused a document that is no
// object with what was typed kept, creates the job, and follows it: the
// progress bar is drawn in the stylesheet's colours, each part as wide as
// its share, its legend in words; on a phone the page does not scroll
// sideways; the cancel form, forced and with a reason, ends it.
func TestJobInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addDevices("acme-chiller-2")
	step, js := signedInBrowser(t, e, opUser)
	type css = chromedp.CSS
	step("open the form of a new job",
		chromedp.Click(css(`nav a[href="/admin/jobs"]`)),
		chromedp.WaitVisible(css(`a[href="/admin/jobs/new"]`)),
		chromedp.Click(css(`a[href="/admin/jobs/new"]`)),
		chromedp.WaitVisible(css(`#job-id`)),
	)
	step("send a document that is no object",
		chromedp.SendKeys(css(`#job-id`), "fw-2"),
		chromedp.SendKeys(css(`#job-description`), "Firmware 2"),
		chromedp.SendKeys(css(`#job-devices`), "acme-chiller-1, acme-chiller-2"),
		chromedp.SendKeys(css(`#job-document`), `[1, 2]`),
		chromedp.SendKeys(css(`#job-rate`), "1"),
		chromedp.Click(css(`form.job-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#form-error`)),
	)
	refused := js("the refusal", `document.querySelector('#form-error').innerText`)
	kept := js("what was kept", `[document.querySelector('#job-id').value, document.querySelector('#job-devices').value,
		document.querySelector('#job-rate').value, document.querySelector('#job-document').getAttribute('aria-invalid')].join('|')`)
	if refused != "Not created: document: a JSON object is expected" || kept != "fw-2|acme-chiller-1, acme-chiller-2|1|true" {
		t.Fatalf("the refused form says %q and keeps %q", refused, kept)
	}
	step("create the job",
		chromedp.SetValue(css(`#job-document`), `{"operation": "update-agent", "version": "2.0.0"}`),
		chromedp.Click(css(`form.job-form button[type=submit]`)),
		chromedp.WaitVisible(css(`p.notice`)),
	)
	if path := js("the page", `location.pathname`); path != "/jobs/fw-2" {
		t.Fatalf("after create the browser is at %s", path)
	}

	// One a minute: one device is sent it and succeeds, the other waits.
	e.jobs.RunDue()
	e.deviceJob("acme-chiller-1", "fw-2", protocol.JobsStartNext, `{}`, "IN_PROGRESS")
	e.deviceJob("acme-chiller-1", "fw-2", protocol.JobsUpdate, `{"status":"SUCCEEDED"}`, "SUCCEEDED")
	step("follow it", chromedp.Reload(), chromedp.WaitVisible(css(`#progress .job-bar rect`)))
	bar := `document.querySelector('#progress .job-bar')`
	part := func(status string) string {
		return `document.querySelector('#progress rect[data-status="` + status + `"]')`
	}
	share := js("the succeeded part's share", `String(Math.round(100 * `+part("SUCCEEDED")+`.getBoundingClientRect().width / `+bar+`.clientWidth))`)
	done := js("the succeeded part's colour", `getComputedStyle(`+part("SUCCEEDED")+`).fill`)
	waiting := js("the waiting part's colour", `getComputedStyle(`+part("WAITING")+`).fill`)
	swatch := js("the succeeded swatch", `getComputedStyle(document.querySelector('#progress li[data-status="SUCCEEDED"] .swatch')).backgroundColor`)
	words := js("the legend", `document.querySelector('#progress .job-legend').innerText`)
	if n, _ := strconv.Atoi(share); n < 48 || n > 52 {
		t.Errorf("the succeeded part is %s %% of the bar, want 50", share)
	}
	if done == waiting || done == "rgb(0, 0, 0)" || done != swatch {
		t.Errorf("colours: succeeded %s (its swatch %s), waiting %s; want the stylesheet's, apart", done, swatch, waiting)
	}
	for _, w := range []string{"Devices: 2", "Succeeded 1 (50 %)", "Waiting 1 (50 %)"} {
		if !strings.Contains(words, w) {
			t.Errorf("the legend reads %q, lacking %q", words, w)
		}
	}
	step("a phone's width", chromedp.EmulateViewport(390, 800))
	if w := js("the page's width", `document.documentElement.scrollWidth + ' ' + document.documentElement.clientWidth`); w != "390 390" {
		t.Errorf("on a phone the job's page is %s (scroll, client) pixels wide", w)
	}
	step("back to a desktop's width", chromedp.EmulateViewport(1280, 900))

	step("cancel it, forced, with a reason",
		chromedp.Click(css(`#cancel input[name="force"]`)),
		chromedp.SendKeys(css(`#cancel-reason`), "wrong build"),
		chromedp.Click(css(`#cancel button[type=submit]`)),
		chromedp.WaitVisible(css(`p.notice`)),
	)
	status := js("the status", `document.querySelector('h1 .job-status').innerText`)
	reason := js("the reason", `document.querySelector('#job-reason').innerText`)
	if status != "Canceled" || reason != "wrong build" {
		t.Errorf("after cancel the page says %q, reason %q", status, reason)
	}
	if j, err := e.st.GetJob("fw-2"); err != nil || j.Status != store.JobCanceled || j.Reason != "wrong build" {
		t.Errorf("the job after cancel: %+v %v", j, err)
	}
}
