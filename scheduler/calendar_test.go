package scheduler_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
)

func week(weekday, saturday, sunday string) store.CalendarWeek {
	return store.CalendarWeek{"monday": weekday, "tuesday": weekday, "wednesday": weekday, "thursday": weekday,
		"friday": weekday, "saturday": saturday, "sunday": sunday}
}

func steps(pairs ...any) []store.CalendarStep {
	var out []store.CalendarStep
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, store.CalendarStep{At: pairs[i].(string), Set: pairs[i+1].(map[string]any)})
	}
	return out
}

// officeCalendar is an office's chiller calendar: weekdays on, weekends
// and Japan's national holidays closed, the new-year break closed, a
// summer season with an earlier start, one exception.
func officeCalendar() store.Calendar {
	on := steps("07:00", map[string]any{"mode": "cooling", "chw_setpoint_c": 7.0}, "19:00", map[string]any{"mode": "off"})
	early := steps("06:00", map[string]any{"mode": "cooling", "chw_setpoint_c": 6.5}, "20:00", map[string]any{"mode": "off"})
	off := steps("00:00", map[string]any{"mode": "off"})
	return store.Calendar{
		ID: "office", Customer: "acme", Name: "Office", TimeZone: "Asia/Tokyo",
		DayTypes: []store.CalendarDayType{
			{Name: "weekday", Steps: on}, {Name: "summer", Steps: early}, {Name: "closed", Steps: off},
		},
		Weekly:     week("weekday", "closed", "closed"),
		Seasons:    []store.CalendarSeason{{Name: "cooling", From: "07-01", To: "09-30", Weekly: week("summer", "closed", "closed")}},
		Holidays:   store.CalendarHolidays{Country: "JP", DayType: "closed"},
		Closures:   []store.CalendarClosure{{Name: "年末年始", From: "12-29", To: "01-03", DayType: "closed"}},
		Exceptions: []store.CalendarException{{Date: "2026-07-20", Name: "maintenance", Steps: steps("10:00", map[string]any{"mode": "off"})}},
	}
}

func compile(t *testing.T, c store.Calendar) *scheduler.Compiled {
	t.Helper()
	cc, err := scheduler.Compile(c, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return cc
}

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestResolvePrecedence: exception > closure > holiday > season > weekly,
// each day saying why.
func TestResolvePrecedence(t *testing.T) {
	c := compile(t, officeCalendar())
	for _, tt := range []struct {
		date, dayType, source, reason string
	}{
		{"2026-12-07", "weekday", scheduler.SourceWeekly, "weekly pattern: monday"},
		{"2026-12-05", "closed", scheduler.SourceWeekly, "weekly pattern: saturday"},
		{"2026-11-23", "closed", scheduler.SourceHoliday, "national holiday: 勤労感謝の日"},
		{"2027-01-11", "closed", scheduler.SourceHoliday, "national holiday: 成人の日"},
		{"2027-03-22", "closed", scheduler.SourceHoliday, "national holiday: 振替休日"},
		{"2026-12-29", "closed", scheduler.SourceClosure, "closure: 年末年始"},
		// New Year's Day is a holiday, but the closure wins.
		{"2027-01-01", "closed", scheduler.SourceClosure, "closure: 年末年始"},
		{"2027-01-04", "weekday", scheduler.SourceWeekly, "weekly pattern: monday"},
		{"2026-07-01", "summer", scheduler.SourceSeason, "season: cooling, wednesday"},
		{"2026-09-30", "summer", scheduler.SourceSeason, "season: cooling, wednesday"},
		{"2026-10-01", "weekday", scheduler.SourceWeekly, "weekly pattern: thursday"},
		// Marine Day in the season: the holiday wins over the season.
		{"2027-07-19", "closed", scheduler.SourceHoliday, "national holiday: 海の日"},
		// …and the exception over the holiday (2026-07-20 is Marine Day).
		{"2026-07-20", "", scheduler.SourceException, "exception: maintenance"},
	} {
		got := c.Resolve(date(tt.date))
		if got.DayType != tt.dayType || got.Source != tt.source || got.Reason != tt.reason || got.Date != tt.date {
			t.Errorf("%s: %+v; want %s from %s (%s)", tt.date, got, tt.dayType, tt.source, tt.reason)
		}
		if len(got.Steps) == 0 {
			t.Errorf("%s: no steps", tt.date)
		}
	}
}

// TestDaysAcrossTheYear: a listing crosses the new year, and a season
// from November to April runs over it.
func TestDaysAcrossTheYear(t *testing.T) {
	cal := officeCalendar()
	cal.Seasons = append(cal.Seasons, store.CalendarSeason{Name: "heating", From: "11-01", To: "04-30", Weekly: week("weekday", "weekday", "closed")})
	c := compile(t, cal)
	days, err := c.Days(date("2026-12-26"), date("2027-01-09"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range days {
		got = append(got, d.Date[5:]+" "+d.Source+" "+d.DayType)
	}
	want := []string{
		"12-26 season weekday", "12-27 season closed", "12-28 season weekday",
		"12-29 closure closed", "12-30 closure closed", "12-31 closure closed", "01-01 closure closed",
		"01-02 closure closed", "01-03 closure closed", "01-04 season weekday", "01-05 season weekday",
		"01-06 season weekday", "01-07 season weekday", "01-08 season weekday", "01-09 season weekday",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("days (-want +got):\n%s", diff)
	}
	if _, err := c.Days(date("2027-01-09"), date("2026-01-01")); err == nil {
		t.Error("a range that ends before it starts was listed")
	}
	if _, err := c.Days(date("2026-01-01"), date("2029-01-01")); err == nil {
		t.Error("three years were listed at once")
	}
}

// TestPushTimeAcrossDaylightSaving: the push time is local, so in Berlin
// it moves by an hour in UTC across the spring and autumn changes, and a
// time the spring change skips comes after the gap.
func TestPushTimeAcrossDaylightSaving(t *testing.T) {
	cal := officeCalendar()
	cal.TimeZone, cal.Holidays = "Europe/Berlin", store.CalendarHolidays{Country: "DE", DayType: "closed"}
	c := compile(t, cal)
	for _, tt := range []struct{ date, utc string }{
		{"2026-03-28", "2026-03-27T23:05:00Z"}, // CET, UTC+1
		{"2026-03-30", "2026-03-29T22:05:00Z"}, // CEST, UTC+2
		{"2026-10-24", "2026-10-23T22:05:00Z"},
		{"2026-10-26", "2026-10-25T23:05:00Z"},
	} {
		if got := c.PushTime(date(tt.date)).UTC().Format(time.RFC3339); got != tt.utc {
			t.Errorf("push on %s at %s, want %s", tt.date, got, tt.utc)
		}
	}
	cal.PushAt = "02:30" // does not exist on 2026-03-29 in Berlin
	c = compile(t, cal)
	got := c.PushTime(date("2026-03-29"))
	if got.In(c.Location()).Day() != 29 || got.UTC().Format(time.RFC3339) != "2026-03-29T01:30:00Z" {
		t.Errorf("a push time in the spring gap: %s (%s local)", got.UTC().Format(time.RFC3339), got.In(c.Location()))
	}
	// Today is the calendar's date, not UTC's: 23:30 UTC is the next day in Tokyo.
	tokyo := compile(t, officeCalendar())
	if got := tokyo.Today(time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC)).Format(time.DateOnly); got != "2026-12-07" {
		t.Errorf("today in Tokyo at 23:30 UTC is %s", got)
	}
}

func TestCompileRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*store.Calendar)
		want string
	}{
		{"unknown zone", func(c *store.Calendar) { c.TimeZone = "Mars/Olympus" }, "time_zone"},
		{"bad push time", func(c *store.Calendar) { c.PushAt = "24:00" }, "push_at"},
		{"no day types", func(c *store.Calendar) { c.DayTypes = nil }, "day_types"},
		{"steps out of order", func(c *store.Calendar) {
			c.DayTypes[0].Steps = steps("19:00", map[string]any{"mode": "off"}, "07:00", map[string]any{"mode": "cooling"})
		}, "day_types[weekday].steps[1].at"},
		{"a step with no settings", func(c *store.Calendar) { c.DayTypes[0].Steps = steps("07:00", map[string]any{}) }, "day_types[weekday].steps[0].set"},
		{"unknown day type in the week", func(c *store.Calendar) { c.Weekly["friday"] = "party" }, `weekly.friday: "party" is not a day type`},
		{"a week without sunday", func(c *store.Calendar) { delete(c.Weekly, "sunday") }, "weekly.sunday"},
		{"a day that is not a weekday", func(c *store.Calendar) { c.Weekly["caturday"] = "closed" }, `"caturday" is not a day of the week`},
		{"overlapping seasons", func(c *store.Calendar) {
			c.Seasons = append(c.Seasons, store.CalendarSeason{Name: "late", From: "09-15", To: "10-15", Weekly: week("weekday", "closed", "closed")})
		}, `season "late" overlaps season "cooling"`},
		{"overlapping closures", func(c *store.Calendar) {
			c.Closures = append(c.Closures, store.CalendarClosure{Name: "stocktake", From: "2026-12-28", To: "2026-12-30", DayType: "closed"})
		}, `closure "stocktake" overlaps closure "年末年始"`},
		{"a closure backwards", func(c *store.Calendar) {
			c.Closures = []store.CalendarClosure{{Name: "x", From: "2026-08-16", To: "2026-08-13", DayType: "closed"}}
		}, "ends (2026-08-13) before it starts"},
		{"a season of dates", func(c *store.Calendar) { c.Seasons[0].From, c.Seasons[0].To = "2026-07-01", "2026-09-30" }, "MM-DD to MM-DD of every year"},
		{"a day that does not exist", func(c *store.Calendar) { c.Seasons[0].To = "09-31" }, "not days of a year"},
		{"unknown holiday set", func(c *store.Calendar) { c.Holidays.Country = "XX" }, "holidays.country"},
		{"two exceptions on a day", func(c *store.Calendar) { c.Exceptions = append(c.Exceptions, c.Exceptions[0]) }, "second exception"},
		{"an exception with both", func(c *store.Calendar) { c.Exceptions[0].DayType = "closed" }, "both a day type and steps"},
		{"an exception with neither", func(c *store.Calendar) { c.Exceptions[0].Steps = nil }, "neither"},
		{"a bad exception date", func(c *store.Calendar) { c.Exceptions[0].Date = "2026-02-30" }, "exceptions[0].date"},
	} {
		cal := officeCalendar()
		tt.edit(&cal)
		_, err := scheduler.Compile(cal, nil)
		var ce *scheduler.Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want an error naming %q", tt.name, err, tt.want)
		}
	}
}
