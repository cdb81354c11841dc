package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/sim/model"
	"github.com/hearthiot/hearth/store"
)

// demoPrincipal is who seeds the demo's calendars, in the audit log.
var demoPrincipal = gate.Principal{Role: store.RoleOperator, Name: "demo"}

// demoCalendarDays is how many past days of programs a fresh demo chiller
// follows in its back-filled history: the week it back-fills and a day
// more, whose last step still holds at the week's start.
const demoCalendarDays = 8

// seedDemoCalendars gives each demo site a calendar fit for its building,
// assigned to the site, so the demo chillers' programs come from the
// scheduler. A calendar that exists is left as an operator or the
// customer changed it.
func (s *Server) seedDemoCalendars(ctx context.Context) error {
	scope := s.gate.Scope(demoPrincipal)
	chiller, _ := sim.DeviceType(sim.KindChiller)
	have, err := scope.Calendars()
	if err != nil {
		return fmt.Errorf("list calendars: %w", err)
	}
	for _, site := range demoSites {
		id := site.name
		if slices.ContainsFunc(have, func(c store.Calendar) bool { return c.ID == id }) {
			continue
		}
		c := demoCalendar(site.building)
		c.ID, c.Customer, c.DeviceType = id, demoCustomer, chiller
		c.Name = site.display
		if _, _, err := scope.PutCalendar(ctx, c); err != nil {
			return fmt.Errorf("create demo calendar %q: %w", id, err)
		}
		if err := scope.Assign(ctx, id, gate.AssignmentTargets{Sites: []string{site.name}}); err != nil {
			return fmt.Errorf("assign demo calendar %q to its site: %w", id, err)
		}
	}
	return nil
}

// demoCalendar is a year of operation fit for a kind of building: its
// chiller heats with hot water from November to April and cools with
// chilled water from May to October.
func demoCalendar(b model.Building) store.Calendar {
	type set = map[string]any
	step := func(at string, s set) store.CalendarStep { return store.CalendarStep{At: at, Set: s} }
	off := set{"mode": model.ModeOff}
	every := func(day string) store.CalendarWeek {
		return store.CalendarWeek{"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day, "sunday": day}
	}
	workweek := func(workday, weekend string) store.CalendarWeek {
		w := every(workday)
		w["saturday"], w["sunday"] = weekend, weekend
		return w
	}
	c := store.Calendar{TimeZone: demoZone, CustomerEditable: true}
	// Each building has a heating and a cooling kind of its open day; the
	// cooling season swaps the one for the other.
	var heat, cool []store.CalendarStep
	switch b {
	case model.Hotel:
		// Guests every day: warm from early morning, eased off overnight.
		heat = []store.CalendarStep{step("06:00", set{"mode": model.ModeHeating, "hw_setpoint_c": 50.0}), step("23:00", set{"hw_setpoint_c": 45.0})}
		cool = []store.CalendarStep{step("06:00", set{"mode": model.ModeCooling, "chw_setpoint_c": 7.0}), step("23:00", set{"chw_setpoint_c": 9.0})}
	case model.Hospital:
		// Never off: wards need conditioned air at night too.
		heat = []store.CalendarStep{step("00:00", set{"mode": model.ModeHeating, "hw_setpoint_c": 45.0}), step("08:00", set{"hw_setpoint_c": 50.0}), step("20:00", set{"hw_setpoint_c": 45.0})}
		cool = []store.CalendarStep{step("00:00", set{"mode": model.ModeCooling, "chw_setpoint_c": 8.0}), step("08:00", set{"chw_setpoint_c": 7.0}), step("20:00", set{"chw_setpoint_c": 8.0})}
	case model.School:
		heat = []store.CalendarStep{step("07:00", set{"mode": model.ModeHeating, "hw_setpoint_c": 45.0}), step("18:00", off)}
		cool = []store.CalendarStep{step("07:00", set{"mode": model.ModeCooling, "chw_setpoint_c": 7.0}), step("18:00", off)}
	default: // an office
		heat = []store.CalendarStep{step("07:00", set{"mode": model.ModeHeating, "hw_setpoint_c": 45.0}), step("20:00", off)}
		cool = []store.CalendarStep{step("07:00", set{"mode": model.ModeCooling, "chw_setpoint_c": 7.0}), step("20:00", off)}
	}
	c.DayTypes = []store.CalendarDayType{
		{Name: "open-heating", Label: "Open, heating", Steps: heat},
		{Name: "open-cooling", Label: "Open, cooling", Steps: cool},
	}
	cooling := store.CalendarSeason{Name: "cooling", From: "05-01", To: "10-31"}
	switch b {
	case model.Hotel, model.Hospital:
		c.Weekly, cooling.Weekly = every("open-heating"), every("open-cooling")
	default:
		// A closed winter weekend still warms the building through at
		// dawn, so that it does not cool through two days without heat
		// (a weekend setback): the plant runs two hours at a low hot-water
		// set-point and stands still the rest of the day.
		c.DayTypes = append(c.DayTypes,
			store.CalendarDayType{Name: "closed", Label: "Closed", Steps: []store.CalendarStep{step("00:00", off)}},
			store.CalendarDayType{Name: "closed-heating", Label: "Closed, heating setback", Steps: []store.CalendarStep{
				step("00:00", off), step("05:00", set{"mode": model.ModeHeating, "hw_setpoint_c": 40.0}), step("07:00", off)}})
		c.Weekly, cooling.Weekly = workweek("open-heating", "closed-heating"), workweek("open-cooling", "closed")
		c.Holidays = store.CalendarHolidays{Country: "JP", DayType: "closed"}
	}
	c.Seasons = []store.CalendarSeason{cooling}
	switch b {
	case model.Office:
		c.Closures = []store.CalendarClosure{{Name: "年末年始", From: "12-29", To: "01-03", DayType: "closed"}}
	case model.School:
		c.Closures = []store.CalendarClosure{
			{Name: "春休み", From: "03-25", To: "04-06", DayType: "closed"},
			{Name: "夏休み", From: "07-21", To: "08-31", DayType: "closed"},
			{Name: "冬休み", From: "12-25", To: "01-07", DayType: "closed"},
		}
	}
	return c
}

// demoHistoryPrograms is the programs a demo device's calendar gave it on
// the days before today and today, for its back-filled history; none when
// it has no calendar.
func (s *Server) demoHistoryPrograms(device string, now time.Time) ([]program.Program, error) {
	c, ok := s.scheduler.CalendarOf(device)
	if !ok {
		return nil, nil
	}
	today := c.Today(now)
	var out []program.Program
	for i := demoCalendarDays; i >= 0; i-- {
		b, err := c.Program(c.Resolve(today.AddDate(0, 0, -i)))
		if err != nil {
			return nil, err
		}
		p, err := program.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("the program calendar %q gives %s: %w", c.Calendar().ID, device, err)
		}
		out = append(out, p)
	}
	return out, nil
}
