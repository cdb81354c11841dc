package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/alarm"
	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/jobs"
	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/rules"
	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/strategy"
	"github.com/hearthiot/hearth/web/auth"
	"github.com/hearthiot/hearth/web/auth/oidctest"
	"github.com/hearthiot/hearth/web/ui"
	"github.com/hearthiot/hearth/web/ui/static"
)

const (
	acmeUser   = "fm@acme.example"
	globexUser = "fm@globex.example"
	opUser     = "ops@hearth.example"
	password   = "correct horse battery staple"
)

// clock is a settable time for session expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is the pages over a real store, registry, shadow service and API,
// served over real HTTP.
type env struct {
	t      testing.TB
	st     *store.Store
	reg    *device.Registry
	types  *device.DeviceTypes
	sched  *scheduler.Scheduler
	alarms *alarm.Engine
	notify *notify.Service
	// jobs is not started: RunDue releases targets, and HandleJobRequest
	// takes a device's requests as the broker hands them over.
	jobs *jobs.Service
	// rules runs message rules; Handle takes a device's message as the
	// broker hands it over.
	rules *rules.Engine
	srv   *httptest.Server
	clock *clock
	// arts keeps artifacts in dir; files serves their links over HTTPS.
	arts  *artifact.Store
	dir   string
	files *httptest.Server
	// pages are the pages served; presence is the devices' presence.
	pages    *ui.UI
	presence *device.Presence
}

type envOptions struct {
	sso []ui.SSO
	// sessions, when set, wraps the store the pages keep sessions in.
	sessions func(ui.SessionStore) ui.SessionStore
	// noMQTTTLS runs the pages as for a server whose MQTT/TLS listener
	// is off.
	noMQTTTLS bool
	// telemetry, when set, is the stored telemetry the gate reads.
	telemetry gate.Telemetry
	// smtp is the server e-mail channels send through; none by default.
	smtp notify.SMTPConfig
	// logger, when set, is every component's logger; none by default.
	logger *slog.Logger
	// readTimeout, when set, is the server's ReadTimeout, as Hearth's
	// listener has one.
	readTimeout time.Duration
	// writeTimeout, when set, is the server's WriteTimeout, as Hearth's
	// listener has one; http2 serves over TLS with HTTP/2, as Hearth does.
	writeTimeout time.Duration
	http2        bool
	// bus, when set, is the event bus presence publishes on and the live
	// pages listen to.
	bus *events.Bus
	// remoteWrite, when set, reports remote write progress.
	remoteWrite gate.RemoteWrite
}

func newEnv(t testing.TB, opts envOptions) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logger := slog.New(slog.DiscardHandler)
	if opts.logger != nil {
		logger = opts.logger
	}
	authority, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), logger)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := device.NewRegistry(st, authority, logger)
	if err != nil {
		t.Fatal(err)
	}
	// The built-in types are there as on a server; seed replaces the
	// chiller with a smaller one of its own.
	types := device.NewDeviceTypes(st, reg.Type)
	if _, err := types.SeedBuiltin(); err != nil {
		t.Fatal(err)
	}
	shadows := device.NewShadows(device.ShadowDeps{Store: st, Publisher: nopPublisher{}, Settings: types, Logger: logger})
	var presence *device.Presence
	if opts.bus != nil {
		presence = device.NewPresence(opts.bus)
	} else {
		presence = device.NewPresence(nil)
	}
	sched, err := scheduler.New(scheduler.Deps{Store: st, Devices: reg, Shadows: shadows, Presence: presence, Types: types, Logger: logger}, scheduler.Config{})
	if err != nil {
		t.Fatal(err)
	}
	// The alarm engine as the server runs it, without the event bus: tests
	// raise alarms in the store.
	engine, err := alarm.New(alarm.Deps{Store: st, Devices: reg, Logger: logger,
		Metrics: func(typ string) []string {
			if dt, err := types.Get(typ); err == nil {
				return dt.MetricNames()
			}
			return nil
		}}, alarm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Load(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Stop(context.Background()) })
	// The pages listen before they are built, so that the notification
	// service knows their address as Hearth's own, which no channel may
	// call.
	srv := httptest.NewUnstartedServer(nil)
	_, selfPort, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// Notifications, not started: what is enqueued stays in the outbox,
	// and test messages are sent at once.
	notifier, err := notify.New(notify.Config{SMTP: opts.smtp, Self: func(host, port string) bool {
		return port == selfPort && (host == "127.0.0.1" || host == "localhost")
	}}, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	// Artifacts up to 1 MiB; their download links are served by a real
	// HTTPS server of their own, as Hearth's listener serves them.
	arts, err := artifact.Open(dir, st, artifact.Options{MaxSize: 1 << 20, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	files := httptest.NewTLSServer(arts.Handler())
	t.Cleanup(files.Close)
	if err := arts.SetBaseURL(files.URL); err != nil {
		t.Fatal(err)
	}
	// The gate keeps the real clock, as the registry does: history is
	// shown from a device's creation on. The pages' clock moves sessions.
	c := &clock{t: time.Now()}
	js, err := jobs.New(jobs.Deps{Store: st, Devices: reg, Publisher: nopPublisher{}, Artifacts: arts, Logger: logger}, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	// Message rules as the server runs them, storing no telemetry and
	// publishing nothing.
	re, err := rules.New(rules.Deps{Store: st, Devices: reg, Telemetry: ingestNothing{}, Shadows: shadows, Publisher: nopPublisher{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := re.Load(); err != nil {
		t.Fatal(err)
	}
	// The strategy runner, not started: switching writes the store.
	run, err := strategy.New(strategy.Deps{Store: st, Devices: reg, Types: types, Shadows: shadows, Calendars: sched, Bus: events.New()}, strategy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(gate.Deps{
		Store: st, Registry: reg, Shadows: shadows, Presence: presence, Types: types, Telemetry: opts.telemetry,
		StrategyStore: st, Strategies: run,
		Calendars: st, Scheduler: sched, AlarmStore: st, Alarms: engine, Channels: st, Notifier: notifier, Mailer: notifier, Artifacts: arts,
		JobStore: st, Jobs: js, RuleStore: st, Rules: re, RemoteWrite: opts.remoteWrite,
		GroupsOperator: "hearth-operators", GroupsCustomerPrefix: "hearth-customer:",
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	var sessions ui.SessionStore = st
	if opts.sessions != nil {
		sessions = opts.sessions(st)
	}
	mqttAddr := "hearth.example:18883"
	if opts.noMQTTTLS {
		mqttAddr = ""
	}
	pages := ui.New(ui.Deps{
		Gate: g, Sessions: sessions, Assets: assets, SSO: opts.sso,
		MQTTAddress: mqttAddr,
		Location:    time.UTC, InsecureCookies: true, Logger: logger, Now: c.now,
		Events: opts.bus,
	})
	srv.Config.Handler = pages.Handler()
	srv.Config.ReadTimeout = opts.readTimeout
	srv.Config.WriteTimeout = opts.writeTimeout
	if opts.http2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	e := &env{t: t, st: st, reg: reg, types: types, sched: sched, alarms: engine, notify: notifier, jobs: js, rules: re, clock: c, srv: srv,
		arts: arts, dir: dir, files: files, pages: pages, presence: presence}
	t.Cleanup(e.srv.Close)
	// Cleanups run last-added first: the live streams end before the
	// server waits for its requests.
	t.Cleanup(pages.Close)
	e.seed()
	if err := sched.Load(); err != nil {
		t.Fatal(err)
	}
	presence.Connected("acme-chiller-1", 1, "192.0.2.1:1000", 4, time.Now())
	return e
}

type nopPublisher struct{}

func (nopPublisher) Publish(string, []byte, byte) error { return nil }

// ingestNothing is the message rules' telemetry here: the pages only show
// and try rules, and nothing is stored.
type ingestNothing struct{}

func (ingestNothing) Accept(string, []byte, time.Time) (device.Storing, error) {
	return nil, errors.New("no telemetry is stored in these tests")
}

func (e *env) seed() {
	t := e.t
	for _, c := range []struct{ customer, site, device string }{
		{"acme", "tokyo-tower", "acme-chiller-1"},
		{"globex", "osaka-dome", "globex-chiller-9"},
	} {
		if _, err := e.reg.CreateCustomer(store.Customer{Name: c.customer}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.CreateSite(store.Site{Customer: c.customer, Name: c.site}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.CreateDevice(device.DeviceSpec{Name: c.device, Customer: c.customer, Site: c.site, Type: "chiller"}); err != nil {
			t.Fatal(err)
		}
	}
	lo, hi, step := 5.0, 12.0, 0.5
	if _, err := e.types.Put(store.DeviceType{Name: "chiller", Settings: []store.Setting{
		{Key: "chw_setpoint", Type: store.SettingNumber, Unit: "°C", Minimum: &lo, Maximum: &hi, Step: &step, CustomerEditable: true, Description: "Chilled water set-point"},
		{Key: "max_load", Type: store.SettingInteger},
	}}); err != nil {
		t.Fatal(err)
	}
	hash, err := secret.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{
		{Email: acmeUser, Role: store.RoleCustomer, Customer: "acme", PasswordHash: hash},
		{Email: globexUser, Role: store.RoleCustomer, Customer: "globex", PasswordHash: hash},
		{Email: opUser, Role: store.RoleOperator, PasswordHash: hash},
	} {
		if err := e.st.CreateUser(u); err != nil {
			t.Fatal(err)
		}
	}
	e.seedCalendars()
}

// browser is an HTTP client with cookies that does not follow redirects,
// so tests see them.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	if e.srv.TLS != nil {
		c.Transport = e.srv.Client().Transport
	}
	return c
}

type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (e *env) get(c *http.Client, path string) response {
	e.t.Helper()
	return e.do(c, http.MethodGet, path, nil, nil)
}

func (e *env) post(c *http.Client, path string, form url.Values) response {
	e.t.Helper()
	return e.do(c, http.MethodPost, path, form, map[string]string{"Origin": e.srv.URL})
}

func (e *env) do(c *http.Client, method, path string, form url.Values, header map[string]string) response {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
}

func (e *env) signIn(email string) *http.Client {
	e.t.Helper()
	c := e.browser()
	r := e.post(c, "/login", url.Values{"email": {email}, "password": {password}, "next": {"/"}})
	if r.status != http.StatusSeeOther || r.location != "/" {
		e.t.Fatalf("sign in as %s: %d %s %s", email, r.status, r.location, r.body)
	}
	return c
}

func TestLocalSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	if r := e.get(c, "/devices/acme-chiller-1"); r.status != http.StatusSeeOther || r.location != "/login?next=%2Fdevices%2Facme-chiller-1" {
		t.Fatalf("signed out: %d to %q, want the sign-in page", r.status, r.location)
	}
	r := e.post(c, "/login", url.Values{"email": {acmeUser}, "password": {"wrong"}})
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "The e-mail or the password is wrong.") {
		t.Errorf("wrong password: %d", r.status)
	}
	r = e.post(c, "/login", url.Values{"email": {"nobody@acme.example"}, "password": {password}})
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "The e-mail or the password is wrong.") {
		t.Errorf("unknown user: %d", r.status)
	}
	r = e.post(c, "/login", url.Values{"email": {acmeUser}, "password": {password}, "next": {"https://evil.example/"}})
	if r.status != http.StatusSeeOther || r.location != "/" {
		t.Errorf("a next URL on another host: redirect to %q, want /", r.location)
	}
	cookie := r.header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	r = e.get(c, "/")
	if r.status != http.StatusOK || !strings.Contains(r.body, "tokyo-tower") || strings.Contains(r.body, "osaka-dome") {
		t.Errorf("overview: %d\n%s", r.status, r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("page headers: CSP %q, Cache-Control %q", csp, r.header.Get("Cache-Control"))
	}
	r = e.post(c, "/logout", url.Values{})
	if r.status != http.StatusSeeOther || r.location != "/login" {
		t.Errorf("logout: %d to %q", r.status, r.location)
	}
	if r := e.get(c, "/"); r.status != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to sign in", r.status)
	}
}

// TestTenancyPages: a customer asking for another customer's objects, on
// every page route, gets 404 and nothing of theirs.
func TestTenancyPages(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	for _, path := range []string{
		"/devices/globex-chiller-9",
		"/devices/globex-chiller-9/live",
		"/devices/globex-chiller-9/series?metrics=co2_ppm",
		"/devices/globex-chiller-9/export.csv?metrics=co2_ppm",
		"/sites/globex/osaka-dome",
	} {
		r := e.get(c, path)
		if r.status != http.StatusNotFound || strings.Contains(r.body, "globex") || strings.Contains(r.body, "osaka") {
			t.Errorf("GET %s: %d, want 404 without globex's names:\n%s", path, r.status, r.body)
		}
	}
	r := e.post(c, "/devices/globex-chiller-9/settings", url.Values{"s.chw_setpoint": {"7"}})
	if r.status != http.StatusNotFound {
		t.Errorf("POST globex's settings: %d, want 404", r.status)
	}
	if _, err := e.st.GetShadow("globex-chiller-9", ""); err == nil {
		t.Error("a customer wrote another customer's shadow")
	}
	for _, path := range []string{"/", "/sites/acme/tokyo-tower", "/devices/acme-chiller-1"} {
		if r := e.get(c, path); r.status != http.StatusOK || strings.Contains(r.body, "globex") {
			t.Errorf("GET %s: %d, or it names globex", path, r.status)
		}
	}
	op := e.signIn(opUser)
	if r := e.get(op, "/"); !strings.Contains(r.body, "osaka-dome") || !strings.Contains(r.body, "tokyo-tower") {
		t.Error("an operator's overview lacks a customer's site")
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	for _, h := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "cross-site"},
	} {
		r := e.do(c, http.MethodPost, "/devices/acme-chiller-1/settings", url.Values{"s.chw_setpoint": {"7"}}, h)
		if r.status != http.StatusForbidden {
			t.Errorf("cross-origin POST with %v: %d, want 403", h, r.status)
		}
	}
	if _, err := e.st.GetShadow("acme-chiller-1", ""); err == nil {
		t.Error("a cross-origin POST changed the shadow")
	}
}

func TestSettingsForm(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	r := e.get(c, "/devices/acme-chiller-1")
	if !strings.Contains(r.body, `name="s.chw_setpoint"`) || strings.Contains(r.body, `name="s.max_load"`) {
		t.Fatalf("a customer's form must offer chw_setpoint only:\n%s", r.body)
	}
	if !strings.Contains(r.body, `min="5"`) || !strings.Contains(r.body, `max="12"`) || !strings.Contains(r.body, `step="0.5"`) {
		t.Error("the set-point input lacks its range")
	}
	r = e.post(c, "/devices/acme-chiller-1/settings", url.Values{"s.chw_setpoint": {"7.5"}, "s.max_load": {"10"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.status, r.body)
	}
	sh, err := e.st.GetShadow("acme-chiller-1", "")
	if err != nil || !strings.Contains(string(sh.Doc), `"chw_setpoint":7.5`) || strings.Contains(string(sh.Doc), "max_load") {
		t.Fatalf("shadow after save: %s, %v", sh.Doc, err)
	}
	h, _, err := e.st.History(store.HistoryQuery{Device: "acme-chiller-1"})
	if err != nil || len(h) != 1 || h[0].Actor != "user:"+acmeUser || h[0].Channel != "page" {
		t.Errorf("history: %+v %v", h, err)
	}
	r = e.get(c, "/devices/acme-chiller-1")
	if !strings.Contains(r.body, "Saved.") || !strings.Contains(r.body, acmeUser) || !strings.Contains(r.body, "Chilled water set-point: 7.5 °C (requested)") {
		t.Errorf("device page after save lacks the notice or the history row")
	}
	e.post(c, "/devices/acme-chiller-1/settings", url.Values{"s.chw_setpoint": {"20"}})
	r = e.get(c, "/devices/acme-chiller-1")
	if !strings.Contains(r.body, "Not saved: Chilled water set-point: 20 is above the maximum 12 °C") {
		t.Errorf("an out-of-range value must be refused with the rule:\n%s", r.body)
	}
	if h, _, _ := e.st.History(store.HistoryQuery{Device: "acme-chiller-1"}); len(h) != 1 {
		t.Errorf("a refused value reached the history: %d entries", len(h))
	}
}

func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	e.clock.add(ui.DefaultIdleTimeout + time.Minute)
	if r := e.get(c, "/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Errorf("after the idle timeout: %d %q, want the sign-in page", r.status, r.location)
	}
	c = e.signIn(acmeUser)
	for range 13 {
		e.clock.add(time.Hour)
		if r := e.get(c, "/"); r.status != http.StatusOK {
			break
		}
	}
	if r := e.get(c, "/"); r.status != http.StatusSeeOther {
		t.Errorf("after the absolute timeout a busy session still works: %d", r.status)
	}
	// A deleted user is signed out at the next request.
	c = e.signIn(acmeUser)
	if err := e.st.DeleteUser(acmeUser); err != nil {
		t.Fatal(err)
	}
	if r := e.get(c, "/"); r.status != http.StatusSeeOther {
		t.Errorf("a deleted user still sees pages: %d", r.status)
	}
}

func TestSignInAttemptsLimited(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	var last response
	for range 11 {
		last = e.post(c, "/login", url.Values{"email": {acmeUser}, "password": {"guess"}})
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Errorf("11th attempt in a row: %d, want 429 with Retry-After", last.status)
	}
}

func TestJapanese(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	r := e.do(c, http.MethodGet, "/login", nil, map[string]string{"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"})
	if !strings.Contains(r.body, `lang="ja"`) || !strings.Contains(r.body, "ログイン") {
		t.Errorf("Japanese sign-in page:\n%s", r.body)
	}
}

// ssoEnv is the pages with a real OpenID provider.
func ssoEnv(t *testing.T, users ...oidctest.User) (*env, *oidctest.Provider) {
	t.Helper()
	p := oidctest.Start(t, users...)
	// The pages' address is known only once they listen; the provider
	// takes clients at any time.
	sso := &lateSSO{}
	e := newEnv(t, envOptions{sso: []ui.SSO{sso}})
	callback := e.srv.URL + "/login/sso/acme-sso/callback"
	id, plain := p.RegisterClient(callback, e.srv.URL+"/login")
	prov, err := auth.NewOIDCProvider(context.Background(), auth.OIDCConfig{
		Name: "acme-sso", Issuer: p.Issuer(), ClientID: id, ClientSecret: plain, RedirectURL: callback,
		Scopes: []string{"openid", "email", "profile", oidctest.GroupsScope},
	})
	if err != nil {
		t.Fatal(err)
	}
	sso.OIDCProvider = prov
	return e, p
}

// lateSSO is an SSO whose provider is set after the pages are built.
type lateSSO struct{ *auth.OIDCProvider }

func (l *lateSSO) Name() string { return "acme-sso" }

func (e *env) ssoSignIn(c *http.Client, p *oidctest.Provider, user oidctest.User) (response, string) {
	e.t.Helper()
	r := e.get(c, "/login/sso/acme-sso?next=%2Fdevices%2Facme-chiller-1")
	if r.status != http.StatusSeeOther {
		e.t.Fatalf("start: %d %s", r.status, r.body)
	}
	callback, err := p.LoginAs(&http.Client{Jar: c.Jar, Timeout: 10 * time.Second}, r.location, user.Username, user.Password)
	if err != nil {
		e.t.Fatalf("provider login: %v", err)
	}
	u, _ := url.Parse(callback)
	return e.get(c, u.RequestURI()), u.RequestURI()
}

func TestSSO(t *testing.T) {
	alice := oidctest.DefaultUser()
	alice.Email = acmeUser
	bob := oidctest.User{Username: "bob", Password: "pw-bob-123456", Email: "bob@acme.example", EmailVerified: true, GivenName: "Bob", Groups: []string{"hearth-customer:acme"}}
	eve := oidctest.User{Username: "eve", Password: "pw-eve-123456", Email: "eve@elsewhere.example", EmailVerified: true, GivenName: "Eve"}
	e, p := ssoEnv(t, alice, bob, eve)

	c := e.browser()
	r, callback := e.ssoSignIn(c, p, alice)
	if r.status != http.StatusSeeOther || r.location != "/devices/acme-chiller-1" {
		t.Fatalf("callback: %d to %q: %s", r.status, r.location, r.body)
	}
	if r := e.get(c, "/devices/acme-chiller-1"); r.status != http.StatusOK || !strings.Contains(r.body, acmeUser) {
		t.Errorf("device page after single sign-on: %d", r.status)
	}
	// The same callback again: the pending sign-in was used up.
	if r := e.get(e.browser(), callback); r.status != http.StatusBadRequest {
		t.Errorf("replayed callback in another browser: %d, want 400", r.status)
	}
	if r := e.get(c, callback); r.status != http.StatusBadRequest {
		t.Errorf("replayed callback: %d, want 400", r.status)
	}

	// Admitted by the groups claim.
	c2 := e.browser()
	if r, _ := e.ssoSignIn(c2, p, bob); r.status != http.StatusSeeOther {
		t.Fatalf("groups user: %d %s", r.status, r.body)
	}
	if r := e.get(c2, "/"); r.status != http.StatusOK || !strings.Contains(r.body, "tokyo-tower") || strings.Contains(r.body, "osaka") {
		t.Errorf("groups user's overview: %d", r.status)
	}

	// Nobody Hearth knows: a clear page, not an error.
	if r, _ := e.ssoSignIn(e.browser(), p, eve); r.status != http.StatusForbidden || !strings.Contains(r.body, "eve@elsewhere.example") || !strings.Contains(r.body, "no access") {
		t.Errorf("unknown user: %d\n%s", r.status, r.body)
	}

	// A wrong state is refused.
	c3 := e.browser()
	start := e.get(c3, "/login/sso/acme-sso")
	cb, err := p.LoginAs(&http.Client{Jar: c3.Jar, Timeout: 10 * time.Second}, start.location, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("state", "forged")
	u.RawQuery = q.Encode()
	if r := e.get(c3, u.RequestURI()); r.status != http.StatusBadRequest {
		t.Errorf("wrong state: %d, want 400", r.status)
	}

	// Logout goes on to the provider's end-session endpoint as a
	// navigation of the page it answers with, not as a redirect of the
	// form, which the pages' form-action policy makes browsers stop.
	r = e.post(c, "/logout", url.Values{})
	if r.status != http.StatusOK || !strings.Contains(r.body, `http-equiv="refresh" content="0;url=`+p.Issuer()) ||
		!strings.Contains(r.body, `id="signout-continue" class="button" href="`+p.Issuer()) || !strings.Contains(r.body, "id_token_hint=") {
		t.Errorf("logout: %d to %q, want a page that goes on to the provider's end-session endpoint:\n%s", r.status, r.location, r.body)
	}
	if r := e.get(c, "/"); r.status != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to sign in", r.status)
	}
}

func TestSeriesNeedsTelemetry(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	r := e.get(c, "/devices/acme-chiller-1/series?metrics=co2_ppm")
	var body map[string]string
	if r.status != http.StatusServiceUnavailable || json.Unmarshal([]byte(r.body), &body) != nil || body["error"] == "" {
		t.Errorf("series without telemetry: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"?points=5", "?from=abc", "?from=2000&to=1000", "?metrics=bad-name"} {
		if r := e.get(c, "/devices/acme-chiller-1/series"+bad); r.status != http.StatusBadRequest && r.status != http.StatusServiceUnavailable {
			t.Errorf("series%s: %d, want 400", bad, r.status)
		}
	}
}

func TestOneTimePasswordMustBeChanged(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.st.UpdateUser(opUser, func(u *store.User) error { u.MustChangePassword = true; return nil }); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(opUser)
	if r := e.get(c, "/"); r.status != http.StatusSeeOther || r.location != "/password" {
		t.Fatalf("with a one-time password: %d to %q, want /password", r.status, r.location)
	}
	newPW := "a new and longer passphrase"
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"current": {"wrong"}, "new": {newPW}, "again": {newPW}}, "The current password is wrong."},
		{url.Values{"current": {password}, "new": {"short"}, "again": {"short"}}, "at least 12 characters"},
		{url.Values{"current": {password}, "new": {newPW}, "again": {newPW + "x"}}, "The two new passwords differ."},
		{url.Values{"current": {password}, "new": {password}, "again": {password}}, "must differ from the current one"},
	} {
		if r := e.post(c, "/password", tc.form); r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.want) {
			t.Errorf("change with %v: %d, want 400 saying %q", tc.form, r.status, tc.want)
		}
	}
	if r := e.post(c, "/password", url.Values{"current": {password}, "new": {newPW}, "again": {newPW}}); r.status != http.StatusSeeOther || r.location != "/" {
		t.Fatalf("change: %d to %q", r.status, r.location)
	}
	if r := e.get(c, "/"); r.status != http.StatusOK {
		t.Errorf("after the change: %d", r.status)
	}
	if r := e.post(e.browser(), "/login", url.Values{"email": {opUser}, "password": {password}}); r.status != http.StatusUnauthorized {
		t.Errorf("the old password still signs in: %d", r.status)
	}
	if r := e.post(e.browser(), "/login", url.Values{"email": {opUser}, "password": {newPW}}); r.status != http.StatusSeeOther {
		t.Errorf("the new password does not sign in: %d", r.status)
	}
}

func TestAccountPreferences(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	for _, bad := range []url.Values{
		{"language": {"fr"}, "timezone": {""}},
		{"language": {"ja"}, "timezone": {"Mars/Olympus"}},
	} {
		if r := e.post(c, "/account", bad); r.status != http.StatusBadRequest {
			t.Errorf("save %v: %d, want 400", bad, r.status)
		}
	}
	if r := e.post(c, "/account", url.Values{"language": {"ja"}, "timezone": {"Asia/Tokyo"}}); r.status != http.StatusSeeOther {
		t.Fatalf("save: %d", r.status)
	}
	r := e.get(c, "/account")
	if !strings.Contains(r.body, `lang="ja"`) || !strings.Contains(r.body, "保存しました。") || !strings.Contains(r.body, `value="Asia/Tokyo"`) {
		t.Errorf("account page after saving Japanese and Tokyo:\n%s", r.body)
	}
	// The live values' times follow the person's zone: UTC+9.
	r = e.get(c, "/devices/acme-chiller-1")
	// The device connected when the test began, a moment ago.
	jst := time.FixedZone("JST", 9*3600)
	a, b := time.Now().In(jst).Format("2006-01-02 15:"), time.Now().Add(-time.Minute).In(jst).Format("2006-01-02 15:")
	if !strings.Contains(r.body, a) && !strings.Contains(r.body, b) {
		t.Errorf("device page does not show times in Asia/Tokyo (want %q…)", a)
	}
}

func TestViewerReadsSettingsOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	hash, err := secret.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	const viewer = "viewer@acme.example"
	if err := e.st.CreateUser(store.User{Email: viewer, Role: store.RoleCustomer, Customer: "acme", Access: store.AccessViewer, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(viewer)
	r := e.get(c, "/devices/acme-chiller-1")
	if !strings.Contains(r.body, `name="s.chw_setpoint"`) || !strings.Contains(r.body, "disabled") || !strings.Contains(r.body, "not change them") {
		t.Errorf("a viewer's device page must show the settings read-only")
	}
	e.post(c, "/devices/acme-chiller-1/settings", url.Values{"s.chw_setpoint": {"9"}})
	if r := e.get(c, "/devices/acme-chiller-1"); !strings.Contains(r.body, "viewers may read settings but not change them") {
		t.Error("a viewer's change is not refused with a reason")
	}
	if _, err := e.st.GetShadow("acme-chiller-1", ""); err == nil {
		t.Error("a viewer changed the shadow")
	}
}

// Pages, live fragments and chart data are sent compressed to a browser
// that accepts it; the static files carry their own precompressed copies.
func TestPagesCompressed(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	for _, path := range []string{"/", "/devices/acme-chiller-1", "/devices/acme-chiller-1/live"} {
		r := e.do(c, http.MethodGet, path, nil, map[string]string{"Accept-Encoding": "gzip"})
		if r.status != http.StatusOK || r.header.Get("Content-Encoding") != "gzip" || !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Accept-Encoding") {
			t.Errorf("GET %s: %d, Content-Encoding %q, Vary %q; want gzip", path, r.status, r.header.Get("Content-Encoding"), r.header.Values("Vary"))
		}
	}
	if r := e.get(c, "/"); r.status != http.StatusOK || !strings.Contains(r.body, "<html") {
		t.Errorf("GET / without asking for gzip: %d, not the page", r.status)
	}
}

// TestFavicon: /favicon.ico, which browsers ask for on every site, leads to
// the icon, and every page names its icon.
func TestFavicon(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	resp, err := c.Get(e.srv.URL + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/static/favicon.") || !strings.HasSuffix(loc, ".ico") {
		t.Fatalf("/favicon.ico: %d to %q", resp.StatusCode, loc)
	}
	resp, err = c.Get(e.srv.URL + loc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/x-icon" || !bytes.HasPrefix(body, []byte{0, 0, 1, 0}) {
		t.Errorf("the icon: %d %s, %d bytes starting % x", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), body[:min(4, len(body))])
	}
	if r := e.get(c, "/login"); !regexp.MustCompile(`<link rel="icon" href="/static/favicon\.[0-9a-f]+\.svg" type="image/svg\+xml">`).MatchString(r.body) {
		t.Errorf("the sign-in page names no icon:\n%s", r.body)
	}
}
