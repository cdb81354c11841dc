package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"

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
	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/backup"
	"github.com/hearthiot/hearth/strategy"
	"github.com/hearthiot/hearth/web/api"
)

// testNow is the clock of every test server.
var testNow = time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)

// tokyo is the test server's default time zone of CSV downloads.
var tokyo = mustZone("Asia/Tokyo")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// Fixture names. Customer acme is the one whose token the tenancy tests
// use; everything named globex belongs to the other customer and must never
// show up in acme's answers.
const (
	acme          = "acme"
	acmeSite      = "acme-hq"
	acmeDevice    = "acme-boiler-1"
	globex        = "globex"
	globexSite    = "globex-plant"
	globexDevice  = "globex-chiller-7"
	globexUser    = "facility@globex.example"
	operatorEmail = "ops@hearth.example"
)

// env is a test server: the real router over a real store, device registry
// and shadow service (publishing to a recorder), and a recording fake of
// the telemetry engine.
type env struct {
	api       *api.API
	store     *store.Store
	registry  *device.Registry
	telemetry *fakeTelemetry
	published *recordingPublisher
	scheduler *scheduler.Scheduler
	alarms    *alarm.Engine
	notify    *notify.Service
	backups   *backup.Maker
	jobs      *jobs.Service // not started: RunDue releases
	artifacts *artifact.Store
	dir       string            // the data directory
	tokens    map[string]string // principal name → bearer secret
	tokenIDs  map[string]string // principal name → token id
}

// Principal names of env.tokens.
const (
	asOperator = "operator"
	asAcme     = "acme"
	asGlobex   = "globex"
	asNobody   = ""
)

type envOptions struct {
	noTelemetry bool
	noShadows   bool
	realClock   bool // the API's clock is time.Now, as the registry's is
	noBackups   bool
	artifactMax int64 // the artifact limit; default testArtifactMax
	// energy, when set, is the energy engine, and weather the telemetry
	// engine instead of the recording fake.
	energy  gate.EnergyEngine
	weather gate.Telemetry
}

func newEnv(t testing.TB, opts envOptions) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	logger := slog.New(slog.DiscardHandler)
	authority, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), logger)
	if err != nil {
		t.Fatalf("create CA: %v", err)
	}
	reg := newRegistry(t, st, authority, logger)
	e := &env{
		store:     st,
		registry:  reg,
		telemetry: &fakeTelemetry{},
		published: &recordingPublisher{},
		dir:       dir,
		tokens:    map[string]string{},
		tokenIDs:  map[string]string{},
	}
	deps := gate.Deps{Store: st, Registry: reg, Maps: server.MapChecker{}, Logger: logger, Now: func() time.Time { return testNow }}
	if opts.realClock {
		deps.Now = time.Now
	}
	if !opts.noTelemetry {
		deps.Telemetry = e.telemetry
	}
	if opts.weather != nil {
		deps.Telemetry = opts.weather
	}
	deps.Energy = opts.energy
	types := device.NewDeviceTypes(st, reg.Type)
	deps.Types = types
	if !opts.noShadows {
		svc := device.NewShadows(device.ShadowDeps{Store: st, Publisher: e.published, Settings: types, Logger: logger})
		deps.Shadows = svc
		sched, err := scheduler.New(scheduler.Deps{Store: st, Devices: reg, Shadows: svc, Presence: device.NewPresence(nil), Types: types, Now: deps.Now}, scheduler.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := sched.Load(); err != nil {
			t.Fatal(err)
		}
		deps.Calendars, deps.Scheduler = st, sched
		e.scheduler = sched
		// The strategy runner, not started: switching strategies writes
		// the store; nothing evaluates.
		run, err := strategy.New(strategy.Deps{Store: st, Devices: reg, Types: types, Shadows: svc, Calendars: sched, Bus: events.New(), Now: deps.Now}, strategy.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = run.Stop(context.Background()) })
		deps.StrategyStore, deps.Strategies = st, run
	}
	engine, err := alarm.New(alarm.Deps{Store: st, Devices: reg, Now: deps.Now,
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
	deps.AlarmStore, deps.Alarms, e.alarms = st, engine, engine
	// Notifications, not started: what is enqueued stays in the outbox,
	// and test messages are sent at once. Hearth is https://localhost:8443.
	svc, err := notify.New(notify.Config{Self: func(host, port string) bool { return port == "8443" && (host == "localhost" || host == "127.0.0.1") }}, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	deps.Channels, deps.Notifier, e.notify = st, svc, svc
	if !opts.noBackups {
		// Backups of the real store and CA; the time series are the
		// fake's, so the archive has none.
		m, err := backup.New(backup.Sources{DataDir: dir, Store: st, Dirs: []string{"ca"}, Version: "test", Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		deps.Backups, e.backups = server.GateBackups{Maker: m}, m
	}
	js, err := jobs.New(jobs.Deps{Store: st, Devices: reg, Publisher: e.published, Logger: logger}, jobs.Config{Now: deps.Now})
	if err != nil {
		t.Fatal(err)
	}
	deps.JobStore, deps.Jobs, e.jobs = st, js, js
	re, err := rules.New(rules.Deps{Store: st, Devices: reg, Telemetry: ingestNothing{}, Shadows: device.NewShadows(device.ShadowDeps{Store: st, Publisher: e.published, Settings: types, Logger: logger}), Publisher: e.published, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := re.Load(); err != nil {
		t.Fatal(err)
	}
	deps.RuleStore, deps.Rules = st, re
	// Artifacts up to 1 MiB, their links under Hearth's address.
	if opts.artifactMax == 0 {
		opts.artifactMax = testArtifactMax
	}
	arts, err := artifact.Open(dir, st, artifact.Options{BaseURL: "https://localhost:8443", MaxSize: opts.artifactMax, Now: deps.Now})
	if err != nil {
		t.Fatal(err)
	}
	deps.Artifacts, e.artifacts = arts, arts
	g, err := gate.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	e.api = api.New(g, api.Config{Location: tokyo, Logger: logger})
	e.seed(t)
	return e
}

// seed creates two customers with a site and a device each, a customer user,
// and a token for the operator and for each customer.
func (e *env) seed(t testing.TB) {
	t.Helper()
	for _, c := range []struct{ customer, site, device string }{
		{acme, acmeSite, acmeDevice},
		{globex, globexSite, globexDevice},
	} {
		if _, err := e.registry.CreateCustomer(store.Customer{Name: c.customer}); err != nil {
			t.Fatalf("create customer %q: %v", c.customer, err)
		}
		if _, err := e.registry.CreateSite(store.Site{Customer: c.customer, Name: c.site}); err != nil {
			t.Fatalf("create site %q: %v", c.site, err)
		}
		if _, err := e.registry.CreateDevice(device.DeviceSpec{Name: c.device, Customer: c.customer, Site: c.site, Type: "boiler"}); err != nil {
			t.Fatalf("create device %q: %v", c.device, err)
		}
	}
	if err := e.store.CreateUser(store.User{Email: globexUser, Role: store.RoleCustomer, Customer: globex}); err != nil {
		t.Fatalf("create user: %v", err)
	}
	for _, tok := range []struct{ name, role, customer string }{
		{asOperator, store.RoleOperator, ""},
		{asAcme, store.RoleCustomer, acme},
		{asGlobex, store.RoleCustomer, globex},
	} {
		plain, id, hash := secret.NewToken()
		err := e.store.CreateToken(store.Token{ID: id, Name: tok.name + "-token", Role: tok.role, Customer: tok.customer, Hash: hash})
		if err != nil {
			t.Fatalf("create token %q: %v", tok.name, err)
		}
		e.tokens[tok.name], e.tokenIDs[tok.name] = plain, id
	}
}

// scenario is one request and what its answer must and must not hold.
type scenario struct {
	name        string
	method      string
	path        string
	as          string // a principal name of env.tokens, or asNobody
	header      map[string]string
	body        string // sent as application/json unless header says otherwise
	status      int
	contains    []string
	notContains []string
	wantHeader  map[string]string
}

// run sends the scenarios in order through the bearer-token handler; later
// rows see what earlier rows changed.
func (e *env) run(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Helper()
			rec := e.do(t, e.api.Handler(), sc)
			e.check(t, sc, rec)
		})
	}
}

// do sends one request through h and checks the exchange against the
// OpenAPI document.
func (e *env) do(t testing.TB, h http.Handler, sc scenario) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if sc.body != "" {
		body = strings.NewReader(sc.body)
	}
	req := httptest.NewRequest(sc.method, sc.path, body)
	if sc.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if sc.as != asNobody {
		plain, ok := e.tokens[sc.as]
		if !ok {
			t.Fatalf("no token for %q", sc.as)
		}
		req.Header.Set("Authorization", "Bearer "+plain)
	}
	for k, v := range sc.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return serveChecked(t, h, req, isHandler(h, e.api.LocalHandler()))
}

// isHandler reports whether h is the router want.
func isHandler(h, want http.Handler) bool {
	m, ok := h.(*chi.Mux)
	return ok && m == want.(*chi.Mux)
}

func (e *env) check(t *testing.T, sc scenario, rec *httptest.ResponseRecorder) {
	t.Helper()
	got := rec.Body.String()
	if rec.Code != sc.status {
		t.Errorf("%s %s: status %d, want %d; body %s", sc.method, sc.path, rec.Code, sc.status, got)
	}
	for _, s := range sc.contains {
		if !strings.Contains(got, s) {
			t.Errorf("%s %s: body lacks %q: %s", sc.method, sc.path, s, got)
		}
	}
	for _, s := range sc.notContains {
		if strings.Contains(got, s) {
			t.Errorf("%s %s: body contains %q: %s", sc.method, sc.path, s, got)
		}
	}
	for k, v := range sc.wantHeader {
		if h := rec.Header().Get(k); h != v {
			t.Errorf("%s %s: header %s = %q, want %q", sc.method, sc.path, k, h, v)
		}
	}
	if rec.Code != http.StatusNoContent {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", sc.method, sc.path, ct)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Errorf("%s %s: body is not JSON: %s", sc.method, sc.path, got)
		}
	}
	if rec.Code >= 400 {
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			t.Errorf("%s %s: error body %s is not {\"error\":{\"code\",\"message\"}}", sc.method, sc.path, got)
		}
	}
}

// fakeTelemetry stands in for the telemetry engine: it answers from fixed
// values and records what it was asked.
type fakeTelemetry struct {
	mu      sync.Mutex
	queries []gate.DownsampleQuery
	scopes  []string
	err     error
}

func (f *fakeTelemetry) Latest(dev, customer string) []gate.LatestValue {
	if dev != acmeDevice && dev != globexDevice {
		return nil
	}
	ts := testNow.Add(-30 * time.Second).UnixMilli()
	return []gate.LatestValue{
		{Metric: "temp_c", Timestamp: ts, Value: 21.5},
		{Metric: "co2_ppm", Timestamp: ts, Value: 612},
	}
}

// Downsample answers every query with two steps: avg 20, min 18, max 23
// in the first, one more each in the second.
func (f *fakeTelemetry) Downsample(_ context.Context, q gate.DownsampleQuery) ([]gate.Point, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t0 := q.Start.UnixMilli()
	return []gate.Point{
		{Timestamp: t0, Avg: 20, Min: 18, Max: 23},
		{Timestamp: t0 + q.Step.Milliseconds(), Avg: 21, Min: 19, Max: 24},
	}, nil
}

// DownsampleMany records and answers each query as Downsample does.
func (f *fakeTelemetry) DownsampleMany(ctx context.Context, qs []gate.DownsampleQuery) ([][]gate.Point, error) {
	out := make([][]gate.Point, len(qs))
	for i, q := range qs {
		pts, err := f.Downsample(ctx, q)
		if err != nil {
			return nil, err
		}
		out[i] = pts
	}
	return out, nil
}

func (f *fakeTelemetry) ServePrometheus(w http.ResponseWriter, r *http.Request, endpoint, customer string) {
	f.mu.Lock()
	f.scopes = append(f.scopes, endpoint+"|"+customer)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data":   map[string]string{"endpoint": endpoint, "customer": customer, "query": r.FormValue("query")},
	})
}

// MetricNames answers each customer's metric names; globex has one of its
// own, which acme must never see.
func (f *fakeTelemetry) MetricNames(_ context.Context, customer string, _ int) ([]string, error) {
	f.mu.Lock()
	f.scopes = append(f.scopes, "metadata|"+customer)
	f.mu.Unlock()
	switch customer {
	case acme:
		return []string{"co2_ppm", "temp_c"}, nil
	case globex:
		return []string{"co2_ppm", "globex_only_metric"}, nil
	}
	return []string{"co2_ppm", "globex_only_metric", "temp_c"}, nil
}

func (f *fakeTelemetry) recorded() (queries []gate.DownsampleQuery, scopes []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queries), slices.Clone(f.scopes)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	deleted, _, hash := secret.NewToken()
	if err := e.store.CreateToken(store.Token{ID: "gone", Role: store.RoleOperator, Hash: hash}); err != nil {
		t.Fatalf("create token: %v", err)
	}
	if err := e.store.DeleteToken("gone"); err != nil {
		t.Fatalf("delete token: %v", err)
	}
	unknown, _, _ := secret.NewToken()
	challenge := `Bearer realm="hearth"`
	invalidToken := `Bearer realm="hearth", error="invalid_token"`
	e.run(t, []scenario{
		{name: "no header", method: "GET", path: "/api/v1/devices", status: 401,
			contains: []string{`"code":"unauthorized"`, "Authorization: Bearer"}, wantHeader: map[string]string{"WWW-Authenticate": challenge}},
		{name: "basic with a password that is no token", method: "GET", path: "/api/v1/devices", header: map[string]string{"Authorization": "Basic b3BzOnNlY3JldA=="},
			status: 401, contains: []string{"not a Hearth API token"}, wantHeader: map[string]string{"WWW-Authenticate": invalidToken}},
		{name: "basic with the token as password", method: "GET", path: "/api/v1/devices",
			header: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:"+e.tokens[asAcme]))},
			status: 200, contains: []string{acmeDevice}, notContains: []string{globexDevice}},
		{name: "basic with an empty user name", method: "GET", path: "/prometheus/api/v1/labels",
			header: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+e.tokens[asAcme]))},
			status: 200, contains: []string{`"customer":"acme"`}},
		{name: "basic not base64", method: "GET", path: "/api/v1/devices", header: map[string]string{"Authorization": "Basic %%%"},
			status: 401, contains: []string{"not base64"}, wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="hearth", error="invalid_request"`}},
		{name: "other scheme", method: "GET", path: "/api/v1/devices", header: map[string]string{"Authorization": "Digest username=x"},
			status: 401, contains: []string{"Bearer and Basic schemes"}, wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="hearth", error="invalid_request"`}},
		{name: "not a hearth token", method: "GET", path: "/api/v1/devices", header: map[string]string{"Authorization": "Bearer abc"},
			status: 401, wantHeader: map[string]string{"WWW-Authenticate": invalidToken}},
		{name: "unknown token", method: "GET", path: "/api/v1/devices", header: map[string]string{"Authorization": "Bearer " + unknown},
			status: 401, contains: []string{"unknown or deleted"}, wantHeader: map[string]string{"WWW-Authenticate": invalidToken}},
		{name: "deleted token", method: "GET", path: "/api/v1/devices", header: map[string]string{"Authorization": "Bearer " + deleted},
			status: 401, wantHeader: map[string]string{"WWW-Authenticate": invalidToken}},
		{name: "lower-case scheme", method: "GET", path: "/api/v1/devices", header: map[string]string{"Authorization": "bearer " + e.tokens[asOperator]},
			status: 200, contains: []string{acmeDevice}},
		{name: "unknown route needs a token too", method: "GET", path: "/api/v1/nothing", status: 401},
		{name: "unknown route", method: "GET", path: "/api/v1/nothing", as: asOperator, status: 404, contains: []string{`"code":"not_found"`}},
		{name: "method not allowed", method: "PUT", path: "/api/v1/devices", as: asOperator, status: 405, contains: []string{`"code":"method_not_allowed"`}},
		{name: "prometheus needs a token", method: "GET", path: "/prometheus/api/v1/query?query=up", status: 401},
	})
}

func TestLocalHandler(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, sc := range []scenario{
		{name: "list devices without a token", method: "GET", path: "/api/v1/devices", status: 200, contains: []string{acmeDevice, globexDevice}},
		{name: "operator-only route", method: "POST", path: "/api/v1/customers", body: `{"name":"initech"}`, status: 201, contains: []string{`"name":"initech"`}},
		{name: "prometheus unrestricted", method: "GET", path: "/prometheus/api/v1/labels", status: 200, contains: []string{`"customer":""`}},
		{name: "a bearer header changes nothing", method: "GET", path: "/api/v1/tokens", header: map[string]string{"Authorization": "Bearer " + e.tokens[asAcme]}, status: 200},
	} {
		t.Run(sc.name, func(t *testing.T) {
			e.check(t, sc, e.do(t, e.api.LocalHandler(), sc))
		})
	}
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.run(t, []scenario{
		{name: "create", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":"initech","display_name":"Initech Ltd"}`,
			status: 201, contains: []string{`"name":"initech"`, `"display_name":"Initech Ltd"`, `"created_at":"2026-11-05T08:00:00Z"`}},
		{name: "create again", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":"initech"}`,
			status: 409, contains: []string{`"code":"exists"`}},
		{name: "create without name", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"display_name":"x"}`,
			status: 400, contains: []string{`"code":"invalid"`, `field \"name\": required`}},
		{name: "create with a bad name", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":"a b/c"}`,
			status: 400, contains: []string{`"code":"invalid"`}},
		{name: "create as customer", method: "POST", path: "/api/v1/customers", as: asAcme, body: `{"name":"evil"}`,
			status: 403, contains: []string{`"code":"forbidden"`}},
		{name: "operator lists all", method: "GET", path: "/api/v1/customers", as: asOperator,
			status: 200, contains: []string{`"name":"acme"`, `"name":"globex"`, `"name":"initech"`}},
		{name: "customer lists itself", method: "GET", path: "/api/v1/customers", as: asAcme,
			status: 200, contains: []string{`"name":"acme"`}, notContains: []string{globex, "initech"}},
		{name: "show", method: "GET", path: "/api/v1/customers/globex", as: asOperator, status: 200, contains: []string{`"name":"globex"`}},
		{name: "show own", method: "GET", path: "/api/v1/customers/acme", as: asAcme, status: 200, contains: []string{`"name":"acme"`}},
		{name: "show missing", method: "GET", path: "/api/v1/customers/nobody", as: asOperator, status: 404, contains: []string{`"code":"not_found"`}},
		{name: "create site", method: "POST", path: "/api/v1/customers/acme/sites", as: asOperator, body: `{"name":"acme-annex","display_name":"Annex"}`,
			status: 201, contains: []string{`"customer":"acme"`, `"name":"acme-annex"`, `"display_name":"Annex"`}},
		{name: "create site twice", method: "POST", path: "/api/v1/customers/acme/sites", as: asOperator, body: `{"name":"acme-annex"}`, status: 409},
		{name: "create site of missing customer", method: "POST", path: "/api/v1/customers/nobody/sites", as: asOperator, body: `{"name":"x"}`, status: 404},
		{name: "create own site as customer", method: "POST", path: "/api/v1/customers/acme/sites", as: asAcme, body: `{"name":"x"}`, status: 403},
		{name: "list sites", method: "GET", path: "/api/v1/customers/acme/sites", as: asAcme,
			status: 200, contains: []string{`"name":"acme-hq"`, `"name":"acme-annex"`, `"name":"default"`}, notContains: []string{globex}},
		{name: "list sites of missing customer", method: "GET", path: "/api/v1/customers/nobody/sites", as: asOperator, status: 404},
	})
}

func TestDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	never := []string{"secret_hash", "fingerprint", `"hash"`}
	e.run(t, []scenario{
		{name: "create of a type nobody defined", method: "POST", path: "/api/v1/devices", as: asOperator,
			body:   `{"name":"acme-ahu-2","customer":"acme","site":"acme-hq","type":"ahu"}`,
			status: 400, contains: []string{`"code":"invalid"`, `field \"type\": no device type named \"ahu\"`}},
		{name: "define the type", method: "PUT", path: "/api/v1/device-types/ahu", as: asOperator, body: `{"settings":[]}`, status: 201},
		{name: "create", method: "POST", path: "/api/v1/devices", as: asOperator,
			body:   `{"name":"acme-ahu-2","customer":"acme","site":"acme-hq","type":"ahu","attributes":{"floor":"3"}}`,
			status: 201,
			contains: []string{`"device":{"name":"acme-ahu-2"`, `"customer":"acme"`, `"site":"acme-hq"`, `"type":"ahu"`, `"floor":"3"`,
				`"secret":"`, `"certificate_pem":"-----BEGIN CERTIFICATE-----`, `"private_key_pem":"-----BEGIN`, `"ca_pem":"-----BEGIN CERTIFICATE-----`,
				`"kind":"secret"`, `"kind":"certificate"`, `"cert_serial":"`, `"not_after":"`},
			notContains: never},
		{name: "create in default site", method: "POST", path: "/api/v1/devices", as: asOperator, body: `{"name":"acme-co2-9","customer":"acme"}`,
			status: 201, contains: []string{`"site":"default"`}},
		{name: "create twice", method: "POST", path: "/api/v1/devices", as: asOperator, body: `{"name":"acme-ahu-2","customer":"acme"}`,
			status: 409, contains: []string{`"code":"exists"`}},
		{name: "create for missing customer", method: "POST", path: "/api/v1/devices", as: asOperator, body: `{"name":"x1","customer":"nobody"}`,
			status: 400, contains: []string{`field \"customer\": no customer named \"nobody\"`}},
		{name: "create without customer", method: "POST", path: "/api/v1/devices", as: asOperator, body: `{"name":"x1"}`,
			status: 400, contains: []string{`field \"customer\": required`}},
		{name: "create with a topic wildcard", method: "POST", path: "/api/v1/devices", as: asOperator, body: `{"name":"x/#","customer":"acme"}`,
			status: 400, contains: []string{`"code":"invalid"`}},
		{name: "create with attributes of the wrong type", method: "POST", path: "/api/v1/devices", as: asOperator, body: `{"name":"x1","customer":"acme","attributes":{"floor":3}}`,
			status: 400, contains: []string{`field \"attributes\": expected a string, got number`}},
		{name: "create as customer", method: "POST", path: "/api/v1/devices", as: asAcme, body: `{"name":"x1","customer":"acme"}`, status: 403},
		{name: "operator lists all", method: "GET", path: "/api/v1/devices", as: asOperator,
			status: 200, contains: []string{acmeDevice, globexDevice, "acme-ahu-2"}, notContains: never},
		{name: "operator filters by customer", method: "GET", path: "/api/v1/devices?customer=globex", as: asOperator,
			status: 200, contains: []string{globexDevice}, notContains: []string{acmeDevice}},
		{name: "operator filters by site", method: "GET", path: "/api/v1/devices?customer=acme&site=acme-hq", as: asOperator,
			status: 200, contains: []string{acmeDevice, "acme-ahu-2"}, notContains: []string{"acme-co2-9", globexDevice}},
		{name: "customer lists own", method: "GET", path: "/api/v1/devices", as: asAcme,
			status: 200, contains: []string{acmeDevice, "acme-ahu-2"}, notContains: []string{globex}},
		{name: "customer filters own", method: "GET", path: "/api/v1/devices?customer=acme&site=default", as: asAcme,
			status: 200, contains: []string{"acme-co2-9"}, notContains: []string{acmeDevice, globex}},
		{name: "show", method: "GET", path: "/api/v1/devices/acme-ahu-2", as: asAcme,
			status: 200, contains: []string{`"name":"acme-ahu-2"`, `"credentials":[`}, notContains: never},
		{name: "show missing", method: "GET", path: "/api/v1/devices/nothing", as: asOperator, status: 404, contains: []string{"device not found"}},
		{name: "rotate", method: "POST", path: "/api/v1/devices/acme-ahu-2/credentials/rotate", as: asOperator,
			status: 200, contains: []string{`"secret":"`, `"certificate_pem":"-----BEGIN CERTIFICATE-----`, `"private_key_pem":"-----BEGIN`}, notContains: never},
		{name: "rotate as customer", method: "POST", path: "/api/v1/devices/acme-ahu-2/credentials/rotate", as: asAcme, status: 403},
		{name: "revoke unknown credential", method: "POST", path: "/api/v1/devices/acme-ahu-2/credentials/revoke", as: asOperator,
			body: `{"credential_id":"nope"}`, status: 404},
		{name: "revoke with a wrong field", method: "POST", path: "/api/v1/devices/acme-ahu-2/credentials/revoke", as: asOperator,
			body: `{"credential":"nope"}`, status: 400, contains: []string{`field \"credential\" is not accepted`, `\"credential_id\"`}},
		{name: "revoke all", method: "POST", path: "/api/v1/devices/acme-ahu-2/credentials/revoke", as: asOperator,
			status: 200, contains: []string{`"name":"acme-ahu-2"`, `"revoked_at":"`}, notContains: never},
		{name: "revoke as customer", method: "POST", path: "/api/v1/devices/acme-ahu-2/credentials/revoke", as: asAcme, status: 403},
		{name: "delete as customer", method: "DELETE", path: "/api/v1/devices/acme-ahu-2", as: asAcme, status: 403},
		{name: "delete", method: "DELETE", path: "/api/v1/devices/acme-ahu-2", as: asOperator, status: 204},
		{name: "gone", method: "GET", path: "/api/v1/devices/acme-ahu-2", as: asOperator, status: 404},
		{name: "delete again", method: "DELETE", path: "/api/v1/devices/acme-ahu-2", as: asOperator, status: 404},
	})
}

// TestRevokeOneCredential revokes one credential by id and checks the
// others stay active.
func TestRevokeOneCredential(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	d, err := e.registry.Device(acmeDevice)
	if err != nil {
		t.Fatalf("device: %v", err)
	}
	if len(d.Credentials) < 2 {
		t.Fatalf("device has %d credentials, the test needs two", len(d.Credentials))
	}
	target := d.Credentials[0].ID
	rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/devices/" + acmeDevice + "/credentials/revoke", as: asOperator,
		body: `{"credential_id":"` + target + `"}`})
	if rec.Code != http.StatusOK {
		t.Fatalf("revoke: status %d: %s", rec.Code, rec.Body)
	}
	var got struct {
		Credentials []struct {
			ID        string     `json:"id"`
			RevokedAt *time.Time `json:"revoked_at"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	revoked := map[string]bool{}
	for _, c := range got.Credentials {
		revoked[c.ID] = c.RevokedAt != nil
	}
	want := map[string]bool{}
	for _, c := range d.Credentials {
		want[c.ID] = c.ID == target
	}
	if diff := cmp.Diff(want, revoked); diff != "" {
		t.Errorf("revoked credentials (-want +got):\n%s", diff)
	}
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	big := `{"name":"` + strings.Repeat("x", 70<<10) + `"}`
	e.run(t, []scenario{
		{name: "text content type", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":"x"}`,
			header: map[string]string{"Content-Type": "text/plain"}, status: 415, contains: []string{`"code":"unsupported_media_type"`}},
		{name: "no content type", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":"x"}`,
			header: map[string]string{"Content-Type": ""}, status: 415},
		{name: "json with charset", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":"charset"}`,
			header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, status: 201},
		{name: "too large", method: "POST", path: "/api/v1/customers", as: asOperator, body: big, status: 413, contains: []string{`"code":"too_large"`, "65536"}},
		{name: "empty", method: "POST", path: "/api/v1/customers", as: asOperator, status: 400,
			contains: []string{"request body is empty", `\"name\", \"display_name\"`}},
		{name: "unknown field", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":"x","colour":"red"}`,
			status: 400, contains: []string{`field \"colour\" is not accepted`}},
		{name: "trailing garbage", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":"x"} {"name":"y"}`,
			status: 400, contains: []string{"unexpected data after the JSON object"}},
		{name: "syntax error", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":}`,
			status: 400, contains: []string{"not valid JSON at byte"}},
		{name: "truncated", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":"x"`,
			status: 400, contains: []string{"the JSON ends early"}},
		{name: "array", method: "POST", path: "/api/v1/customers", as: asOperator, body: `["x"]`,
			status: 400, contains: []string{"a JSON object is expected"}},
		{name: "wrong type", method: "POST", path: "/api/v1/customers", as: asOperator, body: `{"name":7}`,
			status: 400, contains: []string{`field \"name\": expected a string, got number`}},
		{name: "nothing was written", method: "GET", path: "/api/v1/customers", as: asOperator,
			status: 200, contains: []string{"charset"}, notContains: []string{`"name":"x"`, `"name":"y"`}},
	})
}

func TestTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/tokens", as: asOperator,
		body: `{"role":"customer","customer":"acme","name":"grafana"}`})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create token: status %d: %s", rec.Code, rec.Body)
	}
	var created struct{ ID, Name, Role, Customer, Token string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if diff := cmp.Diff("grafana|customer|acme", created.Name+"|"+created.Role+"|"+created.Customer); diff != "" {
		t.Errorf("created token (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(created.Token, secret.TokenPrefix) || created.ID == "" {
		t.Fatalf("created token %+v: want an id and an hth_ secret", created)
	}
	e.tokens["grafana"] = created.Token
	e.run(t, []scenario{
		{name: "new token works", method: "GET", path: "/api/v1/devices", as: "grafana", status: 200, contains: []string{acmeDevice}, notContains: []string{globex}},
		{name: "list", method: "GET", path: "/api/v1/tokens", as: asOperator, status: 200,
			contains:    []string{`"id":"` + created.ID + `"`, `"name":"grafana"`, `"role":"customer"`, `"customer":"acme"`, `"created_at":"2026-11-05T08:00:00Z"`},
			notContains: []string{created.Token, "hash", secret.TokenPrefix}},
		{name: "list as customer", method: "GET", path: "/api/v1/tokens", as: asAcme, status: 403},
		{name: "create as customer", method: "POST", path: "/api/v1/tokens", as: asAcme, body: `{"role":"operator"}`, status: 403},
		{name: "create operator token", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"operator","name":"ci"}`,
			status: 201, contains: []string{`"role":"operator"`, `"customer":""`, `"token":"hth_`}},
		{name: "a name is required", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"operator"}`,
			status: 400, contains: []string{`field \"name\": required`}},
		{name: "a blank name is no name", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"operator","name":"  "}`,
			status: 400, contains: []string{`field \"name\": required`}},
		{name: "names are unique per customer", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"customer","customer":"acme","name":"grafana"}`,
			status: 409, contains: []string{`"code":"exists"`, `a token named \"grafana\" of customer acme exists`}},
		{name: "another customer may use the name", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"customer","customer":"globex","name":"grafana"}`,
			status: 201},
		{name: "operators' names are unique too", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"operator","name":"ci"}`,
			status: 409, contains: []string{"of the operators exists"}},
		{name: "unknown role", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"admin","name":"x"}`,
			status: 400, contains: []string{`field \"role\" \"admin\"`}},
		{name: "customer role without customer", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"customer","name":"x"}`,
			status: 400, contains: []string{`field \"customer\": required`}},
		{name: "operator role with customer", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"operator","customer":"acme","name":"x"}`,
			status: 400, contains: []string{`field \"customer\": must be left out`}},
		{name: "missing customer", method: "POST", path: "/api/v1/tokens", as: asOperator, body: `{"role":"customer","customer":"nobody","name":"x"}`,
			status: 400, contains: []string{`no customer named \"nobody\"`}},
		{name: "delete as customer", method: "DELETE", path: "/api/v1/tokens/" + created.ID, as: asAcme, status: 403},
		{name: "delete", method: "DELETE", path: "/api/v1/tokens/" + created.ID, as: asOperator, status: 204},
		{name: "deleted token stops working", method: "GET", path: "/api/v1/devices", as: "grafana", status: 401},
		{name: "delete missing", method: "DELETE", path: "/api/v1/tokens/" + created.ID, as: asOperator, status: 404},
		{name: "delete own token", method: "DELETE", path: "/api/v1/tokens/" + e.tokenIDs[asOperator], as: asOperator, status: 204},
		{name: "own deleted token stops working", method: "GET", path: "/api/v1/tokens", as: asOperator, status: 401},
	})
}

func TestUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.run(t, []scenario{
		{name: "create with password", method: "POST", path: "/api/v1/users", as: asOperator,
			body:   `{"email":"Boss@Acme.example","role":"customer","customer":"acme","password":"long enough secret"}`,
			status: 201, contains: []string{`"email":"boss@acme.example"`, `"role":"customer"`, `"customer":"acme"`, `"must_change_password":false`},
			notContains: []string{"long enough secret", `"password"`, "argon2"}},
		{name: "create twice", method: "POST", path: "/api/v1/users", as: asOperator,
			body: `{"email":"boss@acme.example","role":"customer","customer":"acme"}`, status: 409},
		{name: "short password", method: "POST", path: "/api/v1/users", as: asOperator,
			body: `{"email":"x@acme.example","role":"operator","password":"short"}`, status: 400, contains: []string{`field \"password\": at least 12`}},
		{name: "bad email", method: "POST", path: "/api/v1/users", as: asOperator,
			body: `{"email":"not-an-address","role":"operator"}`, status: 400, contains: []string{`"code":"invalid"`, "e-mail"}},
		{name: "no email", method: "POST", path: "/api/v1/users", as: asOperator, body: `{"role":"operator"}`, status: 400, contains: []string{`field \"email\": required`}},
		{name: "customer role without customer", method: "POST", path: "/api/v1/users", as: asOperator,
			body: `{"email":"x@acme.example","role":"customer"}`, status: 400},
		{name: "create as customer", method: "POST", path: "/api/v1/users", as: asAcme,
			body: `{"email":"x@acme.example","role":"operator"}`, status: 403},
		{name: "list", method: "GET", path: "/api/v1/users", as: asOperator, status: 200,
			contains: []string{"boss@acme.example", globexUser}, notContains: []string{`"password"`, "password_hash", "argon2"}},
		{name: "list as customer", method: "GET", path: "/api/v1/users", as: asAcme, status: 403},
		{name: "delete as customer", method: "DELETE", path: "/api/v1/users/boss@acme.example", as: asAcme, status: 403},
		{name: "delete", method: "DELETE", path: "/api/v1/users/boss@acme.example", as: asOperator, status: 204},
		{name: "delete again", method: "DELETE", path: "/api/v1/users/boss@acme.example", as: asOperator, status: 404},
	})

	// A user created without a password gets a generated one, shown once,
	// stored only as a hash that verifies it.
	rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/users", as: asOperator,
		body: `{"email":"` + operatorEmail + `","role":"operator"}`})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create user: status %d: %s", rec.Code, rec.Body)
	}
	var created struct {
		Email              string `json:"email"`
		Password           string `json:"password"`
		MustChangePassword bool   `json:"must_change_password"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(created.Password) != 20 || !created.MustChangePassword {
		t.Fatalf("created %+v: want a 20-character generated password that must be changed", created)
	}
	u, err := e.store.GetUser(operatorEmail)
	if err != nil {
		t.Fatalf("get user: %v", err)
	}
	if strings.Contains(u.PasswordHash, created.Password) {
		t.Fatalf("stored password hash contains the password")
	}
	ok, err := secret.VerifyPassword(u.PasswordHash, created.Password)
	if err != nil || !ok {
		t.Errorf("stored hash does not verify the generated password: %v, %v", ok, err)
	}
}

// TestUserResetAndDisable: a lost password has a way back (a new one-time
// password), and a user can be disabled and enabled again without losing
// the record.
func TestUserResetAndDisable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	user := "boss@acme.example"
	e.run(t, []scenario{
		{name: "create", method: "POST", path: "/api/v1/users", as: asOperator,
			body: `{"email":"` + user + `","role":"customer","customer":"acme","password":"long enough secret"}`, status: 201},
		{name: "reset as customer", method: "POST", path: "/api/v1/users/" + user + "/reset-password", as: asAcme, status: 403},
		{name: "reset a missing user", method: "POST", path: "/api/v1/users/nobody@acme.example/reset-password", as: asOperator, status: 404},
	})
	rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/users/" + user + "/reset-password", as: asOperator})
	var reset struct{ Email, Password string }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &reset) != nil || len(reset.Password) != 20 {
		t.Fatalf("reset: %d %s", rec.Code, rec.Body)
	}
	u, err := e.store.GetUser(user)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := secret.VerifyPassword(u.PasswordHash, reset.Password); !ok || !u.MustChangePassword {
		t.Errorf("after reset: the new password does not verify (%v) or need not be changed (%v)", ok, u.MustChangePassword)
	}
	if ok, _ := secret.VerifyPassword(u.PasswordHash, "long enough secret"); ok {
		t.Error("the old password still verifies after a reset")
	}
	e.run(t, []scenario{
		{name: "disable", method: "PATCH", path: "/api/v1/users/" + user, as: asOperator, body: `{"disabled":true}`,
			status: 200, contains: []string{`"disabled":true`}, notContains: []string{"password_hash", "argon2"}},
		{name: "listed as disabled", method: "GET", path: "/api/v1/users", as: asOperator, status: 200, contains: []string{`"email":"` + user + `"`, `"disabled":true`}},
		{name: "the field is required", method: "PATCH", path: "/api/v1/users/" + user, as: asOperator, body: `{}`, status: 400, contains: []string{`nothing to change`}},
		{name: "enable", method: "PATCH", path: "/api/v1/users/" + user, as: asOperator, body: `{"disabled":false}`, status: 200, contains: []string{`"disabled":false`}},
		{name: "disable as customer", method: "PATCH", path: "/api/v1/users/" + user, as: asAcme, body: `{"disabled":true}`, status: 403},
	})
}

// TestTenancyMatrix sends acme's token to every route with globex's
// records: each must be refused, and no globex name may appear in any
// answer.
func TestTenancyMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	plain := globexSecretCredential(t, e)
	e.run(t, []scenario{
		{name: "globex's calendar", method: "PUT", path: "/api/v1/calendars/globex-cal", as: asOperator, body: calendarBody("globex"), status: 201},
		{name: "assigned to its device", method: "POST", path: "/api/v1/calendars/globex-cal/assignments", as: asOperator,
			body: `{"devices":["` + globexDevice + `"]}`, status: 200},
		{name: "and pushed", method: "POST", path: "/api/v1/calendars/globex-cal/push", as: asOperator, status: 200},
		{name: "globex's channel", method: "POST", path: "/api/v1/notification-channels", as: asOperator,
			body: `{"name":"globex-hook","customer":"globex","kind":"webhook","url":"https://hooks.globex.example/x"}`, status: 201},
	})
	if err := e.notify.Enqueue(context.Background(), notify.Message{Key: "globex-alarm", Customer: globex, Device: globexDevice,
		State: notify.StateActive, Title: "globex-chiller-7 offline", Channels: []string{"globex-hook"}}); err != nil {
		t.Fatal(err)
	}
	globexDeliveries, err := e.store.Deliveries(store.DeliveryQuery{Customer: globex})
	if err != nil || len(globexDeliveries) != 1 {
		t.Fatalf("globex's delivery: %v %v", globexDeliveries, err)
	}
	globexDelivery := fmt.Sprint(globexDeliveries[0].ID)
	globexNames := []string{globex, globexSite, globexDevice, globexUser, plain, e.tokenIDs[asGlobex]}
	dev := "/api/v1/devices/" + globexDevice
	if _, _, err := e.store.PutAlarmRule(store.AlarmRule{ID: "globex-rule", Name: "Globex supply", Customer: globex, Device: globexDevice,
		Kind: "telemetry", Severity: store.SeverityMajor, Condition: "chw_supply_c > 9"}); err != nil {
		t.Fatal(err)
	}
	globexAlarm, _, err := e.store.RaiseAlarm(store.Alarm{Rule: "globex-rule", Customer: globex, Site: globexSite, Device: globexDevice,
		Severity: store.SeverityMajor, RaisedAt: testNow, LastAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.jobs.Create(store.Job{ID: "globex-job", Document: json.RawMessage(`{"operation":"x"}`),
		Targets: store.JobTargets{Devices: []string{globexDevice}}}, "operator"); err != nil {
		t.Fatal(err)
	}
	e.jobs.RunDue()
	if _, _, err := e.store.PutMessageRule(store.MessageRule{ID: "globex-mrule", Name: "Globex data", Customer: globex, Topic: "dt/+/+/data",
		Actions: []store.RuleAction{{Kind: "telemetry"}}}); err != nil {
		t.Fatal(err)
	}
	globexNames = append(globexNames, "globex-rule", globexAlarm.ID)
	// The operators' artifacts are theirs: a customer reads none of them.
	if _, err := e.artifacts.Put("ops-firmware.bin", strings.NewReader("firmware"), artifact.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	globexNames = append(globexNames, "ops-firmware.bin")
	// globex runs a strategy, which changed its chiller.
	if err := e.store.PutStrategySetting(store.StrategySetting{Customer: globex, Site: globexSite, Strategy: "setpoint_reset", Enabled: true, UpdatedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddStrategyChanges([]store.StrategyChange{{Customer: globex, Site: globexSite, Device: globexDevice, Strategy: "setpoint_reset",
		At: testNow, Action: "set", Key: "chw_setpoint_c", To: json.RawMessage("9.5"), Reason: "globex load 30 %"}}); err != nil {
		t.Fatal(err)
	}
	globexNames = append(globexNames, "globex load")
	strategies := "/api/v1/customers/globex/sites/globex-plant/strategies"
	alarmRule := `{"name":"x","customer":"globex","device_type":"boiler","severity":"minor","condition":"hw_supply_c > 80"}`
	routes := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/v1/openapi.json", "", 200},
		{"GET", "/api/v1/customers/globex", "", 404},
		{"GET", "/api/v1/customers/globex/sites", "", 404},
		{"POST", "/api/v1/customers/globex/sites", `{"name":"sneaky"}`, 404},
		{"POST", "/api/v1/customers", `{"name":"globex"}`, 403},
		{"GET", "/api/v1/devices?customer=globex", "", 404},
		{"GET", "/api/v1/devices?customer=globex&site=globex-plant", "", 404},
		{"POST", "/api/v1/devices", `{"name":"sneaky","customer":"globex","site":"globex-plant"}`, 403},
		{"POST", "/api/v1/devices/bulk", "name,customer,site\nsneaky,globex,globex-plant\n", 403},
		{"GET", dev, "", 404},
		{"DELETE", dev, "", 404},
		{"POST", dev + "/credentials/rotate", "", 404},
		{"POST", dev + "/credentials/revoke", `{"credential_id":"` + plain + `"}`, 404},
		{"GET", dev + "/telemetry/latest", "", 404},
		{"GET", dev + "/telemetry?metric=co2_ppm", "", 404},
		{"GET", "/api/v1/tokens", "", 403},
		{"POST", "/api/v1/backup", "", 403},
		{"POST", "/api/v1/tokens", `{"role":"customer","customer":"globex"}`, 403},
		{"DELETE", "/api/v1/tokens/" + e.tokenIDs[asGlobex], "", 403},
		{"GET", "/api/v1/users", "", 403},
		{"POST", "/api/v1/users", `{"email":"x@globex.example","role":"customer","customer":"globex"}`, 403},
		{"DELETE", "/api/v1/users/" + globexUser, "", 403},
		{"PATCH", "/api/v1/users/" + globexUser, `{"disabled":true}`, 403},
		{"POST", "/api/v1/users/" + globexUser + "/reset-password", "", 403},
		{"GET", dev + "/shadow", "", 404},
		{"PATCH", dev + "/shadow", `{"state":{"desired":{"x":1}}}`, 404},
		{"DELETE", dev + "/shadow", "", 404},
		{"GET", dev + "/shadow/history", "", 404},
		{"GET", dev + "/settings", "", 404},
		{"PATCH", dev, `{"type":"x"}`, 404},
		{"PATCH", "/api/v1/customers/globex", `{"display_name":"x"}`, 404},
		{"PATCH", "/api/v1/customers/globex/sites/globex-plant", `{"display_name":"x"}`, 404},
		{"GET", "/api/v1/customers/globex/sites/globex-plant", "", 404},
		{"GET", "/api/v1/customers/globex/sites/globex-plant/energy?step=1d", "", 404},
		{"GET", "/api/v1/customers/globex/sites/globex-plant/energy?format=csv", "", 404},
		{"GET", "/api/v1/customers/globex/sites/globex-plant/energy/settings", "", 404},
		{"PATCH", "/api/v1/customers/globex/sites/globex-plant/energy/settings", `{"floor_area_m2":100}`, 404},
		{"POST", "/api/v1/customers/globex/sites/globex-plant/energy/baseline", `{"from":"2026-01-01","to":"2026-03-31"}`, 404},
		{"GET", dev + "/modbus", "", 404},
		{"PUT", dev + "/modbus", "source: {tcp: 127.0.0.1:502}\n", 404},
		{"DELETE", dev + "/modbus", "", 404},
		{"GET", "/api/v1/audit", "", 403},
		{"GET", "/api/v1/device-types", "", 403},
		{"GET", "/api/v1/device-types/chiller", "", 403},
		{"PUT", "/api/v1/device-types/chiller", `{"settings":[]}`, 403},
		{"DELETE", "/api/v1/device-types/chiller", "", 403},
		{"GET", "/api/v1/sso-providers", "", 403},
		{"GET", "/api/v1/calendars/globex-cal", "", 404},
		{"PUT", "/api/v1/calendars/globex-cal", calendarBody("globex"), 403},
		{"DELETE", "/api/v1/calendars/globex-cal", "", 404},
		{"POST", "/api/v1/calendars", `{"copy_of":"globex-cal","id":"mine"}`, 404},
		{"GET", "/api/v1/calendars/globex-cal/days?from=2026-11-01&to=2026-11-30", "", 404},
		{"GET", "/api/v1/calendars/globex-cal/assignments", "", 404},
		{"POST", "/api/v1/calendars/globex-cal/assignments", `{"devices":["` + globexDevice + `"]}`, 404},
		{"DELETE", "/api/v1/calendars/globex-cal/assignments/device/" + globexDevice, "", 404},
		{"POST", "/api/v1/calendars/globex-cal/push", "", 404},
		{"GET", "/api/v1/calendars/globex-cal/pushes", "", 404},
		{"GET", "/api/v1/calendars/globex-cal/closures.csv", "", 404},
		{"PUT", "/api/v1/calendars/globex-cal/closures.csv", "kind,name,from,to,day_type\n", 404},
		{"GET", "/api/v1/calendars/globex-cal/calendar.ics", "", 404},
		{"POST", "/api/v1/calendars/globex-cal/feed", "", 404},
		{"GET", dev + "/schedule", "", 404},
		{"GET", dev + "/schedule/pushes", "", 404},
		{"POST", dev + "/schedule/push", "", 404},
		{"GET", "/api/v1/alarm-rules/globex-rule", "", 404},
		{"PUT", "/api/v1/alarm-rules/globex-rule", alarmRule, 403},
		{"PUT", "/api/v1/alarm-rules/globex-rule", strings.Replace(alarmRule, "globex", "acme", 1), 403},
		{"DELETE", "/api/v1/alarm-rules/globex-rule", "", 404},
		{"POST", "/api/v1/alarm-rules", alarmRule, 403},
		{"POST", "/api/v1/alarm-rules", `{"name":"x","device":"` + globexDevice + `","severity":"minor","condition":"hw_supply_c > 80"}`, 403},
		{"POST", "/api/v1/alarm-rules/preview", `{"name":"x","device":"` + globexDevice + `","severity":"minor","condition":"hw_supply_c > 80"}`, 400},
		// A customer previews on its own devices, whatever customer it names.
		{"POST", "/api/v1/alarm-rules/preview", `{"customer":"globex","device":"` + acmeDevice + `","severity":"minor","condition":"hw_supply_c > 80"}`, 200},
		{"GET", "/api/v1/alarms/" + globexAlarm.ID, "", 404},
		{"POST", "/api/v1/alarms/" + globexAlarm.ID + "/ack", "", 404},
		{"POST", "/api/v1/alarms/" + globexAlarm.ID + "/clear", `{"comment":"x"}`, 404},
		{"GET", "/api/v1/sso-providers/globex-sso", "", 403},
		{"PUT", "/api/v1/sso-providers/globex-sso", `{"issuer":"https://idp.example","client_id":"c","client_secret":"s"}`, 403},
		{"DELETE", "/api/v1/sso-providers/globex-sso", "", 403},
		{"GET", "/api/v1/notification-channels?customer=globex", "", 404},
		{"POST", "/api/v1/notification-channels", `{"name":"sneaky","customer":"globex","kind":"webhook","url":"https://x.example/"}`, 404},
		{"GET", "/api/v1/notification-channels/globex-hook?customer=globex", "", 404},
		{"GET", "/api/v1/notification-channels/globex-hook", "", 404},
		{"PATCH", "/api/v1/notification-channels/globex-hook?customer=globex", `{"url":"https://x.example/"}`, 404},
		{"DELETE", "/api/v1/notification-channels/globex-hook?customer=globex", "", 404},
		{"POST", "/api/v1/notification-channels/globex-hook/test?customer=globex", "", 404},
		{"GET", "/api/v1/notification-deliveries?customer=globex", "", 404},
		{"POST", "/api/v1/notification-deliveries/" + globexDelivery + "/retry", "", 404},
		{"GET", "/api/v1/users/" + globexUser + "/notifications", "", 403},
		{"PUT", "/api/v1/users/" + globexUser + "/notifications", `{"severities":["critical"]}`, 403},
		{"GET", "/api/v1/jobs/globex-job", "", 404},
		{"GET", "/api/v1/jobs/globex-job/executions", "", 404},
		{"POST", "/api/v1/jobs/globex-job/cancel", `{"force":true}`, 403},
		{"DELETE", "/api/v1/jobs/globex-job", "", 403},
		{"POST", "/api/v1/jobs", `{"id":"sneaky","targets":{"devices":["` + globexDevice + `"]},"document":{"a":1}}`, 403},
		{"GET", dev + "/jobs", "", 404},
		{"GET", "/api/v1/rules/globex-mrule", "", 404},
		{"PUT", "/api/v1/rules/globex-mrule", `{"name":"x","customer":"globex","topic":"a/#","actions":[{"kind":"telemetry"}]}`, 403},
		{"DELETE", "/api/v1/rules/globex-mrule", "", 403},
		{"POST", "/api/v1/rules", `{"name":"x","customer":"globex","topic":"a/#","actions":[{"kind":"telemetry"}]}`, 403},
		{"POST", "/api/v1/rules/globex-mrule/dry-run", `{"device":"` + acmeDevice + `","topic":"a/b","payload":{}}`, 404},
		{"POST", "/api/v1/rules/dry-run", `{"rule":{"name":"x","topic":"a/#","actions":[{"kind":"telemetry"}]},"device":"` + globexDevice + `","topic":"a/b","payload":{}}`, 400},
		{"GET", "/api/v1/artifacts", "", 403},
		{"GET", "/api/v1/artifacts/ops-firmware.bin", "", 403},
		{"PUT", "/api/v1/artifacts/ops-firmware.bin", "evil firmware", 403},
		{"PUT", "/api/v1/artifacts/acme-firmware.bin", "evil firmware", 403},
		{"DELETE", "/api/v1/artifacts/ops-firmware.bin", "", 403},
		{"POST", "/api/v1/artifacts/ops-firmware.bin/url", "", 403},
		{"GET", strategies, "", 404},
		{"PUT", strategies + "/setpoint_reset", `{"enabled":false}`, 404},
		{"PUT", strategies + "/setpoint_reset/devices/" + globexDevice, `{"enabled":false}`, 404},
		{"DELETE", strategies + "/setpoint_reset/devices/" + globexDevice, "", 404},
		// acme's own site does not hold globex's device.
		{"PUT", "/api/v1/customers/acme/sites/acme-hq/strategies/setpoint_reset/devices/" + globexDevice, `{"enabled":true}`, 404},
		{"GET", "/api/v1/customers/globex/sites/globex-plant/strategy-changes", "", 404},
		{"GET", "/api/v1/customers/acme/sites/acme-hq/strategy-changes?device=" + globexDevice, "", 200},
		{"GET", dev + "/strategy-changes", "", 404},
	}
	// The Prometheus API answers a customer, restricted to its own series
	// (checked below through the scope the engine was handed).
	for _, ep := range []string{"query?query=up", "query_range?query=up", "labels", "series?match[]=up", "label/device/values", "status/buildinfo",
		"metadata", "rules", "query_exemplars?query=up"} {
		for _, m := range []string{"GET", "POST"} {
			if m == "POST" && (ep == "status/buildinfo" || ep == "metadata" || ep == "rules") {
				continue
			}
			routes = append(routes, struct {
				method, path, body string
				status             int
			}{m, "/prometheus/api/v1/" + ep, "", 200})
		}
	}
	checkMatrixCoversRoutes(t, e, func(yield func(method, path string) bool) {
		for _, rt := range routes {
			if !yield(rt.method, rt.path) {
				return
			}
		}
		for _, p := range []string{"/api/v1/customers", "/api/v1/devices", "/api/v1/customers/acme", "/api/v1/customers/acme/sites", "/api/v1/calendars", "/api/v1/schedule/status",
			"/api/v1/alarm-rules", "/api/v1/alarms", "/api/v1/notification-channels", "/api/v1/notification-deliveries", "/api/v1/jobs", "/api/v1/rules"} {
			if !yield("GET", p) {
				return
			}
		}
	})
	for _, rt := range routes {
		sc := scenario{name: rt.method + " " + rt.path, method: rt.method, path: rt.path, as: asAcme, body: rt.body, status: rt.status}
		if strings.HasSuffix(rt.path, "/modbus") && rt.body != "" {
			sc.header = map[string]string{"Content-Type": "application/yaml"}
		}
		if (strings.HasSuffix(rt.path, ".csv") || strings.HasSuffix(rt.path, "/bulk")) && rt.body != "" {
			sc.header = map[string]string{"Content-Type": "text/csv"}
		}
		if strings.HasPrefix(rt.path, "/api/v1/artifacts/") && rt.method == "PUT" {
			sc.header = map[string]string{"Content-Type": "application/octet-stream"}
		}
		// Only the request line may name globex; the answer never does.
		sc.notContains = globexNames
		t.Run(sc.name, func(t *testing.T) {
			e.check(t, sc, e.do(t, e.api.Handler(), sc))
		})
	}
	// acme's admin manages acme's users and tokens: globex's read as
	// absent, and its listings hold nothing of globex.
	e.addToken(t, asAcmeAdmin, store.RoleCustomer, acme, store.AccessAdmin)
	for _, rt := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/v1/tokens", "", 200},
		{"GET", "/api/v1/users", "", 200},
		{"POST", "/api/v1/tokens", `{"name":"x","role":"customer","customer":"globex"}`, 404},
		{"DELETE", "/api/v1/tokens/" + e.tokenIDs[asGlobex], "", 404},
		{"POST", "/api/v1/users", `{"email":"x@globex.example","role":"customer","customer":"globex","invite":true}`, 404},
		{"DELETE", "/api/v1/users/" + globexUser, "", 404},
		{"PATCH", "/api/v1/users/" + globexUser, `{"disabled":true}`, 404},
		{"POST", "/api/v1/users/" + globexUser + "/reset-password", "", 404},
		{"GET", "/api/v1/users/" + globexUser + "/notifications", "", 403},
	} {
		sc := scenario{name: "admin " + rt.method + " " + rt.path, method: rt.method, path: rt.path, as: asAcmeAdmin, body: rt.body, status: rt.status, notContains: globexNames}
		t.Run(sc.name, func(t *testing.T) { e.check(t, sc, e.do(t, e.api.Handler(), sc)) })
	}
	// Listings acme may make hold nothing of globex.
	for _, path := range []string{"/api/v1/customers", "/api/v1/devices", "/api/v1/customers/acme/sites", "/api/v1/devices/" + acmeDevice, "/api/v1/calendars", "/api/v1/schedule/status",
		"/api/v1/alarm-rules", "/api/v1/alarm-rules?customer=globex", "/api/v1/alarms", "/api/v1/alarms?device=" + globexDevice, "/api/v1/alarms?customer=globex&state=open",
		"/api/v1/notification-channels", "/api/v1/notification-deliveries", "/api/v1/jobs", "/api/v1/devices/" + acmeDevice + "/jobs", "/api/v1/rules"} {
		sc := scenario{name: "GET " + path, method: "GET", path: path, as: asAcme, status: 200, notContains: append(slices.Clone(globexNames), "globex-job", "globex-mrule")}
		if !strings.Contains(path, "calendars") && !strings.Contains(path, "schedule") && !strings.Contains(path, "alarm") && !strings.Contains(path, "notification") && !strings.Contains(path, "jobs") && !strings.Contains(path, "rules") {
			sc.contains = []string{acme} // acme has no calendar or push of its own
		}
		t.Run(sc.name, func(t *testing.T) { e.check(t, sc, e.do(t, e.api.Handler(), sc)) })
	}
	// Nothing of globex changed.
	d, err := e.registry.Device(globexDevice)
	if err != nil {
		t.Fatalf("globex device after the matrix: %v", err)
	}
	for _, c := range d.Credentials {
		if c.RevokedAt != nil {
			t.Errorf("globex credential %s was revoked through acme's token", c.ID)
		}
	}
	if _, err := e.store.GetUser(globexUser); err != nil {
		t.Errorf("globex user after the matrix: %v", err)
	}
	if _, err := e.store.GetToken(e.tokenIDs[asGlobex]); err != nil {
		t.Errorf("globex token after the matrix: %v", err)
	}
	if c, err := e.store.GetNotificationChannel(globex, "globex-hook"); err != nil || c.URL != "https://hooks.globex.example/x" {
		t.Errorf("globex channel after the matrix: %+v, %v", c, err)
	}
	if j, err := e.store.GetJob("globex-job"); err != nil || j.Status != store.JobActive || j.Counts["QUEUED"] != 1 {
		t.Errorf("globex job after the matrix: %+v, %v", j, err)
	}
	if _, err := e.store.GetJob("sneaky"); err == nil {
		t.Error("acme created a job for globex's device")
	}
	if rs, _ := e.store.ListMessageRules(); len(rs) != 1 || rs[0].Name != "Globex data" {
		t.Errorf("message rules after the matrix: %+v", rs)
	}
	if d, err := e.store.GetDelivery(globexDeliveries[0].ID); err != nil || d.Status != store.DeliveryPending || d.Attempts != 0 {
		t.Errorf("globex delivery after the matrix: %+v, %v", d, err)
	}
	if sts, err := e.store.StrategySettings(globex, globexSite); err != nil || len(sts) != 1 || !sts[0].Enabled {
		t.Errorf("globex's strategies after the matrix: %+v, %v", sts, err)
	}
	if list, err := e.artifacts.List(); err != nil || len(list) != 1 || list[0].Size != int64(len("firmware")) {
		t.Errorf("artifacts after the matrix: %+v, %v; want the operators' one, unchanged", list, err)
	}
	queries, scopes := e.telemetry.recorded()
	// Only the preview of acme's own device reads telemetry.
	if len(queries) == 0 {
		t.Error("the preview of acme's device queried no telemetry")
	}
	for _, q := range queries {
		if q.Device != acmeDevice || q.Customer != acme {
			t.Errorf("telemetry was queried for another customer's device: %+v", q)
		}
	}
	for _, sc := range scopes {
		if !strings.HasSuffix(sc, "|"+acme) {
			t.Errorf("a Prometheus request of acme's was answered with the scope %q", sc)
		}
	}
}

// checkMatrixCoversRoutes fails for every route of the API that no request
// of the tenancy matrix exercises, so a new route cannot be left out.
func checkMatrixCoversRoutes(t *testing.T, e *env, requests func(yield func(method, path string) bool)) {
	t.Helper()
	routes, ok := e.api.Handler().(chi.Routes)
	if !ok {
		t.Fatal("the API handler is not a chi router; the matrix cannot list its routes")
	}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		pattern := "^" + regexp.MustCompile(`\\\{[^}]+\}`).ReplaceAllString(regexp.QuoteMeta(strings.TrimSuffix(route, "/")), "[^/]+") + "/?$"
		re := regexp.MustCompile(pattern)
		for m, p := range requests {
			if path, _, _ := strings.Cut(p, "?"); m == method && re.MatchString(path) {
				return nil
			}
		}
		t.Errorf("the tenancy matrix does not try %s %s", method, route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// globexSecretCredential returns the id of a credential of globex's device.
func globexSecretCredential(t *testing.T, e *env) string {
	t.Helper()
	d, err := e.registry.Device(globexDevice)
	if err != nil || len(d.Credentials) == 0 {
		t.Fatalf("globex device credentials: %v (%d)", err, len(d.Credentials))
	}
	return d.Credentials[0].ID
}

func newRegistry(t testing.TB, st *store.Store, authority *ca.CA, logger *slog.Logger) *device.Registry {
	t.Helper()
	reg, err := device.NewRegistry(st, authority, logger)
	if err != nil {
		t.Fatalf("new registry: %v", err)
	}
	return reg
}

// ingestNothing is the rules' telemetry here: the API only tries rules,
// and nothing is stored.
type ingestNothing struct{}

func (ingestNothing) Accept(string, []byte, time.Time) (device.Storing, error) {
	return nil, errors.New("no telemetry is stored in these tests")
}
