package ui_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a headless browser, or skips the test; with
// HEARTH_REQUIRE_TOOLS set (as CI does) a missing browser fails it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
		t.Fatal("no chromium on PATH and HEARTH_REQUIRE_TOOLS is set: apt-get install chromium")
	}
	t.Skip("no chromium on PATH: the browser test is skipped (apt-get install chromium, or set HEARTH_REQUIRE_TOOLS=1 to make this a failure)")
	return ""
}

// TestCalendarYearInBrowser loads a calendar's year in a real browser: a
// holiday's cell carries its name on hover, is coloured as its day type
// by the stylesheet, and a tap opens a popover that names it.
func TestCalendarYearInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	step, js := signedInBrowser(t, e, acmeUser)
	type css = chromedp.CSS
	const cell = `td[data-date="2026-11-23"]`
	step("open the calendar's year",
		chromedp.Navigate(e.srv.URL+"/calendars/acme-office?year=2026"),
		chromedp.WaitVisible(css(cell)),
	)
	cellOf := func(date string) string { return `document.querySelector('td[data-date="` + date + `"]')` }
	class := js("the holiday's class", cellOf("2026-11-23")+`.className`)
	title := js("the holiday's title", cellOf("2026-11-23")+`.title`)
	holidayBg := js("the holiday's colour", `getComputedStyle(`+cellOf("2026-11-23")+`).backgroundColor`)
	saturdayBg := js("a Saturday's colour", `getComputedStyle(`+cellOf("2026-11-28")+`).backgroundColor`)
	weekdayBg := js("a weekday's colour", `getComputedStyle(`+cellOf("2026-11-24")+`).backgroundColor`)
	step("tap the holiday",
		chromedp.Click(css(cell+` button`)),
		chromedp.WaitVisible(css(`#day-2026-11-23`)),
	)
	open := js("the popover", `String(document.getElementById("day-2026-11-23").matches(":popover-open"))`) == "true"
	popover := js("the popover's text", `document.getElementById("day-2026-11-23").innerText`)
	if !strings.Contains(" "+class+" ", " dt-1 ") || !strings.Contains(class, "src-holiday") {
		t.Errorf("the holiday's cell has class %q; want the closed day type's colour dt-1 and the holiday's mark", class)
	}
	if !strings.Contains(title, "勤労感謝の日") || !strings.Contains(title, "Closed") {
		t.Errorf("the holiday's cell has title %q; want its name and day type", title)
	}
	if holidayBg != saturdayBg || holidayBg == weekdayBg || holidayBg == "rgba(0, 0, 0, 0)" {
		t.Errorf("backgrounds: holiday %s, a closed Saturday %s, a weekday %s; want the holiday coloured as the closed days", holidayBg, saturdayBg, weekdayBg)
	}
	if !open || !strings.Contains(popover, "勤労感謝の日") || !strings.Contains(popover, "Public holiday") {
		t.Errorf("after a tap the popover is open %v and reads %q; want the holiday's name", open, popover)
	}
}

// signedInBrowser opens headless Chromium, 1280×900 in English, signs in
// to e's pages as email and returns step (run actions; the test fails
// naming what) and js (an expression's value as a string).
func signedInBrowser(t *testing.T, e *env, email string) (func(string, ...chromedp.Action[chromedp.Void]), func(string, string) string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "en-US"),
	)
	ctx := startChromium(t, opts)
	ctx, cancelTimeout := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancelTimeout)
	type css = chromedp.CSS
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	js := func(what, expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
		return v
	}
	step("sign in",
		chromedp.Navigate(e.srv.URL+"/login"),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), email),
		chromedp.SendKeys(css(`#password`), password),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`nav[aria-label="main"]`)),
	)
	return step, js
}

// startChromium starts a browser with opts and returns its context, ended
// when the test is. Chromium now and then exits before it listens when
// other browsers start at the same moment (the suite runs packages side by
// side); such a start is tried again, at most three times in all, and said
// in the test's log.
func startChromium(t *testing.T, opts []chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	for attempt := 1; ; attempt++ {
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(actx)
		err := chromedp.Do(ctx) // no steps: starts the browser
		if err == nil {
			t.Cleanup(func() { cancelCtx(); cancelAlloc() })
			return ctx
		}
		cancelCtx()
		cancelAlloc()
		if attempt == 3 || !strings.Contains(err.Error(), "chrome failed to start") {
			t.Fatalf("start chromium (attempt %d): %v", attempt, err)
		}
		first, _, _ := strings.Cut(err.Error(), "\n")
		t.Logf("chromium did not start (attempt %d: %s); trying again", attempt, first)
		time.Sleep(time.Second)
	}
}
