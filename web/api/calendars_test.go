package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// calendarBody is an office calendar of customer as the API takes it.
func calendarBody(customer string) string {
	return `{"customer":"` + customer + `","name":"Office","time_zone":"Asia/Tokyo",
	 "day_types":[
	   {"name":"weekday","label":"Weekday","steps":[{"at":"07:00","set":{"mode":"cooling","flow_temp":45}},{"at":"19:00","set":{"mode":"off"}}]},
	   {"name":"closed","steps":[{"at":"00:00","set":{"mode":"off"}}]}],
	 "weekly":{"monday":"weekday","tuesday":"weekday","wednesday":"weekday","thursday":"weekday","friday":"weekday","saturday":"closed","sunday":"closed"},
	 "holidays":{"country":"JP","day_type":"closed"},
	 "closures":[{"name":"年末年始","from":"12-29","to":"01-03","day_type":"closed"}]}`
}

// TestCalendarsAPI: operators keep calendars, customers read theirs, the
// steps obey the device type's rules, and a device's schedule says what
// it runs on each day and why.
func TestCalendarsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.run(t, []scenario{
		{name: "boiler type with a flow temperature range", method: "PUT", path: "/api/v1/device-types/boiler", as: asOperator,
			body: `{"settings":[{"key":"mode","type":"string","enum":["heating","cooling","off"]},{"key":"flow_temp","type":"number","minimum":30,"maximum":80}]}`, status: 201},
		{name: "create", method: "PUT", path: "/api/v1/calendars/acme-office", as: asOperator, body: calendarBody("acme"), status: 201,
			contains: []string{`"id":"acme-office"`, `"push_at":"00:05"`, `"customer":"acme"`}, notContains: []string{"feed_secret"}},
		{name: "a step out of the device type's range", method: "PUT", path: "/api/v1/calendars/acme-office", as: asOperator,
			body: strings.Replace(strings.Replace(calendarBody("acme"), `"name":"Office",`, `"name":"Office","device_type":"boiler",`, 1), `"flow_temp":45`, `"flow_temp":95`, 1), status: 400,
			contains: []string{"day_types[weekday].steps[0] (07:00)", "flow_temp", "95", `"violations"`}},
		{name: "a week that names no day type", method: "PUT", path: "/api/v1/calendars/acme-office", as: asOperator,
			body: strings.Replace(calendarBody("acme"), `"friday":"weekday"`, `"friday":"party"`, 1), status: 400, contains: []string{`weekly.friday: \"party\" is not a day type`}},
		{name: "an unknown time zone", method: "PUT", path: "/api/v1/calendars/acme-office", as: asOperator,
			body: strings.Replace(calendarBody("acme"), "Asia/Tokyo", "Mars/Olympus", 1), status: 400, contains: []string{"time_zone"}},
		{name: "customers may not create", method: "PUT", path: "/api/v1/calendars/acme-new", as: asAcme, body: calendarBody("acme"), status: 403},
		{name: "nor edit what the operators keep", method: "PUT", path: "/api/v1/calendars/acme-office", as: asAcme, body: calendarBody("acme"), status: 403,
			contains: []string{"energy-service provider"}},
		{name: "customers read their own", method: "GET", path: "/api/v1/calendars/acme-office", as: asAcme, status: 200},
		{name: "the year view's days", method: "GET", path: "/api/v1/calendars/acme-office/days?from=2026-11-22&to=2026-11-24", as: asAcme, status: 200,
			contains: []string{`"date":"2026-11-23","day_type":"closed","source":"holiday","reason":"national holiday: 勤労感謝の日"`,
				`"date":"2026-11-24","day_type":"weekday","source":"weekly","reason":"weekly pattern: tuesday"`}},
		{name: "a device without a calendar", method: "GET", path: "/api/v1/devices/" + acmeDevice + "/schedule", as: asAcme, status: 404,
			contains: []string{"no operating calendar"}},
		{name: "assign to a site", method: "POST", path: "/api/v1/calendars/acme-office/assignments", as: asOperator,
			body: `{"sites":["` + acmeSite + `"]}`, status: 200, contains: []string{`"sites":["` + acmeSite + `"]`}},
		{name: "a site that does not exist is refused, all or none", method: "POST", path: "/api/v1/calendars/acme-office/assignments", as: asOperator,
			body: `{"devices":["` + acmeDevice + `"],"sites":["nowhere"]}`, status: 400, contains: []string{"nowhere"}},
		{name: "in use", method: "DELETE", path: "/api/v1/calendars/acme-office", as: asOperator, status: 400, contains: []string{"in use", "site " + acmeSite}},
		{name: "bad dates", method: "GET", path: "/api/v1/devices/" + acmeDevice + "/schedule?from=2026-13-01", as: asAcme, status: 400},
		{name: "too long a range", method: "GET", path: "/api/v1/devices/" + acmeDevice + "/schedule?from=2026-01-01&to=2029-01-01", as: asAcme, status: 400},
	})

	// The device's schedule, in the shape of the contract.
	rec := e.do(t, e.api.Handler(), scenario{method: "GET", as: asAcme,
		path: "/api/v1/devices/" + acmeDevice + "/schedule?from=2027-01-01&to=2027-01-12"})
	if rec.Code != http.StatusOK {
		t.Fatalf("schedule: %d %s", rec.Code, rec.Body)
	}
	var sch struct {
		Days []struct {
			Date, DayType, Source, Reason string
			Steps                         []struct {
				At  string
				Set map[string]any
			}
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &sch); err != nil {
		t.Fatal(err)
	}
	raw := map[string]any{}
	_ = json.Unmarshal(rec.Body.Bytes(), &raw)
	if len(sch.Days) != 12 {
		t.Fatalf("%d days: %s", len(sch.Days), rec.Body)
	}
	for i, want := range []struct{ date, source, reason string }{
		{"2027-01-01", "closure", "closure: 年末年始"},
		{"2027-01-04", "weekly", "weekly pattern: monday"},
		{"2027-01-11", "holiday", "national holiday: 成人の日"},
	} {
		idx := map[int]int{0: 0, 1: 3, 2: 10}[i]
		d := sch.Days[idx]
		if d.Date != want.date || d.Source != want.source || d.Reason != want.reason || len(d.Steps) == 0 || d.Steps[0].At == "" {
			t.Errorf("day %s: %+v; want %s (%s) with steps", want.date, d, want.source, want.reason)
		}
	}
	for _, key := range []string{`"date"`, `"day_type"`, `"source"`, `"reason"`, `"steps"`, `"at"`, `"set"`} {
		if !strings.Contains(rec.Body.String(), key) {
			t.Errorf("the schedule lacks %s: %s", key, rec.Body)
		}
	}

	// CSV: every bad row with its line, nothing imported.
	before := e.do(t, e.api.Handler(), scenario{method: "GET", path: "/api/v1/calendars/acme-office/closures.csv", as: asOperator}).Body.String()
	bad := e.do(t, e.api.Handler(), scenario{method: "PUT", path: "/api/v1/calendars/acme-office/closures.csv", as: asOperator,
		header: map[string]string{"Content-Type": "text/csv"},
		body:   "kind,name,from,to,day_type\nclosure,お盆,08-13,08-16,closed\nclosure,x,13-01,13-02,closed\nexception,y,2026-12-24,,party\n"})
	if bad.Code != http.StatusBadRequest || !strings.Contains(bad.Body.String(), `"problems":[{"line":3`) {
		t.Errorf("a file with a bad row: %d %s", bad.Code, bad.Body)
	}
	if after := e.do(t, e.api.Handler(), scenario{method: "GET", path: "/api/v1/calendars/acme-office/closures.csv", as: asOperator}).Body.String(); after != before {
		t.Errorf("a refused file changed the calendar:\n%s\nthen\n%s", before, after)
	}
	// A day type the calendar lacks is found when the calendar compiles.
	unknown := e.do(t, e.api.Handler(), scenario{method: "PUT", path: "/api/v1/calendars/acme-office/closures.csv", as: asOperator,
		header: map[string]string{"Content-Type": "text/csv"},
		body:   "kind,name,from,to,day_type\nexception,y,2026-12-24,,party\n"})
	if unknown.Code != http.StatusBadRequest || !strings.Contains(unknown.Body.String(), `\"party\" is not a day type`) {
		t.Errorf("an unknown day type: %d %s", unknown.Code, unknown.Body)
	}
	good := e.do(t, e.api.Handler(), scenario{method: "PUT", path: "/api/v1/calendars/acme-office/closures.csv", as: asOperator,
		header: map[string]string{"Content-Type": "text/csv"},
		body:   "kind,name,from,to,day_type\nclosure,お盆,08-13,08-16,closed\nexception,創立記念日,2026-10-01,,closed\n"})
	if good.Code != http.StatusOK || !strings.Contains(good.Body.String(), "お盆") || strings.Contains(good.Body.String(), "年末年始") {
		t.Errorf("an import: %d %s", good.Code, good.Body)
	}

	// The iCalendar feed, signed in and through its secret address.
	ics := e.do(t, e.api.Handler(), scenario{method: "GET", path: "/api/v1/calendars/acme-office/calendar.ics", as: asAcme})
	if ics.Code != http.StatusOK || !strings.HasPrefix(ics.Body.String(), "BEGIN:VCALENDAR") || !strings.Contains(ics.Body.String(), "SUMMARY:お盆") {
		t.Errorf("calendar.ics: %d %s", ics.Code, ics.Body)
	}
	link := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/calendars/acme-office/feed", as: asAcme})
	var feed struct{ Path string }
	if link.Code != http.StatusOK || json.Unmarshal(link.Body.Bytes(), &feed) != nil || !strings.HasPrefix(feed.Path, "/ical/acme-office/") {
		t.Fatalf("feed link: %d %s", link.Code, link.Body)
	}
	for _, tt := range []struct {
		path   string
		status int
	}{
		{feed.Path, http.StatusOK},
		{"/ical/acme-office/" + strings.Repeat("0", 32) + ".ics", http.StatusNotFound},
		{"/ical/nothing/x.ics", http.StatusNotFound},
	} {
		rec := e.do(t, e.api.FeedHandler(), scenario{method: "GET", path: tt.path, as: asNobody})
		if rec.Code != tt.status {
			t.Errorf("GET %s without signing in: %d, want %d", tt.path, rec.Code, tt.status)
		}
	}
	// A calendar changed through the API keeps its feed address.
	e.run(t, []scenario{{name: "edit", method: "PUT", path: "/api/v1/calendars/acme-office", as: asOperator, body: calendarBody("acme"), status: 200}})
	if rec := e.do(t, e.api.FeedHandler(), scenario{method: "GET", path: feed.Path, as: asNobody}); rec.Code != http.StatusOK {
		t.Errorf("the feed after an edit: %d", rec.Code)
	}
}

// TestCalendarAssignmentsAndPushes: a customer copies an operators'
// template, assigns it to its device, pushes it and reads what happened;
// the assignment and the calendar are removed again.
func TestCalendarAssignmentsAndPushes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	dev := "/api/v1/devices/" + acmeDevice
	e.run(t, []scenario{
		{name: "an operators' template", method: "PUT", path: "/api/v1/calendars/office-template", as: asOperator, body: calendarBody(""), status: 201,
			notContains: []string{`"customer":`}},
		{name: "a customer copies it", method: "POST", path: "/api/v1/calendars", as: asAcme, body: `{"copy_of":"office-template","id":"acme-office","name":"Acme office"}`,
			status: 201, contains: []string{`"id":"acme-office"`, `"customer":"acme"`, `"customer_editable":true`, `"name":"Acme office"`}},
		{name: "an id that is taken", method: "POST", path: "/api/v1/calendars", as: asAcme, body: `{"copy_of":"office-template","id":"acme-office"}`,
			status: 409, contains: []string{`"code":"exists"`}},
		{name: "and assigns it to its device", method: "POST", path: "/api/v1/calendars/acme-office/assignments", as: asAcme,
			body: `{"devices":["` + acmeDevice + `"]}`, status: 200, contains: []string{`"devices":["` + acmeDevice + `"]`, `"sites":[]`}},
		{name: "the assignments", method: "GET", path: "/api/v1/calendars/acme-office/assignments", as: asAcme, status: 200,
			contains: []string{`"devices":["` + acmeDevice + `"]`, `"device_types":[]`}},
		{name: "push now", method: "POST", path: "/api/v1/calendars/acme-office/push", as: asAcme, status: 200,
			contains: []string{`"calendar":"acme-office"`, `"date":"2026-11-05"`, `"device":"` + acmeDevice + `"`, `"counts":{`}},
		{name: "the day's pushes", method: "GET", path: "/api/v1/calendars/acme-office/pushes?date=2026-11-05", as: asAcme, status: 200,
			contains: []string{`"device":"` + acmeDevice + `"`, `"program":{`}},
		{name: "the device's pushes", method: "GET", path: dev + "/schedule/pushes?limit=5", as: asAcme, status: 200,
			contains: []string{`"device":"` + acmeDevice + `","pushes":[{`, `"date":"2026-11-05"`}},
		{name: "a limit out of range", method: "GET", path: dev + "/schedule/pushes?limit=0", as: asAcme, status: 400},
		{name: "push the device again", method: "POST", path: dev + "/schedule/push", as: asAcme, status: 200,
			contains: []string{`"device":"` + acmeDevice + `"`, `"calendar":"acme-office"`}},
		{name: "the fleet's status", method: "GET", path: "/api/v1/schedule/status?date=2026-11-05", as: asOperator, status: 200,
			contains: []string{`"date":"2026-11-05"`, `"customers":{"acme":{`}},
		{name: "unassign", method: "DELETE", path: "/api/v1/calendars/acme-office/assignments/device/" + acmeDevice, as: asAcme, status: 204},
		{name: "unassigned", method: "GET", path: "/api/v1/calendars/acme-office/assignments", as: asAcme, status: 200, contains: []string{`"devices":[]`}},
		{name: "delete the copy", method: "DELETE", path: "/api/v1/calendars/acme-office", as: asOperator, status: 204},
		{name: "gone", method: "GET", path: "/api/v1/calendars/acme-office", as: asAcme, status: 404},
	})
}
