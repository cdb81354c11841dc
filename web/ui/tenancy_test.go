package ui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/store"
)

// TestTenancyPageMatrix asks, as a customer of acme (an editor, then an
// admin), for every page route with another customer's objects in it: each
// answers 404 (the operator pages as if they did not exist), nothing of
// globex is in the answer and nothing of globex changes. The routes are
// listed from the router, so a new page that is not in the matrix fails
// the test.
func TestTenancyPageMatrix(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, globexAlarm := e.seedAlarms(time.Now().Add(-time.Hour))
	// globex's webhook calls a real receiver, which must hear nothing;
	// acme has a channel of its own.
	rc := newReceiver(t, http.StatusOK)
	e.seedChannel(store.NotificationChannel{Customer: "globex", Name: "hook", Kind: store.ChannelWebhook, URL: rc.URL + "/globex", Secret: "whsec_globex"})
	e.seedChannel(store.NotificationChannel{Customer: "acme", Name: "acme-mail", Kind: store.ChannelEmail, To: []string{"fm@acme.example"}})
	globexDead := e.seedDeliveries(store.Delivery{Key: "k", Customer: "globex", Channel: "hook", Status: store.DeliveryDead,
		LastError: "receiver answered 500", Message: message("Globex boiler", "globex-chiller-9", "critical")})[0].ID
	// globex has a job of its own; a job for both customers is acme's to
	// see over acme's devices only.
	e.seedJob(store.Job{ID: "globex-job", Description: "Globex firmware", Targets: store.JobTargets{Devices: []string{"globex-chiller-9"}}})
	e.seedJob(store.Job{ID: "shared-job", Document: json.RawMessage(`{"operation":"globex-secret-op"}`),
		Targets: store.JobTargets{Devices: []string{"acme-chiller-1", "globex-chiller-9"}}})
	// The operators' artifacts are theirs: no customer reads or changes one.
	if _, err := e.arts.Put("ops-firmware.bin", strings.NewReader("firmware"), artifact.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// globex has a message rule of its own; acme's is acme's to read.
	e.seedMessageRule(store.MessageRule{ID: "globex-mrule", Name: "Globex secret rule", Customer: "globex", Topic: "globex/osaka/#",
		Actions: []store.RuleAction{{Kind: "shadow"}}})
	e.seedMessageRule(store.MessageRule{ID: "acme-mrule", Name: "Acme rule", Customer: "acme", Topic: "dt/#",
		Actions: []store.RuleAction{{Kind: "shadow"}}})
	// globex runs a strategy that changed its chiller.
	if err := e.st.AddStrategyChanges([]store.StrategyChange{{Customer: "globex", Site: "osaka-dome", Device: "globex-chiller-9", Strategy: "setpoint_reset",
		At: time.Now(), Action: "set", Key: "chw_setpoint_c", To: json.RawMessage("9"), Reason: "osaka load 20 %"}}); err != nil {
		t.Fatal(err)
	}
	globexNames := []string{"globex", "osaka", "Globex secret rule", "overheating", globexAlarm, "whsec_globex", rc.URL, "Globex firmware", "ops-firmware.bin"}
	const dev = "/devices/globex-chiller-9"
	const adev = "/admin/devices/globex-chiller-9"
	const cal = "/calendars/globex-office"
	alarm := "/alarms/" + globexAlarm
	const rule = "/alarms/rules/globex-rule"
	// acme has no channel named hook: globex's reads as none.
	const ch = "/alarms/channels/hook"
	const adminCh = "/admin/alarms/channels/globex/hook"
	retry := "/admin/alarms/deliveries/" + strconv.FormatUint(globexDead, 10) + "/retry"
	const job = "/jobs/globex-job"
	const mrule = "/message-rules/globex-mrule"
	matrix := []struct{ method, path string }{
		{"GET", mrule}, {"POST", mrule + "/dry-run"},
		{"GET", "/admin/message-rules"}, {"GET", "/admin/message-rules/new"}, {"POST", "/admin/message-rules/new"},
		{"GET", "/admin" + mrule + "/edit"}, {"POST", "/admin" + mrule + "/edit"},
		{"GET", "/admin" + mrule + "/delete"}, {"POST", "/admin" + mrule + "/delete"},
		{"GET", job}, {"GET", "/admin/jobs"}, {"GET", "/admin/jobs/new"}, {"POST", "/admin/jobs/new"},
		{"POST", "/admin" + job + "/cancel"}, {"GET", "/admin" + job + "/delete"}, {"POST", "/admin" + job + "/delete"},
		{"GET", ch}, {"POST", ch}, {"POST", ch + "/rotate"}, {"POST", ch + "/test"}, {"GET", ch + "/delete"}, {"POST", ch + "/delete"},
		{"POST", "/alarms/channels"},
		{"GET", "/admin/alarms/channels"}, {"POST", "/admin/alarms/channels"},
		{"GET", adminCh}, {"POST", adminCh}, {"POST", adminCh + "/rotate"}, {"POST", adminCh + "/test"},
		{"GET", adminCh + "/delete"}, {"POST", adminCh + "/delete"},
		{"GET", "/admin/alarms/deliveries"}, {"POST", retry},
		{"GET", alarm}, {"POST", alarm + "/ack"}, {"POST", alarm + "/clear"},
		{"GET", rule}, {"POST", rule}, {"GET", rule + "/delete"}, {"POST", rule + "/delete"},
		{"GET", "/admin/alarms"}, {"GET", "/admin/alarms/rules"},
		{"GET", dev}, {"GET", dev + "/live"}, {"GET", dev + "/series?metrics=co2_ppm"}, {"GET", dev + "/series"},
		{"GET", dev + "/series?metrics=co2_ppm&compare=week"}, {"GET", dev + "?compare=previous&metrics=co2_ppm"}, {"POST", dev + "/chart"},
		{"GET", dev + "/export.csv?metrics=co2_ppm"}, {"GET", dev + "/export.csv"},
		{"GET", "/devices/no-such-device/series"}, {"GET", "/devices/no-such-device/export.csv"}, {"POST", dev + "/settings"}, {"POST", dev + "/schedule/push"},
		{"GET", cal}, {"GET", cal + "/calendar.ics"}, {"GET", cal + "/closures.csv"}, {"POST", cal + "/closures.csv"},
		{"POST", cal + "/weekly"}, {"POST", cal + "/day-types"}, {"POST", cal + "/seasons"}, {"POST", cal + "/closures"},
		{"POST", cal + "/exceptions"}, {"POST", cal + "/feed"}, {"POST", cal + "/copy"}, {"POST", cal + "/push"},
		{"GET", "/admin/calendars"}, {"POST", "/admin/calendars"}, {"POST", "/admin/calendars/copy"},
		{"POST", "/admin" + cal + "/settings"}, {"POST", "/admin" + cal + "/assignments"}, {"POST", "/admin" + cal + "/unassign"},
		{"GET", "/admin" + cal + "/delete"}, {"POST", "/admin" + cal + "/delete"},
		{"GET", "/sites/globex/osaka-dome"}, {"GET", "/sites/globex/osaka-dome/live"},
		{"GET", "/sites/globex/osaka-dome/energy"}, {"GET", "/sites/globex/osaka-dome/energy/report.pdf"},
		{"GET", "/sites/globex/osaka-dome/energy?month=2026-11"},
		{"GET", "/sites/globex/osaka-dome/strategies"}, {"GET", "/sites/globex/osaka-dome/strategies?device=globex-chiller-9"},
		{"POST", "/sites/globex/osaka-dome/strategies/setpoint_reset"},
		{"GET", "/admin/audit"}, {"GET", "/admin/health"}, {"GET", "/admin/history?device=globex-chiller-9"},
		{"GET", "/admin/customers"}, {"POST", "/admin/customers"},
		{"GET", "/admin/customers/globex"}, {"POST", "/admin/customers/globex/sites"},
		{"GET", "/admin/customers/globex/delete"}, {"POST", "/admin/customers/globex/delete"},
		{"GET", "/admin/customers/globex/sites/osaka-dome/delete"}, {"POST", "/admin/customers/globex/sites/osaka-dome/delete"},
		{"GET", "/admin/devices"}, {"POST", "/admin/devices"},
		{"GET", "/admin/devices?customer=globex&site=osaka-dome"}, {"GET", "/admin/devices/new?customer=globex"},
		{"GET", "/admin/devices/import"}, {"POST", "/admin/devices/import"},
		{"GET", adev}, {"GET", adev + "/credentials"}, {"POST", adev + "/credentials.zip"},
		{"GET", adev + "/delete"}, {"POST", adev + "/delete"},
		{"GET", adev + "/revoke"}, {"POST", adev + "/revoke"},
		{"GET", adev + "/rotate"}, {"POST", adev + "/rotate"},
		{"GET", adev + "/shadow"}, {"POST", adev + "/shadow"},
		{"GET", adev + "/edit"}, {"POST", adev + "/edit"},
		{"GET", "/admin/customers/globex/edit"}, {"POST", "/admin/customers/globex/edit"},
		{"GET", "/admin/customers/globex/sites/osaka-dome/edit"}, {"POST", "/admin/customers/globex/sites/osaka-dome/edit"},
		{"GET", "/admin/sso"}, {"POST", "/admin/sso"}, {"GET", "/admin/sso/globex-sso"},
		{"GET", "/admin/sso/globex-sso/delete"}, {"POST", "/admin/sso/globex-sso/delete"},
		{"GET", "/admin/tokens"}, {"POST", "/admin/tokens"},
		{"GET", "/admin/tokens/globex-token/delete"}, {"POST", "/admin/tokens/globex-token/delete"},
		{"GET", "/admin/types"}, {"GET", "/admin/types/new"}, {"POST", "/admin/types/new"},
		{"GET", "/admin/types/chiller"}, {"POST", "/admin/types/chiller"},
		{"GET", "/admin/types/chiller/delete"}, {"POST", "/admin/types/chiller/delete"},
		{"GET", "/admin/users"}, {"POST", "/admin/users"},
		{"GET", "/admin/users/" + globexUser + "/delete"}, {"POST", "/admin/users/" + globexUser + "/delete"},
		{"GET", "/admin/artifacts"}, {"POST", "/admin/artifacts"}, {"POST", "/admin/artifacts/ops-firmware.bin/link"},
		{"GET", "/admin/artifacts/ops-firmware.bin/delete"}, {"POST", "/admin/artifacts/ops-firmware.bin/delete"},
	}
	// Routes that hold nothing of another customer: the person's own
	// pages, signing in and out, and the static files.
	// The lists of calendars, alarms, alarm rules and channels, and the
	// form of a new rule, are the person's own too; that they name
	// nothing of another customer is tried below. A new channel for
	// globex is in the matrix; one of the person's own is theirs.
	own := []string{"/", "/overview/live", "/account", "/account/notifications", "/password", "/login", "/login/sso/{provider}", "/login/sso/{provider}/callback",
		"/logout", "/static/*", "/favicon.ico", "/calendars", "/alarms", "/alarms/rules", "/alarms/rules/new", "/alarms/channels", "/jobs", "/message-rules"}

	form := url.Values{"name": {"globex"}, "customer": {"globex"}, "email": {"x@globex.example"}, "role": {"operator"},
		"s.chw_setpoint": {"7"}, "update": {`{"state":{"desired":{"chw_setpoint":7}}}`}, "settings": {"[]"},
		"issuer": {"https://idp.example"}, "client_id": {"c"}, "client_secret": {"s"},
		"id": {"acme-stolen"}, "from": {"globex-office"}, "year": {"2026"}, "rows": {"1"}, "w.monday": {"closed"},
		"cl.0.name": {"x"}, "cl.0.from": {"01-01"}, "cl.0.to": {"01-02"}, "cl.0.day_type": {"closed"},
		"kind": {"site"}, "target": {"osaka-dome"}, "devices": {"globex-chiller-9"}, "sites": {"osaka-dome"},
		"severity": {"critical"}, "device": {"globex-chiller-9"}, "condition": {"chw_supply_c > 1"}, "comment": {"x"},
		"url": {rc.URL + "/stolen"}, "back": {"/"},
		"mode": {"parts"}, "topic": {"#"}, "a0.kind": {"shadow"}, "try": {"1"},
		"try_device": {"globex-chiller-9"}, "try_topic": {"dt/globex-chiller-9"}, "try_payload": {`{"t": 1}`}}
	leakOf := func(names []string) func(string) string {
		return func(body string) string {
			for _, n := range names {
				if strings.Contains(body, n) {
					return n
				}
			}
			return ""
		}
	}
	leak := leakOf(globexNames)
	// A page that shows what the person typed (a filter, a refused form)
	// may name it, and nothing else of globex.
	untyped := leakOf(globexNames[1:])
	for _, user := range []string{acmeUser, acmeAdmin} {
		c := e.signIn(user)
		for _, rt := range matrix {
			var r response
			if rt.method == "GET" {
				r = e.get(c, rt.path)
			} else {
				r = e.post(c, rt.path, form)
			}
			if leaked := leak(r.body); r.status != http.StatusNotFound || leaked != "" {
				t.Errorf("%s %s as %s: %d, names %q; want 404 naming nothing of globex", rt.method, rt.path, user, r.status, leaked)
			}
		}
		for _, path := range []string{"/calendars", "/alarms?state=all", "/alarms/rules", "/alarms/channels", "/account/notifications", "/devices/acme-chiller-1", "/devices/acme-chiller-1/live", "/", "/overview/live", "/sites/acme/tokyo-tower/live", "/sites/acme/tokyo-tower/strategies", "/jobs", "/jobs/shared-job",
			"/message-rules", "/message-rules/acme-mrule"} {
			if r := e.get(c, path); r.status != http.StatusOK || leak(r.body) != "" {
				t.Errorf("GET %s as %s: %d, naming %q", path, user, r.status, leak(r.body))
			}
		}
		// On acme's own device: a CSV needs metrics; a chart with none is
		// one with no lines, which the page of a device that has sent no
		// readings yet asks for.
		if r := e.get(c, "/devices/acme-chiller-1/export.csv"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "at least one is required") {
			t.Errorf("GET acme's CSV without metrics as %s: %d %q; want 400 saying a metric is required", user, r.status, r.body)
		}
		if r := e.get(c, "/devices/acme-chiller-1/series"); r.status != http.StatusOK || !strings.Contains(r.body, `"series":[]`) {
			t.Errorf("GET acme's chart without metrics as %s: %d %q; want 200 with no series", user, r.status, r.body)
		}
		for _, path := range []string{"/alarms?state=all&site=globex", "/alarms?state=all&device=globex-chiller-9", "/alarms?state=all&rule=globex-rule"} {
			if r := e.get(c, path); r.status != http.StatusOK || untyped(r.body) != "" || strings.Contains(r.body, "data-alarm=") {
				t.Errorf("GET %s as %s: %d, naming %q", path, user, r.status, untyped(r.body))
			}
		}
		// acme tries its own message rule on globex's device: refused,
		// naming nothing of globex but what was typed.
		r := e.post(c, "/message-rules/acme-mrule/dry-run", form)
		if r.status != http.StatusBadRequest || untyped(r.body) != "" || strings.Contains(r.body, `data-matched=`) {
			t.Errorf("POST acme's message rule's dry run on globex's device as %s: %d, names %q; want 400", user, r.status, untyped(r.body))
		}
		// A new rule is the customer's own: one for globex, or on globex's
		// device, is refused, naming nothing of globex.
		r = e.post(c, "/alarms/rules/new", form)
		if leaked := leak(r.body); r.status != http.StatusForbidden || leaked != "" {
			t.Errorf("POST /alarms/rules/new for globex as %s: %d, names %q; want 403", user, r.status, leaked)
		}
		want := http.StatusForbidden
		if user == acmeAdmin {
			want = http.StatusBadRequest
		}
		mine := url.Values{"name": {"mine"}, "severity": {"critical"}, "kind": {"telemetry"}, "device": {"globex-chiller-9"}, "condition": {"chw_supply_c > 1"}}
		for _, preview := range []string{"", "1"} {
			mine.Set("preview", preview)
			if preview != "" && user == acmeAdmin {
				want = http.StatusServiceUnavailable // this server stores no telemetry
			}
			if r := e.post(c, "/alarms/rules/new", mine); r.status != want || untyped(r.body) != "" {
				t.Errorf("POST /alarms/rules/new (preview %q) on globex's device as %s: %d, names %q; want %d", preview, user, r.status, untyped(r.body), want)
			}
		}
	}

	// The team pages: an editor manages nobody's users or tokens (403);
	// for acme's admin, globex's and the operators' read as absent (404),
	// and its lists name none of them. A set-password link nobody made is
	// absent to all.
	_, _, hash := secret.NewToken()
	if err := e.st.CreateToken(store.Token{ID: "globex-token", Name: "globex-grafana", Role: store.RoleCustomer, Customer: "globex", Hash: hash}); err != nil {
		t.Fatal(err)
	}
	team := []struct {
		method, path  string
		editor, admin int
	}{
		{"GET", "/account/users", http.StatusForbidden, http.StatusOK},
		{"GET", "/account/tokens", http.StatusForbidden, http.StatusOK},
		{"POST", "/account/users/" + globexUser, http.StatusForbidden, http.StatusNotFound},
		{"POST", "/account/users/" + opUser, http.StatusForbidden, http.StatusNotFound},
		{"POST", "/account/tokens/globex-token/delete", http.StatusForbidden, http.StatusNotFound},
		{"GET", "/set-password/" + strings.Repeat("x", 43), http.StatusNotFound, http.StatusNotFound},
		{"POST", "/set-password/" + strings.Repeat("x", 43), http.StatusNotFound, http.StatusNotFound},
		// A new user or token is the admin's own customer's, whatever
		// the form names; the answer shows only what was typed.
		{"POST", "/account/users", http.StatusForbidden, http.StatusCreated},
		{"POST", "/account/tokens", http.StatusForbidden, http.StatusCreated},
	}
	teamForm := url.Values{}
	for k, v := range form {
		teamForm[k] = v
	}
	teamForm.Set("disabled", "true")
	teamForm.Set("access", "viewer")
	teamLeak := leakOf(append(slices.Clone(globexNames[1:]), globexUser, opUser, "globex-grafana"))
	for _, user := range []string{acmeUser, acmeAdmin} {
		c := e.signIn(user)
		for _, rt := range team {
			want := rt.editor
			if user == acmeAdmin {
				want = rt.admin
			}
			var r response
			if rt.method == "GET" {
				r = e.get(c, rt.path)
			} else {
				r = e.post(c, rt.path, teamForm)
			}
			if leaked := teamLeak(r.body); r.status != want || leaked != "" {
				t.Errorf("%s %s as %s: %d, names %q; want %d naming nothing of globex or the operators", rt.method, rt.path, user, r.status, leaked, want)
			}
		}
	}
	if u, err := e.st.GetUser("x@globex.example"); err != nil || u.Customer != "acme" {
		t.Errorf("the user acme's admin invited: %+v %v; want acme's", u, err)
	}
	if toks, err := e.st.ListTokens(); err != nil || len(toks) != 2 || toks[0].Customer != "acme" && toks[1].Customer != "acme" {
		t.Errorf("the tokens after the matrix: %+v %v; want globex's and acme's new one", toks, err)
	}
	if tok, err := e.st.GetToken("globex-token"); err != nil || tok.Name != "globex-grafana" {
		t.Errorf("globex's token after the matrix: %+v %v", tok, err)
	}
	if u, err := e.st.GetUser(opUser); err != nil || u.Disabled || u.Access != "" {
		t.Errorf("the operator after the matrix: %+v %v", u, err)
	}

	routes, ok := e.srv.Config.Handler.(chi.Routes)
	if !ok {
		t.Fatal("the pages' handler is not a chi router; the matrix cannot list its routes")
	}
	braces := regexp.MustCompile(`\\\{[^}]+\}`)
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		for _, o := range own {
			if route == o {
				return nil
			}
		}
		re := regexp.MustCompile("^" + braces.ReplaceAllString(regexp.QuoteMeta(route), "[^/]+") + "$")
		for _, rt := range matrix {
			if path, _, _ := strings.Cut(rt.path, "?"); rt.method == method && re.MatchString(path) {
				return nil
			}
		}
		for _, rt := range team {
			if rt.method == method && re.MatchString(rt.path) {
				return nil
			}
		}
		t.Errorf("the page tenancy matrix does not try %s %s", method, route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Nothing of globex changed.
	if j, err := e.st.GetJob("globex-job"); err != nil || j.Status != store.JobActive || j.Counts["QUEUED"] != 1 {
		t.Errorf("globex's job after the matrix: %+v %v", j, err)
	}
	if js, err := e.st.ListJobs(); err != nil || len(js) != 2 {
		t.Errorf("the jobs after the matrix: %d %v", len(js), err)
	}
	if a, err := e.st.GetAlarm(globexAlarm); err != nil || a.Acknowledged || a.State != store.AlarmActive || len(a.History) != 1 {
		t.Errorf("globex's alarm after the matrix: %+v %v", a, err)
	}
	if r, err := e.st.GetAlarmRule("globex-rule"); err != nil || r.Condition != "chw_supply_c > 9" || r.Customer != "globex" {
		t.Errorf("globex's rule after the matrix: %+v %v", r, err)
	}
	if r, err := e.st.GetMessageRule("globex-mrule"); err != nil || r.Topic != "globex/osaka/#" || r.Name != "Globex secret rule" {
		t.Errorf("globex's message rule after the matrix: %+v %v", r, err)
	}
	if rs, err := e.st.ListMessageRules(); err != nil || len(rs) != 2 {
		t.Errorf("the message rules after the matrix: %d %v", len(rs), err)
	}
	if s := e.rules.Stats("globex-mrule"); s.Matched != 0 {
		t.Errorf("globex's message rule ran: %+v", s)
	}
	if rs, err := e.st.ListAlarmRules(); err != nil || len(rs) != 2 {
		t.Errorf("the rules after the matrix: %d %v", len(rs), err)
	}
	if got, err := e.st.GetCalendar("globex-office"); err != nil || got.FeedSecret != "" || len(got.Closures) != 1 || got.Weekly["monday"] != "weekday" {
		t.Errorf("globex's calendar after the matrix: %+v %v", got, err)
	}
	if as, err := e.st.ListAssignments(); err != nil || len(as) != 1 || as[0].Calendar != "globex-office" {
		t.Errorf("the assignments after the matrix: %+v %v", as, err)
	}
	if _, err := e.st.GetCalendar("acme-stolen"); err == nil {
		t.Error("acme copied globex's calendar")
	}
	if recs, err := e.st.PushRecords("globex-chiller-9", nil); err != nil || len(recs) != 0 {
		t.Errorf("acme pushed to globex's device: %+v %v", recs, err)
	}
	if _, err := e.st.GetShadow("globex-chiller-9", ""); err == nil {
		t.Error("acme wrote globex's shadow")
	}
	if c, err := e.st.GetNotificationChannel("globex", "hook"); err != nil || c.URL != rc.URL+"/globex" || c.Secret != "whsec_globex" {
		t.Errorf("globex's channel after the matrix: %+v %v", c, err)
	}
	if cs := e.channels(""); len(cs) != 2 {
		t.Errorf("the channels after the matrix: %+v", cs)
	}
	if d := e.delivery(globexDead); d.Status != store.DeliveryDead {
		t.Errorf("globex's dead letter after the matrix: %+v", d)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("globex's receiver got %d requests from acme", n)
	}
	if _, err := e.st.GetCustomer("globex"); err != nil {
		t.Errorf("globex after the matrix: %v", err)
	}
	if d, err := e.reg.Device("globex-chiller-9"); err != nil || !e.reg.HasActiveCredential(d.Name) {
		t.Errorf("globex's device after the matrix: %v", err)
	}
	if _, err := e.st.GetUser(globexUser); err != nil {
		t.Errorf("globex's user after the matrix: %v", err)
	}
	for _, user := range []string{acmeUser, acmeAdmin} {
		if u, err := e.st.GetUser(user); err != nil || u.ChartMetrics != nil {
			t.Errorf("%s keeps a chart choice from globex's device: %v %v", user, u.ChartMetrics, err)
		}
	}
	if list, err := e.arts.List(); err != nil || len(list) != 1 || list[0].Size != int64(len("firmware")) {
		t.Errorf("the artifacts after the matrix: %+v %v", list, err)
	}
}
