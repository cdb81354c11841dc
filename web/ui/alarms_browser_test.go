package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAlarmAcknowledgeInBrowser opens the alarms in a real browser with an
// active alarm: the navigation's badge counts it, the severity is coloured
// by the stylesheet, and the row's form acknowledges it with a comment,
// after which the badge is gone.
func TestAlarmAcknowledgeInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	acmeAlarm, _ := e.seedAlarms(time.Now().Add(-time.Hour))
	step, js := signedInBrowser(t, e, acmeUser)
	type css = chromedp.CSS
	row := `tr[data-alarm="` + acmeAlarm + `"]`
	step("open the alarms",
		chromedp.Click(css(`nav a[href="/alarms"]`)),
		chromedp.WaitVisible(css(row)),
	)
	navBadge := js("the badge", `(document.querySelector('nav a[href="/alarms"] .nav-badge') || {innerText: ""}).innerText`)
	navText := js("the link's text", `document.querySelector('nav a[href="/alarms"]').innerText`)
	badgeBg := js("the badge's colour", `getComputedStyle(document.querySelector('.nav-badge')).backgroundColor`)
	sevBg := js("the severity's colour", `getComputedStyle(document.querySelector('`+row+` .sev')).backgroundColor`)
	sevText := js("the severity's word", `document.querySelector('`+row+` .sev').innerText`)
	if navBadge != "1" || !strings.HasPrefix(navText, "Alarms") {
		t.Errorf("the navigation reads %q with the badge %q; want Alarms with 1", navText, navBadge)
	}
	if badgeBg == "rgba(0, 0, 0, 0)" || sevBg == "rgba(0, 0, 0, 0)" || sevText != "Major" {
		t.Errorf("the badge's background %s, the severity %q on %s; want them coloured", badgeBg, sevText, sevBg)
	}

	step("acknowledge with a comment",
		chromedp.SendKeys(css(row+` input[name="comment"]`), "looking at the valve"),
		chromedp.Click(css(row+` button[data-action="ack"]`)),
		chromedp.WaitVisible(css(`p.notice`)),
		chromedp.WaitVisible(css(row)),
	)
	notice := js("the notice", `document.querySelector('p.notice').innerText`)
	after := js("the badge after", `String(document.querySelector('.nav-badge') === null)`)
	ackButtons := js("the row's buttons", `String(document.querySelectorAll('`+row+` button[data-action="ack"]').length)`)
	if notice != "Acknowledged." || after != "true" || ackButtons != "0" {
		t.Errorf("after acknowledging: notice %q, no badge %s, %s Acknowledge buttons; want the notice, no badge, none", notice, after, ackButtons)
	}
	a := e.alarm(acmeAlarm)
	if !a.Acknowledged || a.AckedBy != "user:"+acmeUser || len(a.History) != 2 || a.History[1].Comment != "looking at the valve" {
		t.Errorf("the alarm after the browser acknowledged it: %+v", a)
	}
}
