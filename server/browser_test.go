package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/auth/oidctest"
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
	t.Skip("no chromium on PATH: the browser tests are skipped (apt-get install chromium, or set HEARTH_REQUIRE_TOOLS=1 to make this a failure)")
	return ""
}

// browser starts a headless Chromium for the test. Hearth's certificate
// comes from its own CA, which the browser does not know.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900),
	)
	// Chromium now and then exits before it listens when other browsers
	// start at the same moment (the suite runs packages side by side): such
	// a start is tried again, at most three times in all.
	for attempt := 1; ; attempt++ {
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(actx)
		err := chromedp.Do(ctx) // no steps: starts the browser
		if err == nil {
			ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
			t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
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

// freeAddr is a loopback address nothing listens on, for a server whose
// public URL must be known before it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestBrowserCustomerJourney follows a facility manager in a real browser
// against the real server and a real OpenID provider: sign in through the
// provider, see the overview, open a device, see a chart drawn from stored
// telemetry, change a set-point, see the shadow's desired state and the
// history naming them, and sign out.
func TestBrowserCustomerJourney(t *testing.T) {
	ctx := browser(t)
	alice := oidctest.DefaultUser()
	alice.Email = "fm@acme.example"
	provider := oidctest.Start(t, alice)
	addr := freeAddr(t)
	public := "https://" + addr
	clientID, secret := provider.RegisterClient(public+"/login/sso/acme-sso/callback", public+"/login")
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.HTTP.Addr = addr
		c.Web.PublicURL = public
		c.Web.TimeZone = "Asia/Tokyo"
		c.Web.SSO = server.SSOConfig{Name: "acme-sso", Issuer: provider.Issuer(), ClientID: clientID, ClientSecret: secret, GroupsClaim: "groups"}
	})

	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addTypedDevice(op, "chiller-1", "acme", "chiller")
	// The built-in chiller, replaced by one of a single setting.
	chiller := map[string]any{"settings": []map[string]any{
		{"key": "chw_setpoint", "type": "number", "unit": "°C", "minimum": 5, "maximum": 12, "step": 0.5, "customer_editable": true},
	}}
	if st := h.apiCall(op, "PUT", "/api/v1/device-types/chiller", chiller, nil); st != http.StatusOK {
		t.Fatalf("define the device type: %d", st)
	}
	if st := h.adminCall("POST", "/api/v1/users", map[string]string{"email": alice.Email, "role": "customer", "customer": "acme"}, nil); st != http.StatusCreated {
		t.Fatalf("create the customer's user: %d", st)
	}

	// Half an hour of readings, back-filled over MQTT as a device does.
	c, _, err := h.v3("chiller-1", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var entries []string
	for i := 30; i > 0; i-- {
		entries = append(entries, fmt.Sprintf(`{"ts": %d, "values": {"co2_ppm": %d, "chw_supply_c": %.1f}}`,
			now.Add(-time.Duration(i)*time.Minute).UnixMilli(), 600+10*i, 6.5+float64(i%5)/10))
	}
	publishV3(t, c, "hearth/things/chiller-1/telemetry", "["+strings.Join(entries, ",")+"]")
	eventually(t, "the readings to be searchable", func() bool {
		var res struct {
			Points []any `json:"points"`
		}
		st := h.apiCall(op, "GET", fmt.Sprintf("/api/v1/devices/chiller-1/telemetry?metric=co2_ppm&from=%d", now.Add(-time.Hour).UnixMilli()), nil, &res)
		return st == http.StatusOK && len(res.Points) >= 20
	})

	type css = chromedp.CSS
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	read := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
		return v
	}
	step("sign in through the provider",
		chromedp.Navigate(public+"/"),
		chromedp.WaitVisible(css(`a.sso`)),
		chromedp.Click(css(`a.sso`)),
		chromedp.WaitVisible(css(oidctest.UsernameSelector)),
		chromedp.SendKeys(css(oidctest.UsernameSelector), alice.Username),
		chromedp.SendKeys(css(oidctest.PasswordSelector), alice.Password),
		chromedp.Click(css(oidctest.SubmitSelector)),
		chromedp.WaitVisible(css(`article.site h2 a`)),
	)
	location := read("where the browser is", chromedp.Location())
	step("open the site and the device",
		chromedp.Click(css(`article.site h2 a`)),
		chromedp.WaitVisible(css(`a[href="/devices/chiller-1"]`)),
		chromedp.Click(css(`a[href="/devices/chiller-1"]`)),
		chromedp.WaitVisible(css(`.chart canvas`)),
	)
	chartPoints, err := chromedp.Run(ctx, chromedp.Poll[int](`Number(document.querySelector('.chart').dataset.points || 0) || false`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("browser: chart data: %v", err)
	}
	legend := read("chart legend", chromedp.Text(css(`.chart`)))
	step("change the set-point",
		chromedp.SetValue(css(`input[name="s.chw_setpoint"]`), "8.5"),
		chromedp.Click(css(`form.settings button[type=submit]`)),
		chromedp.WaitVisible(css(`#settings .notice`)),
	)
	notice := read("notice", chromedp.Text(css(`#settings .notice`)))
	who := read("history", chromedp.Text(css(`table.history td.who`)))
	if location != public+"/" {
		t.Errorf("after sign-in the browser is at %s, want the overview", location)
	}
	if chartPoints < 20 || !strings.Contains(legend, "CO2") {
		t.Errorf("chart: %d points, legend %q; want the stored readings", chartPoints, legend)
	}
	if !strings.Contains(notice, "Saved") || who != alice.Email {
		t.Errorf("after saving: notice %q, history names %q", notice, who)
	}
	var doc struct {
		State struct {
			Desired map[string]any `json:"desired"`
		} `json:"state"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/devices/chiller-1/shadow", nil, &doc); st != http.StatusOK || doc.State.Desired["chw_setpoint"] != 8.5 {
		t.Errorf("shadow desired after the page's change: %d %v", st, doc.State.Desired)
	}
	entries2, _, err := h.srvStore().History(store.HistoryQuery{Device: "chiller-1"})
	if err != nil || len(entries2) != 1 || entries2[0].Actor != "user:"+alice.Email || entries2[0].Channel != "page" {
		t.Errorf("history: %+v %v", entries2, err)
	}

	// Sign out: through the provider's end-session endpoint, back to the
	// sign-in page, and the pages are closed again.
	step("sign out",
		chromedp.Click(css(`form.signout button`)),
		chromedp.WaitVisible(css(`form[action="/login"]`)),
		chromedp.Navigate(public+"/devices/chiller-1"),
		chromedp.WaitVisible(css(`form[action="/login"]`)),
	)
	location = read("where the browser is", chromedp.Location())
	if !strings.HasPrefix(location, public+"/login") {
		t.Errorf("after signing out a device page leads to %s, want the sign-in page", location)
	}
}
