package ui

import (
	"cmp"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// The pages of alarm rules: the list, a rule's form (or, for those who may
// not change it, its reading), its preview over the stored telemetry,
// and its deletion.

// rulePath is the page of an alarm rule.
func rulePath(id string) string { return "/alarms/rules/" + url.PathEscape(id) }

// ruleKindKeys are the message keys of the kinds of rule.
var ruleKindKeys = map[string]string{
	"telemetry": "alarm.kind.telemetry",
	"stale":     "alarm.kind.stale",
	"offline":   "alarm.kind.offline",
	"event":     "alarm.kind.event",
	"settings":  "alarm.kind.settings",
	"schedule":  "alarm.kind.schedule",
	"system":    "alarm.kind.system",
}

func ruleKindLabel(v view, kind string) string {
	if k, ok := ruleKindKeys[cmp.Or(kind, "telemetry")]; ok {
		return v.T(k)
	}
	return kind
}

// eventLevels are the levels of device events a rule may select.
var eventLevels = []string{"info", "warning", "error"}

// ruleForm is a rule as its form shows it: as stored, or as sent.
type ruleForm struct {
	ID, Name, Customer, Kind, Severity               string
	DeviceType, Site, Device                         string
	Condition, For, ClearCondition, ClearFor, Metric string
	EventCode, EventLevel, Channels                  string
	Disabled                                         bool
}

func formOfRule(r store.AlarmRule) ruleForm {
	return ruleForm{
		ID: r.ID, Name: r.Name, Customer: r.Customer, Kind: cmp.Or(r.Kind, "telemetry"), Severity: r.Severity,
		DeviceType: r.DeviceType, Site: r.Site, Device: r.Device,
		Condition: r.Condition, For: r.For, ClearCondition: r.ClearCondition, ClearFor: r.ClearFor, Metric: r.Metric,
		EventCode: r.EventCode, EventLevel: r.EventLevel, Channels: strings.Join(r.Channels, ", "), Disabled: r.Disabled,
	}
}

// readRuleForm reads the rule form as sent.
func readRuleForm(r *http.Request) ruleForm {
	f := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	return ruleForm{
		Name: f("name"), Customer: f("customer"), Kind: f("kind"), Severity: f("severity"),
		DeviceType: f("device_type"), Site: f("site"), Device: f("device"),
		Condition: f("condition"), For: f("for"), ClearCondition: f("clear_condition"), ClearFor: f("clear_for"),
		Metric: f("metric"), EventCode: f("event_code"), EventLevel: f("event_level"), Channels: f("channels"),
		Disabled: r.PostFormValue("disabled") != "",
	}
}

// rule is the rule the form says; its channels are the names between
// commas, empty ones left out.
func (f ruleForm) rule() store.AlarmRule {
	var channels []string
	for _, c := range strings.Split(f.Channels, ",") {
		if c = strings.TrimSpace(c); c != "" {
			channels = append(channels, c)
		}
	}
	return store.AlarmRule{
		ID: f.ID, Name: f.Name, Customer: f.Customer, Kind: f.Kind, Severity: f.Severity,
		DeviceType: f.DeviceType, Site: f.Site, Device: f.Device,
		Condition: f.Condition, For: f.For, ClearCondition: f.ClearCondition, ClearFor: f.ClearFor, Metric: f.Metric,
		EventCode: f.EventCode, EventLevel: f.EventLevel, Channels: channels, Disabled: f.Disabled,
	}
}

// ruleRow is one rule of a list.
type ruleRow struct {
	ID, Name, Kind, Target, What, Severity, SeverityLabel, Channels, Updated string
	Disabled                                                                 bool
}

// ruleTarget says which devices a rule watches.
func ruleTarget(v view, r store.AlarmRule) string {
	var parts []string
	if r.DeviceType != "" {
		parts = append(parts, v.T("alarm.target.type", r.DeviceType))
	}
	if r.Site != "" {
		parts = append(parts, v.T("alarm.target.site", r.Site))
	}
	if r.Device != "" {
		parts = append(parts, v.T("alarm.target.device", r.Device))
	}
	return strings.Join(parts, " · ")
}

// ruleWhat says when a rule raises its alarm.
func ruleWhat(v view, r store.AlarmRule) string {
	orAny := func(s string) string { return cmp.Or(s, v.T("alarm.any")) }
	switch cmp.Or(r.Kind, "telemetry") {
	case "telemetry":
		if r.For != "" && r.For != "0s" {
			return v.T("alarm.what.telemetry_for", r.Condition, r.For)
		}
		return r.Condition
	case "stale":
		return v.T("alarm.what.stale", r.Metric, r.For)
	case "offline":
		return v.T("alarm.what.offline", r.For)
	case "event":
		return v.T("alarm.what.event", orAny(r.EventCode), orAny(r.EventLevel))
	}
	return ruleKindLabel(v, r.Kind)
}

func ruleRows(v view, rs []store.AlarmRule) []ruleRow {
	out := make([]ruleRow, 0, len(rs))
	for _, r := range rs {
		out = append(out, ruleRow{
			ID: r.ID, Name: r.Name, Kind: ruleKindLabel(v, r.Kind), Target: ruleTarget(v, r), What: ruleWhat(v, r),
			Severity: r.Severity, SeverityLabel: severityLabel(v, r.Severity),
			Channels: strings.Join(r.Channels, ", "), Updated: v.Time(r.UpdatedAt), Disabled: r.Disabled,
		})
	}
	slices.SortStableFunc(out, func(a, b ruleRow) int { return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

// ruleGroup is the rules of one customer, or those of every customer's
// devices (Customer empty).
type ruleGroup struct {
	Customer string
	Rows     []ruleRow
}

// rulesData is what a list of rules shows.
type rulesData struct {
	Admin     bool
	Groups    []ruleGroup
	CanManage bool
	Flash     string
	FlashErr  bool
}

// showRules: /alarms/rules, the customer's rules; operators have every
// customer's at /admin/alarms/rules.
func (a *alarmPages) showRules(w http.ResponseWriter, r *http.Request) {
	if a.scope(r).Principal().Operator() {
		http.Redirect(w, r, "/admin/alarms/rules", http.StatusSeeOther)
		return
	}
	a.ruleList(w, r, false)
}

// showAdminRules: /admin/alarms/rules, every customer's rules and those
// of every customer's devices.
func (a *alarmPages) showAdminRules(w http.ResponseWriter, r *http.Request) { a.ruleList(w, r, true) }

func (a *alarmPages) ruleList(w http.ResponseWriter, r *http.Request, admin bool) {
	v := a.view(r)
	sc := a.scope(r)
	rs, err := sc.AlarmRules("")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := rulesData{Admin: admin, CanManage: sc.MayManageAlarmRules() == nil}
	byCustomer := map[string][]store.AlarmRule{}
	for _, rule := range rs {
		byCustomer[rule.Customer] = append(byCustomer[rule.Customer], rule)
	}
	for _, c := range slices.Sorted(maps.Keys(byCustomer)) {
		d.Groups = append(d.Groups, ruleGroup{Customer: c, Rows: ruleRows(v, byCustomer[c])})
	}
	d.Flash, d.FlashErr = a.flashed(r)
	a.render(w, r, http.StatusOK, rulesPage(v, d))
}

// ruleData is what a rule's page shows: its form, as stored or as sent,
// what the form offers, and the preview or the refusal of what was sent.
type ruleData struct {
	New      bool
	Form     ruleForm
	Rule     store.AlarmRule // as stored; zero for a new rule
	Editable bool
	Operator bool
	// What the form's fields offer: operators choose the customer of a
	// new rule.
	Kinds       []choice
	Severities  []choice
	Levels      []choice
	Customers   []choice
	DeviceTypes []string
	Sites       []string
	Devices     []string
	// Error is why what was sent was refused, ErrorField the field it
	// names.
	Error      string
	ErrorField string
	Preview    *rulePreview
	Flash      string
	FlashErr   bool
}

// Invalid says whether the refusal names a field of the form.
func (d ruleData) Invalid(field string) string {
	return strconv.FormatBool(d.ErrorField == field)
}

// rulePreview is what a rule would have raised, as its page shows it.
type rulePreview struct {
	Fired, FiredOn, Devices int
	From, To                string
	Truncated               bool
	Rows                    []previewRow
}

// previewRow is the firings of a rule on one device.
type previewRow struct {
	Device  string
	Fired   int
	Firings []string
	More    int
}

// previewFirings bounds the firings a device's row lists.
const previewFirings = 10

func previewOf(v view, p gate.RulePreview) *rulePreview {
	out := &rulePreview{Fired: p.Fired, Devices: len(p.Devices), From: v.Time(p.From), To: v.Time(p.To), Truncated: p.Truncated}
	for _, d := range p.Devices {
		if d.Fired == 0 {
			continue
		}
		out.FiredOn++
		row := previewRow{Device: d.Device, Fired: d.Fired}
		for i, f := range d.Firings {
			if i == previewFirings {
				row.More = len(d.Firings) - i
				break
			}
			until := v.T("alarm.preview.still")
			if !f.Cleared.IsZero() {
				until = v.Time(f.Cleared)
			}
			row.Firings = append(row.Firings, v.T("alarm.preview.firing", v.Time(f.Raised), until))
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

// ruleFieldOf finds the field a refusal names: `field "condition": ...`.
var ruleFieldOf = regexp.MustCompile(`field "([a-z_]+)"`)

// ruleOptions fills what the form offers: the kinds, severities and event
// levels, and the device types, sites and devices of the rule's customer
// (for operators, the customers to choose from).
func (a *alarmPages) ruleOptions(v view, sc gate.Scope, d *ruleData) error {
	p := sc.Principal()
	d.Operator = p.Operator()
	for _, k := range gate.AlarmRuleKinds() {
		d.Kinds = append(d.Kinds, choice{k, ruleKindLabel(v, k)})
	}
	d.Severities = severityChoices(v, "")
	d.Levels = []choice{{"", v.T("alarm.any")}}
	for _, l := range eventLevels {
		d.Levels = append(d.Levels, choice{l, l})
	}
	customer := d.Form.Customer
	if !p.Operator() {
		customer = p.Customer
	}
	if p.Operator() {
		customers, err := sc.Customers()
		if err != nil {
			return err
		}
		d.Customers = []choice{{"", v.T("alarm.rules.every_customer")}}
		for _, c := range customers {
			d.Customers = append(d.Customers, choice{c.Name, c.Name})
		}
		types, err := sc.DeviceTypes()
		if err != nil {
			return err
		}
		for _, t := range types {
			d.DeviceTypes = append(d.DeviceTypes, t.Name)
		}
		if customer == "" || !slices.ContainsFunc(customers, func(c store.Customer) bool { return c.Name == customer }) {
			// A rule of every customer's devices names a type; the fleet's
			// devices are too many to offer.
			return nil
		}
	}
	sites, err := sc.Sites(customer)
	if err != nil {
		return err
	}
	for _, s := range sites {
		d.Sites = append(d.Sites, s.Name)
	}
	devices, err := sc.Devices(customer, "")
	if err != nil {
		return err
	}
	for _, dv := range devices {
		d.Devices = append(d.Devices, dv.Name)
		if !p.Operator() && dv.Type != "" && !slices.Contains(d.DeviceTypes, dv.Type) {
			d.DeviceTypes = append(d.DeviceTypes, dv.Type)
		}
	}
	slices.Sort(d.DeviceTypes)
	return nil
}

// answerRule shows a rule's page with status.
func (a *alarmPages) answerRule(w http.ResponseWriter, r *http.Request, status int, d ruleData) {
	v := a.view(r)
	if err := a.ruleOptions(v, a.scope(r), &d); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, status, rulePage(v, d))
}

// showNewRule: /alarms/rules/new[?customer=], the form of a new rule, for
// those who may write rules.
func (a *alarmPages) showNewRule(w http.ResponseWriter, r *http.Request) {
	sc := a.scope(r)
	if err := sc.MayManageAlarmRules(); err != nil {
		a.fail(w, r, err)
		return
	}
	f := ruleForm{Kind: "telemetry", Severity: store.SeverityMajor}
	if sc.Principal().Operator() {
		f.Customer = strings.TrimSpace(r.URL.Query().Get("customer"))
	}
	a.answerRule(w, r, http.StatusOK, ruleData{New: true, Form: f, Editable: true})
}

// createRule stores the rule of the new rule's form, or previews it.
func (a *alarmPages) createRule(w http.ResponseWriter, r *http.Request) {
	sc := a.scope(r)
	if err := sc.MayManageAlarmRules(); err != nil {
		a.fail(w, r, err)
		return
	}
	a.submitted(w, r, ruleData{New: true, Form: readRuleForm(r), Editable: true}, "alarm.rules.created")
}

// showRule: /alarms/rules/{id}, a rule: its form for those who may change
// it, its reading for others.
func (a *alarmPages) showRule(w http.ResponseWriter, r *http.Request) {
	sc := a.scope(r)
	rule, err := sc.AlarmRule(configParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := ruleData{Form: formOfRule(rule), Rule: rule, Editable: sc.MayManageAlarmRules() == nil}
	d.Flash, d.FlashErr = a.flashed(r)
	a.answerRule(w, r, http.StatusOK, d)
}

// saveRule replaces a rule with its form, or previews the form; a rule
// stays with its customer.
func (a *alarmPages) saveRule(w http.ResponseWriter, r *http.Request) {
	sc := a.scope(r)
	rule, err := sc.AlarmRule(configParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := sc.MayManageAlarmRules(); err != nil {
		a.fail(w, r, err)
		return
	}
	f := readRuleForm(r)
	f.ID, f.Customer = rule.ID, rule.Customer
	a.submitted(w, r, ruleData{Form: f, Rule: rule, Editable: true}, "alarm.rules.saved")
}

// submitted finishes a rule's form: with its Preview button, the rule is
// replayed over the stored telemetry and the form shown again with what
// it would have raised, nothing stored; else it is stored through the
// gate, which checks it whole first, and the browser goes to its page. A
// refusal shows the form as sent, with why next to it.
func (a *alarmPages) submitted(w http.ResponseWriter, r *http.Request, d ruleData, doneKey string) {
	v := a.view(r)
	sc := a.scope(r)
	rule := d.Form.rule()
	if r.PostFormValue("preview") != "" {
		p, err := sc.PreviewAlarmRule(r.Context(), rule)
		if err != nil {
			a.ruleRefused(w, r, d, err)
			return
		}
		d.Preview = previewOf(v, p)
		a.answerRule(w, r, http.StatusOK, d)
		return
	}
	out, _, err := sc.PutAlarmRule(r.Context(), rule)
	if err != nil {
		a.ruleRefused(w, r, d, err)
		return
	}
	a.sessions.Put(r.Context(), keyFlash, v.T(doneKey, cmp.Or(out.Name, out.ID)))
	http.Redirect(w, r, rulePath(out.ID), http.StatusSeeOther)
}

// ruleRefused shows the form as sent with why it was refused: what the
// person can act on (a field, a name taken, a preview the server cannot
// make) next to the form, with the status the API would answer; anything
// else as the error page.
func (a *alarmPages) ruleRefused(w http.ResponseWriter, r *http.Request, d ruleData, err error) {
	v := a.view(r)
	var status int
	var msg string
	if p := gate.Describe(err); p.Kind == gate.KindUnavailable {
		status, msg = a.errorStatus(r, err)
	} else {
		var ok bool
		if status, msg, ok = a.refusal(w, r, err); !ok {
			return
		}
	}
	d.Error = v.T("alarm.rules.not_saved", msg)
	if r.PostFormValue("preview") != "" {
		d.Error = v.T("alarm.preview.refused", msg)
	}
	if m := ruleFieldOf.FindStringSubmatch(msg); m != nil {
		d.ErrorField = m[1]
	}
	a.answerRule(w, r, status, d)
}

// ruleConfirm is the confirmation of deleting the rule of the request;
// for those who may not, it says why and offers no button.
func (a *alarmPages) ruleConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := a.view(r)
	sc := a.scope(r)
	rule, err := sc.AlarmRule(configParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return configConfirmData{}, false
	}
	back := rulePath(rule.ID)
	d := configConfirmData{Title: v.T("alarm.rules.title"), Question: v.T("alarm.rules.delete", cmp.Or(rule.Name, rule.ID)),
		Action: back + "/delete", Back: back}
	if err := sc.MayManageAlarmRules(); err != nil {
		d.Error, d.Blocked = gate.Describe(err).Message, true
	}
	return d, true
}

// hasChoice reports whether a select offers a value.
func hasChoice(choices []choice, value string) bool {
	return slices.ContainsFunc(choices, func(c choice) bool { return c.Value == value })
}

// ruleAction is where a rule's form posts.
func ruleAction(d ruleData) string {
	if d.New {
		return "/alarms/rules/new"
	}
	return rulePath(d.Rule.ID)
}

// ruleOwner names whose devices a rule watches.
func ruleOwner(v view, customer string) string {
	if customer == "" {
		return v.T("alarm.rules.every_customer")
	}
	return customer
}

// ruleTitle is the heading of a rule's page.
func ruleTitle(v view, d ruleData) string {
	if d.New {
		return v.T("alarm.rules.new")
	}
	return v.T("alarm.rules.titled", cmp.Or(d.Rule.Name, d.Rule.ID))
}

// alarmsOfRulePath is the list of every alarm a rule raised.
func alarmsOfRulePath(operator bool, id string) string {
	q := url.Values{"state": {"all"}, "rule": {id}}
	if operator {
		return "/admin/alarms?" + q.Encode()
	}
	return "/alarms?" + q.Encode()
}
