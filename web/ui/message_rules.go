package ui

import (
	"cmp"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// messageRulePages serves the pages of message rules: the list with each
// rule's counters, a rule's page with what it does, its last error and a
// dry run, and for operators the form that writes one. Every read and
// change goes through the person's gate scope: a customer's people read
// their own customer's rules, and try them on their own devices.
type messageRulePages struct {
	*UI
}

// messageRuleRoutes registers the message rule pages of every signed-in
// person; operators have the list of every rule under /admin.
func (u *UI) messageRuleRoutes(r chi.Router) {
	m := &messageRulePages{UI: u}
	r.Get("/message-rules", m.showRules)
	r.Get("/message-rules/{id}", m.showRule)
	r.Post("/message-rules/{id}/dry-run", m.dryRunStored)
}

// messageRuleAdminRoutes registers the operators' message rule pages
// under /admin: every rule, the forms of a new rule and of a change, and
// delete.
func (u *UI) messageRuleAdminRoutes(r chi.Router) {
	m := &messageRulePages{UI: u}
	cfg := &config{UI: u}
	r.Get("/message-rules", m.showAdminRules)
	r.Get("/message-rules/new", m.showNew)
	r.Post("/message-rules/new", m.create)
	r.Get("/message-rules/{id}/edit", m.showEdit)
	r.Post("/message-rules/{id}/edit", m.save)
	cfg.deletion(r, "/message-rules/{id}/delete", "id", "mrule.deleted", "/admin/message-rules", m.deleteConfirm, gate.Scope.DeleteMessageRule)
}

// mrulePath is the page of a message rule.
func mrulePath(id string) string { return "/message-rules/" + url.PathEscape(id) }

// mruleAdminPath is where the operators' forms of a message rule are.
func mruleAdminPath(id string) string { return "/admin" + mrulePath(id) }

// mruleKinds are the action kinds in the order the form offers them, with
// the message keys of their names.
var mruleKinds = []struct{ Kind, Key string }{
	{"telemetry", "mrule.kind.telemetry"},
	{"shadow", "mrule.kind.shadow"},
	{"republish", "mrule.kind.republish"},
	{"webhook", "mrule.kind.webhook"},
	{"event", "mrule.kind.event"},
}

// mruleKindLabel is an action kind's name in the page's language.
func mruleKindLabel(v view, kind string) string {
	for _, k := range mruleKinds {
		if k.Kind == kind {
			return v.T(k.Key)
		}
	}
	return kind
}

// mruleActionText words what an action does.
func mruleActionText(v view, a store.RuleAction) string {
	switch a.Kind {
	case "telemetry":
		return v.T("mrule.act.telemetry")
	case "shadow":
		return v.T("mrule.act.shadow")
	case "republish":
		return v.T("mrule.act.republish", a.Topic)
	case "webhook":
		return v.T("mrule.act.webhook", strings.Join(a.Channels, ", "))
	case "event":
		return v.T("mrule.act.event", a.Code, cmp.Or(a.Level, "info"))
	}
	return a.Kind
}

// mruleOwner names whose devices a rule takes messages of.
func mruleOwner(v view, customer string) string {
	if customer == "" {
		return v.T("mrule.every_customer")
	}
	return customer
}

// mruleErrorLimit bounds the last error's message in a list.
const mruleErrorLimit = 160

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// mruleRow is a rule as a list shows it.
type mruleRow struct {
	ID, Name, Description, Customer, Topic string
	Disabled                               bool
	Matched, Succeeded, Failed             string
	LastErrorAt, LastError                 string
}

func mruleRowOf(v view, r gate.MessageRuleView) mruleRow {
	row := mruleRow{
		ID: r.ID, Name: cmp.Or(r.Name, r.ID), Description: r.Description, Customer: mruleOwner(v, r.Customer), Topic: r.Topic,
		Disabled: r.Disabled, Matched: mruleCount(r.Stats.Matched), Succeeded: mruleCount(r.Stats.Succeeded), Failed: mruleCount(r.Stats.Failed),
	}
	if l := r.Stats.LastError; l != nil {
		row.LastErrorAt, row.LastError = v.Time(l.At), clip(l.Error, mruleErrorLimit)
	}
	return row
}

func mruleCount(n uint64) string { return strconv.FormatUint(n, 10) }

// mruleListData is what a list of message rules shows.
type mruleListData struct {
	Admin    bool
	Rows     []mruleRow
	Flash    string
	FlashErr bool
}

// showRules: /message-rules, the customer's rules; operators have every
// rule at /admin/message-rules.
func (m *messageRulePages) showRules(w http.ResponseWriter, r *http.Request) {
	if m.scope(r).Principal().Operator() {
		http.Redirect(w, r, "/admin/message-rules", http.StatusSeeOther)
		return
	}
	m.ruleList(w, r, false)
}

// showAdminRules: /admin/message-rules, every rule.
func (m *messageRulePages) showAdminRules(w http.ResponseWriter, r *http.Request) {
	m.ruleList(w, r, true)
}

func (m *messageRulePages) ruleList(w http.ResponseWriter, r *http.Request, admin bool) {
	v := m.view(r)
	rs, err := m.scope(r).MessageRules()
	if err != nil {
		m.fail(w, r, err)
		return
	}
	d := mruleListData{Admin: admin}
	for _, rule := range rs {
		d.Rows = append(d.Rows, mruleRowOf(v, rule))
	}
	slices.SortStableFunc(d.Rows, func(a, b mruleRow) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	d.Flash, d.FlashErr = m.flashed(r)
	m.render(w, r, http.StatusOK, mrulesPage(v, d))
}

// mruleFact is one line of what a rule is: a label and its text.
type mruleFact struct{ Label, Text string }

// mruleLastError is a rule's newest failure as its page shows it: the
// payload sample pretty-printed when it is JSON.
type mruleLastError struct {
	At, Device, Topic, Error, Payload string
	// Cut says the sample is the first KiB of a longer payload.
	Cut bool
}

// mruleSampleLimit is how much of a failed message the engine keeps.
const mruleSampleLimit = 1024

// mruleTry is the dry run form as sent: a message a device would publish.
type mruleTry struct {
	Device, Topic, Payload string
	// Error is why the dry run was refused; ErrorField the field it names
	// ("device"), empty when it is the rule's.
	Error, ErrorField string
}

// mruleValue is one mapped value of a dry run: its name and its JSON.
type mruleValue struct{ Name, Value string }

// mrulePlan is what one action of a dry run would do.
type mrulePlan struct {
	Kind, What, Topic, Channels, Payload, Error string
}

// mruleResult is a dry run's answer as the page shows it.
type mruleResult struct {
	Matched      bool
	Error        string
	Device, Time string
	Values       []mruleValue
	Actions      []mrulePlan
}

func mruleResultOf(v view, res gate.RuleResult) *mruleResult {
	out := &mruleResult{Matched: res.Matched, Error: res.Error, Device: res.Device}
	if !res.Time.IsZero() {
		out.Time = v.Time(res.Time)
	}
	for _, k := range slices.Sorted(maps.Keys(res.Values)) {
		b, err := json.Marshal(res.Values[k])
		if err != nil {
			b = []byte(strconv.Quote(err.Error()))
		}
		out.Values = append(out.Values, mruleValue{k, string(b)})
	}
	for _, a := range res.Actions {
		p := mrulePlan{Kind: a.Kind, What: mruleKindLabel(v, a.Kind), Topic: a.Topic, Channels: strings.Join(a.Channels, ", "), Error: a.Error}
		if len(a.Payload) > 0 {
			p.Payload = prettyJSON(a.Payload)
		}
		out.Actions = append(out.Actions, p)
	}
	return out
}

// mruleData is what a rule's page shows.
type mruleData struct {
	Rule gate.MessageRuleView
	// Select is the rule's mapping, a "name = expr" line each; empty when
	// the payload's fields go as they are.
	Select      []string
	Actions     []string
	ErrorAction string
	Facts       []mruleFact
	LastError   *mruleLastError
	Try         mruleTry
	Result      *mruleResult
	Devices     []string // the devices offered to try the rule on
	CanEdit     bool
	Flash       string
	FlashErr    bool
}

// selectLines writes a rule's mapping as the form takes it.
func selectLines(fs []store.RuleField) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		if f.Expr == "*" {
			out = append(out, "*")
			continue
		}
		out = append(out, f.Name+" = "+f.Expr)
	}
	return out
}

// showRule: /message-rules/{id}, a rule: what it does, its counters, its
// last error and the dry run; for operators Edit and Delete.
func (m *messageRulePages) showRule(w http.ResponseWriter, r *http.Request) {
	d := mruleData{}
	d.Flash, d.FlashErr = m.flashed(r)
	m.answerRule(w, r, http.StatusOK, d)
}

// answerRule reads the rule of the request into d and answers its page
// with status.
func (m *messageRulePages) answerRule(w http.ResponseWriter, r *http.Request, status int, d mruleData) {
	v := m.view(r)
	sc := m.scope(r)
	rule, err := sc.MessageRule(configParam(r, "id"))
	if err != nil {
		m.fail(w, r, err)
		return
	}
	d.Rule = rule
	d.CanEdit = sc.Principal().Operator()
	d.Select = selectLines(rule.Select)
	for _, a := range rule.Actions {
		d.Actions = append(d.Actions, mruleActionText(v, a))
	}
	d.ErrorAction = v.T("mrule.error_action.none")
	if rule.ErrorAction != nil {
		d.ErrorAction = mruleActionText(v, *rule.ErrorAction)
	}
	state := v.T("mrule.enabled")
	if rule.Disabled {
		state = v.T("mrule.disabled")
	}
	d.Facts = []mruleFact{
		{v.T("mrule.col.customer"), mruleOwner(v, rule.Customer)},
		{v.T("mrule.col.state"), state},
		{v.T("mrule.fact.created"), v.Time(rule.CreatedAt)},
		{v.T("mrule.fact.updated"), v.Time(rule.UpdatedAt)},
	}
	if l := rule.Stats.LastError; l != nil {
		d.LastError = &mruleLastError{At: v.Time(l.At), Device: l.Device, Topic: l.Topic, Error: l.Error,
			Payload: prettyJSON([]byte(l.Payload)), Cut: len(l.Payload) >= mruleSampleLimit}
	}
	if d.Devices, err = m.tryDevices(sc, rule.Customer); err != nil {
		m.fail(w, r, err)
		return
	}
	m.render(w, r, status, mrulePage(v, d))
}

// tryDevices are the devices a dry run offers: the customer's, or for a
// rule of every customer none (the fleet's are too many to offer); a
// customer's people are offered their own.
func (m *messageRulePages) tryDevices(sc gate.Scope, customer string) ([]string, error) {
	if customer == "" && sc.Principal().Operator() {
		return nil, nil
	}
	devices, err := sc.Devices(customer, "")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(devices))
	for _, dv := range devices {
		out = append(out, dv.Name)
	}
	return out, nil
}

// readTry reads the dry run's fields of a form.
func readTry(r *http.Request) mruleTry {
	return mruleTry{
		Device:  strings.TrimSpace(r.PostFormValue("try_device")),
		Topic:   strings.TrimSpace(r.PostFormValue("try_topic")),
		Payload: r.PostFormValue("try_payload"),
	}
}

// htmx reports whether a request came from htmx, which swaps in a part
// of the page.
func htmx(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// dryRunStored tries the rule of the request on the message of its
// page's dry run form, doing nothing. htmx gets the dry run's part of the
// page, a refusal in it; a browser without script the whole page.
func (m *messageRulePages) dryRunStored(w http.ResponseWriter, r *http.Request) {
	v := m.view(r)
	sc := m.scope(r)
	id := configParam(r, "id")
	try := readTry(r)
	status := http.StatusOK
	var result *mruleResult
	res, err := sc.DryRunStoredMessageRule(id, try.Device, try.Topic, []byte(try.Payload))
	if err != nil {
		var msg string
		var ok bool
		if status, msg, ok = m.refusal(w, r, err); !ok {
			return
		}
		field, text := mruleLayout{}.fieldOf(v, msg)
		try.Error = v.T("mrule.try.refused", refusalSummary(v, field, text, msg))
		if field == "try_device" {
			try.ErrorField = "device"
		}
	} else {
		result = mruleResultOf(v, res)
	}
	if htmx(r) {
		rule, err := sc.MessageRule(id)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		devices, err := m.tryDevices(sc, rule.Customer)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		m.render(w, r, http.StatusOK, mruleTrySection(v, mrulePath(id)+"/dry-run", try, result, devices, rule.Topic))
		return
	}
	m.answerRule(w, r, status, mruleData{Try: try, Result: result})
}

// mruleActionForm is one action of the form as typed.
type mruleActionForm struct {
	Kind, Topic, Channels, Code, Level string
}

func actionFormOf(a store.RuleAction) mruleActionForm {
	return mruleActionForm{Kind: a.Kind, Topic: a.Topic, Channels: strings.Join(a.Channels, ", "), Code: a.Code, Level: a.Level}
}

// action is the action the form's fields say: only the fields of its
// kind, so that what another kind's fields still hold does not count.
func (f mruleActionForm) action() store.RuleAction {
	a := store.RuleAction{Kind: f.Kind}
	switch f.Kind {
	case "republish":
		a.Topic = f.Topic
	case "webhook":
		a.Channels = splitNames(f.Channels)
	case "event":
		a.Code, a.Level = f.Code, f.Level
	}
	return a
}

// Form modes: the rule in AWS IoT SQL, or as a topic, a condition and a
// mapping.
const (
	mruleModeSQL   = "sql"
	mruleModeParts = "parts"
)

// mruleMinActions is how many actions a new rule's form offers; a rule's
// form offers one more than it has, up to store.MaxRuleActions.
const mruleMinActions = 3

// mruleForm is a rule's form as stored or as typed: text stays as typed so
// that a refused form comes back as it was sent.
type mruleForm struct {
	ID, Name, Description, Customer string
	Mode                            string
	SQL, Topic, Condition, Select   string
	Actions                         []mruleActionForm
	ErrorAction                     mruleActionForm
	Disabled                        bool
	Try                             mruleTry
}

// mruleFormOf is a stored rule's form: a rule in SQL has the topic,
// condition and mapping it translates to filled in too, for one who
// changes it to them.
func mruleFormOf(r gate.MessageRuleView) mruleForm {
	f := mruleForm{
		ID: r.ID, Name: r.Name, Description: r.Description, Customer: r.Customer, Mode: mruleModeParts,
		SQL: r.SQL, Topic: r.Topic, Condition: r.Condition, Select: strings.Join(selectLines(r.Select), "\n"), Disabled: r.Disabled,
	}
	if r.SQL != "" {
		f.Mode = mruleModeSQL
	}
	for _, a := range r.Actions {
		f.Actions = append(f.Actions, actionFormOf(a))
	}
	if r.ErrorAction != nil {
		f.ErrorAction = actionFormOf(*r.ErrorAction)
	}
	f.Actions = padActions(f.Actions, len(f.Actions)+1)
	return f
}

// padActions gives the form at least n action slots, at least
// mruleMinActions and at most store.MaxRuleActions.
func padActions(as []mruleActionForm, n int) []mruleActionForm {
	n = min(max(n, mruleMinActions), store.MaxRuleActions)
	for len(as) < n {
		as = append(as, mruleActionForm{})
	}
	return as
}

// readActionForm reads one action's fields, named prefix.kind and so on.
func readActionForm(r *http.Request, prefix string) mruleActionForm {
	f := func(name string) string { return strings.TrimSpace(r.PostFormValue(prefix + "." + name)) }
	return mruleActionForm{Kind: f("kind"), Topic: f("topic"), Channels: f("channels"), Code: f("code"), Level: f("level")}
}

// readMruleForm reads a rule's form as sent.
func readMruleForm(r *http.Request) mruleForm {
	f := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	form := mruleForm{
		Name: f("name"), Description: f("description"), Customer: f("customer"), Mode: f("mode"),
		SQL: f("sql"), Topic: f("topic"), Condition: f("condition"), Select: strings.TrimSpace(r.PostFormValue("select")),
		ErrorAction: readActionForm(r, "ea"), Disabled: r.PostFormValue("disabled") != "", Try: readTry(r),
	}
	if form.Mode != mruleModeSQL {
		form.Mode = mruleModeParts
	}
	slots := 0
	for i := range store.MaxRuleActions {
		if _, ok := r.PostForm[actionPrefix(i)+".kind"]; ok {
			slots = i + 1
		}
	}
	for i := range slots {
		form.Actions = append(form.Actions, readActionForm(r, actionPrefix(i)))
	}
	form.Actions = padActions(form.Actions, slots)
	return form
}

// actionPrefix names the fields of the form's i-th action.
func actionPrefix(i int) string { return "a" + strconv.Itoa(i) }

// mruleLayout is where each part of a rule came from in its form: the
// slot of each action, and the line of each field of the mapping.
type mruleLayout struct {
	actionSlots  []int
	selectLines  []int
	sql          bool
	channelSlots map[string]int // a channel's name → the first slot naming it
}

// rule is the rule the form describes, and where its parts are in the
// form; the gate checks it. A line of the mapping is "name = expr", "*",
// or a field path named by its last part as SQL names it.
func (f mruleForm) rule() (store.MessageRule, mruleLayout) {
	rule := store.MessageRule{ID: f.ID, Name: f.Name, Description: f.Description, Customer: f.Customer, Disabled: f.Disabled}
	lay := mruleLayout{sql: f.Mode == mruleModeSQL, channelSlots: map[string]int{}}
	if lay.sql {
		rule.SQL = f.SQL
	} else {
		rule.Topic, rule.Condition = f.Topic, f.Condition
		for i, line := range strings.Split(f.Select, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			field := store.RuleField{Expr: line}
			if name, expr, ok := strings.Cut(line, "="); ok {
				field = store.RuleField{Name: strings.TrimSpace(name), Expr: strings.TrimSpace(expr)}
			} else {
				field.Name = strings.TrimSpace(line[strings.LastIndex(line, ".")+1:])
			}
			if field.Expr == "*" {
				// Every field of the payload, under their own names.
				field.Name = ""
			}
			rule.Select = append(rule.Select, field)
			lay.selectLines = append(lay.selectLines, i+1)
		}
	}
	for i, a := range f.Actions {
		if a.Kind == "" {
			continue
		}
		act := a.action()
		rule.Actions = append(rule.Actions, act)
		lay.actionSlots = append(lay.actionSlots, i)
		for _, ch := range act.Channels {
			if _, ok := lay.channelSlots[ch]; !ok {
				lay.channelSlots[ch] = i
			}
		}
	}
	if f.ErrorAction.Kind != "" {
		ea := f.ErrorAction.action()
		rule.ErrorAction = &ea
		for _, ch := range ea.Channels {
			if _, ok := lay.channelSlots[ch]; !ok {
				lay.channelSlots[ch] = -1
			}
		}
	}
	return rule, lay
}

// mruleFieldOf reads the field a refusal names: `field "select[1].expr":
// …`, `field "actions[0]": …`, `field "sql": …`.
var mruleFieldOf = regexp.MustCompile(`field "([a-z_]+)(?:\[(\d+)\])?(?:\.([a-z_]+))?": `)

// mruleStoreField reads the field of the store's refusals, which name it
// first: "name is empty", "description is 3000 bytes long".
var mruleStoreField = regexp.MustCompile(`(?:^|: )(name|description) (?:is|")`)

// mruleNoActions reads the store's refusal of a rule without actions, or
// with too many.
var mruleNoActions = regexp.MustCompile(`\d+ actions; a rule has`)

// mruleChannelOf reads the channel a refusal says the customer lacks.
var mruleChannelOf = regexp.MustCompile(`no notification channel named "([^"]*)"`)

// fieldOf is the form's field a refusal names, and what to say next to
// it: "sql", "topic", "select" (with the line), "a1.topic" (the form's
// second action), "ea.kind", "a0" (an action as a whole), "try_device".
func (lay mruleLayout) fieldOf(v view, msg string) (field, text string) {
	m := mruleFieldOf.FindStringSubmatchIndex(msg)
	if m == nil {
		if s := mruleStoreField.FindStringSubmatch(msg); s != nil {
			return s[1], msg
		}
		if mruleNoActions.MatchString(msg) {
			return actionPrefix(0), msg
		}
		return "", ""
	}
	name := msg[m[2]:m[3]]
	index := -1
	if m[4] >= 0 {
		index, _ = strconv.Atoi(msg[m[4]:m[5]])
	}
	sub := ""
	if m[6] >= 0 {
		sub = msg[m[6]:m[7]]
	}
	text = msg[m[1]:]
	switch name {
	case "sql", "name", "description", "customer":
		return name, text
	case "topic", "condition", "select":
		if lay.sql {
			return "sql", text
		}
		if name == "select" && index >= 0 && index < len(lay.selectLines) {
			return "select", v.T("mrule.form.line", lay.selectLines[index], text)
		}
		return name, text
	case "device":
		return "try_device", text
	case "actions", "error_action":
		prefix := "ea"
		if name == "actions" {
			if index < 0 || index >= len(lay.actionSlots) {
				return "", ""
			}
			prefix = actionPrefix(lay.actionSlots[index])
		}
		if sub != "" {
			return prefix + "." + sub, text
		}
		return prefix, text
	case "channels":
		if c := mruleChannelOf.FindStringSubmatch(text); c != nil {
			if slot, ok := lay.channelSlots[c[1]]; ok {
				if slot < 0 {
					return "ea.channels", text
				}
				return actionPrefix(slot) + ".channels", text
			}
		}
	}
	return "", ""
}

// mruleFieldLabels are the message keys of the names of the form's
// fields, as a summary of a refusal names them.
var mruleFieldLabels = map[string]string{
	"sql": "mrule.form.sql", "topic": "mrule.col.topic", "condition": "mrule.form.condition", "select": "mrule.form.select",
	"name": "mrule.col.name", "description": "mrule.form.description", "customer": "mrule.col.customer",
	"try_device": "mrule.try.device", "ea": "mrule.form.error_action",
}

// refusalSummary says a refusal for the top of the form: the field by
// its name on the form ("Action 2", not the API's "actions[0]") and what
// is said next to it; a refusal that names no field as it is.
func refusalSummary(v view, field, text, msg string) string {
	if field == "" || text == msg {
		return msg
	}
	prefix, _, _ := strings.Cut(field, ".")
	label := ""
	if key, ok := mruleFieldLabels[prefix]; ok {
		label = v.T(key)
	} else if n, err := strconv.Atoi(strings.TrimPrefix(prefix, "a")); err == nil && strings.HasPrefix(prefix, "a") {
		label = v.T("mrule.form.action_n", n+1)
	}
	if label == "" {
		return msg
	}
	return label + ": " + text
}

// mruleFormData is what a rule's form shows.
type mruleFormData struct {
	New  bool
	Form mruleForm
	// Rule is the stored rule being changed; zero for a new one.
	Rule gate.MessageRuleView
	// What the fields offer: operators choose the customer of a new rule.
	Customers []choice
	Kinds     []choice
	Levels    []choice
	Devices   []string
	// Error is why what was sent was refused; ErrorField the field it
	// names and FieldError what to say next to it.
	Error, ErrorField, FieldError string
	Result                        *mruleResult
}

// Invalid is the aria-invalid of a field: "true" for the one the refusal
// names.
func (d mruleFormData) Invalid(field string) string {
	return strconv.FormatBool(d.ErrorField == field)
}

// ErrorOf is what to say next to a field: the refusal, when it names it.
func (d mruleFormData) ErrorOf(field string) string {
	if d.ErrorField == field {
		return d.FieldError
	}
	return ""
}

// formAction is where the form posts.
func (d mruleFormData) formAction() string {
	if d.New {
		return "/admin/message-rules/new"
	}
	return mruleAdminPath(d.Rule.ID) + "/edit"
}

// showNew: /admin/message-rules/new[?customer=], the form of a new rule.
func (m *messageRulePages) showNew(w http.ResponseWriter, r *http.Request) {
	f := mruleForm{Mode: mruleModeSQL, Customer: strings.TrimSpace(r.URL.Query().Get("customer")),
		Actions: padActions(nil, mruleMinActions)}
	m.answerForm(w, r, http.StatusOK, mruleFormData{New: true, Form: f})
}

// create stores the rule of the new rule's form, or tries it.
func (m *messageRulePages) create(w http.ResponseWriter, r *http.Request) {
	m.submitted(w, r, mruleFormData{New: true, Form: readMruleForm(r)}, "mrule.created")
}

// showEdit: /admin/message-rules/{id}/edit, the form of a rule.
func (m *messageRulePages) showEdit(w http.ResponseWriter, r *http.Request) {
	rule, err := m.scope(r).MessageRule(configParam(r, "id"))
	if err != nil {
		m.fail(w, r, err)
		return
	}
	m.answerForm(w, r, http.StatusOK, mruleFormData{Form: mruleFormOf(rule), Rule: rule})
}

// save replaces a rule with its form, or tries the form; a rule stays
// with its customer.
func (m *messageRulePages) save(w http.ResponseWriter, r *http.Request) {
	rule, err := m.scope(r).MessageRule(configParam(r, "id"))
	if err != nil {
		m.fail(w, r, err)
		return
	}
	f := readMruleForm(r)
	f.ID, f.Customer = rule.ID, rule.Customer
	m.submitted(w, r, mruleFormData{Form: f, Rule: rule}, "mrule.saved")
}

// submitted finishes a rule's form: with its Try button, the rule as
// typed is tried on the form's message and the form shown again with what
// it would do, nothing stored (htmx gets the form's part of the page);
// else it is stored through the gate, which checks it whole, and the
// browser goes to its page. A refusal shows the form as sent, with why
// next to the field it names.
func (m *messageRulePages) submitted(w http.ResponseWriter, r *http.Request, d mruleFormData, doneKey string) {
	v := m.view(r)
	sc := m.scope(r)
	rule, lay := d.Form.rule()
	if r.PostFormValue("try") != "" {
		res, err := sc.DryRunMessageRule(rule, d.Form.Try.Device, d.Form.Try.Topic, []byte(d.Form.Try.Payload))
		status := http.StatusOK
		if err != nil {
			var msg string
			var ok bool
			if status, msg, ok = m.refusal(w, r, err); !ok {
				return
			}
			d.ErrorField, d.FieldError = lay.fieldOf(v, msg)
			why := v.T("mrule.try.refused", refusalSummary(v, d.ErrorField, d.FieldError, msg))
			if d.ErrorField == "try_device" {
				d.Form.Try.Error, d.Form.Try.ErrorField = why, "device"
			} else {
				d.Error = why
			}
		} else {
			d.Result = mruleResultOf(v, res)
		}
		if htmx(r) {
			status = http.StatusOK
		}
		m.answerForm(w, r, status, d)
		return
	}
	out, _, err := sc.PutMessageRule(rule)
	if err != nil {
		status, msg, ok := m.refusal(w, r, err)
		if !ok {
			return
		}
		d.ErrorField, d.FieldError = lay.fieldOf(v, msg)
		d.Error = v.T("mrule.not_saved", refusalSummary(v, d.ErrorField, d.FieldError, msg))
		m.answerForm(w, r, status, d)
		return
	}
	m.sessions.Put(r.Context(), keyFlash, v.T(doneKey, cmp.Or(out.Name, out.ID)))
	http.Redirect(w, r, mrulePath(out.ID), http.StatusSeeOther)
}

// answerForm answers a rule's form with what its fields offer; htmx gets
// the form's part of the page.
func (m *messageRulePages) answerForm(w http.ResponseWriter, r *http.Request, status int, d mruleFormData) {
	v := m.view(r)
	sc := m.scope(r)
	if d.New {
		customers, err := sc.Customers()
		if err != nil {
			m.fail(w, r, err)
			return
		}
		d.Customers = []choice{{"", v.T("mrule.every_customer")}}
		for _, c := range customers {
			d.Customers = append(d.Customers, choice{c.Name, c.Name})
		}
	}
	d.Kinds = []choice{{"", v.T("mrule.kind.none")}}
	for _, k := range mruleKinds {
		d.Kinds = append(d.Kinds, choice{k.Kind, v.T(k.Key)})
	}
	d.Levels = []choice{{"info", "info"}, {"warning", "warning"}, {"error", "error"}}
	var err error
	if d.Form.Customer != "" && (!d.New || hasChoice(d.Customers, d.Form.Customer)) {
		if d.Devices, err = m.tryDevices(sc, d.Form.Customer); err != nil {
			m.fail(w, r, err)
			return
		}
	}
	if htmx(r) {
		m.render(w, r, http.StatusOK, mruleFormSection(v, d))
		return
	}
	m.render(w, r, status, mruleFormPage(v, d))
}

// mruleFormTitle is the heading of a rule's form.
func mruleFormTitle(v view, d mruleFormData) string {
	if d.New {
		return v.T("mrule.new")
	}
	return v.T("mrule.edit", cmp.Or(d.Rule.Name, d.Rule.ID))
}

// deleteConfirm is the confirmation of deleting the rule of the request.
func (m *messageRulePages) deleteConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := m.view(r)
	rule, err := m.scope(r).MessageRule(configParam(r, "id"))
	if err != nil {
		m.fail(w, r, err)
		return configConfirmData{}, false
	}
	return configConfirmData{Title: v.T("mrule.list.title"), Question: v.T("mrule.delete.question", cmp.Or(rule.Name, rule.ID)),
		Action: mruleAdminPath(rule.ID) + "/delete", Back: mrulePath(rule.ID)}, true
}
