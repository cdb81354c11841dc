package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/store"
)

// Defaults of a calendar's fields left empty.
const (
	DefaultTimeZone = "Asia/Tokyo"
	DefaultPushAt   = "00:05"
)

// Sources of a day's program, from the strongest: an exception beats a
// closure, which beats a holiday, which beats the season's weekly pattern,
// which beats the calendar's own weekly pattern.
const (
	SourceException = "exception"
	SourceClosure   = "closure"
	SourceHoliday   = "holiday"
	SourceSeason    = "season"
	SourceWeekly    = "weekly"
)

// weekdays are the keys of a weekly pattern, Monday first.
var weekdays = [7]string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// weekdayKey is the weekly pattern's key of a day.
func weekdayKey(d time.Weekday) string { return weekdays[(int(d)+6)%7] }

// Day is what a calendar runs on one date, and why.
type Day struct {
	Date    string               `json:"date"` // YYYY-MM-DD, in the calendar's zone
	DayType string               `json:"day_type"`
	Source  string               `json:"source"`
	Reason  string               `json:"reason"`
	Steps   []store.CalendarStep `json:"steps"`
}

// Error is a calendar refused; Path names the part ("day_types[weekday].steps[1].set.mode").
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "calendar: " + e.Message
	}
	return "calendar " + e.Path + ": " + e.Message
}

func refuse(path, format string, args ...any) error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

// Compiled is a checked calendar, ready to say what runs on any date. It
// is immutable and safe for concurrent use.
type Compiled struct {
	cal      store.Calendar
	loc      *time.Location
	pushAt   int // minutes after midnight
	dayTypes map[string]store.CalendarDayType
	seasons  []span
	closures []span
	except   map[string]store.CalendarException
}

// span is a range of dates: of every year (month-days) or once (dates).
type span struct {
	name     string
	yearly   bool
	from, to int // yearly: month*100+day; once: days since the epoch
	dayType  string
	weekly   store.CalendarWeek
	index    int
}

// Calendar is the checked calendar as stored.
func (c *Compiled) Calendar() store.Calendar { return c.cal }

// Location is the calendar's time zone.
func (c *Compiled) Location() *time.Location { return c.loc }

// PushAt is the local time of day the day's program is pushed.
func (c *Compiled) PushAt() (hour, minute int) { return c.pushAt / 60, c.pushAt % 60 }

var (
	atPattern   = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
	mdPattern   = regexp.MustCompile(`^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`)
	datePattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
)

// Settings gives the compiled settings of a device type; nil when the type
// has none. device.DeviceTypes implements it.
type Settings interface {
	Settings(typ string) (*settings.Schema, error)
}

// Compile checks a calendar: its zone and push time, every day type's
// steps (as a device's program would be checked, and against the settings
// of the calendar's device type), the weekly patterns, seasons and
// closures that do not overlap, holidays of a known country, exceptions
// of one date each. Empty zone and push time take the defaults. A refusal
// is an *Error naming the part, or a *settings.Error wrapped with it.
func Compile(cal store.Calendar, types Settings) (*Compiled, error) {
	if cal.TimeZone == "" {
		cal.TimeZone = DefaultTimeZone
	}
	if cal.PushAt == "" {
		cal.PushAt = DefaultPushAt
	}
	c := &Compiled{cal: cal, dayTypes: map[string]store.CalendarDayType{}, except: map[string]store.CalendarException{}}
	var err error
	if c.loc, err = time.LoadLocation(cal.TimeZone); err != nil || strings.Contains(cal.TimeZone, "..") {
		return nil, refuse("time_zone", "%q is not an IANA time zone such as Asia/Tokyo or Europe/Berlin", cal.TimeZone)
	}
	m := atPattern.FindStringSubmatch(cal.PushAt)
	if m == nil {
		return nil, refuse("push_at", "%q is not a time of day such as 00:05", cal.PushAt)
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	c.pushAt = h*60 + mi

	var sch *settings.Schema
	if cal.DeviceType != "" && types != nil {
		if sch, err = types.Settings(cal.DeviceType); err != nil {
			return nil, fmt.Errorf("settings of device type %q: %w", cal.DeviceType, err)
		}
	}
	if len(cal.DayTypes) == 0 {
		return nil, refuse("day_types", "none; a calendar needs at least one day type (weekday, closed, …)")
	}
	for i, dt := range cal.DayTypes {
		path := fmt.Sprintf("day_types[%d]", i)
		if !namePattern.MatchString(dt.Name) {
			return nil, refuse(path+".name", "%q: 1 to 64 letters, digits, '_' and '-', starting with a letter or digit", dt.Name)
		}
		path = fmt.Sprintf("day_types[%s]", dt.Name)
		if _, dup := c.dayTypes[dt.Name]; dup {
			return nil, refuse(path, "a second day type of this name")
		}
		if len(dt.Label) > 128 {
			return nil, refuse(path+".label", "%d bytes; at most 128", len(dt.Label))
		}
		if err := checkSteps(path, dt.Steps, cal, sch); err != nil {
			return nil, err
		}
		c.dayTypes[dt.Name] = dt
	}
	if err := c.checkWeek("weekly", cal.Weekly); err != nil {
		return nil, err
	}
	for i, s := range cal.Seasons {
		path := fmt.Sprintf("seasons[%d]", i)
		sp, err := c.span(path, s.Name, s.From, s.To, true)
		if err != nil {
			return nil, err
		}
		if err := c.checkWeek(path+".weekly", s.Weekly); err != nil {
			return nil, err
		}
		sp.weekly, sp.index = s.Weekly, i
		for _, o := range c.seasons {
			if overlap(sp, o) {
				return nil, refuse(path, "season %q overlaps season %q; a date belongs to one season at most", s.Name, o.name)
			}
		}
		c.seasons = append(c.seasons, sp)
	}
	if hol := cal.Holidays; hol.Country != "" {
		if _, ok := holidaySets[hol.Country]; !ok {
			return nil, refuse("holidays.country", "%q: one of %s is accepted", hol.Country, strings.Join(Countries(), ", "))
		}
		if err := c.checkDayType("holidays.day_type", hol.DayType); err != nil {
			return nil, err
		}
	} else if hol.DayType != "" {
		return nil, refuse("holidays.country", "empty, but a day type for holidays is set: name the country whose holidays to follow")
	}
	for i, cl := range cal.Closures {
		path := fmt.Sprintf("closures[%d]", i)
		sp, err := c.span(path, cl.Name, cl.From, cl.To, false)
		if err != nil {
			return nil, err
		}
		if err := c.checkDayType(path+".day_type", cl.DayType); err != nil {
			return nil, err
		}
		sp.dayType, sp.index = cl.DayType, i
		for _, o := range c.closures {
			if overlap(sp, o) {
				return nil, refuse(path, "closure %q overlaps closure %q; a date belongs to one closure at most", cl.Name, o.name)
			}
		}
		c.closures = append(c.closures, sp)
	}
	for i, ex := range cal.Exceptions {
		path := fmt.Sprintf("exceptions[%d]", i)
		d, err := parseDate(ex.Date)
		if err != nil {
			return nil, refuse(path+".date", "%q is not a date such as 2026-12-24", ex.Date)
		}
		path = fmt.Sprintf("exceptions[%s]", ex.Date)
		key := d.Format(time.DateOnly)
		if _, dup := c.except[key]; dup {
			return nil, refuse(path, "a second exception on this date")
		}
		if len(ex.Name) > 128 {
			return nil, refuse(path+".name", "%d bytes; at most 128", len(ex.Name))
		}
		switch {
		case ex.DayType != "" && len(ex.Steps) > 0:
			return nil, refuse(path, "both a day type and steps; give one of them")
		case ex.DayType != "":
			if err := c.checkDayType(path+".day_type", ex.DayType); err != nil {
				return nil, err
			}
		case len(ex.Steps) > 0:
			if err := checkSteps(path, ex.Steps, cal, sch); err != nil {
				return nil, err
			}
		default:
			return nil, refuse(path, "neither a day type nor steps; give one of them")
		}
		c.except[key] = ex
	}
	return c, nil
}

// checkSteps checks a day's steps as a device checks its program, and each
// step's settings against the device type's rules.
func checkSteps(path string, steps []store.CalendarStep, cal store.Calendar, sch *settings.Schema) error {
	if len(steps) == 0 {
		return refuse(path+".steps", "none; a day needs at least one step (a closed day sets its equipment off at 00:00)")
	}
	p := map[string]any{"date": "2026-01-01", "tz": cal.TimeZone, "steps": steps}
	b, err := json.Marshal(p)
	if err != nil {
		return refuse(path+".steps", "cannot encode: %v", err)
	}
	if _, err := program.Parse(b); err != nil {
		var pe *program.Error
		if errors.As(err, &pe) {
			return refuse(path+"."+pe.Path, "%s", pe.Message)
		}
		return refuse(path+".steps", "%v", err)
	}
	if sch == nil {
		return nil
	}
	for i, st := range steps {
		if err := sch.CheckDesired(st.Set); err != nil {
			var se *settings.Error
			if errors.As(err, &se) {
				msgs := make([]string, len(se.Violations))
				for j, v := range se.Violations {
					msgs[j] = strings.TrimPrefix(v.Message, "desired.")
				}
				return &StepError{Path: fmt.Sprintf("%s.steps[%d] (%s)", path, i, st.At), Err: se, Message: strings.Join(msgs, "; ")}
			}
			return fmt.Errorf("%s.steps[%d]: %w", path, i, err)
		}
	}
	return nil
}

// StepError is a step whose settings break the device type's rules; Err
// holds each violation.
type StepError struct {
	Path    string
	Message string
	Err     *settings.Error
}

func (e *StepError) Error() string { return "calendar " + e.Path + ": " + e.Message }
func (e *StepError) Unwrap() error { return e.Err }

func (c *Compiled) checkDayType(path, name string) error {
	if name == "" {
		return refuse(path, "empty; name one of the calendar's day types")
	}
	if _, ok := c.dayTypes[name]; !ok {
		return refuse(path, "%q is not a day type of this calendar; its day types are %s", name, c.dayTypeNames())
	}
	return nil
}

func (c *Compiled) dayTypeNames() string {
	names := make([]string, 0, len(c.cal.DayTypes))
	for _, dt := range c.cal.DayTypes {
		names = append(names, dt.Name)
	}
	return strings.Join(names, ", ")
}

func (c *Compiled) checkWeek(path string, w store.CalendarWeek) error {
	for k := range w {
		if !isWeekday(k) {
			return refuse(path, "%q is not a day of the week; monday to sunday are", k)
		}
	}
	for _, d := range weekdays {
		if err := c.checkDayType(path+"."+d, w[d]); err != nil {
			return err
		}
	}
	return nil
}

func isWeekday(s string) bool {
	for _, d := range weekdays {
		if s == d {
			return true
		}
	}
	return false
}

// span reads a range of dates: month-days of every year, or dates once
// (allowed only when yearlyOnly is false). Once, it spans a year at most.
func (c *Compiled) span(path, name, from, to string, yearlyOnly bool) (span, error) {
	sp := span{name: name}
	if name == "" || len(name) > 128 {
		return sp, refuse(path+".name", "%d bytes; 1 to 128 are accepted", len(name))
	}
	path = fmt.Sprintf("%s (%s)", path, name)
	switch {
	case mdPattern.MatchString(from) && mdPattern.MatchString(to):
		f, t := monthDay(from), monthDay(to)
		if !validMonthDay(f) || !validMonthDay(t) {
			return sp, refuse(path, "%s to %s: not days of a year", from, to)
		}
		sp.yearly, sp.from, sp.to = true, f, t
	case !yearlyOnly && datePattern.MatchString(from) && datePattern.MatchString(to):
		f, err1 := parseDate(from)
		t, err2 := parseDate(to)
		if err1 != nil || err2 != nil {
			return sp, refuse(path, "%s to %s: not dates", from, to)
		}
		if t.Before(f) {
			return sp, refuse(path, "it ends (%s) before it starts (%s)", to, from)
		}
		if t.Sub(f) > 366*24*time.Hour {
			return sp, refuse(path, "%s to %s is longer than a year", from, to)
		}
		sp.from, sp.to = epochDay(f), epochDay(t)
	case yearlyOnly:
		return sp, refuse(path, "%q to %q: a season runs from MM-DD to MM-DD of every year", from, to)
	default:
		return sp, refuse(path, "%q to %q: MM-DD to MM-DD (every year) or YYYY-MM-DD to YYYY-MM-DD (once) are accepted", from, to)
	}
	return sp, nil
}

func monthDay(s string) int {
	m, _ := strconv.Atoi(s[:2])
	d, _ := strconv.Atoi(s[3:])
	return m*100 + d
}

// validMonthDay accepts the days of a leap year (02-29 too).
func validMonthDay(md int) bool {
	t := time.Date(2024, time.Month(md/100), md%100, 0, 0, 0, 0, time.UTC)
	return int(t.Month())*100+t.Day() == md
}

func parseDate(s string) (time.Time, error) {
	if !datePattern.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q is not YYYY-MM-DD", s)
	}
	return time.Parse(time.DateOnly, s)
}

// epochDay counts days since 1970-01-01 of a date (its year, month and day
// read as given).
func epochDay(t time.Time) int {
	return int(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// contains reports whether a span holds the date (year, month, day).
func (s span) contains(d time.Time) bool {
	if !s.yearly {
		n := epochDay(d)
		return s.from <= n && n <= s.to
	}
	md := int(d.Month())*100 + d.Day()
	if s.from <= s.to {
		return s.from <= md && md <= s.to
	}
	return md >= s.from || md <= s.to // over the new year
}

// overlap reports whether two spans share a date, looking at every day of
// a leap year for yearly spans and at the once-span's own days otherwise.
func overlap(a, b span) bool {
	if !a.yearly && !b.yearly {
		return a.from <= b.to && b.from <= a.to
	}
	if !a.yearly {
		a, b = b, a // a is yearly
	}
	var days []time.Time
	if b.yearly {
		for d := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == 2024; d = d.AddDate(0, 0, 1) {
			days = append(days, d)
		}
	} else {
		for n := b.from; n <= b.to; n++ {
			days = append(days, time.Unix(int64(n)*86400, 0).UTC())
		}
	}
	for _, d := range days {
		if a.contains(d) && b.contains(d) {
			return true
		}
	}
	return false
}

// Resolve says what runs on a date (its year, month and day, in the
// calendar's zone) and why.
func (c *Compiled) Resolve(date time.Time) Day {
	d := time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, time.UTC)
	day := Day{Date: d.Format(time.DateOnly)}
	if ex, ok := c.except[day.Date]; ok {
		day.Source, day.Reason = SourceException, "exception"
		if ex.Name != "" {
			day.Reason = "exception: " + ex.Name
		}
		if ex.DayType != "" {
			day.DayType, day.Steps = ex.DayType, c.dayTypes[ex.DayType].Steps
		} else {
			day.Steps = ex.Steps
		}
		return day
	}
	for _, cl := range c.closures {
		if cl.contains(d) {
			day.Source, day.Reason, day.DayType = SourceClosure, "closure: "+cl.name, cl.dayType
			day.Steps = c.dayTypes[cl.dayType].Steps
			return day
		}
	}
	if hol := c.cal.Holidays; hol.Country != "" {
		if name := holiday(hol.Country, d); name != "" {
			prefix := "public holiday: "
			if hol.Country == "JP" {
				prefix = "national holiday: "
			}
			day.Source, day.Reason, day.DayType = SourceHoliday, prefix+name, hol.DayType
			day.Steps = c.dayTypes[hol.DayType].Steps
			return day
		}
	}
	wd := weekdayKey(d.Weekday())
	for _, s := range c.seasons {
		if s.contains(d) {
			day.Source, day.Reason, day.DayType = SourceSeason, "season: "+s.name+", "+wd, s.weekly[wd]
			day.Steps = c.dayTypes[day.DayType].Steps
			return day
		}
	}
	day.Source, day.Reason, day.DayType = SourceWeekly, "weekly pattern: "+wd, c.cal.Weekly[wd]
	day.Steps = c.dayTypes[day.DayType].Steps
	return day
}

// MaxDays bounds one listing of days.
const MaxDays = 800

// Days resolves every date from from to to, both included.
func (c *Compiled) Days(from, to time.Time) ([]Day, error) {
	f, t := epochDay(from), epochDay(to)
	if t < f {
		return nil, refuse("", "the range ends (%s) before it starts (%s)", to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	if t-f+1 > MaxDays {
		return nil, refuse("", "%d days asked; at most %d at a time", t-f+1, MaxDays)
	}
	out := make([]Day, 0, t-f+1)
	for n := f; n <= t; n++ {
		out = append(out, c.Resolve(time.Unix(int64(n)*86400, 0).UTC()))
	}
	return out, nil
}

// Today is the calendar's local date at t.
func (c *Compiled) Today(t time.Time) time.Time {
	l := t.In(c.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

// PushTime is the instant of the day's push on date (its year, month and
// day): PushAt in the calendar's zone. A push time that does not exist on
// that day (skipped by a daylight-saving change) is the first minute after
// the gap; one that exists twice is the first.
func (c *Compiled) PushTime(date time.Time) time.Time {
	h, m := c.PushAt()
	return time.Date(date.Year(), date.Month(), date.Day(), h, m, 0, 0, c.loc)
}

// Program is the operating program a device runs on date: the day's steps
// in the calendar's zone.
func (c *Compiled) Program(day Day) ([]byte, error) {
	b, err := json.Marshal(map[string]any{"date": day.Date, "tz": c.cal.TimeZone, "steps": day.Steps})
	if err != nil {
		return nil, fmt.Errorf("encode the program of %s: %w", day.Date, err)
	}
	return b, nil
}
