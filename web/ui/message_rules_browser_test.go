package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestMessageRuleInBrowser: in a real browser, an operator goes from the
// navigation to the form of a new message rule; the form shows the fields
// of the way the rule is written and of each action's kind only. A dry
// run through htmx, without leaving the page, is refused next to the bad
// line of the fields with everything typed kept, then shows what the
// rule would do; the rule is saved, and its page tries it again in place.
// On a phone the page does not scroll sideways.
func TestMessageRuleInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	step, js := signedInBrowser(t, e, opUser)
	type css = chromedp.CSS
	shown := func(sel string) string {
		return js("whether "+sel+" shows", `String(document.querySelector('`+sel+`').offsetParent !== null)`)
	}
	step("open the form of a new rule",
		chromedp.Click(css(`nav a[href="/admin/message-rules"]`)),
		chromedp.WaitVisible(css(`a[href="/admin/message-rules/new"]`)),
		chromedp.Click(css(`a[href="/admin/message-rules/new"]`)),
		chromedp.WaitVisible(css(`#mrule-name`)),
	)
	if sql, topic, a0 := shown("#mrule-sql"), shown("#mrule-topic"), shown("#mrule-a0-topic"); sql != "true" || topic != "false" || a0 != "false" {
		t.Errorf("a new form shows SQL %s, the topic %s, an action's topic %s; want SQL only", sql, topic, a0)
	}
	step("write it as parts, republishing",
		chromedp.Click(css(`#mrule-mode-parts`)),
		chromedp.SendKeys(css(`#mrule-name`), "Gateway temps"),
		chromedp.SetValue(css(`#mrule-customer`), "acme"),
		chromedp.SendKeys(css(`#mrule-topic`), "dt/+/+/data"),
		chromedp.SetValue(css(`#mrule-select`), "temp_c = temperature\nbad = temp +* 2"),
		chromedp.SetValue(css(`#mrule-a0-kind`), "republish"),
	)
	if sql, topic, a0, code := shown("#mrule-sql"), shown("#mrule-topic"), shown("#mrule-a0-topic"), shown("#mrule-a0-code"); sql != "false" || topic != "true" || a0 != "true" || code != "false" {
		t.Errorf("written as parts, republishing: SQL %s, the topic %s, the action's topic %s, its event code %s", sql, topic, a0, code)
	}
	step("try it with a bad line",
		chromedp.SendKeys(css(`#mrule-a0-topic`), "out/${device}"),
		chromedp.SendKeys(css(`#try-device`), "acme-chiller-1"),
		chromedp.SendKeys(css(`#try-topic`), "dt/tokyo/acme-chiller-1/data"),
		chromedp.SetValue(css(`#try-payload`), `{"temperature": 7.5, "x": 1}`),
	)
	// A mark that a load of another page would lose, and a count of the
	// parts htmx swapped in and made live.
	js("mark the page", `window.samePage = true; window.settled = 0;
		document.addEventListener('htmx:afterSettle', () => window.settled++); "marked"`)
	settled := chromedp.Poll[chromedp.Void](`window.settled > 0`, chromedp.WithPollingTimeout(10*time.Second))
	step("send it",
		chromedp.Click(css(`button[name="try"]`)),
		settled,
		chromedp.WaitVisible(css(`#mrule-select-error`)),
	)
	says := js("the refusal", `document.querySelector('#mrule-select-error').innerText`)
	kept := js("what was kept", `[document.querySelector('#mrule-select').value, document.querySelector('#mrule-select').getAttribute('aria-invalid'),
		document.querySelector('#mrule-a0-topic').value, document.querySelector('#try-payload').value, String(window.samePage), location.pathname].join('|')`)
	if !strings.HasPrefix(says, "Line 2: unexpected token") ||
		kept != "temp_c = temperature\nbad = temp +* 2|true|out/${device}|"+`{"temperature": 7.5, "x": 1}`+"|true|/admin/message-rules/new" {
		t.Fatalf("the refused dry run says %q and keeps %q", says, kept)
	}
	js("count again", `window.settled = 0; "reset"`)
	step("try it again",
		chromedp.SetValue(css(`#mrule-select`), "temp_c = temperature"),
		chromedp.Click(css(`button[name="try"]`)),
		settled,
		chromedp.WaitVisible(css(`#try-result`)),
	)
	result := js("the dry run", `document.querySelector('#try-result').innerText`)
	matched := js("matched", `document.querySelector('#try-result').dataset.matched + '|' + String(window.samePage)`)
	for _, w := range []string{"The rule takes this message.", "acme-chiller-1", "temp_c", "7.5", `"device": "acme-chiller-1"`, "out/acme-chiller-1"} {
		if !strings.Contains(result, w) {
			t.Errorf("the dry run reads %q, lacking %q", result, w)
		}
	}
	if matched != "true|true" || strings.Contains(result, `"x"`) {
		t.Errorf("the dry run: matched and same page %s; reads %q", matched, result)
	}
	step("save it",
		chromedp.Click(css(`form.mrule-form p.toolbar button[type=submit]`)),
		chromedp.WaitVisible(css(`p.notice`)),
	)
	if path := js("the page", `location.pathname`); !strings.HasPrefix(path, "/message-rules/mrule-") {
		t.Fatalf("after save the browser is at %s", path)
	}
	js("mark the page", `window.samePage = true; "marked"`)
	step("try the stored rule on its page",
		chromedp.SendKeys(css(`#try-device`), "acme-chiller-1"),
		chromedp.SendKeys(css(`#try-topic`), "dt/tokyo/acme-chiller-1/data"),
		chromedp.SetValue(css(`#try-payload`), `{"temperature": 9}`),
		chromedp.Click(css(`form.mrule-try-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#try-result`)),
	)
	if got := js("the stored rule's dry run", `document.querySelector('#try-result').dataset.matched + '|' + String(window.samePage) + '|' +
		document.querySelector('#try-device').value`); got != "true|true|acme-chiller-1" {
		t.Errorf("the stored rule's dry run: %s", got)
	}
	step("a phone's width", chromedp.EmulateViewport(390, 800))
	if w := js("the page's width", `document.documentElement.scrollWidth + ' ' + document.documentElement.clientWidth`); w != "390 390" {
		t.Errorf("on a phone the rule's page is %s (scroll, client) pixels wide", w)
	}
}
