package scheduler

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"

	"github.com/hearthiot/hearth/store"
)

// CSV of a calendar's closures and exceptions, as customers keep them in
// spreadsheets: a header row, then one row each.
//
//	kind,name,from,to,day_type
//	closure,年末年始,12-29,01-03,closed
//	closure,改修工事,2027-02-01,2027-02-05,closed
//	exception,創立記念日,2026-10-01,,closed
//
// A closure runs from to to (MM-DD of every year, or YYYY-MM-DD once); an
// exception is one date (from; to empty or the same). Exceptions with
// steps of their own are not in the file: they are edited in the
// calendar.
var csvHeader = []string{"kind", "name", "from", "to", "day_type"}

// Limits of an imported file.
const (
	MaxCSVBytes = 256 << 10
	MaxCSVRows  = 2000
)

// LineProblem is one row of an imported file that is wrong.
type LineProblem struct {
	Line    int
	Message string
}

// CSVError is an imported file refused, with every problem and its line.
type CSVError struct {
	Problems []LineProblem
}

func (e *CSVError) Error() string {
	msgs := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		if p.Line > 0 {
			msgs = append(msgs, fmt.Sprintf("line %d: %s", p.Line, p.Message))
		} else {
			msgs = append(msgs, p.Message)
		}
	}
	return "the file is refused, nothing was imported: " + strings.Join(msgs, "; ")
}

// WriteCSV writes a calendar's closures and its exceptions that name a
// day type.
func WriteCSV(w io.Writer, c store.Calendar) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, cl := range c.Closures {
		if err := cw.Write([]string{"closure", cl.Name, cl.From, cl.To, cl.DayType}); err != nil {
			return err
		}
	}
	for _, ex := range c.Exceptions {
		if ex.DayType == "" {
			continue
		}
		if err := cw.Write([]string{"exception", ex.Name, ex.Date, "", ex.DayType}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV reads closures and exceptions from a file written as WriteCSV
// writes it. Every row is checked; any problem refuses the whole file with
// a *CSVError listing each problem with its line (at most 50). What the
// rows mean together (day types that exist, closures that do not
// overlap) is checked when the calendar compiles with them.
func ReadCSV(r io.Reader) ([]store.CalendarClosure, []store.CalendarException, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCSVBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read the file: %w", err)
	}
	if len(data) > MaxCSVBytes {
		return nil, nil, &CSVError{Problems: []LineProblem{{Message: fmt.Sprintf("the file is larger than %d bytes", MaxCSVBytes)}}}
	}
	if !utf8.Valid(data) {
		return nil, nil, &CSVError{Problems: []LineProblem{{Message: "the file is not UTF-8 text; save the spreadsheet as CSV UTF-8"}}}
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a spreadsheet's byte order mark
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	var (
		closures   []store.CalendarClosure
		exceptions []store.CalendarException
		problems   []LineProblem
		rows       int
	)
	add := func(line int, format string, args ...any) {
		if len(problems) < 50 {
			problems = append(problems, LineProblem{Line: line, Message: fmt.Sprintf(format, args...)})
		}
	}
	header := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			add(pe.Line, "%v", pe.Err)
			break // the rest of the file cannot be read reliably
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read the file: %w", err)
		}
		if header {
			header = false
			if !sameHeader(rec) {
				add(line, "the first row must be the header %s", strings.Join(csvHeader, ","))
				break
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // an empty row
		}
		rows++
		if rows > MaxCSVRows {
			add(line, "more than %d rows", MaxCSVRows)
			break
		}
		if len(rec) != len(csvHeader) {
			add(line, "%d columns; %d are expected (%s)", len(rec), len(csvHeader), strings.Join(csvHeader, ","))
			continue
		}
		kind, name, from, to, dayType := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2]), strings.TrimSpace(rec[3]), strings.TrimSpace(rec[4])
		if dayType == "" {
			add(line, "day_type is empty")
			continue
		}
		if len(name) > 128 {
			add(line, "the name has %d bytes; at most 128", len(name))
			continue
		}
		switch kind {
		case "closure":
			if name == "" {
				add(line, "a closure needs a name")
				continue
			}
			okMD := mdPattern.MatchString(from) && mdPattern.MatchString(to) && validMonthDay(monthDay(from)) && validMonthDay(monthDay(to))
			_, errF := parseDate(from)
			_, errT := parseDate(to)
			if !okMD && (errF != nil || errT != nil) {
				add(line, "from %q and to %q: MM-DD (every year) or YYYY-MM-DD (once) are accepted, both alike", from, to)
				continue
			}
			closures = append(closures, store.CalendarClosure{Name: name, From: from, To: to, DayType: dayType})
		case "exception":
			if _, err := parseDate(from); err != nil {
				add(line, "from %q: an exception's date is YYYY-MM-DD", from)
				continue
			}
			if to != "" && to != from {
				add(line, "an exception is one date; leave to empty")
				continue
			}
			exceptions = append(exceptions, store.CalendarException{Date: from, Name: name, DayType: dayType})
		default:
			add(line, "kind %q: closure or exception", kind)
		}
	}
	if header {
		add(0, "the file is empty; it needs the header row %s", strings.Join(csvHeader, ","))
	}
	if len(problems) > 0 {
		return nil, nil, &CSVError{Problems: problems}
	}
	return closures, exceptions, nil
}

func sameHeader(rec []string) bool {
	if len(rec) != len(csvHeader) {
		return false
	}
	for i, h := range csvHeader {
		if strings.ToLower(strings.TrimSpace(rec[i])) != h {
			return false
		}
	}
	return true
}

// ICal writes the days of a calendar from from to to that depart from the
// weekly pattern — closures, holidays, exceptions — as all-day events of
// an iCalendar (RFC 5545) feed that Outlook or Google Calendar can
// subscribe to. Consecutive days of one closure or reason are one event.
// stamp is the feed's DTSTAMP.
func (c *Compiled) ICal(from, to, stamp time.Time) (string, error) {
	days, err := c.Days(from, to)
	if err != nil {
		return "", err
	}
	cal := ics.NewCalendarFor("Hearth")
	cal.SetMethod(ics.MethodPublish)
	cal.SetName(c.cal.Name)
	cal.SetXWRCalName(c.cal.Name)
	cal.SetTzid(c.cal.TimeZone)
	label := map[string]string{}
	for _, dt := range c.cal.DayTypes {
		label[dt.Name] = dt.Name
		if dt.Label != "" {
			label[dt.Name] = dt.Label
		}
	}
	for i := 0; i < len(days); {
		d := days[i]
		if d.Source == SourceWeekly || d.Source == SourceSeason {
			i++
			continue
		}
		j := i + 1
		for j < len(days) && days[j].Reason == d.Reason && days[j].DayType == d.DayType && days[j].Source == d.Source {
			j++
		}
		start, _ := time.Parse(time.DateOnly, d.Date)
		end := start.AddDate(0, 0, j-i) // DTEND of an all-day event is exclusive
		ev := cal.AddEvent(fmt.Sprintf("%s-%s@%s.hearth", d.Date, d.Source, c.cal.ID))
		ev.SetDtStampTime(stamp)
		ev.SetAllDayStartAt(start)
		ev.SetAllDayEndAt(end)
		summary := strings.TrimPrefix(d.Reason, d.Source+": ")
		if d.Source == SourceHoliday {
			_, summary, _ = strings.Cut(d.Reason, ": ")
		}
		if d.DayType != "" {
			summary += " (" + label[d.DayType] + ")"
		}
		ev.SetSummary(summary)
		ev.SetDescription(d.Reason)
		ev.SetTimeTransparency(ics.TransparencyTransparent)
		i = j
	}
	return cal.Serialize(), nil
}
