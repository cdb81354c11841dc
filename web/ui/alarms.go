package ui

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// alarmPages serves the alarm pages: the alarms a person may see, an
// alarm's page with its history, acknowledging and clearing one, and the
// rules that raise them. Every read and change goes through the person's
// gate scope; the pages show forms only where it would let them through.
type alarmPages struct {
	*UI
}

// alarmRoutes registers the alarm pages of every signed-in person.
// Operators have the lists of every customer's under /admin; an alarm's
// and a rule's page are the same for both.
func (u *UI) alarmRoutes(r chi.Router) {
	a := &alarmPages{UI: u}
	cfg := &config{UI: u}
	r.Get("/alarms", a.showAlarms)
	r.Get("/alarms/{id}", a.showAlarm)
	r.Post("/alarms/{id}/ack", a.acknowledge)
	r.Post("/alarms/{id}/clear", a.clear)
	r.Get("/alarms/rules", a.showRules)
	r.Get("/alarms/rules/new", a.showNewRule)
	r.Post("/alarms/rules/new", a.createRule)
	r.Get("/alarms/rules/{id}", a.showRule)
	r.Post("/alarms/rules/{id}", a.saveRule)
	cfg.deletion(r, "/alarms/rules/{id}/delete", "id", "alarm.rules.deleted", "/alarms/rules", a.ruleConfirm, gate.Scope.DeleteAlarmRule)
	u.channelRoutes(r)
}

// alarmAdminRoutes registers the operators' alarm pages under /admin.
func (u *UI) alarmAdminRoutes(r chi.Router) {
	a := &alarmPages{UI: u}
	r.Get("/alarms", a.showAdminAlarms)
	r.Get("/alarms/rules", a.showAdminRules)
	u.channelAdminRoutes(r)
}

// alarmPath is the page of an alarm.
func alarmPath(id string) string { return "/alarms/" + url.PathEscape(id) }

// alarmListLimit bounds the alarms a list shows: the newest, after the
// active ones.
const alarmListLimit = 200

// alarmBadge is the navigation's count of alarms, read at most once a
// page.
type alarmBadge struct {
	once  sync.Once
	count func() int
	n     int
}

// activeAlarms counts the alarms the reader of r may see that are active
// and not acknowledged: the open ones, read through the store's index of
// open alarms, so the count costs what stands, not the history.
func (u *UI) activeAlarms(r *http.Request) int {
	no := false
	as, err := u.scope(r).Alarms(store.AlarmFilter{OpenOnly: true, State: store.AlarmActive, Acknowledged: &no})
	if err != nil {
		if gate.Describe(err).Kind != gate.KindUnavailable {
			u.logger.Warn("cannot count the active alarms", "error", err)
		}
		return 0
	}
	return len(as)
}

// choice is one option of a select.
type choice struct{ Value, Label string }

// severityKeys are the message keys of the severities.
var severityKeys = map[string]string{
	store.SeverityCritical: "alarm.sev.critical",
	store.SeverityMajor:    "alarm.sev.major",
	store.SeverityMinor:    "alarm.sev.minor",
	store.SeverityWarning:  "alarm.sev.warning",
}

func severityLabel(v view, s string) string {
	if k, ok := severityKeys[s]; ok {
		return v.T(k)
	}
	return s
}

// severityChoices are the severities, most urgent first, after a choice
// of any severity labelled anyLabel when it is not empty.
func severityChoices(v view, anyLabel string) []choice {
	var out []choice
	if anyLabel != "" {
		out = append(out, choice{"", anyLabel})
	}
	for _, s := range store.Severities {
		out = append(out, choice{s, severityLabel(v, s)})
	}
	return out
}

// alarmStates are the states a list is filtered by, with their keys.
var alarmStates = []struct{ Value, Key string }{
	{"open", "alarm.filter.open"},
	{store.AlarmActive, "alarm.filter.active"},
	{store.AlarmCleared, "alarm.filter.cleared"},
	{"all", "alarm.filter.all"},
}

// alarmActionKeys are the message keys of the steps of an alarm's life.
var alarmActionKeys = map[string]string{
	store.AlarmRaised:       "alarm.action.raised",
	store.AlarmRepeated:     "alarm.action.repeated",
	store.AlarmClearedBy:    "alarm.action.cleared",
	store.AlarmAcknowledged: "alarm.action.acknowledged",
}

// alarmRow is one alarm as a list shows it.
type alarmRow struct {
	ID, Customer, Device, Site, RuleName, Message string
	Severity, SeverityLabel                       string
	Active, Acknowledged                          bool
	Count                                         int
	Raised, Last, Cleared, AckedBy, AckedAt       string
}

// alarmTitle is what an alarm is about: its message, or its rule's name.
func alarmTitle(v view, a alarmRow) string {
	return cmp.Or(a.Message, a.RuleName, v.T("alarm.untitled"))
}

// actionOf is what the form of an alarm does on Enter: acknowledge it
// while it is not, else clear it.
func actionOf(a alarmRow) string {
	if !a.Acknowledged {
		return "/ack"
	}
	return "/clear"
}

// Actionable reports whether something is left to do: acknowledge it or
// clear it.
func (a alarmRow) Actionable() bool { return a.Active || !a.Acknowledged }

// sitesTitles are the titles of the sites, by customer and name, for
// alarms that name a site.
func sitesTitles(sites []store.Site) map[[2]string]string {
	out := make(map[[2]string]string, len(sites))
	for _, s := range sites {
		out[[2]string{s.Customer, s.Name}] = siteTitle(s, false)
	}
	return out
}

func alarmRows(v view, as []store.Alarm, titles map[[2]string]string) []alarmRow {
	out := make([]alarmRow, 0, len(as))
	for _, a := range as {
		site := cmp.Or(titles[[2]string{a.Customer, a.Site}], a.Site)
		row := alarmRow{
			ID: a.ID, Customer: a.Customer, Device: a.Device, Site: site, RuleName: cmp.Or(a.RuleName, a.Rule), Message: a.Message,
			Severity: a.Severity, SeverityLabel: severityLabel(v, a.Severity),
			Active: a.State == store.AlarmActive, Acknowledged: a.Acknowledged, Count: a.Count,
			Raised: v.Time(a.RaisedAt), Last: v.Time(a.LastAt),
		}
		if !a.ClearedAt.IsZero() {
			row.Cleared = v.Time(a.ClearedAt)
		}
		if a.Acknowledged {
			row.AckedBy, row.AckedAt = actorLabel(a.AckedBy), v.Time(a.AckedAt)
		}
		out = append(out, row)
	}
	return out
}

// alarmTable is how a table of alarms is shown: with whose, and with the
// forms that act on them, which return to Back.
type alarmTable struct {
	Label    string
	Customer bool // a column of the customer, for operators
	Device   bool // a column of the device, but on the device's page
	CanAct   bool
	Back     string
}

// alarmListData is what a list of alarms shows.
type alarmListData struct {
	Admin      bool
	State      string
	Severity   string
	Site       string
	Device     string
	Rule       string
	Customer   string
	States     []choice
	Severities []choice
	Sites      []choice
	Customers  []string
	Rows       []alarmRow
	Full       bool // the list reached alarmListLimit
	Table      alarmTable
	Flash      string
	FlashErr   bool
}

// readAlarmFilter reads a list's filter: ?state=open (the default),
// active, cleared or all; ?severity=; ?site=; ?device=; ?rule=; and
// ?customer= for operators.
func readAlarmFilter(v view, r *http.Request, admin bool) (alarmListData, store.AlarmFilter, error) {
	q := r.URL.Query()
	d := alarmListData{Admin: admin, State: cmp.Or(q.Get("state"), "open"), Severity: q.Get("severity"),
		Site: strings.TrimSpace(q.Get("site")), Device: strings.TrimSpace(q.Get("device")), Rule: strings.TrimSpace(q.Get("rule"))}
	f := store.AlarmFilter{Severity: d.Severity, Site: d.Site, Device: d.Device, Rule: d.Rule, Limit: alarmListLimit}
	if admin {
		d.Customer = strings.TrimSpace(q.Get("customer"))
		f.Customer = d.Customer
	}
	switch d.State {
	case "open":
		f.OpenOnly = true
	case store.AlarmActive, store.AlarmCleared:
		f.State = d.State
	case "all":
	default:
		return d, f, badRequest(v.T("alarm.bad_state", d.State))
	}
	if d.Severity != "" && !slices.Contains(store.Severities, d.Severity) {
		return d, f, badRequest(v.T("alarm.bad_severity", d.Severity, strings.Join(store.Severities, ", ")))
	}
	return d, f, nil
}

// showAlarms: /alarms, the customer's alarms, active first, then newest;
// operators have every customer's at /admin/alarms.
func (a *alarmPages) showAlarms(w http.ResponseWriter, r *http.Request) {
	if a.scope(r).Principal().Operator() {
		target := "/admin/alarms"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	a.alarmList(w, r, false)
}

// showAdminAlarms: /admin/alarms, every customer's alarms, filtered by
// customer too.
func (a *alarmPages) showAdminAlarms(w http.ResponseWriter, r *http.Request) {
	a.alarmList(w, r, true)
}

func (a *alarmPages) alarmList(w http.ResponseWriter, r *http.Request, admin bool) {
	v := a.view(r)
	sc := a.scope(r)
	d, f, err := readAlarmFilter(v, r, admin)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if admin {
		customers, err := sc.Customers()
		if err != nil {
			a.fail(w, r, err)
			return
		}
		for _, c := range customers {
			d.Customers = append(d.Customers, c.Name)
		}
		if d.Customer != "" && !slices.Contains(d.Customers, d.Customer) {
			a.fail(w, r, badRequest(v.T("alarm.bad_customer", d.Customer)))
			return
		}
	}
	as, err := sc.Alarms(f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sites, err := sc.Sites(d.Customer)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d.Rows, d.Full = alarmRows(v, as, sitesTitles(sites)), len(as) == alarmListLimit
	for _, st := range alarmStates {
		d.States = append(d.States, choice{st.Value, v.T(st.Key)})
	}
	d.Severities = severityChoices(v, v.T("alarm.filter.any"))
	d.Sites = []choice{{"", v.T("alarm.filter.any")}}
	seen := map[string]bool{}
	for _, s := range sites {
		if !seen[s.Name] {
			seen[s.Name] = true
			label := siteTitle(s, false)
			if admin {
				label = s.Name
			}
			d.Sites = append(d.Sites, choice{s.Name, label})
		}
	}
	d.Table = alarmTable{Label: v.T("alarm.list.title"), Customer: admin, Device: true,
		CanAct: sc.Principal().MayChangeSettings(), Back: r.URL.RequestURI()}
	d.Flash, d.FlashErr = a.alarmFlashed(r)
	a.render(w, r, http.StatusOK, alarmsPage(v, d))
}

// alarmData is what an alarm's page shows.
type alarmData struct {
	Alarm alarmRow
	// RuleLink is the page of its rule; empty when the rule is gone or
	// not the reader's to see.
	RuleLink string
	Fields   []alarmField
	History  []alarmChangeRow
	CanAct   bool
	Flash    string
	FlashErr bool
}

// alarmField is one value of what raised an alarm.
type alarmField struct{ Name, Value string }

// alarmChangeRow is one step of an alarm's life.
type alarmChangeRow struct {
	When, Action, Who, Comment, Message string
}

// fieldText writes a value of an alarm's fields: a number without noise,
// anything else as it is.
func fieldText(x any) string {
	if f, ok := x.(float64); ok {
		return formatValue(f)
	}
	return fmt.Sprint(x)
}

// showAlarm: /alarms/{id}, an alarm with what raised it and its history,
// and the form that acknowledges or clears it.
func (a *alarmPages) showAlarm(w http.ResponseWriter, r *http.Request) {
	v := a.view(r)
	sc := a.scope(r)
	al, err := sc.Alarm(configParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sites, err := sc.Sites(al.Customer)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := alarmData{Alarm: alarmRows(v, []store.Alarm{al}, sitesTitles(sites))[0], CanAct: sc.Principal().MayChangeSettings()}
	if _, err := sc.AlarmRule(al.Rule); err == nil {
		d.RuleLink = rulePath(al.Rule)
	}
	for _, k := range slices.Sorted(maps.Keys(al.Fields)) {
		d.Fields = append(d.Fields, alarmField{k, fieldText(al.Fields[k])})
	}
	for i := len(al.History) - 1; i >= 0; i-- {
		h := al.History[i]
		action := h.Action
		if k, ok := alarmActionKeys[h.Action]; ok {
			action = v.T(k)
		}
		who := v.T("alarm.history.hearth")
		if h.By != "" {
			who = actorLabel(h.By)
		}
		d.History = append(d.History, alarmChangeRow{When: v.Time(h.At), Action: action, Who: who, Comment: h.Comment, Message: h.Message})
	}
	d.Flash, d.FlashErr = a.alarmFlashed(r)
	a.render(w, r, http.StatusOK, alarmPage(v, d))
}

// acknowledge records that the person has seen an alarm, with the form's
// optional comment.
func (a *alarmPages) acknowledge(w http.ResponseWriter, r *http.Request) {
	a.act(w, r, gate.Scope.AcknowledgeAlarm, "alarm.acknowledged")
}

// clear clears an active alarm by hand, with the form's optional comment.
func (a *alarmPages) clear(w http.ResponseWriter, r *http.Request) {
	a.act(w, r, gate.Scope.ClearAlarm, "alarm.cleared")
}

// act does one change of an alarm and goes back to the page the form was
// on (its "back" field, a path of this site), or to the alarm's page,
// saying what was done or why not.
func (a *alarmPages) act(w http.ResponseWriter, r *http.Request, do func(gate.Scope, string, string) (store.Alarm, error), doneKey string) {
	v := a.view(r)
	id := configParam(r, "id")
	back := alarmPath(id)
	if s := r.PostFormValue("back"); s != "" {
		back = safeNext(s)
	}
	if _, err := do(a.scope(r), id, strings.TrimSpace(r.PostFormValue("comment"))); err != nil {
		if _, msg, ok := a.refusal(w, r, err); ok {
			a.sessions.Put(r.Context(), keyAlarmFlash, "!"+v.T("alarm.not_done", msg))
			http.Redirect(w, r, back, http.StatusSeeOther)
		}
		return
	}
	a.sessions.Put(r.Context(), keyAlarmFlash, v.T(doneKey))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// deviceAlarmsData is a device's open alarms on its page.
type deviceAlarmsData struct {
	Rows     []alarmRow
	CanAct   bool
	Flash    string
	FlashErr bool
}

// deviceAlarms reads a device's open alarms for its page; nil when the
// server runs no alarms.
func (u *UI) deviceAlarms(v view, r *http.Request, sc gate.Scope, d gate.DeviceView) (*deviceAlarmsData, error) {
	as, err := sc.Alarms(store.AlarmFilter{Device: d.Name, OpenOnly: true})
	if err != nil {
		if gate.Describe(err).Kind == gate.KindUnavailable {
			return nil, nil
		}
		return nil, err
	}
	sites, err := sc.Sites(d.Customer)
	if err != nil {
		return nil, err
	}
	out := &deviceAlarmsData{Rows: alarmRows(v, as, sitesTitles(sites)), CanAct: sc.Principal().MayChangeSettings()}
	out.Flash, out.FlashErr = u.alarmFlashed(r)
	return out, nil
}

// alarmFlashed takes the message an alarm's change left for the page it
// went back to; a leading "!" marks an error.
func (u *UI) alarmFlashed(r *http.Request) (msg string, isErr bool) {
	msg = u.sessions.PopString(r.Context(), keyAlarmFlash)
	return strings.TrimPrefix(msg, "!"), strings.HasPrefix(msg, "!")
}

// deviceAlarmsPath is the list of every alarm of a device.
func deviceAlarmsPath(operator bool, device string) string {
	q := url.Values{"state": {"all"}, "device": {device}}
	if operator {
		return "/admin/alarms?" + q.Encode()
	}
	return "/alarms?" + q.Encode()
}

// siteAlarms counts the active alarms of each site, by customer and site
// name, for the overview; nil when they cannot be read, which the
// overview does without.
func (u *UI) siteAlarms(sc gate.Scope) map[[2]string]int {
	as, err := sc.Alarms(store.AlarmFilter{OpenOnly: true, State: store.AlarmActive})
	if err != nil {
		if gate.Describe(err).Kind != gate.KindUnavailable {
			u.logger.Warn("cannot read the active alarms", "error", err)
		}
		return nil
	}
	out := map[[2]string]int{}
	for _, a := range as {
		out[[2]string{a.Customer, a.Site}]++
	}
	return out
}

// siteAlarmsPath is the list of a site's active alarms.
func siteAlarmsPath(operator bool, customer, site string) string {
	q := url.Values{"state": {store.AlarmActive}, "site": {site}}
	if operator {
		q.Set("customer", customer)
		return "/admin/alarms?" + q.Encode()
	}
	return "/alarms?" + q.Encode()
}
