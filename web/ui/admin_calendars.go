package ui

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// calendarAdminRoutes registers the operators' calendar pages under
// /admin: every calendar, creating and copying one, assigning it, its
// settings, and the fleet's pushes.
func (u *UI) calendarAdminRoutes(r chi.Router) {
	c := &calendars{UI: u}
	cfg := &config{UI: u}
	r.Get("/calendars", c.showAdminCalendars)
	r.Post("/calendars", c.createCalendar)
	r.Post("/calendars/copy", c.copyFromList)
	r.Post("/calendars/{id}/settings", c.saveSettings)
	r.Post("/calendars/{id}/assignments", c.assign)
	r.Post("/calendars/{id}/unassign", c.unassign)
	cfg.deletion(r, "/calendars/{id}/delete", "id", "cal.admin.deleted", "/admin/calendars", c.deleteConfirm, gate.Scope.DeleteCalendar)
}

// calendarNewForm is the form that creates a calendar: its settings, and
// the steps of its two first day types, open days and closed days.
type calendarNewForm struct {
	ID, Name, Customer, DeviceType, TimeZone, PushAt, Country string
	Editable                                                  bool
	OpenSteps, ClosedSteps                                    string
}

// calendarCopyForm is the form that copies a calendar.
type calendarCopyForm struct {
	From, ID, Name, Customer string
}

// calendarGroup is the calendars of one customer, or the templates.
type calendarGroup struct {
	Customer string // empty for the templates
	Rows     []calendarRow
}

// fleetPushRow is one customer's pushes of a day, by status.
type fleetPushRow struct {
	Customer string
	Counts   []int // in the order of pushStatuses
	Total    int
}

// adminCalendarsData is what the operators' calendar page shows.
type adminCalendarsData struct {
	Groups      []calendarGroup
	All         []calendarRow
	Customers   []string
	DeviceTypes []string
	Countries   []string
	Date        string
	Fleet       []fleetPushRow
	Totals      fleetPushRow
	New         calendarNewForm
	Copy        calendarCopyForm
	// Failed names the form refused ("new" or "copy"), Error why.
	Failed, Error string
	Flash         string
	FlashErr      bool
}

// defaultNewForm is the create form as first shown.
func defaultNewForm() calendarNewForm {
	return calendarNewForm{TimeZone: "Asia/Tokyo", PushAt: "00:05", Country: "JP", Editable: true}
}

// adminCalendarsPage reads the operators' calendar page for d's forms.
func (c *calendars) adminCalendarsPage(r *http.Request, d adminCalendarsData) (adminCalendarsData, error) {
	v := c.view(r)
	sc := c.scope(r)
	cs, err := sc.Calendars()
	if err != nil {
		return d, err
	}
	d.All = calendarRows(v, cs)
	byCustomer := map[string][]calendarRow{}
	for _, row := range d.All {
		byCustomer[row.Customer] = append(byCustomer[row.Customer], row)
	}
	for _, cu := range slices.Sorted(maps.Keys(byCustomer)) {
		d.Groups = append(d.Groups, calendarGroup{Customer: cu, Rows: byCustomer[cu]})
	}
	customers, err := sc.Customers()
	if err != nil {
		return d, err
	}
	for _, cu := range customers {
		d.Customers = append(d.Customers, cu.Name)
	}
	types, err := sc.DeviceTypes()
	if err != nil {
		return d, err
	}
	for _, t := range types {
		d.DeviceTypes = append(d.DeviceTypes, t.Name)
	}
	d.Countries = gate.CalendarCountries()

	q := r.URL.Query().Get("date")
	date := c.now().In(v.loc)
	if q != "" {
		if date, err = time.Parse(time.DateOnly, q); err != nil {
			return d, badRequest(v.T("cal.admin.bad_date", q))
		}
	}
	d.Date = date.Format(time.DateOnly)
	counts, err := sc.FleetPushStatus(time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, time.UTC))
	if err != nil {
		return d, err
	}
	d.Totals = fleetPushRow{Counts: make([]int, len(pushStatuses))}
	for _, cu := range slices.Sorted(maps.Keys(counts)) {
		row := fleetPushRow{Customer: cu}
		for i, st := range pushStatuses {
			n := counts[cu][st]
			row.Counts = append(row.Counts, n)
			row.Total += n
			d.Totals.Counts[i] += n
			d.Totals.Total += n
		}
		d.Fleet = append(d.Fleet, row)
	}
	return d, nil
}

// showAdminCalendars: /admin/calendars[?date=], every calendar, the forms
// that create and copy one, and the fleet's pushes of a day.
func (c *calendars) showAdminCalendars(w http.ResponseWriter, r *http.Request) {
	d := adminCalendarsData{New: defaultNewForm()}
	d.Flash, d.FlashErr = c.flashed(r)
	c.answerAdmin(w, r, http.StatusOK, d)
}

func (c *calendars) answerAdmin(w http.ResponseWriter, r *http.Request, status int, d adminCalendarsData) {
	d, err := c.adminCalendarsPage(r, d)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, status, adminCalendarsPage(c.view(r), d))
}

// refuseAdmin answers a refused form of the operators' calendar page: the
// page again with what was typed and why.
func (c *calendars) refuseAdmin(w http.ResponseWriter, r *http.Request, err error, d adminCalendarsData) {
	status, msg, ok := c.refusal(w, r, err)
	if !ok {
		return
	}
	d.Error = c.view(r).T("cal.admin.not_created", msg)
	c.answerAdmin(w, r, status, d)
}

// createCalendar makes a calendar from the create form: a weekly pattern
// of open days Monday to Friday and closed days at the weekend and on
// public holidays, which its page then refines.
func (c *calendars) createCalendar(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	f := calendarNewForm{
		ID: strings.TrimSpace(r.PostFormValue("id")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Customer: strings.TrimSpace(r.PostFormValue("customer")), DeviceType: strings.TrimSpace(r.PostFormValue("device_type")),
		TimeZone: strings.TrimSpace(r.PostFormValue("time_zone")), PushAt: strings.TrimSpace(r.PostFormValue("push_at")),
		Country: strings.TrimSpace(r.PostFormValue("holidays_country")), Editable: r.PostFormValue("customer_editable") != "",
		OpenSteps: r.PostFormValue("open_steps"), ClosedSteps: r.PostFormValue("closed_steps"),
	}
	d := adminCalendarsData{New: f, Failed: "new"}
	open, serr := parseSteps(f.OpenSteps)
	if serr != nil {
		c.refuseAdmin(w, r, badRequest(v.T("cal.steps.of_day_type", "open", serr.message(v))), d)
		return
	}
	closed, serr := parseSteps(f.ClosedSteps)
	if serr != nil {
		c.refuseAdmin(w, r, badRequest(v.T("cal.steps.of_day_type", "closed", serr.message(v))), d)
		return
	}
	if f.ID == "" {
		c.refuseAdmin(w, r, badRequest(v.T("cal.admin.no_id")), d)
		return
	}
	if _, err := sc.Calendar(f.ID); err == nil {
		c.refuseAdmin(w, r, gate.Refuse(gate.KindExists, "%s", v.T("cal.admin.taken", f.ID)), d)
		return
	}
	cal := store.Calendar{
		ID: f.ID, Name: f.Name, Customer: f.Customer, DeviceType: f.DeviceType, TimeZone: f.TimeZone, PushAt: f.PushAt,
		CustomerEditable: f.Editable && f.Customer != "",
		DayTypes:         []store.CalendarDayType{{Name: "open", Steps: open}, {Name: "closed", Steps: closed}},
		Weekly: store.CalendarWeek{"monday": "open", "tuesday": "open", "wednesday": "open", "thursday": "open", "friday": "open",
			"saturday": "closed", "sunday": "closed"},
	}
	if f.Country != "" {
		cal.Holidays = store.CalendarHolidays{Country: f.Country, DayType: "closed"}
	}
	out, _, err := sc.PutCalendar(r.Context(), cal)
	if err != nil {
		c.refuseAdmin(w, r, err, d)
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("cal.admin.created", out.ID))
	http.Redirect(w, r, calendarPath(out.ID), http.StatusSeeOther)
}

// copyFromList copies the calendar the list's copy form names.
func (c *calendars) copyFromList(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	f := calendarCopyForm{From: strings.TrimSpace(r.PostFormValue("from")), ID: strings.TrimSpace(r.PostFormValue("id")),
		Name: strings.TrimSpace(r.PostFormValue("name")), Customer: strings.TrimSpace(r.PostFormValue("customer"))}
	out, err := c.scope(r).CopyCalendar(r.Context(), f.From, f.ID, f.Name, f.Customer)
	if err != nil {
		if gate.Describe(err).Kind == gate.KindNotFound {
			err = badRequest(v.T("cal.admin.no_source", f.From))
		}
		c.refuseAdmin(w, r, err, adminCalendarsData{New: defaultNewForm(), Copy: f, Failed: "copy"})
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("cal.copied", out.ID))
	http.Redirect(w, r, calendarPath(out.ID), http.StatusSeeOther)
}

// calendarAdminData is what operators see on a calendar's page besides
// what customers see: its settings, and what to assign it to.
type calendarAdminData struct {
	Customers   []string
	DeviceTypes []string
	Countries   []string
	// Sites and Types are what the calendar's customer has to assign it
	// to; Devices names the customer's devices for the form's list.
	Sites, Types, Devices []string
	// Settings is the settings form, as stored or as sent.
	Settings calendarSettingsForm
}

// calendarSettingsForm is the settings of a calendar operators change.
type calendarSettingsForm struct {
	Name, DeviceType, TimeZone, PushAt, Country, HolidayType string
	Editable                                                 bool
}

func settingsForm(cal store.Calendar) calendarSettingsForm {
	return calendarSettingsForm{Name: cal.Name, DeviceType: cal.DeviceType, TimeZone: cal.TimeZone, PushAt: cal.PushAt,
		Country: cal.Holidays.Country, HolidayType: cal.Holidays.DayType, Editable: cal.CustomerEditable}
}

func readSettingsForm(r *http.Request) calendarSettingsForm {
	return calendarSettingsForm{Name: strings.TrimSpace(r.PostFormValue("name")), DeviceType: strings.TrimSpace(r.PostFormValue("device_type")),
		TimeZone: strings.TrimSpace(r.PostFormValue("time_zone")), PushAt: strings.TrimSpace(r.PostFormValue("push_at")),
		Country: strings.TrimSpace(r.PostFormValue("holidays_country")), HolidayType: strings.TrimSpace(r.PostFormValue("holidays_day_type")),
		Editable: r.PostFormValue("customer_editable") != ""}
}

// adminData reads what operators see on a calendar's page.
func (c *calendars) adminData(r *http.Request, cal store.Calendar) (*calendarAdminData, error) {
	sc := c.scope(r)
	d := &calendarAdminData{Countries: gate.CalendarCountries(), Settings: settingsForm(cal)}
	types, err := sc.DeviceTypes()
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		d.DeviceTypes = append(d.DeviceTypes, t.Name)
	}
	if cal.Customer == "" {
		customers, err := sc.Customers()
		if err != nil {
			return nil, err
		}
		for _, cu := range customers {
			d.Customers = append(d.Customers, cu.Name)
		}
		return d, nil
	}
	sites, err := sc.Sites(cal.Customer)
	if err != nil {
		return nil, err
	}
	for _, s := range sites {
		d.Sites = append(d.Sites, s.Name)
	}
	devices, err := sc.Devices(cal.Customer, "")
	if err != nil {
		return nil, err
	}
	for _, dv := range devices {
		d.Devices = append(d.Devices, dv.Name)
		if dv.Type != "" && !slices.Contains(d.Types, dv.Type) {
			d.Types = append(d.Types, dv.Type)
		}
	}
	slices.Sort(d.Types)
	return d, nil
}

// saveSettings changes a calendar's name, device type, zone, push time,
// holidays and whether its customer may edit it.
func (c *calendars) saveSettings(w http.ResponseWriter, r *http.Request) {
	c.save(w, r, change{part: "settings",
		apply: func(_ view, r *http.Request, cal *store.Calendar) error {
			f := readSettingsForm(r)
			cal.Name, cal.DeviceType, cal.TimeZone, cal.PushAt = f.Name, f.DeviceType, f.TimeZone, f.PushAt
			cal.CustomerEditable = f.Editable && cal.Customer != ""
			cal.Holidays = store.CalendarHolidays{Country: f.Country, DayType: f.HolidayType}
			if f.Country == "" {
				cal.Holidays.DayType = ""
			}
			return nil
		},
		keep: func(_ view, r *http.Request, d *calendarData) {
			if d.Admin != nil {
				d.Admin.Settings = readSettingsForm(r)
			}
		},
	})
}

// splitNames reads a list of names separated by commas, spaces or lines.
func splitNames(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// assign gives the calendar to the devices, sites and device types of the
// form, all or none.
func (c *calendars) assign(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	cal, err := sc.Calendar(configParam(r, "id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, badRequest(v.T("cal.bad_form")))
		return
	}
	t := gate.AssignmentTargets{Devices: splitNames(r.PostFormValue("devices")), Sites: r.PostForm["sites"], DeviceTypes: r.PostForm["device_types"]}
	if err := sc.Assign(r.Context(), cal.ID, t); err != nil {
		c.refuse(w, r, cal, c.today(cal).Year(), change{part: "assignments", keep: func(_ view, r *http.Request, d *calendarData) {
			d.Assigning = r.PostFormValue("devices")
		}}, err)
		return
	}
	n := len(t.Devices) + len(t.Sites) + len(t.DeviceTypes)
	c.sessions.Put(r.Context(), keyFlash, v.T("cal.admin.assigned", n))
	http.Redirect(w, r, calendarPath(cal.ID)+"#assignments", http.StatusSeeOther)
}

// unassign removes one assignment of the calendar.
func (c *calendars) unassign(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	id := configParam(r, "id")
	if _, err := sc.Calendar(id); err != nil {
		c.fail(w, r, err)
		return
	}
	kind, target := r.PostFormValue("kind"), r.PostFormValue("target")
	if err := sc.Unassign(r.Context(), id, kind, target); err != nil {
		if _, msg, ok := c.refusal(w, r, err); ok {
			c.sessions.Put(r.Context(), keyFlash, "!"+v.T("cal.not_saved", msg))
			http.Redirect(w, r, calendarPath(id)+"#assignments", http.StatusSeeOther)
		}
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("cal.admin.unassigned", target))
	http.Redirect(w, r, calendarPath(id)+"#assignments", http.StatusSeeOther)
}

// deleteConfirm is the confirmation of deleting the calendar of the
// request.
func (c *calendars) deleteConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := c.view(r)
	cal, err := c.scope(r).Calendar(configParam(r, "id"))
	if err != nil {
		c.fail(w, r, err)
		return configConfirmData{}, false
	}
	back := calendarPath(cal.ID)
	return configConfirmData{
		Title: v.T("cal.title", cmp.Or(cal.Name, cal.ID)), Question: v.T("cal.admin.delete", cal.ID),
		Action: "/admin" + back + "/delete", Back: back,
	}, true
}

// calendarRowTitle is a listed calendar's name, or its ID.
func calendarRowTitle(c calendarRow) string { return cmp.Or(c.Name, c.ID) }
