package ui

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// calendars serves the pages of the yearly operating calendars: the list,
// a calendar's year and its parts, and the changes to them. Every read and
// change goes through the person's gate scope, which decides who may see
// and change which calendar; the pages show forms only where it would let
// them through.
type calendars struct {
	*UI
}

// calendarRoutes registers the calendar pages of every signed-in person.
func (u *UI) calendarRoutes(r chi.Router) {
	c := &calendars{UI: u}
	r.Get("/calendars", c.showCalendars)
	r.Get("/calendars/{id}", c.showCalendar)
	r.Post("/calendars/{id}/weekly", c.saveWeekly)
	r.Post("/calendars/{id}/day-types", c.saveDayTypes)
	r.Post("/calendars/{id}/seasons", c.saveSeasons)
	r.Post("/calendars/{id}/closures", c.saveClosures)
	r.Post("/calendars/{id}/exceptions", c.saveExceptions)
	r.Get("/calendars/{id}/closures.csv", c.exportCSV)
	r.Post("/calendars/{id}/closures.csv", c.importCSV)
	r.Get("/calendars/{id}/calendar.ics", c.exportICal)
	r.Post("/calendars/{id}/feed", c.makeFeedAddress)
	r.Post("/calendars/{id}/copy", c.copyCalendar)
	r.Post("/calendars/{id}/push", c.pushToday)
	r.Post("/devices/{name}/schedule/push", c.retryPush)
}

// calendarPath is the page of a calendar.
func calendarPath(id string) string { return "/calendars/" + url.PathEscape(id) }

// calendarYearPath is the page of a calendar showing a year, at a part.
func calendarYearPath(id string, year int, part string) string {
	p := calendarPath(id) + "?year=" + strconv.Itoa(year)
	if part != "" {
		p += "#" + part
	}
	return p
}

// Bounds of the year a page shows.
const (
	minCalendarYear = 2000
	maxCalendarYear = 2100
)

// Weekdays as calendars name them, Monday first, with their message keys.
var calWeekdays = [7]struct{ Day, Key, Short string }{
	{"monday", "cal.wd.monday", "cal.wd_short.monday"},
	{"tuesday", "cal.wd.tuesday", "cal.wd_short.tuesday"},
	{"wednesday", "cal.wd.wednesday", "cal.wd_short.wednesday"},
	{"thursday", "cal.wd.thursday", "cal.wd_short.thursday"},
	{"friday", "cal.wd.friday", "cal.wd_short.friday"},
	{"saturday", "cal.wd.saturday", "cal.wd_short.saturday"},
	{"sunday", "cal.wd.sunday", "cal.wd_short.sunday"},
}

// calMonthKeys are the month names of the year view.
var calMonthKeys = [12]string{
	"cal.month.1", "cal.month.2", "cal.month.3", "cal.month.4", "cal.month.5", "cal.month.6",
	"cal.month.7", "cal.month.8", "cal.month.9", "cal.month.10", "cal.month.11", "cal.month.12",
}

// pushStatus are the statuses of a day's push to a device: its words and
// the band that colours it.
var pushStatus = map[string]struct{ Key, Band string }{
	store.PushVerified: {"cal.push.verified", "good"},
	store.PushPending:  {"cal.push.pending", "fair"},
	store.PushOffline:  {"cal.push.offline", "fair"},
	store.PushRejected: {"cal.push.rejected", "poor"},
	store.PushFailed:   {"cal.push.failed", "poor"},
}

// pushStatuses are the statuses in the order tables show them.
var pushStatuses = []string{store.PushVerified, store.PushPending, store.PushOffline, store.PushRejected, store.PushFailed}

func pushStatusText(v view, status string) string {
	if s, ok := pushStatus[status]; ok {
		return v.T(s.Key)
	}
	return status
}

func pushStatusBand(status string) string { return pushStatus[status].Band }

// weekdayLabel is a weekly pattern's day in the page's language.
func weekdayLabel(v view, day string) string {
	for _, d := range calWeekdays {
		if d.Day == day {
			return v.T(d.Key)
		}
	}
	return day
}

// calendarRow is one calendar of a list.
type calendarRow struct {
	ID, Name, Customer, DeviceType string
	Editable                       bool
	Updated                        string
}

func calendarRows(v view, cs []store.Calendar) []calendarRow {
	out := make([]calendarRow, 0, len(cs))
	for _, c := range cs {
		out = append(out, calendarRow{ID: c.ID, Name: c.Name, Customer: c.Customer, DeviceType: c.DeviceType,
			Editable: c.CustomerEditable, Updated: v.Time(c.UpdatedAt)})
	}
	return out
}

// calendarsData is what the list of calendars shows: the person's own, and
// the operators' templates.
type calendarsData struct {
	Own, Templates []calendarRow
}

// showCalendars: /calendars, a customer's calendars and the templates it
// may copy; operators have theirs, with every customer's, under /admin.
func (c *calendars) showCalendars(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	if sc.Principal().Operator() {
		http.Redirect(w, r, "/admin/calendars", http.StatusSeeOther)
		return
	}
	cs, err := sc.Calendars()
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var d calendarsData
	for _, row := range calendarRows(v, cs) {
		if row.Customer == "" {
			d.Templates = append(d.Templates, row)
		} else {
			d.Own = append(d.Own, row)
		}
	}
	c.render(w, r, http.StatusOK, calendarsPage(v, d))
}

// calendarData is everything a calendar's page shows.
type calendarData struct {
	Cal      store.Calendar
	Template bool
	Year     int
	Months   []calMonth
	Legend   []calLegend
	Named    []calNamed
	Weekdays []string // short names, Monday first
	Options  []calOption
	Assigned gate.AssignmentTargets
	Pushes   gate.PushSummary
	Devices  []calPushRow
	FeedURL  string
	// Editable is true when the person may change the calendar; Note says
	// why not otherwise.
	Editable bool
	Note     string
	CanCopy  bool
	CanRetry bool
	Flash    string
	FlashErr bool
	// The forms, as stored or, for the form just refused, as sent.
	Weekly     []calWeekRow
	DayTypes   []calDayTypeRow
	Seasons    []calSeasonRow
	Closures   []calClosureRow
	Exceptions []calExceptionRow
	// Failed names the part whose form was refused, Error why, and Lines
	// each bad line of a CSV file.
	Failed string
	Error  string
	Lines  []string
	// Assigning is the devices of the assignment form as sent, and Copy
	// the copy form.
	Assigning string
	Copy      calendarCopyForm
	// Admin is what operators see besides.
	Admin *calendarAdminData
}

// calendarYear reads ?year=, the calendar's current year when absent.
func (c *calendars) calendarYear(v view, r *http.Request, cal store.Calendar) (int, error) {
	s := r.URL.Query().Get("year")
	if r.Method == http.MethodPost {
		s = r.PostFormValue("year")
	}
	if s == "" {
		return c.today(cal).Year(), nil
	}
	y, err := strconv.Atoi(s)
	if err != nil || y < minCalendarYear || y > maxCalendarYear {
		return 0, badRequest(v.T("cal.bad_year", s, minCalendarYear, maxCalendarYear))
	}
	return y, nil
}

// today is the calendar's local date now.
func (c *calendars) today(cal store.Calendar) time.Time {
	loc, err := c.location(cal.TimeZone)
	if err != nil {
		loc = c.loc
	}
	return c.now().In(loc)
}

// calendarPage reads what the page of cal shows of year.
func (c *calendars) calendarPage(r *http.Request, cal store.Calendar, year int) (calendarData, error) {
	v := c.view(r)
	sc := c.scope(r)
	p := sc.Principal()
	d := calendarData{Cal: cal, Template: cal.Customer == "", Year: year, Weekly: weekRows(v, cal.Weekly),
		DayTypes: dayTypeRows(cal), Seasons: seasonRows(cal), Closures: closureRows(cal), Exceptions: exceptionRows(cal)}
	days, err := sc.CalendarDays(cal.ID, time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return calendarData{}, err
	}
	d.Months, d.Named = yearView(v, cal, year, days, c.today(cal).Format(time.DateOnly))
	look := lookOf(cal)
	for _, dt := range cal.DayTypes {
		d.Legend = append(d.Legend, calLegend{Class: look[dt.Name].Class, Label: look[dt.Name].Label, Name: dt.Name})
		d.Options = append(d.Options, calOption{Value: dt.Name, Label: look[dt.Name].Label})
	}
	if slices.ContainsFunc(cal.Exceptions, func(ex store.CalendarException) bool { return len(ex.Steps) > 0 }) {
		d.Legend = append(d.Legend, calLegend{Class: ownStepsClass, Label: v.T("cal.own_steps")})
	}
	for _, wd := range calWeekdays {
		d.Weekdays = append(d.Weekdays, v.T(wd.Short))
	}
	switch err := sc.CalendarEditable(cal); {
	case err == nil:
		d.Editable = true
	case cal.Customer == "":
		d.Note = v.T("cal.note.template")
	case !p.MayChangeSettings():
		d.Note = v.T("cal.note.viewer")
	default:
		d.Note = v.T("cal.note.provider")
	}
	d.CanCopy = d.Template && p.MayChangeSettings()
	d.CanRetry = p.MayChangeSettings()
	if !d.Template {
		if d.Assigned, err = sc.CalendarAssignments(cal.ID); err != nil {
			return calendarData{}, err
		}
		if d.Pushes, err = sc.CalendarPushes(cal.ID, time.Time{}); err != nil {
			return calendarData{}, err
		}
		d.Devices = pushRows(v, d.Pushes.Devices)
	}
	if cal.FeedSecret != "" {
		d.FeedURL = c.feedURL(r, cal.ID, cal.FeedSecret)
	}
	if p.Operator() {
		if d.Admin, err = c.adminData(r, cal); err != nil {
			return calendarData{}, err
		}
	}
	return d, nil
}

// feedURL is the address calendar programs subscribe to: the public URL
// when one is configured, else the address this request came to.
func (c *calendars) feedURL(r *http.Request, id, secret string) string {
	base := c.publicURL
	if base == "" {
		base = "https://" + r.Host
	}
	return strings.TrimRight(base, "/") + "/ical/" + url.PathEscape(id) + "/" + url.PathEscape(secret) + ".ics"
}

// showCalendar: /calendars/{id}[?year=], the calendar's year and parts,
// with forms for those who may change them.
func (c *calendars) showCalendar(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	cal, err := c.scope(r).Calendar(configParam(r, "id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	year, err := c.calendarYear(v, r, cal)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d, err := c.calendarPage(r, cal, year)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Flash, d.FlashErr = c.flashed(r)
	c.render(w, r, http.StatusOK, calendarPage(v, d))
}

// copyCalendar copies the calendar of the request (a template) to a new
// one: the person's customer's own, or, for an operator, the customer the
// form names.
func (c *calendars) copyCalendar(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	from := configParam(r, "id")
	cal, err := sc.Calendar(from)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	id, name := strings.TrimSpace(r.PostFormValue("id")), strings.TrimSpace(r.PostFormValue("name"))
	out, err := sc.CopyCalendar(r.Context(), from, id, name, strings.TrimSpace(r.PostFormValue("customer")))
	if err != nil {
		c.refuse(w, r, cal, c.today(cal).Year(), change{part: "copy", keep: func(_ view, r *http.Request, d *calendarData) {
			d.Copy = calendarCopyForm{ID: id, Name: name, Customer: strings.TrimSpace(r.PostFormValue("customer"))}
		}}, err)
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("cal.copied", out.ID))
	http.Redirect(w, r, calendarPath(out.ID), http.StatusSeeOther)
}

// calendarTitle is a calendar's name, or its ID when it has none.
func calendarTitle(cal store.Calendar) string { return cmp.Or(cal.Name, cal.ID) }

// hasOption reports whether a form offers a day type.
func hasOption(options []calOption, value string) bool {
	return slices.ContainsFunc(options, func(o calOption) bool { return o.Value == value })
}

// optionLabel is a day type's label, "—" for none.
func optionLabel(options []calOption, value string) string {
	for _, o := range options {
		if o.Value == value {
			return o.Label
		}
	}
	if value == "" {
		return "—"
	}
	return value
}

// rowName is the name of a row's field in a form: "dt.3.steps".
func rowName(prefix string, i int, name string) string {
	return prefix + "." + strconv.Itoa(i) + "." + name
}

// rowID is the id of a row's field in a page: "dt-3-steps".
func rowID(prefix string, i int, name string) string {
	return prefix + "-" + strconv.Itoa(i) + "-" + name
}

// textRows is how many rows a textarea of steps shows: its lines and one
// to add.
func textRows(text string) string {
	return strconv.Itoa(min(max(strings.Count(strings.TrimSpace(text), "\n")+2, 2), 12))
}

// dayTypeSteps are a day type's steps as lines to read.
func dayTypeSteps(cal store.Calendar, name string) []string {
	for _, dt := range cal.DayTypes {
		if dt.Name == name {
			out := make([]string, 0, len(dt.Steps))
			for _, st := range dt.Steps {
				out = append(out, stepLine(st))
			}
			return out
		}
	}
	return nil
}

// firstNames are at most n names, with "…" when there are more.
func firstNames(names []string, n int) []string {
	if len(names) <= n {
		return names
	}
	return append(slices.Clone(names[:n]), "…")
}
