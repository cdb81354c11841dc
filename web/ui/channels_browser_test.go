package ui_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestChannelSendTestInBrowser: in a real browser, a customer's admin
// goes from the alarms to their channels, creates a webhook to a real
// receiver through the form, reads its secret once, and presses Send
// test: the page says the receiver took it, and the receiver got a
// request signed with that secret.
func TestChannelSendTestInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seedAlarms(time.Now().Add(-time.Hour))
	rc := newReceiver(t, http.StatusAccepted)
	step, js := signedInBrowser(t, e, acmeAdmin)
	type css = chromedp.CSS
	step("open the channels from the alarms",
		chromedp.Click(css(`nav a[href="/alarms"]`)),
		chromedp.WaitVisible(css(`nav.toolbar a[href="/alarms/channels"]`)),
		chromedp.Click(css(`nav.toolbar a[href="/alarms/channels"]`)),
		chromedp.WaitVisible(css(`#new-channel`)),
	)
	step("create a webhook",
		chromedp.SendKeys(css(`#channel-name`), "ops-hook"),
		chromedp.SetValue(css(`#channel-kind`), "webhook"),
		chromedp.SendKeys(css(`#channel-url`), rc.URL+"/hearth"),
		chromedp.Click(css(`#new-channel button[type=submit]`)),
		chromedp.WaitVisible(css(`#channel-secret`)),
	)
	secret := js("the secret", `document.querySelector('#channel-secret').innerText`)
	stored, err := e.st.GetNotificationChannel("acme", "ops-hook")
	if err != nil || !strings.HasPrefix(secret, "whsec_") || stored.Secret != secret || stored.URL != rc.URL+"/hearth" {
		t.Fatalf("the page shows the secret %q; stored %+v %v", secret, stored, err)
	}
	// On a phone the secret wraps and the list scrolls within itself:
	// the page does not scroll sideways.
	step("a phone's width", chromedp.EmulateViewport(390, 800))
	if w := js("the page's width", `document.documentElement.scrollWidth + ' ' + document.documentElement.clientWidth`); w != "390 390" {
		t.Errorf("on a phone the page is %s (scroll, client) pixels wide", w)
	}
	step("back to a desktop's width", chromedp.EmulateViewport(1280, 900))

	step("send a test",
		chromedp.Click(css(`tr[data-channel="ops-hook"] button[data-action="test"]`)),
		chromedp.WaitVisible(css(`#test-result`)),
	)
	delivered := js("the outcome", `document.querySelector('#test-result [data-delivered]').dataset.delivered`)
	outcome := js("the outcome's words", `document.querySelector('#test-result [data-delivered]').innerText`)
	status := js("the receiver's status", `document.querySelector('#test-result table td').innerText`)
	onPage := js("the secret on the test's page", `String(document.body.innerText.includes(`+"`"+secret+"`"+`))`)
	if delivered != "true" || !strings.HasPrefix(outcome, "Delivered") || status != "202" || onPage != "false" {
		t.Errorf("after Send test: delivered %s (%q), status %q, secret on the page %s", delivered, outcome, status, onPage)
	}
	reqs := rc.requests()
	if len(reqs) != 1 || !reqs[0].signedBy(secret) {
		t.Errorf("the receiver got %d requests, signed with the secret shown: %v", len(reqs), len(reqs) == 1 && reqs[0].signedBy(secret))
	}
}
