package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// The year view of a calendar: its days resolved, laid out by month.

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
