package ui

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// The forms that change the parts of a calendar.

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
