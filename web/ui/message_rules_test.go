package ui_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// seedMessageRule stores a rule as the API would and has the engine take
// it.
func (e *env) seedMessageRule(r store.MessageRule) {
	e.t.Helper()
	if _, _, err := e.st.PutMessageRule(r); err != nil {
		e.t.Fatal(err)
	}
	if err := e.rules.RulesChanged(); err != nil {
		e.t.Fatal(err)
	}
}

// publish hands the engine a device's message as the broker does.
func (e *env) publish(thing, topic, payload string) {
	e.t.Helper()
	if _, err := e.rules.Handle(thing, topic, []byte(payload), time.Now()); err != nil {
		e.t.Fatalf("%s on %s: %v", thing, topic, err)
	}
}

// The rules of the page tests: acme's in SQL, with a failure to show, a
// disabled rule of every customer, and globex's own.
const acmeSQL = "SELECT temperature AS temp_c, topic(2) AS site FROM 'dt/+/acme-chiller-1/data' WHERE temperature > -40"

func (e *env) seedMessageRules() {
	e.t.Helper()
	e.seedMessageRule(store.MessageRule{ID: "acme-temp", Name: "Acme temperatures", Description: "Chiller readings on the gateway's topic",
		Customer: "acme", SQL: acmeSQL,
		Actions:     []store.RuleAction{{Kind: "shadow"}, {Kind: "republish", Topic: "out/${device}/temp"}},
		ErrorAction: &store.RuleAction{Kind: "republish", Topic: "errors/${device}"}})
	e.seedMessageRule(store.MessageRule{ID: "fleet-all", Name: "Fleet copy", Topic: "fleet/#", Condition: `kind == "meter"`,
		Select: []store.RuleField{{Expr: "*"}, {Name: "kwh", Expr: "wh / 1000"}}, Actions: []store.RuleAction{{Kind: "telemetry"}}, Disabled: true})
	e.seedMessageRule(store.MessageRule{ID: "globex-mrule", Name: "Globex secret rule", Customer: "globex", Topic: "globex/osaka/#",
		Actions: []store.RuleAction{{Kind: "shadow"}}})
	// One message the rule takes, then two it cannot map: the newest is
	// the last error.
	e.publish("acme-chiller-1", "dt/tokyo/acme-chiller-1/data", `{"temperature": 7.5}`)
	e.publish("acme-chiller-1", "dt/tokyo/acme-chiller-1/data", `not json`)
	e.publish("acme-chiller-1", "dt/tokyo/acme-chiller-1/data", `{"temperature":"hot","unit":"C"}`)
}

// TestMessageRulePages: the operators' list of every rule with its
// counters and last error; a rule's page with its SQL and what it
// translates to, its actions in words, its counters and its last error
// with the message it could not handle; a customer's read-only list and
// page of its own rules; both languages.
func TestMessageRulePages(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seedMessageRules()
	op := e.signIn(opUser)

	r := e.get(op, "/admin/message-rules")
	contains(t, "the operators' list", r, http.StatusOK, `<a href="/admin/message-rules" aria-current="page">Message rules`,
		`<a class="button" href="/admin/message-rules/new">New message rule</a>`,
		`<a href="/message-rules/acme-temp">Acme temperatures</a>`, "Chiller readings on the gateway's topic",
		`<a href="/message-rules/fleet-all">Fleet copy</a>`, `<a href="/message-rules/globex-mrule">Globex secret rule</a>`,
		"<td>Every customer</td>", "<td>acme</td>", "<code>dt/+/acme-chiller-1/data</code>", "<code>fleet/#</code>",
		`data-state="enabled">Enabled</span>`, `data-state="disabled">Disabled</span>`,
		`<td class="num">3</td><td class="num">1</td><td class="num mrule-failed">2</td>`, "condition: ")
	if i, k := strings.Index(r.body, `data-rule="acme-temp"`), strings.Index(r.body, `data-rule="globex-mrule"`); i < 0 || k < 0 || i > k {
		t.Errorf("the list is not by name: acme at %d, globex at %d", i, k)
	}

	r = e.get(op, "/message-rules/acme-temp")
	contains(t, "a rule's page", r, http.StatusOK, "Message rule Acme temperatures", `href="/admin/message-rules/acme-temp/edit"`,
		`href="/admin/message-rules/acme-temp/delete"`, `<li data-stat="matched"><span class="label">Matched</span> <span class="value">3</span>`,
		`<span class="value">1</span>`, `class="mrule-failed"><span class="label">Failed</span> <span class="value">2</span>`,
		"<code>"+acmeSQL+"</code>", "It translates to:", `<code id="rule-topic">dt/+/acme-chiller-1/data</code>`,
		`<code id="rule-condition">temperature > -40</code>`, "<code>temp_c = temperature</code>", "<code>site = topic(2)</code>",
		"<li>Report the values in the device's shadow</li>", "<li>Republish the values on out/${device}/temp</li>",
		"Error action:</strong> Republish the values on errors/${device}",
		`<section class="card mrule-last-error" id="last-error"`, `<a href="/devices/acme-chiller-1">acme-chiller-1</a>`,
		"<code>dt/tokyo/acme-chiller-1/data</code>", "{\n  \"temperature\": \"hot\",\n  \"unit\": \"C\"\n}",
		`action="/message-rules/acme-temp/dry-run"`, `name="try_device"`, `<option value="acme-chiller-1">`)
	if m := regexp.MustCompile(`(?s)id="last-error-text"><strong>(.*?)</strong>`).FindStringSubmatch(r.body); m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), "condition: ") {
		t.Errorf("the last error's message: %q, want the condition's failure", m)
	}
	contains(t, "a rule of every customer", e.get(op, "/message-rules/fleet-all"), http.StatusOK, "Every customer", "Disabled",
		`<code id="rule-condition">kind == "meter"</code>`, "<code>*</code>", "<code>kwh = wh / 1000</code>",
		"Store the numeric values as the device's telemetry", "None: failures are counted", "No failure since Hearth last started.")
	if r := e.get(op, "/message-rules/nope"); r.status != http.StatusNotFound {
		t.Errorf("a rule that does not exist: %d, want 404", r.status)
	}
	if r := e.get(op, "/message-rules"); r.status != http.StatusSeeOther || r.location != "/admin/message-rules" {
		t.Errorf("an operator at /message-rules: %d to %q", r.status, r.location)
	}

	// acme reads its own rule, and no other.
	c := e.signIn(acmeUser)
	r = e.get(c, "/message-rules")
	contains(t, "acme's rules", r, http.StatusOK, `<a href="/message-rules" aria-current="page">Message rules</a>`,
		`<a href="/message-rules/acme-temp">Acme temperatures</a>`, "Your operator writes message rules")
	for _, hidden := range []string{"Fleet copy", "Globex", "/admin/message-rules/new", "Every customer"} {
		if strings.Contains(r.body, hidden) {
			t.Errorf("acme's list shows %q", hidden)
		}
	}
	r = e.get(c, "/message-rules/acme-temp")
	contains(t, "acme's rule", r, http.StatusOK, "Message rule Acme temperatures", "{\n  \"temperature\": \"hot\",", `name="try_payload"`)
	if strings.Contains(r.body, "/admin/message-rules") {
		t.Error("acme's view of its rule links to the operators' forms")
	}
	for _, path := range []string{"/message-rules/fleet-all", "/message-rules/globex-mrule", "/admin/message-rules", "/admin/message-rules/acme-temp/edit"} {
		if r := e.get(c, path); r.status != http.StatusNotFound {
			t.Errorf("acme at %s: %d, want 404", path, r.status)
		}
	}

	// Both languages.
	if _, err := e.st.UpdateUser(opUser, func(u *store.User) error { u.Language = "ja"; return nil }); err != nil {
		t.Fatal(err)
	}
	contains(t, "the rule in Japanese", e.get(op, "/message-rules/acme-temp"), http.StatusOK, "メッセージルール Acme temperatures",
		"最後のエラー", "値を機器のシャドウに報告する", "該当")
	contains(t, "the list in Japanese", e.get(op, "/admin/message-rules"), http.StatusOK, "すべての顧客", "無効")
}

// ruleForm is a rule's form as a browser sends it: the SQL way, the
// first action storing telemetry, and empty dry run fields.
func ruleForm(kv ...string) url.Values {
	f := url.Values{"name": {"Gateway temps"}, "description": {""}, "customer": {"acme"}, "mode": {"sql"},
		"sql": {"SELECT temperature AS temp_c FROM 'dt/+/+/data'"}, "topic": {""}, "condition": {""}, "select": {""},
		"ea.kind": {""}, "ea.topic": {""}, "ea.channels": {""}, "ea.code": {""}, "ea.level": {"info"},
		"try_device": {""}, "try_topic": {""}, "try_payload": {""}}
	for i := range 3 {
		p := "a" + string(rune('0'+i))
		f[p+".kind"], f[p+".topic"], f[p+".channels"], f[p+".code"], f[p+".level"] = []string{""}, []string{""}, []string{""}, []string{""}, []string{"info"}
	}
	f.Set("a0.kind", "telemetry")
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// attr finds an element's attribute by the element's id.
func attr(body, id, name string) string {
	m := regexp.MustCompile(`<[a-z]+ [^>]*id="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
	a := regexp.MustCompile(` ` + name + `="([^"]*)"`).FindStringSubmatch(m)
	if a == nil {
		return ""
	}
	return html.UnescapeString(a[1])
}

// TestMessageRuleForm: the form of a new rule refuses what the gate
// refuses next to the field it names (a line of the fields, the second
// action of the form when the first is left empty, a channel the customer
// lacks, an event action as a whole), keeping what was typed and storing
// nothing; good input, in SQL or as parts, is stored and shown; a rule is
// changed, staying with its customer, and deleted behind a confirmation.
func TestMessageRuleForm(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	r := e.get(op, "/admin/message-rules/new")
	contains(t, "the form", r, http.StatusOK, `action="/admin/message-rules/new"`, `name="name"`, `<option value="" selected>Every customer</option>`,
		`<option value="acme">acme</option>`, `id="mrule-mode-sql" name="mode" value="sql" checked`, `name="sql"`, `name="topic"`,
		`name="condition"`, `name="select"`, `name="a0.kind"`, `name="a2.kind"`, `name="ea.kind"`, `name="a0.topic"`, `name="a1.channels"`,
		`name="a2.code"`, `name="a2.level"`, `name="disabled"`, `name="try_payload"`, `hx-post="/admin/message-rules/new"`)
	if strings.Contains(r.body, `name="a3.kind"`) {
		t.Error("a new rule's form offers more than 3 actions")
	}

	for _, tc := range []struct {
		what    string
		form    url.Values
		field   string // the element marked invalid
		says    string // next to it
		kept    string // what was typed, still there
		summary string // what the top of the form begins with
	}{
		{"bad SQL", ruleForm("sql", "SELECT x FROM"), "mrule-sql", "FROM takes a topic filter in single quotes", ">SELECT x FROM</textarea>",
			"SQL: sql at 13: FROM takes"},
		{"a bad line of the fields", ruleForm("mode", "parts", "topic", "dt/+/+/data", "select", "temp_c = temperature\n\nbad = temp +* 2"),
			"mrule-select", "Line 3: unexpected token", "temp_c = temperature\n\nbad = temp +* 2</textarea>", "Fields: Line 3: unexpected token"},
		{"a bad condition", ruleForm("mode", "parts", "topic", "dt/#", "condition", "temp >"), "mrule-condition", "unexpected token EOF", `value="temp >"`, "Condition: unexpected token EOF"},
		{"a bad filter", ruleForm("mode", "parts", "topic", "dt/#/x"), "mrule-topic", "# stands only at the end", `value="dt/#/x"`, `Topic filter: "dt/#/x": # stands`},
		{"the second action, the first empty", ruleForm("a0.kind", "", "a1.kind", "republish", "a1.topic", "$SYS/x"),
			"mrule-a1-topic", "a topic without wildcards", `value="$SYS/x"`, `Action 2: "$SYS/x": a topic without wildcards`},
		{"a channel acme lacks", ruleForm("a2.kind", "webhook", "a2.channels", "ops, nope"), "mrule-a2-channels",
			`acme has no notification channel named "ops"`, `value="ops, nope"`, "Action 3: acme has no"},
		{"a bad event code", ruleForm("a0.kind", "event", "a0.code", "bad code!", "a0.level", "error"), "mrule-a0-error",
			`"code" must be 1 to 64`, `value="bad code!"`, "Action 1: device event: "},
		{"a bad error action", ruleForm("ea.kind", "republish", "ea.topic", "a/+/b"), "mrule-ea-topic", "a topic without wildcards", `value="a/+/b"`, `Error action: "a/+/b": a topic`},
		{"no action", ruleForm("a0.kind", ""), "mrule-a0-error", "0 actions; a rule has 1 to 10", "Gateway temps", ""},
	} {
		r := e.post(op, "/admin/message-rules/new", tc.form)
		body := html.UnescapeString(r.body)
		if r.status != http.StatusBadRequest || !strings.Contains(body, "Not saved: "+tc.summary) {
			t.Errorf("%s: %d, want 400 saying why:\n%s", tc.what, r.status, excerpt(body))
			continue
		}
		if strings.HasSuffix(tc.field, "-error") {
			if !strings.Contains(body, `id="`+tc.field+`">`+tc.says) && !regexp.MustCompile(`id="`+tc.field+`">[^<]*`+regexp.QuoteMeta(tc.says)).MatchString(body) {
				t.Errorf("%s: the action's fieldset does not say %q:\n%s", tc.what, tc.says, excerpt(body))
			}
		} else {
			if got := attr(r.body, tc.field, "aria-invalid"); got != "true" {
				t.Errorf("%s: %s is aria-invalid %q, want true", tc.what, tc.field, got)
			}
			if !regexp.MustCompile(`id="` + tc.field + `-error">[^<]*` + regexp.QuoteMeta(tc.says)).MatchString(body) {
				t.Errorf("%s: no %q next to %s:\n%s", tc.what, tc.says, tc.field, excerpt(body))
			}
		}
		if !strings.Contains(body, tc.kept) {
			t.Errorf("%s: the form lost %q", tc.what, tc.kept)
		}
	}
	if rs, err := e.st.ListMessageRules(); err != nil || len(rs) != 0 {
		t.Fatalf("refused forms stored %d rules: %v", len(rs), err)
	}

	// A rule in SQL for acme, with a republish in the third slot and an
	// error action.
	e.seedChannel(store.NotificationChannel{Customer: "acme", Name: "acme-mail", Kind: store.ChannelEmail, To: []string{"fm@acme.example"}})
	r = e.post(op, "/admin/message-rules/new", ruleForm("description", "From the gateways",
		"a1.kind", "webhook", "a1.channels", "acme-mail", "a2.kind", "republish", "a2.topic", "out/${device}", "a2.code", "left over",
		"ea.kind", "event", "ea.code", "rule.failed", "ea.level", "error"))
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/message-rules/mrule-") {
		t.Fatalf("create: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	id := strings.TrimPrefix(r.location, "/message-rules/")
	got, err := e.st.GetMessageRule(id)
	want := store.MessageRule{ID: id, Name: "Gateway temps", Description: "From the gateways", Customer: "acme",
		SQL:         "SELECT temperature AS temp_c FROM 'dt/+/+/data'",
		Actions:     []store.RuleAction{{Kind: "telemetry"}, {Kind: "webhook", Channels: []string{"acme-mail"}}, {Kind: "republish", Topic: "out/${device}"}},
		ErrorAction: &store.RuleAction{Kind: "event", Code: "rule.failed", Level: "error"}, CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
	if d := cmp.Diff(want, got); err != nil || d != "" {
		t.Fatalf("the stored rule (-want +got):\n%s %v", d, err)
	}
	contains(t, "the new rule's page", e.get(op, r.location), http.StatusOK, "Message rule Gateway temps created.",
		"Send the values to the notification channels acme-mail", "Raise a device event with code rule.failed (level error)")

	// Its form has it as stored, with one more action slot; a change in
	// parts is stored, and the customer stays.
	edit := mruleAdminPath(id) + "/edit"
	r = e.get(op, edit)
	contains(t, "the rule's form", r, http.StatusOK, `action="`+edit+`"`, `value="sql" checked`,
		">SELECT temperature AS temp_c FROM 'dt/+/+/data'</textarea>", `value="dt/+/+/data"`, ">temp_c = temperature</textarea>",
		`<option value="webhook" selected>`, `value="acme-mail"`, `value="out/${device}"`, `name="a3.kind"`, "<strong>Customer</strong>: acme")
	if strings.Contains(r.body, `name="a4.kind"`) || strings.Contains(r.body, `name="customer"`) {
		t.Error("the rule's form offers more than one more action, or a customer to move it to")
	}
	r = e.post(op, edit, ruleForm("name", "Gateway temps v2", "customer", "globex", "mode", "parts", "topic", "dt/+/+/data",
		"condition", "temperature > 0", "select", "*\ntemp_c = temperature\nstate.reported.mode", "a0.kind", "shadow", "disabled", "on"))
	if r.status != http.StatusSeeOther || r.location != "/message-rules/"+id {
		t.Fatalf("save: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	got, err = e.st.GetMessageRule(id)
	want = store.MessageRule{ID: id, Name: "Gateway temps v2", Customer: "acme", Topic: "dt/+/+/data", Condition: "temperature > 0",
		Select:  []store.RuleField{{Expr: "*"}, {Name: "temp_c", Expr: "temperature"}, {Name: "mode", Expr: "state.reported.mode"}},
		Actions: []store.RuleAction{{Kind: "shadow"}}, Disabled: true, CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
	if d := cmp.Diff(want, got); err != nil || d != "" {
		t.Fatalf("the changed rule (-want +got):\n%s %v", d, err)
	}
	contains(t, "the changed rule's page", e.get(op, "/message-rules/"+id), http.StatusOK, "Message rule Gateway temps v2 saved.", "Disabled")
	if r := e.post(op, "/admin/message-rules/nope/edit", ruleForm()); r.status != http.StatusNotFound {
		t.Errorf("saving a rule that does not exist: %d, want 404", r.status)
	}

	// Delete asks first.
	contains(t, "the confirmation", e.get(op, mruleAdminPath(id)+"/delete"), http.StatusOK,
		"Delete message rule Gateway temps v2?", `action="`+mruleAdminPath(id)+`/delete"`)
	r = e.post(op, mruleAdminPath(id)+"/delete", url.Values{})
	if r.status != http.StatusSeeOther || r.location != "/admin/message-rules" {
		t.Fatalf("delete: %d to %q", r.status, r.location)
	}
	if _, err := e.st.GetMessageRule(id); err == nil {
		t.Error("the deleted rule is still stored")
	}
	contains(t, "the list after delete", e.get(op, "/admin/message-rules"), http.StatusOK, "Message rule "+id+" deleted.", "No message rules yet.")
	if r := e.post(op, mruleAdminPath(id)+"/delete", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("delete it again: %d, want 404", r.status)
	}
}

func mruleAdminPath(id string) string { return "/admin/message-rules/" + id }

// TestMessageRuleDryRun: the form tries the rule as typed, unsaved, on a
// message (htmx gets the form's part of the page), showing the mapped
// values, the device and time and each action's payload pretty-printed or
// its error; a device that does not exist is refused next to its field.
// A rule's page tries the stored rule, for its customer too, on the
// customer's own devices only. Nothing is stored or done.
func TestMessageRuleDryRun(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seedMessageRules()
	before, err := e.st.GetShadow("acme-chiller-1", "")
	if err != nil {
		t.Fatal(err) // the message the rule took reported its values
	}
	op := e.signIn(opUser)
	try := ruleForm("mode", "parts", "topic", "dt/+/+/data", "select", "temp_c = temperature\nts = 1767225600000",
		"a0.kind", "republish", "a0.topic", "out/${device}", "a1.kind", "telemetry", "a2.kind", "webhook", "a2.channels", "none-such",
		"try", "1", "try_device", "acme-chiller-1", "try_topic", "dt/tokyo/acme-chiller-1/data", "try_payload", `{"temperature": 7.5, "x": 1}`)
	r := e.post(op, "/admin/message-rules/new", try)
	contains(t, "a dry run of the form", r, http.StatusOK, `<html`, `data-matched="true"`, "The rule takes this message.",
		`<tr data-value="temp_c"><th scope="row"><code>temp_c</code></th><td class="wrap"><code>7.5</code></td></tr>`,
		`<td id="try-result-device">acme-chiller-1</td>`, `<td id="try-result-time">2026-01-01 00:00:00 (UTC)</td>`,
		`<li data-kind="republish"><strong>Republish</strong> · on <code>out/acme-chiller-1</code>`,
		"{\n  \"device\": \"acme-chiller-1\",\n  \"temp_c\": 7.5,\n  \"ts\": 1767225600000\n}",
		`<li data-kind="telemetry">`, `<li data-kind="webhook"><strong>Send to notification channels</strong> · to none-such`,
		`value="acme-chiller-1"`, `{"temperature": 7.5, "x": 1}</textarea>`)
	if strings.Contains(r.body, `data-value="x"`) {
		t.Error("the dry run maps a field the fields leave out")
	}
	// htmx gets the form's section only, refusals too.
	r = e.do(op, http.MethodPost, "/admin/message-rules/new", try, map[string]string{"Origin": e.srv.URL, "HX-Request": "true"})
	if r.status != http.StatusOK || strings.Contains(r.body, "<html") || !strings.HasPrefix(strings.TrimSpace(r.body), `<section class="card" id="mrule-form"`) ||
		!strings.Contains(r.body, `data-matched="true"`) {
		t.Errorf("htmx's dry run: %d\n%s", r.status, excerpt(r.body))
	}
	bad := url.Values{}
	for k, v := range try {
		bad[k] = v
	}
	bad.Set("select", "temp_c = temperature +")
	r = e.do(op, http.MethodPost, "/admin/message-rules/new", bad, map[string]string{"Origin": e.srv.URL, "HX-Request": "true"})
	if r.status != http.StatusOK || attr(r.body, "mrule-select", "aria-invalid") != "true" || !strings.Contains(r.body, "Cannot try it: ") {
		t.Errorf("htmx's refused dry run: %d\n%s", r.status, excerpt(r.body))
	}
	bad = url.Values{}
	for k, v := range try {
		bad[k] = v
	}
	bad.Set("try_device", "nobody")
	r = e.post(op, "/admin/message-rules/new", bad)
	if r.status != http.StatusBadRequest || attr(r.body, "try-device", "aria-invalid") != "true" ||
		!strings.Contains(html.UnescapeString(r.body), `Cannot try it: Device: no such device`) {
		t.Errorf("a dry run on no device: %d\n%s", r.status, excerpt(r.body))
	}
	// A message the condition does not take.
	r = e.post(op, "/admin/message-rules/new", ruleForm("mode", "parts", "topic", "dt/#", "condition", "temperature > 100",
		"try", "1", "try_device", "acme-chiller-1", "try_topic", "dt/x", "try_payload", `{"temperature": 7.5}`))
	contains(t, "a message the rule does not take", r, http.StatusOK, `data-matched="false"`, "The rule does not take this message")
	if rs, err := e.st.ListMessageRules(); err != nil || len(rs) != 3 {
		t.Fatalf("dry runs stored rules: %d %v", len(rs), err)
	}

	// The stored rule, on its page: the whole page, or htmx's part.
	stored := url.Values{"try_device": {"acme-chiller-1"}, "try_topic": {"dt/tokyo/acme-chiller-1/data"}, "try_payload": {`{"temperature": "x"}`}}
	r = e.post(op, "/message-rules/acme-temp/dry-run", stored)
	contains(t, "a dry run of the stored rule", r, http.StatusOK, `<html`, "Message rule Acme temperatures", `data-matched="true"`,
		`<p class="error" id="try-result-error">Cannot map the message: condition: `)
	c := e.signIn(acmeUser)
	stored.Set("try_payload", `{"temperature": 6}`)
	r = e.do(c, http.MethodPost, "/message-rules/acme-temp/dry-run", stored, map[string]string{"Origin": e.srv.URL, "HX-Request": "true"})
	if r.status != http.StatusOK || strings.Contains(r.body, "<html") || !strings.HasPrefix(strings.TrimSpace(r.body), `<section class="card" id="try"`) ||
		!strings.Contains(html.UnescapeString(r.body), "{\n  \"state\": {\n    \"reported\": {\n      \"site\": \"tokyo\",\n      \"temp_c\": 6\n    }\n  }\n}") {
		t.Errorf("acme's dry run through htmx: %d\n%s", r.status, r.body)
	}
	stored.Set("try_device", "globex-chiller-9")
	r = e.post(c, "/message-rules/acme-temp/dry-run", stored)
	if r.status != http.StatusBadRequest || attr(r.body, "try-device", "aria-invalid") != "true" || strings.Contains(r.body, "osaka") {
		t.Errorf("acme's dry run on globex's device: %d\n%s", r.status, excerpt(r.body))
	}
	if after, err := e.st.GetShadow("acme-chiller-1", ""); err != nil || after.Version != before.Version {
		t.Errorf("dry runs changed the shadow: version %d to %d, %v", before.Version, after.Version, err)
	}
	if s := e.rules.Stats("acme-temp"); s.Matched != 3 {
		t.Errorf("dry runs counted: %+v", s)
	}
}
