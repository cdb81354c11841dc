package ui

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hearthiot/hearth/gate"
)

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
