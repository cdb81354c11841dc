package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// Users of acme beside the editor acmeUser.
const (
	acmeAdmin  = "admin@acme.example"
	acmeViewer = "viewer@acme.example"
)

// seedAlarms gives each customer a rule on its chiller and an active alarm
// of it, raised at raised, and acme an admin and a viewer; it returns the
// alarms' IDs.
func (e *env) seedAlarms(raised time.Time) (acme, globex string) {
	t := e.t
	t.Helper()
	for _, r := range []store.AlarmRule{
		{ID: "acme-supply", Name: "Supply too warm", Customer: "acme", Device: "acme-chiller-1", Kind: "telemetry",
			Severity: store.SeverityMajor, Condition: "chw_supply_c > 9", For: "5m"},
		{ID: "globex-rule", Name: "Globex secret rule", Customer: "globex", Device: "globex-chiller-9", Kind: "telemetry",
			Severity: store.SeverityCritical, Condition: "chw_supply_c > 9"},
	} {
		if _, _, err := e.st.PutAlarmRule(r); err != nil {
			t.Fatal(err)
		}
	}
	raise := func(rule, name, customer, site, dev, sev, msg string) string {
		a, _, err := e.st.RaiseAlarm(store.Alarm{Rule: rule, RuleName: name, Customer: customer, Site: site, Device: dev,
			DeviceType: "chiller", Severity: sev, Message: msg, Fields: map[string]any{"chw_supply_c": 10.25},
			RaisedAt: raised, LastAt: raised})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	acme = raise("acme-supply", "Supply too warm", "acme", "tokyo-tower", "acme-chiller-1", store.SeverityMajor, "chw_supply_c > 9 (chw_supply_c = 10.25)")
	globex = raise("globex-rule", "Globex secret rule", "globex", "osaka-dome", "globex-chiller-9", store.SeverityCritical, "globex osaka overheating")
	account, err := e.st.GetUser(acmeUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{
		{Email: acmeAdmin, Role: store.RoleCustomer, Customer: "acme", Access: store.AccessAdmin, PasswordHash: account.PasswordHash},
		{Email: acmeViewer, Role: store.RoleCustomer, Customer: "acme", Access: store.AccessViewer, PasswordHash: account.PasswordHash},
	} {
		if err := e.st.CreateUser(u); err != nil {
			t.Fatal(err)
		}
	}
	return acme, globex
}

// badge is the navigation's count of active alarms not acknowledged, 0
// when it shows none.
func badge(t *testing.T, body string) int {
	t.Helper()
	m := regexp.MustCompile(`class="nav-badge" data-active-alarms="(\d+)"`).FindAllStringSubmatch(body, -1)
	switch len(m) {
	case 0:
		return 0
	case 1:
		n := 0
		for _, c := range m[0][1] {
			n = n*10 + int(c-'0')
		}
		return n
	}
	t.Fatalf("the navigation has %d badges", len(m))
	return 0
}

func (e *env) alarm(id string) store.Alarm {
	e.t.Helper()
	a, err := e.st.GetAlarm(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// TestAlarmsPage: a customer's alarms, in the reader's time zone, with the
// navigation's badge, the overview's mark on the site, the device page's
// open alarms and the alarm's own page; filters narrow the list and a
// filter that is none is refused.
func TestAlarmsPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	raised := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	acmeAlarm, globexAlarm := e.seedAlarms(raised)
	if _, err := e.st.UpdateUser(acmeUser, func(u *store.User) error { u.TimeZone = "Asia/Tokyo"; return nil }); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(acmeUser)

	r := e.get(c, "/alarms")
	contains(t, "the alarms", r, http.StatusOK, "Supply too warm", "chw_supply_c > 9 (chw_supply_c = 10.25)", `class="sev sev-major"`,
		`href="/devices/acme-chiller-1"`, "tokyo-tower", "2026-12-07 10:02:03", "Times in Asia/Tokyo.", `href="`+"/alarms/"+acmeAlarm+`"`,
		`formaction="/alarms/`+acmeAlarm+`/ack"`, `formaction="/alarms/`+acmeAlarm+`/clear"`)
	if strings.Contains(r.body, "globex") || strings.Contains(r.body, globexAlarm) || strings.Contains(r.body, "osaka") {
		t.Errorf("acme's alarms name globex's:\n%s", excerpt(r.body))
	}
	if n := badge(t, r.body); n != 1 {
		t.Errorf("the badge counts %d alarms, want 1", n)
	}
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"?state=active", true}, {"?state=all", true}, {"?state=cleared", false},
		{"?severity=major", true}, {"?severity=minor", false},
		{"?site=tokyo-tower", true}, {"?site=osaka-dome", false},
		{"?device=acme-chiller-1&state=all", true}, {"?rule=acme-supply&state=all", true}, {"?rule=globex-rule&state=all", false},
	} {
		r := e.get(c, "/alarms"+tc.query)
		if got := strings.Contains(r.body, `data-alarm="`+acmeAlarm+`"`); r.status != http.StatusOK || got != tc.want {
			t.Errorf("/alarms%s: %d, lists the alarm %v, want %v", tc.query, r.status, got, tc.want)
		}
	}
	for _, bad := range []string{"?state=closed", "?severity=fatal"} {
		if r := e.get(c, "/alarms"+bad); r.status != http.StatusBadRequest {
			t.Errorf("/alarms%s: %d, want 400", bad, r.status)
		}
	}

	r = e.get(c, "/")
	contains(t, "the overview", r, http.StatusOK, "Needs attention", "1 active alarms", `href="/alarms?site=tokyo-tower&state=active"`)
	r = e.get(c, "/devices/acme-chiller-1")
	contains(t, "the device page", r, http.StatusOK, "Open alarms", `data-alarm="`+acmeAlarm+`"`, "All alarms of this device")

	r = e.get(c, "/alarms/"+acmeAlarm)
	contains(t, "the alarm's page", r, http.StatusOK, "chw_supply_c > 9 (chw_supply_c = 10.25)", "Raised", "10.25",
		`href="/alarms/rules/acme-supply"`, "2026-12-07 10:02:03", "Not yet")

	// In Japanese.
	if _, err := e.st.UpdateUser(acmeUser, func(u *store.User) error { u.Language = "ja"; return nil }); err != nil {
		t.Fatal(err)
	}
	r = e.get(c, "/alarms")
	contains(t, "the alarms in Japanese", r, http.StatusOK, "アラーム", "重要", "確認", "解除", "時刻は Asia/Tokyo です。")
	r = e.get(c, "/")
	contains(t, "the overview in Japanese", r, http.StatusOK, "要確認", "発生中のアラーム 1 件")

	// Another customer's site has no mark on acme's overview, and the
	// operator's overview marks both.
	op := e.signIn(opUser)
	r = e.get(op, "/")
	contains(t, "the operator's overview", r, http.StatusOK, `href="/admin/alarms?customer=globex&site=osaka-dome&state=active"`,
		`href="/admin/alarms?customer=acme&site=tokyo-tower&state=active"`)
	if n := badge(t, r.body); n != 2 {
		t.Errorf("the operator's badge counts %d alarms, want 2", n)
	}
}

// TestAlarmAcknowledgeAndClear: an editor acknowledges an alarm with a
// comment and clears it; each shows in its history, the badge counts it
// no more, and the form goes back where it was, on this site only.
func TestAlarmAcknowledgeAndClear(t *testing.T) {
	e := newEnv(t, envOptions{})
	acmeAlarm, _ := e.seedAlarms(time.Now().Add(-time.Hour))
	c := e.signIn(acmeUser)

	r := e.post(c, "/alarms/"+acmeAlarm+"/ack", url.Values{"comment": {"on it"}, "back": {"/alarms?state=all"}})
	if r.status != http.StatusSeeOther || r.location != "/alarms?state=all" {
		t.Fatalf("acknowledge: %d to %q", r.status, r.location)
	}
	a := e.alarm(acmeAlarm)
	if !a.Acknowledged || a.AckedBy != "user:"+acmeUser || a.State != store.AlarmActive {
		t.Errorf("after acknowledging: %+v", a)
	}
	r = e.get(c, "/alarms?state=all")
	contains(t, "the list after acknowledging", r, http.StatusOK, "Acknowledged.", acmeUser)
	if n := badge(t, r.body); n != 0 {
		t.Errorf("the badge counts %d alarms after acknowledging, want none", n)
	}
	if strings.Contains(r.body, `formaction="/alarms/`+acmeAlarm+`/ack"`) || !strings.Contains(r.body, `formaction="/alarms/`+acmeAlarm+`/clear"`) {
		t.Error("an acknowledged active alarm must offer Clear only")
	}

	r = e.post(c, "/alarms/"+acmeAlarm+"/clear", url.Values{"comment": {"reset the valve"}, "back": {"https://evil.example/"}})
	if r.status != http.StatusSeeOther || r.location != "/" {
		t.Fatalf("clear with a back to another site: %d to %q, want /", r.status, r.location)
	}
	if a := e.alarm(acmeAlarm); a.State != store.AlarmCleared || a.Open() {
		t.Errorf("after clearing: %+v", a)
	}
	r = e.get(c, "/alarms/"+acmeAlarm)
	contains(t, "the alarm's history", r, http.StatusOK, "Cleared. If its condition still holds", "on it", "reset the valve", "Acknowledged", "Cleared", "Raised", acmeUser)
	if strings.Contains(r.body, `class="alarm-actions"`) {
		t.Error("a closed alarm offers a form")
	}
	if r := e.get(c, "/devices/acme-chiller-1"); !strings.Contains(r.body, "No open alarms.") {
		t.Errorf("the device page after clearing:\n%s", excerpt(r.body))
	}
	if r := e.get(c, "/"); strings.Contains(r.body, "active alarms") {
		t.Error("the overview marks a site whose alarm is cleared")
	}

	// A comment too long is refused, and said on the page it came from.
	_, _ = e.seedAlarmAgain(t, "acme-supply")
	open, err := e.st.ListAlarms(store.AlarmFilter{Customer: "acme", OpenOnly: true})
	if err != nil || len(open) != 1 {
		t.Fatalf("open alarms: %v %v", open, err)
	}
	r = e.post(c, "/alarms/"+open[0].ID+"/ack", url.Values{"comment": {strings.Repeat("x", 2000)}, "back": {"/devices/acme-chiller-1#alarms"}})
	if r.status != http.StatusSeeOther || r.location != "/devices/acme-chiller-1#alarms" {
		t.Fatalf("a long comment: %d to %q", r.status, r.location)
	}
	r = e.get(c, "/devices/acme-chiller-1")
	contains(t, "the device page after a long comment", r, http.StatusOK, "Not done: ")
	if e.alarm(open[0].ID).Acknowledged {
		t.Error("an acknowledgement with a comment too long was stored")
	}
}

// seedAlarmAgain raises the rule's alarm on acme's chiller once more.
func (e *env) seedAlarmAgain(t *testing.T, rule string) (store.Alarm, bool) {
	t.Helper()
	now := time.Now()
	a, ok, err := e.st.RaiseAlarm(store.Alarm{Rule: rule, RuleName: "Supply too warm", Customer: "acme", Site: "tokyo-tower",
		Device: "acme-chiller-1", Severity: store.SeverityMajor, Message: "again", RaisedAt: now, LastAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return a, ok
}

// TestAlarmViewerCannotAct: a viewer reads the alarms without a form, and
// one sent anyway is refused and changes nothing.
func TestAlarmViewerCannotAct(t *testing.T) {
	e := newEnv(t, envOptions{})
	acmeAlarm, _ := e.seedAlarms(time.Now().Add(-time.Hour))
	c := e.signIn(acmeViewer)
	for _, path := range []string{"/alarms", "/alarms/" + acmeAlarm, "/devices/acme-chiller-1"} {
		r := e.get(c, path)
		contains(t, "a viewer's "+path, r, http.StatusOK, "Supply too warm")
		if strings.Contains(r.body, `class="alarm-actions"`) || strings.Contains(r.body, "/ack") {
			t.Errorf("a viewer is offered to acknowledge on %s", path)
		}
	}
	for _, action := range []string{"ack", "clear"} {
		r := e.post(c, "/alarms/"+acmeAlarm+"/"+action, url.Values{"comment": {"x"}})
		contains(t, "a viewer's "+action, r, http.StatusForbidden, "viewers may read alarms")
	}
	if a := e.alarm(acmeAlarm); a.Acknowledged || a.State != store.AlarmActive || len(a.History) != 1 {
		t.Errorf("a viewer changed the alarm: %+v", a)
	}
}

// ruleCount is how many rules the store has.
func (e *env) ruleCount() int {
	e.t.Helper()
	rs, err := e.st.ListAlarmRules()
	if err != nil {
		e.t.Fatal(err)
	}
	return len(rs)
}

// TestAlarmRulePages: a customer's admin creates, changes and deletes a
// rule through its form; a bad rule is refused next to the form with what
// was typed, and nothing is stored; an editor reads the rules only.
func TestAlarmRulePages(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seedAlarms(time.Now().Add(-time.Hour))
	// The channels the rule notifies; a rule naming one acme lacks is
	// refused.
	e.seedChannel(store.NotificationChannel{Customer: "acme", Name: "ops", Kind: store.ChannelWebhook, URL: "https://hooks.acme.example/ops"})
	e.seedChannel(store.NotificationChannel{Customer: "acme", Name: "mail", Kind: store.ChannelEmail, To: []string{"fm@acme.example"}})
	admin := e.signIn(acmeAdmin)

	r := e.get(admin, "/alarms/rules")
	contains(t, "the rules", r, http.StatusOK, "Supply too warm", "device acme-chiller-1", "chw_supply_c > 9 for 5m", `href="/alarms/rules/new"`)
	if strings.Contains(r.body, "globex") {
		t.Errorf("acme's rules name globex's:\n%s", excerpt(r.body))
	}
	r = e.get(admin, "/alarms/rules/new")
	contains(t, "the new rule form", r, http.StatusOK, `name="condition"`, `name="clear_for"`, `name="channels"`, `name="preview"`,
		`<option value="acme-chiller-1">`, `<option value="tokyo-tower">`, `<option value="chiller">`)
	if strings.Contains(r.body, `name="customer"`) || strings.Contains(r.body, "globex") {
		t.Error("a customer's form offers a customer, or names globex")
	}

	form := url.Values{"name": {"CO2 high"}, "kind": {"telemetry"}, "severity": {"minor"}, "site": {"tokyo-tower"},
		"condition": {"co2_ppm >"}, "for": {"10m"}, "channels": {"ops, , mail"}}
	before := e.ruleCount()
	r = e.post(admin, "/alarms/rules/new", form)
	contains(t, "a rule whose condition does not compile", r, http.StatusBadRequest, `Not saved: field "condition"`, `value="co2_ppm >"`, `value="CO2 high"`)
	if !regexp.MustCompile(`id="rule-condition" name="condition" value="co2_ppm &gt;"[^>]*aria-invalid="true"`).MatchString(r.body) {
		t.Errorf("the condition is not marked as the field refused:\n%s", excerpt(r.body))
	}
	for _, bad := range []struct{ field, value, want string }{
		{"for", "ten minutes", `field "for"`},
		{"site", "osaka-dome", `field "site": customer "acme" has no site named "osaka-dome"`},
		{"severity", "fatal", "severity"},
		{"channels", "ops, pager", `field "channels": acme has no notification channel named "pager"`},
	} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("condition", "co2_ppm > 1000")
		f.Set(bad.field, bad.value)
		r := e.post(admin, "/alarms/rules/new", f)
		contains(t, "a rule with "+bad.field+" "+bad.value, r, http.StatusBadRequest, "Not saved: ", bad.want)
	}
	if n := e.ruleCount(); n != before {
		t.Fatalf("refused rules were stored: %d rules, were %d", n, before)
	}

	form.Set("condition", "co2_ppm > 1000")
	r = e.post(admin, "/alarms/rules/new", form)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/alarms/rules/rule-") {
		t.Fatalf("create: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	id := strings.TrimPrefix(r.location, "/alarms/rules/")
	rule, err := e.st.GetAlarmRule(id)
	if err != nil || rule.Customer != "acme" || rule.Site != "tokyo-tower" || rule.Condition != "co2_ppm > 1000" ||
		rule.Severity != "minor" || strings.Join(rule.Channels, "|") != "ops|mail" || rule.Kind != "telemetry" {
		t.Fatalf("the rule created: %+v %v", rule, err)
	}
	r = e.get(admin, r.location)
	contains(t, "the rule's page", r, http.StatusOK, "Rule CO2 high created.", `value="co2_ppm > 1000"`, `value="ops, mail"`, "Delete this rule")

	form.Set("for", "15m")
	form.Set("disabled", "on")
	form.Set("customer", "globex") // a rule stays with its customer
	if r := e.post(admin, "/alarms/rules/"+id, form); r.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", r.status, excerpt(r.body))
	}
	if got, _ := e.st.GetAlarmRule(id); got.For != "15m" || !got.Disabled || got.Customer != "acme" || !got.CreatedAt.Equal(rule.CreatedAt) {
		t.Errorf("the rule saved: %+v", got)
	}
	form.Set("condition", "")
	r = e.post(admin, "/alarms/rules/"+id, form)
	contains(t, "a change without a condition", r, http.StatusBadRequest, `Not saved: field "condition": a telemetry rule needs a condition`)
	if got, _ := e.st.GetAlarmRule(id); got.Condition != "co2_ppm > 1000" {
		t.Errorf("a refused change was stored: %+v", got)
	}

	// A customer's admin writes the customer's own rules only.
	f := url.Values{"name": {"stolen"}, "customer": {"globex"}, "severity": {"minor"}, "kind": {"telemetry"}, "device_type": {"chiller"}, "condition": {"chw_supply_c > 9"}}
	r = e.post(admin, "/alarms/rules/new", f)
	if r.status != http.StatusForbidden || strings.Contains(r.body, "globex") || e.ruleCount() != before+1 {
		t.Errorf("a rule for globex by acme's admin: %d, %d rules\n%s", r.status, e.ruleCount(), excerpt(r.body))
	}

	// An editor reads the rules, without forms.
	editor := e.signIn(acmeUser)
	r = e.get(editor, "/alarms/rules")
	contains(t, "an editor's rules", r, http.StatusOK, "Supply too warm", "Your company's administrators manage the alarm rules")
	if strings.Contains(r.body, `href="/alarms/rules/new"`) {
		t.Error("an editor is offered a new rule")
	}
	r = e.get(editor, "/alarms/rules/acme-supply")
	contains(t, "an editor's rule page", r, http.StatusOK, "chw_supply_c > 9 for 5m", "Major")
	if strings.Contains(r.body, `name="condition"`) || strings.Contains(r.body, "/delete") {
		t.Error("an editor is shown a rule's form")
	}
	for _, path := range []string{"/alarms/rules/new", "/alarms/rules/acme-supply", "/alarms/rules/acme-supply/delete"} {
		if r := e.post(editor, path, form); r.status != http.StatusForbidden {
			t.Errorf("an editor's POST %s: %d, want 403", path, r.status)
		}
	}
	if r := e.get(editor, "/alarms/rules/new"); r.status != http.StatusForbidden {
		t.Errorf("an editor's new rule form: %d, want 403", r.status)
	}
	if got, _ := e.st.GetAlarmRule("acme-supply"); got.Condition != "chw_supply_c > 9" || e.ruleCount() != before+1 {
		t.Errorf("an editor changed the rules: %+v, %d rules", got, e.ruleCount())
	}

	// Delete, behind a confirmation; the alarms stay.
	r = e.get(admin, "/alarms/rules/acme-supply/delete")
	contains(t, "the confirmation", r, http.StatusOK, "Delete the rule Supply too warm? Its alarms stay, as history.")
	r = e.post(admin, "/alarms/rules/acme-supply/delete", nil)
	if r.status != http.StatusSeeOther || r.location != "/alarms/rules" {
		t.Fatalf("delete: %d to %q", r.status, r.location)
	}
	if _, err := e.st.GetAlarmRule("acme-supply"); err == nil {
		t.Error("the rule is still there")
	}
	r = e.get(admin, "/alarms/rules")
	contains(t, "the rules after a delete", r, http.StatusOK, "Rule acme-supply deleted.")
	if as, _ := e.st.ListAlarms(store.AlarmFilter{Rule: "acme-supply"}); len(as) != 1 {
		t.Errorf("the deleted rule's alarms: %d, want 1", len(as))
	}
	r = e.get(admin, "/alarms?state=all")
	contains(t, "an alarm of a deleted rule", r, http.StatusOK, "Supply too warm")
}

// TestAlarmPreviewNeedsTelemetry: on a server without stored telemetry,
// Preview says so next to the form, which keeps what was typed.
func TestAlarmPreviewNeedsTelemetry(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seedAlarms(time.Now())
	admin := e.signIn(acmeAdmin)
	before := e.ruleCount()
	r := e.post(admin, "/alarms/rules/new", url.Values{"name": {"x"}, "kind": {"telemetry"}, "severity": {"minor"},
		"device": {"acme-chiller-1"}, "condition": {"chw_supply_c > 9"}, "preview": {"1"}})
	contains(t, "a preview without telemetry", r, http.StatusServiceUnavailable, "No preview: telemetry is not available", `value="chw_supply_c > 9"`)
	if e.ruleCount() != before {
		t.Error("a preview stored the rule")
	}
	r = e.post(admin, "/alarms/rules/new", url.Values{"name": {"x"}, "kind": {"offline"}, "severity": {"minor"},
		"device": {"acme-chiller-1"}, "for": {"5m"}, "preview": {"1"}})
	contains(t, "a preview of an offline rule", r, http.StatusServiceUnavailable, "No preview: ")
}

// TestAdminAlarms: operators see every customer's alarms, filtered by
// customer, and every customer's rules with those of every customer's
// devices; they create a rule for every customer's chillers.
func TestAdminAlarms(t *testing.T) {
	e := newEnv(t, envOptions{})
	acmeAlarm, globexAlarm := e.seedAlarms(time.Now().Add(-time.Hour))
	op := e.signIn(opUser)

	r := e.get(op, "/alarms?state=all")
	if r.status != http.StatusSeeOther || r.location != "/admin/alarms?state=all" {
		t.Errorf("an operator's /alarms: %d to %q", r.status, r.location)
	}
	r = e.get(op, "/admin/alarms")
	contains(t, "every alarm", r, http.StatusOK, `data-alarm="`+acmeAlarm+`"`, `data-alarm="`+globexAlarm+`"`, `class="sev sev-critical"`,
		`<option value="globex">`, `href="/admin/alarms/rules"`)
	r = e.get(op, "/admin/alarms?customer=globex")
	if !strings.Contains(r.body, `data-alarm="`+globexAlarm+`"`) || strings.Contains(r.body, `data-alarm="`+acmeAlarm+`"`) {
		t.Errorf("the customer filter: %d\n%s", r.status, excerpt(r.body))
	}
	if r := e.get(op, "/admin/alarms?customer=nobody"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "there is no such customer") {
		t.Errorf("a filter of a customer that is none: %d", r.status)
	}
	r = e.get(op, "/alarms/"+globexAlarm)
	contains(t, "globex's alarm for an operator", r, http.StatusOK, "globex osaka overheating", `href="/alarms/rules/globex-rule"`)

	if r := e.get(op, "/alarms/rules"); r.status != http.StatusSeeOther || r.location != "/admin/alarms/rules" {
		t.Errorf("an operator's /alarms/rules: %d to %q", r.status, r.location)
	}
	r = e.get(op, "/alarms/rules/new")
	contains(t, "an operator's new rule", r, http.StatusOK, `name="customer"`, `<option value="" selected>Every customer</option>`, `<option value="globex">`)
	r = e.post(op, "/alarms/rules/new", url.Values{"name": {"Chillers too warm"}, "customer": {""}, "kind": {"telemetry"},
		"severity": {"warning"}, "device_type": {"chiller"}, "condition": {"chw_supply_c > 12"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("an operator's rule of every customer: %d\n%s", r.status, excerpt(r.body))
	}
	id := strings.TrimPrefix(r.location, "/alarms/rules/")
	if got, err := e.st.GetAlarmRule(id); err != nil || got.Customer != "" || got.DeviceType != "chiller" {
		t.Errorf("the operator's rule: %+v %v", got, err)
	}
	r = e.get(op, "/admin/alarms/rules")
	contains(t, "every rule", r, http.StatusOK, "Every customer", "Chillers too warm", "acme", "Supply too warm", "globex", "Globex secret rule")
	// A customer does not see the operators' rule.
	if r := e.get(e.signIn(acmeAdmin), "/alarms/rules"); strings.Contains(r.body, "Chillers too warm") {
		t.Error("a customer sees a rule of every customer")
	}
	// The operator's nav has the alarms, with the badge.
	if r := e.get(op, "/admin/devices"); !strings.Contains(r.body, `href="/admin/alarms"`) || badge(t, r.body) != 2 {
		t.Errorf("the operator's navigation: badge %d", badge(t, r.body))
	}
}
