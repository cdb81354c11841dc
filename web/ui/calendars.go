package ui

import (
	"cmp"
	"errors"
	"fmt"
	"io"
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

// calCell is one day of the year view, or a blank before the first or
// after the last day of a month (Day 0).
type calCell struct {
	Day    int
	Date   string
	Class  string // the day type's colour, the source's mark, today
	Colour string // the day type's colour alone
	Title  string // what the day runs and why, for a pointer's hover
	// Named is the holiday, closure or exception the day is, which a tap
	// shows too; empty for a day of the weekly pattern or a season.
	Named string
	Label string // the day type
	What  string // why, in the page's language
	Steps []string
	Today bool
}

// calMonth is one month of the year view, a week a row, Monday first.
type calMonth struct {
	Title string
	Weeks [][7]calCell
}

// calLegend is one colour of the year view.
type calLegend struct {
	Class, Label, Name string
}

// calNamed is a run of named days of the year (a holiday, a closure, an
// exception), as the list under the year view shows them.
type calNamed struct {
	From, To string
	What     string
	Label    string
	Class    string
}

// calDay is one resolved day as a page shows it.
type calDay struct {
	Date, Label, What, Named, Class string
	Steps                           []string
}

// dayTypeLook says how the days of a calendar's day types look: their
// colour class and label.
type dayTypeLook map[string]struct{ Class, Label string }

// ownStepsClass colours the days of exceptions that have steps of their
// own instead of a day type.
const ownStepsClass = "dt-own"

// dayTypeColours is how many colours day types cycle through.
const dayTypeColours = 8

func lookOf(cal store.Calendar) dayTypeLook {
	out := dayTypeLook{}
	for i, dt := range cal.DayTypes {
		label := dt.Label
		if label == "" {
			label = dt.Name
		}
		out[dt.Name] = struct{ Class, Label string }{fmt.Sprintf("dt-%d", i%dayTypeColours), label}
	}
	return out
}

// resolvedDay writes a resolved day for a page: its day type's label and
// colour, why it runs what it runs, and the name of the holiday, closure
// or exception it is.
func resolvedDay(v view, look dayTypeLook, d gate.CalendarDay) calDay {
	out := calDay{Date: d.Date, Class: ownStepsClass, Label: v.T("cal.own_steps")}
	if l, ok := look[d.DayType]; ok && d.DayType != "" {
		out.Class, out.Label = l.Class, l.Label
	}
	out.What, out.Named = dayReason(v, d)
	for _, st := range d.Steps {
		out.Steps = append(out.Steps, stepLine(st))
	}
	return out
}

// dayReason says in the page's language why a day runs what it runs, from
// the scheduler's source and reason ("national holiday: 勤労感謝の日"), and
// names the holiday, closure or exception. A reason of another shape is
// shown as it is.
func dayReason(v view, d gate.CalendarDay) (what, named string) {
	_, detail, _ := strings.Cut(d.Reason, ": ")
	switch d.Source {
	case "weekly":
		return v.T("cal.reason.weekly", weekdayLabel(v, detail)), ""
	case "season":
		if i := strings.LastIndex(detail, ", "); i >= 0 {
			return v.T("cal.reason.season", detail[:i], weekdayLabel(v, detail[i+2:])), ""
		}
	case "holiday":
		return v.T("cal.reason.holiday", detail), detail
	case "closure":
		return v.T("cal.reason.closure", detail), detail
	case "exception":
		if detail == "" {
			return v.T("cal.reason.exception_plain"), v.T("cal.reason.exception_plain")
		}
		return v.T("cal.reason.exception", detail), detail
	}
	return d.Reason, ""
}

// yearView lays the days of a year out as twelve month grids, and lists
// its named days.
func yearView(v view, cal store.Calendar, year int, days []gate.CalendarDay, today string) ([]calMonth, []calNamed) {
	look := lookOf(cal)
	months := make([]calMonth, 12)
	for m := range months {
		months[m].Title = v.T(calMonthKeys[m])
	}
	var named []calNamed
	for _, d := range days {
		t, err := time.Parse(time.DateOnly, d.Date)
		if err != nil || t.Year() != year {
			continue
		}
		rd := resolvedDay(v, look, d)
		cell := calCell{Day: t.Day(), Date: d.Date, Colour: rd.Class, Label: rd.Label, What: rd.What, Named: rd.Named, Steps: rd.Steps, Today: d.Date == today}
		classes := []string{"day", rd.Class}
		if rd.Named != "" {
			classes = append(classes, "named", "src-"+d.Source)
		}
		if cell.Today {
			classes = append(classes, "today")
		}
		cell.Class = strings.Join(classes, " ")
		cell.Title = d.Date + " · " + rd.Label + " · " + rd.What
		mo := &months[t.Month()-1]
		col := (int(t.Weekday()) + 6) % 7
		if len(mo.Weeks) == 0 || col == 0 {
			mo.Weeks = append(mo.Weeks, [7]calCell{})
		}
		mo.Weeks[len(mo.Weeks)-1][col] = cell
		if rd.Named == "" {
			continue
		}
		if n := len(named); n > 0 && named[n-1].What == rd.What && named[n-1].Label == rd.Label && dayAfter(named[n-1].To) == d.Date {
			named[n-1].To = d.Date
			continue
		}
		named = append(named, calNamed{From: d.Date, To: d.Date, What: rd.What, Label: rd.Label, Class: rd.Class})
	}
	return months, named
}

// dayAfter is the date after a YYYY-MM-DD date.
func dayAfter(date string) string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return ""
	}
	return t.AddDate(0, 0, 1).Format(time.DateOnly)
}

// calOption is one day type a form offers.
type calOption struct{ Value, Label string }

// calWeekRow is one day of a weekly pattern's form.
type calWeekRow struct {
	Day, Label, DayType string
}

// Rows of the forms of a calendar's parts, as stored or as sent: the
// steps as the text the person edits.
type (
	calDayTypeRow struct {
		Name, Label, Steps string
		New, Remove        bool
	}
	calSeasonRow struct {
		Name, From, To string
		Week           [7]string
		Remove         bool
	}
	calClosureRow struct {
		Name, From, To, DayType string
		Remove                  bool
	}
	calExceptionRow struct {
		Date, Name, DayType, Steps string
		Remove                     bool
	}
)

// Blank rows the forms offer for adding.
const (
	newDayTypeRows   = 1
	newSeasonRows    = 1
	newClosureRows   = 2
	newExceptionRows = 2
	// maxFormRows bounds the rows one form may send.
	maxFormRows = 2000
)

func weekRows(v view, w store.CalendarWeek) []calWeekRow {
	out := make([]calWeekRow, 0, 7)
	for _, d := range calWeekdays {
		out = append(out, calWeekRow{Day: d.Day, Label: v.T(d.Key), DayType: w[d.Day]})
	}
	return out
}

func dayTypeRows(cal store.Calendar) []calDayTypeRow {
	out := make([]calDayTypeRow, 0, len(cal.DayTypes)+newDayTypeRows)
	for _, dt := range cal.DayTypes {
		out = append(out, calDayTypeRow{Name: dt.Name, Label: dt.Label, Steps: stepsText(dt.Steps)})
	}
	for range newDayTypeRows {
		out = append(out, calDayTypeRow{New: true})
	}
	return out
}

func seasonRows(cal store.Calendar) []calSeasonRow {
	out := make([]calSeasonRow, 0, len(cal.Seasons)+newSeasonRows)
	for _, s := range cal.Seasons {
		row := calSeasonRow{Name: s.Name, From: s.From, To: s.To}
		for i, d := range calWeekdays {
			row.Week[i] = s.Weekly[d.Day]
		}
		out = append(out, row)
	}
	for range newSeasonRows {
		out = append(out, calSeasonRow{})
	}
	return out
}

func closureRows(cal store.Calendar) []calClosureRow {
	out := make([]calClosureRow, 0, len(cal.Closures)+newClosureRows)
	for _, cl := range cal.Closures {
		out = append(out, calClosureRow{Name: cl.Name, From: cl.From, To: cl.To, DayType: cl.DayType})
	}
	for range newClosureRows {
		out = append(out, calClosureRow{})
	}
	return out
}

func exceptionRows(cal store.Calendar) []calExceptionRow {
	exs := slices.Clone(cal.Exceptions)
	slices.SortStableFunc(exs, func(a, b store.CalendarException) int { return cmp.Compare(a.Date, b.Date) })
	out := make([]calExceptionRow, 0, len(exs)+newExceptionRows)
	for _, ex := range exs {
		out = append(out, calExceptionRow{Date: ex.Date, Name: ex.Name, DayType: ex.DayType, Steps: stepsText(ex.Steps)})
	}
	for range newExceptionRows {
		out = append(out, calExceptionRow{})
	}
	return out
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

// calPushRow is one device's push of the day.
type calPushRow struct {
	Device, Status, Band, Reason, Pushed, Verified string
	Pushes, Checks                                 int
}

func pushRows(v view, recs []store.PushRecord) []calPushRow {
	out := make([]calPushRow, 0, len(recs))
	for _, rec := range recs {
		out = append(out, calPushRow{Device: rec.Device, Status: pushStatusText(v, rec.Status), Band: pushStatusBand(rec.Status),
			Reason: rec.Reason, Pushed: v.Time(rec.PushedAt), Verified: v.Time(rec.VerifiedAt), Pushes: rec.Pushes, Checks: rec.Checks})
	}
	return out
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

// change is one change to a part of a calendar from its form: read the
// form into the calendar (or say why it cannot be read), and keep what was
// sent on the page if the change is refused.
type change struct {
	part  string
	apply func(v view, r *http.Request, cal *store.Calendar) error
	keep  func(v view, r *http.Request, d *calendarData)
}

// save makes a change to the calendar of the request: the calendar is
// read, the form applied to it, and the whole calendar stored through the
// gate, which checks it whole first, so nothing is stored half. A refusal
// shows the page again with the form as it was sent and why, with the
// status the API would answer; after a change the browser goes back to
// the part it changed.
func (c *calendars) save(w http.ResponseWriter, r *http.Request, ch change) {
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
	year, err := c.calendarYear(v, r, cal)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	stored := cal
	err = ch.apply(v, r, &cal)
	if err == nil {
		_, _, err = sc.PutCalendar(r.Context(), cal)
	}
	if err != nil {
		c.refuse(w, r, stored, year, ch, err)
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("cal.saved"))
	http.Redirect(w, r, calendarYearPath(stored.ID, year, ch.part), http.StatusSeeOther)
}

// refuse answers a refused change: the page of the stored calendar, with
// the refused form as it was sent and why.
func (c *calendars) refuse(w http.ResponseWriter, r *http.Request, stored store.Calendar, year int, ch change, err error) {
	v := c.view(r)
	status, msg, ok := c.refusal(w, r, err)
	if !ok {
		return
	}
	d, perr := c.calendarPage(r, stored, year)
	if perr != nil {
		c.fail(w, r, perr)
		return
	}
	d.Failed, d.Error = ch.part, v.T("cal.not_saved", msg)
	for _, l := range gate.Describe(err).Lines {
		if l.Line > 0 {
			d.Lines = append(d.Lines, v.T("cal.csv.line", l.Line, l.Message))
		} else {
			d.Lines = append(d.Lines, l.Message)
		}
	}
	if ch.keep != nil {
		ch.keep(v, r, &d)
	}
	c.render(w, r, status, calendarPage(v, d))
}

// formRows is how many rows a form of a part sent, from its "rows" field.
func formRows(v view, r *http.Request) (int, error) {
	s := r.PostFormValue("rows")
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxFormRows {
		return 0, badRequest(v.T("cal.bad_rows", s, maxFormRows))
	}
	return n, nil
}

// field is a row's field of a form: "dt.3.name".
func field(r *http.Request, prefix string, i int, name string) string {
	return strings.TrimSpace(r.PostFormValue(prefix + "." + strconv.Itoa(i) + "." + name))
}

// checked is a row's checkbox of a form.
func checked(r *http.Request, prefix string, i int, name string) bool {
	return r.PostFormValue(prefix+"."+strconv.Itoa(i)+"."+name) != ""
}

// saveWeekly: the day type of each day of the week.
func (c *calendars) saveWeekly(w http.ResponseWriter, r *http.Request) {
	c.save(w, r, change{part: "weekly",
		apply: func(_ view, r *http.Request, cal *store.Calendar) error {
			cal.Weekly = readWeek(r, "w.")
			return nil
		},
		keep: func(v view, r *http.Request, d *calendarData) { d.Weekly = weekRows(v, readWeek(r, "w.")) },
	})
}

func readWeek(r *http.Request, prefix string) store.CalendarWeek {
	wk := store.CalendarWeek{}
	for _, d := range calWeekdays {
		wk[d.Day] = strings.TrimSpace(r.PostFormValue(prefix + d.Day))
	}
	return wk
}

// saveDayTypes: the day types' labels and steps; a new one; those to
// remove.
func (c *calendars) saveDayTypes(w http.ResponseWriter, r *http.Request) {
	read := func(v view, r *http.Request) ([]calDayTypeRow, error) {
		n, err := formRows(v, r)
		rows := make([]calDayTypeRow, 0, n)
		for i := range n {
			rows = append(rows, calDayTypeRow{Name: field(r, "dt", i, "name"), Label: field(r, "dt", i, "label"),
				Steps: r.PostFormValue("dt." + strconv.Itoa(i) + ".steps"), New: checked(r, "dt", i, "new"), Remove: checked(r, "dt", i, "remove")})
		}
		return rows, err
	}
	c.save(w, r, change{part: "day-types",
		apply: func(v view, r *http.Request, cal *store.Calendar) error {
			rows, err := read(v, r)
			if err != nil {
				return err
			}
			var out []store.CalendarDayType
			for _, row := range rows {
				if row.Remove || row.New && row.Name == "" && row.Label == "" && strings.TrimSpace(row.Steps) == "" {
					continue
				}
				steps, err := parseSteps(row.Steps)
				if err != nil {
					return badRequest(v.T("cal.steps.of_day_type", cmp.Or(row.Name, "?"), err.message(v)))
				}
				out = append(out, store.CalendarDayType{Name: row.Name, Label: row.Label, Steps: steps})
			}
			cal.DayTypes = out
			return nil
		},
		keep: func(v view, r *http.Request, d *calendarData) {
			if rows, err := read(v, r); err == nil {
				d.DayTypes = rows
			}
		},
	})
}

// saveSeasons: the seasons' names, dates and weekly patterns.
func (c *calendars) saveSeasons(w http.ResponseWriter, r *http.Request) {
	read := func(v view, r *http.Request) ([]calSeasonRow, error) {
		n, err := formRows(v, r)
		rows := make([]calSeasonRow, 0, n)
		for i := range n {
			row := calSeasonRow{Name: field(r, "se", i, "name"), From: field(r, "se", i, "from"), To: field(r, "se", i, "to"), Remove: checked(r, "se", i, "remove")}
			for j, d := range calWeekdays {
				row.Week[j] = field(r, "se", i, "w."+d.Day)
			}
			rows = append(rows, row)
		}
		return rows, err
	}
	c.save(w, r, change{part: "seasons",
		apply: func(v view, r *http.Request, cal *store.Calendar) error {
			rows, err := read(v, r)
			if err != nil {
				return err
			}
			var out []store.CalendarSeason
			for _, row := range rows {
				if row.Remove || row.Name == "" && row.From == "" && row.To == "" {
					continue
				}
				s := store.CalendarSeason{Name: row.Name, From: row.From, To: row.To, Weekly: store.CalendarWeek{}}
				for j, d := range calWeekdays {
					s.Weekly[d.Day] = row.Week[j]
				}
				out = append(out, s)
			}
			cal.Seasons = out
			return nil
		},
		keep: func(v view, r *http.Request, d *calendarData) {
			if rows, err := read(v, r); err == nil {
				d.Seasons = rows
			}
		},
	})
}

// saveClosures: the closures' names, dates and day types.
func (c *calendars) saveClosures(w http.ResponseWriter, r *http.Request) {
	read := func(v view, r *http.Request) ([]calClosureRow, error) {
		n, err := formRows(v, r)
		rows := make([]calClosureRow, 0, n)
		for i := range n {
			rows = append(rows, calClosureRow{Name: field(r, "cl", i, "name"), From: field(r, "cl", i, "from"), To: field(r, "cl", i, "to"),
				DayType: field(r, "cl", i, "day_type"), Remove: checked(r, "cl", i, "remove")})
		}
		return rows, err
	}
	c.save(w, r, change{part: "closures",
		apply: func(v view, r *http.Request, cal *store.Calendar) error {
			rows, err := read(v, r)
			if err != nil {
				return err
			}
			var out []store.CalendarClosure
			for _, row := range rows {
				if row.Remove || row.Name == "" && row.From == "" && row.To == "" {
					continue
				}
				out = append(out, store.CalendarClosure{Name: row.Name, From: row.From, To: row.To, DayType: row.DayType})
			}
			cal.Closures = out
			return nil
		},
		keep: func(v view, r *http.Request, d *calendarData) {
			if rows, err := read(v, r); err == nil {
				d.Closures = rows
			}
		},
	})
}

// saveExceptions: the exceptions' dates, names, and day types or steps.
func (c *calendars) saveExceptions(w http.ResponseWriter, r *http.Request) {
	read := func(v view, r *http.Request) ([]calExceptionRow, error) {
		n, err := formRows(v, r)
		rows := make([]calExceptionRow, 0, n)
		for i := range n {
			rows = append(rows, calExceptionRow{Date: field(r, "ex", i, "date"), Name: field(r, "ex", i, "name"), DayType: field(r, "ex", i, "day_type"),
				Steps: r.PostFormValue("ex." + strconv.Itoa(i) + ".steps"), Remove: checked(r, "ex", i, "remove")})
		}
		return rows, err
	}
	c.save(w, r, change{part: "exceptions",
		apply: func(v view, r *http.Request, cal *store.Calendar) error {
			rows, err := read(v, r)
			if err != nil {
				return err
			}
			var out []store.CalendarException
			for _, row := range rows {
				if row.Remove || row.Date == "" && row.Name == "" && row.DayType == "" && strings.TrimSpace(row.Steps) == "" {
					continue
				}
				steps, err := parseSteps(row.Steps)
				if err != nil {
					return badRequest(v.T("cal.steps.of_exception", cmp.Or(row.Date, "?"), err.message(v)))
				}
				out = append(out, store.CalendarException{Date: row.Date, Name: row.Name, DayType: row.DayType, Steps: steps})
			}
			cal.Exceptions = out
			return nil
		},
		keep: func(v view, r *http.Request, d *calendarData) {
			if rows, err := read(v, r); err == nil {
				d.Exceptions = rows
			}
		},
	})
}

// exportCSV: the calendar's closures and day-type exceptions as CSV.
func (c *calendars) exportCSV(w http.ResponseWriter, r *http.Request) {
	id := configParam(r, "id")
	b, err := c.scope(r).CalendarCSV(id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+"-closures.csv"))
	_, _ = w.Write(b)
}

// importCSV replaces the closures and day-type exceptions with those of
// an uploaded CSV file; every bad row is listed with its line, and nothing
// changes then.
func (c *calendars) importCSV(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	cal, err := sc.Calendar(configParam(r, "id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ch := change{part: "files"}
	year := c.today(cal).Year()
	r.Body = http.MaxBytesReader(w, r.Body, gate.MaxCalendarCSVBytes+64<<10)
	if err := r.ParseMultipartForm(gate.MaxCalendarCSVBytes + 64<<10); err != nil {
		var tooLarge *http.MaxBytesError
		if !errors.As(err, &tooLarge) {
			err = badRequest(v.T("cal.csv.no_file"))
		}
		c.refuse(w, r, cal, year, ch, err)
		return
	}
	if y, err := c.calendarYear(v, r, cal); err == nil {
		year = y
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		c.refuse(w, r, cal, year, ch, badRequest(v.T("cal.csv.no_file")))
		return
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, gate.MaxCalendarCSVBytes+1))
	if err == nil && len(body) > gate.MaxCalendarCSVBytes {
		err = &http.MaxBytesError{Limit: gate.MaxCalendarCSVBytes}
	}
	if err != nil {
		c.refuse(w, r, cal, year, ch, err)
		return
	}
	if _, err := sc.ImportCalendarCSV(r.Context(), cal.ID, body); err != nil {
		c.refuse(w, r, cal, year, ch, err)
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("cal.csv.imported"))
	http.Redirect(w, r, calendarYearPath(cal.ID, year, "closures"), http.StatusSeeOther)
}

// exportICal: the calendar's closures, holidays and exceptions as an
// iCalendar file.
func (c *calendars) exportICal(w http.ResponseWriter, r *http.Request) {
	id := configParam(r, "id")
	feed, err := c.scope(r).CalendarICal(id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+".ics"))
	_, _ = w.Write([]byte(feed))
}

// makeFeedAddress makes the address calendar programs subscribe to, or a
// new one (rotate) when the old one was shared too widely.
func (c *calendars) makeFeedAddress(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	id := configParam(r, "id")
	rotate := r.PostFormValue("rotate") != ""
	if _, err := c.scope(r).CalendarFeedSecret(id, rotate); err != nil {
		if _, msg, ok := c.refusal(w, r, err); ok {
			c.sessions.Put(r.Context(), keyFlash, "!"+v.T("cal.not_saved", msg))
			http.Redirect(w, r, calendarPath(id)+"#files", http.StatusSeeOther)
		}
		return
	}
	msg := v.T("cal.feed.made")
	if rotate {
		msg = v.T("cal.feed.rotated")
	}
	c.sessions.Put(r.Context(), keyFlash, msg)
	http.Redirect(w, r, calendarPath(id)+"#files", http.StatusSeeOther)
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

// pushToday pushes today's program of the calendar to every device it
// applies to, now.
func (c *calendars) pushToday(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	id := configParam(r, "id")
	sum, err := c.scope(r).PushCalendar(r.Context(), id)
	if err != nil {
		if _, msg, ok := c.refusal(w, r, err); ok {
			c.sessions.Put(r.Context(), keyFlash, "!"+v.T("cal.push.refused", msg))
			http.Redirect(w, r, calendarPath(id)+"#pushes", http.StatusSeeOther)
		}
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("cal.push.done", len(sum.Devices), sum.Counts[store.PushVerified],
		sum.Counts[store.PushPending], sum.Counts[store.PushOffline], sum.Counts[store.PushRejected]+sum.Counts[store.PushFailed]))
	http.Redirect(w, r, calendarPath(id)+"#pushes", http.StatusSeeOther)
}

// retryPush pushes a device's program of today again now, and goes back
// to the page the button was on.
func (c *calendars) retryPush(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	name := configParam(r, "name")
	// Without a page to go back to, the button was the device page's.
	back, key := safeNext(r.PostFormValue("back")), keyFlash
	if back == "/" {
		back, key = "/devices/"+url.PathEscape(name)+"#schedule", keyScheduleFlash
	}
	rec, err := c.scope(r).RetryPush(r.Context(), name)
	if err != nil {
		if _, msg, ok := c.refusal(w, r, err); ok {
			c.sessions.Put(r.Context(), key, "!"+v.T("cal.push.refused", msg))
			http.Redirect(w, r, back, http.StatusSeeOther)
		}
		return
	}
	c.sessions.Put(r.Context(), key, v.T("cal.push.retried", name, pushStatusText(v, rec.Status)))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// deviceSchedule is what a device page shows of the device's operating
// calendar: what runs today and tomorrow and why, and its last push.
type deviceSchedule struct {
	Flash    string
	FlashErr bool
	Calendar string
	None     bool // the device has no calendar
	Days     []calDay
	Last     *calPushRow
	LastDate string
	Verified bool // the device reported the last program it was sent
	CanRetry bool
}

// deviceSchedule reads a device's schedule; ok is false when the server
// runs no calendars.
func (u *UI) deviceSchedule(v view, sc gate.Scope, name string) (d deviceSchedule, ok bool, err error) {
	sch, err := sc.DeviceSchedule(name, time.Time{}, time.Time{})
	if err != nil {
		switch gate.Describe(err).Kind {
		case gate.KindUnavailable:
			return deviceSchedule{}, false, nil
		case gate.KindNotFound:
			// The device was read; what is missing is its calendar.
			return deviceSchedule{None: true}, true, nil
		}
		return deviceSchedule{}, false, err
	}
	d = deviceSchedule{Calendar: sch.Calendar, CanRetry: sc.Principal().MayChangeSettings()}
	cal, err := sc.Calendar(sch.Calendar)
	if err != nil {
		return deviceSchedule{}, false, err
	}
	look := lookOf(cal)
	for i, day := range sch.Days {
		if i == 2 {
			break
		}
		d.Days = append(d.Days, resolvedDay(v, look, day))
	}
	recs, err := sc.DevicePushes(name, 1)
	if err != nil {
		return deviceSchedule{}, false, err
	}
	if len(recs) > 0 {
		row := pushRows(v, recs)[0]
		d.Last, d.LastDate, d.Verified = &row, recs[0].Date, recs[0].Status == store.PushVerified
	}
	return d, true, nil
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
