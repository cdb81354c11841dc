package ui_test

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/store"
)

// officeCalendar is an office's calendar for the test chillers: open
// weekdays, closed at weekends, on Japan's holidays and over the new year.
func officeCalendar(id, customer string) store.Calendar {
	return store.Calendar{
		ID: id, Customer: customer, Name: "Office", DeviceType: "chiller", TimeZone: "Asia/Tokyo", PushAt: "00:05",
		CustomerEditable: customer != "",
		DayTypes: []store.CalendarDayType{
			{Name: "weekday", Label: "Weekday", Steps: []store.CalendarStep{
				{At: "07:00", Set: map[string]any{"chw_setpoint": 7.0}}, {At: "19:00", Set: map[string]any{"chw_setpoint": 12.0}}}},
			{Name: "closed", Label: "Closed", Steps: []store.CalendarStep{{At: "00:00", Set: map[string]any{"chw_setpoint": 12.0}}}},
		},
		Weekly: store.CalendarWeek{"monday": "weekday", "tuesday": "weekday", "wednesday": "weekday", "thursday": "weekday",
			"friday": "weekday", "saturday": "closed", "sunday": "closed"},
		Holidays: store.CalendarHolidays{Country: "JP", DayType: "closed"},
		Closures: []store.CalendarClosure{{Name: "年末年始", From: "12-29", To: "01-03", DayType: "closed"}},
	}
}

// seedCalendars gives each customer an office calendar, globex's on its
// site, and the operators a template.
func (e *env) seedCalendars() {
	t := e.t
	for _, c := range []store.Calendar{officeCalendar("acme-office", "acme"), officeCalendar("globex-office", "globex"), officeCalendar("office-template", "")} {
		if _, _, err := e.st.PutCalendar(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.PutAssignments([]store.Assignment{{Kind: store.AssignSite, Customer: "globex", Target: "osaka-dome", Calendar: "globex-office"}}); err != nil {
		t.Fatal(err)
	}
}

// calendarJSON is a stored calendar as bytes, to tell whether a refused
// change left it as it was.
func (e *env) calendarJSON(id string) string {
	e.t.Helper()
	c, err := e.st.GetCalendar(id)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// dayCell finds a day of the year view: its class and title.
func dayCell(t *testing.T, body, date string) (class, title string) {
	t.Helper()
	m := regexp.MustCompile(`<td class="([^"]*)" data-date="` + date + `" title="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no cell of %s in the year view", date)
	}
	return m[1], html.UnescapeString(m[2])
}

func contains(t *testing.T, what string, r response, status int, fragments ...string) {
	t.Helper()
	body := html.UnescapeString(r.body)
	if r.status != status {
		t.Errorf("%s: status %d, want %d\n%s", what, r.status, status, excerpt(body))
	}
	for _, f := range fragments {
		if !strings.Contains(body, f) {
			t.Errorf("%s: the answer lacks %q\n%s", what, f, excerpt(body))
		}
	}
}

// excerpt is the main part of a page, for a failure message.
func excerpt(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	if len(body) > 3000 {
		body = body[:3000] + "…"
	}
	return body
}

// TestCalendarYearView: a customer sees its calendar's year, each day
// coloured by its day type, holidays and closures named, in both
// languages; another customer's calendar is not there.
func TestCalendarYearView(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)

	r := e.get(c, "/calendars")
	contains(t, "the list", r, http.StatusOK, "acme-office", "office-template")
	if strings.Contains(r.body, "globex") {
		t.Errorf("acme's list names globex:\n%s", excerpt(r.body))
	}
	if r := e.get(c, "/"); !strings.Contains(r.body, `href="/calendars"`) {
		t.Error("the navigation has no link to the calendars")
	}

	r = e.get(c, "/calendars/acme-office?year=2026")
	contains(t, "the year view", r, http.StatusOK, "Year 2026", "November", "Weekday", "Closed",
		"Public holiday: 勤労感謝の日", "Closure: 年末年始", `popovertarget="day-2026-11-23"`)
	for _, tc := range []struct{ date, class, title string }{
		{"2026-11-23", "day dt-1 named src-holiday", "2026-11-23 · Closed · Public holiday: 勤労感謝の日"},
		{"2026-11-24", "day dt-0", "2026-11-24 · Weekday · Weekly pattern, Tuesday"},
		{"2026-11-28", "day dt-1", "2026-11-28 · Closed · Weekly pattern, Saturday"},
		{"2026-12-31", "day dt-1 named src-closure", "2026-12-31 · Closed · Closure: 年末年始"},
	} {
		if class, title := dayCell(t, r.body, tc.date); class != tc.class || title != tc.title {
			t.Errorf("%s: class %q title %q; want %q and %q", tc.date, class, title, tc.class, tc.title)
		}
	}
	// The named days under the year: the closure's days at the year's
	// start and end each in one row.
	for _, row := range []string{"2026-01-01 – 2026-01-03", "2026-12-29 – 2026-12-31"} {
		if !strings.Contains(html.UnescapeString(r.body), row) {
			t.Errorf("the named days lack %s", row)
		}
	}

	ja := e.do(c, http.MethodGet, "/calendars/acme-office?year=2026", nil, map[string]string{"Accept-Language": "ja"})
	contains(t, "the year view in Japanese", ja, http.StatusOK, "2026 年", "11月", "祝日: 勤労感謝の日", "休業期間: 年末年始", "週間パターン")
	if _, title := dayCell(t, ja.body, "2026-11-24"); title != "2026-11-24 · Weekday · 週間パターン、火曜日" {
		t.Errorf("a weekday in Japanese: %q", title)
	}

	for _, path := range []string{"/calendars/acme-office?year=1999", "/calendars/acme-office?year=x"} {
		contains(t, path, e.get(c, path), http.StatusBadRequest, "a year from 2000 to 2100")
	}
	if r := e.get(c, "/calendars/globex-office"); r.status != http.StatusNotFound || strings.Contains(r.body, "globex") {
		t.Errorf("globex's calendar as acme: %d", r.status)
	}
}

// TestCalendarEdits: a customer's editor changes each part of an editable
// calendar; a change the gate refuses shows why on the page, keeps what
// was typed, and stores nothing.
func TestCalendarEdits(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	const page = "/calendars/acme-office"

	week := func(friday string) url.Values {
		f := url.Values{"year": {"2026"}}
		for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
			f.Set("w."+d, "weekday")
		}
		f.Set("w.saturday", "closed")
		f.Set("w.sunday", "closed")
		f.Set("w.friday", friday)
		return f
	}
	refused := []struct {
		name, path string
		form       url.Values
		want       []string
	}{
		{"a day type the calendar lacks", "/weekly", week("party"), []string{`Not saved: calendar weekly.friday: "party" is not a day type of this calendar`}},
		{"a step beyond the device type's range", "/day-types", url.Values{"year": {"2026"}, "rows": {"2"},
			"dt.0.name": {"weekday"}, "dt.0.label": {"Weekday"}, "dt.0.steps": {"07:00 chw_setpoint=20\n19:00 chw_setpoint=12"},
			"dt.1.name": {"closed"}, "dt.1.steps": {"00:00 chw_setpoint=12"}},
			[]string{"day_types[weekday].steps[0] (07:00)", "chw_setpoint", "07:00 chw_setpoint=20"}},
		{"steps that cannot be read", "/day-types", url.Values{"year": {"2026"}, "rows": {"2"},
			"dt.0.name": {"weekday"}, "dt.0.steps": {"seven chw_setpoint=7"}, "dt.1.name": {"closed"}, "dt.1.steps": {"00:00 chw_setpoint=12"}},
			[]string{`Not saved: steps of day type weekday: line 1 "seven chw_setpoint=7": a step starts with its time of day`, "seven chw_setpoint=7"}},
		{"steps out of order", "/day-types", url.Values{"year": {"2026"}, "rows": {"2"},
			"dt.0.name": {"weekday"}, "dt.0.steps": {"19:00 chw_setpoint=12\n07:00 chw_setpoint=7"}, "dt.1.name": {"closed"}, "dt.1.steps": {"00:00 chw_setpoint=12"}},
			[]string{"day_types[weekday].steps[1].at", "not after the step before it"}},
		{"removing a day type still in use", "/day-types", url.Values{"year": {"2026"}, "rows": {"2"},
			"dt.0.name": {"weekday"}, "dt.0.steps": {"07:00 chw_setpoint=7"}, "dt.1.name": {"closed"}, "dt.1.steps": {"00:00 chw_setpoint=12"}, "dt.1.remove": {"on"}},
			[]string{`weekly.saturday: "closed" is not a day type`}},
		{"overlapping closures", "/closures", url.Values{"year": {"2026"}, "rows": {"2"},
			"cl.0.name": {"年末年始"}, "cl.0.from": {"12-29"}, "cl.0.to": {"01-03"}, "cl.0.day_type": {"closed"},
			"cl.1.name": {"大掃除"}, "cl.1.from": {"12-28"}, "cl.1.to": {"12-30"}, "cl.1.day_type": {"closed"}},
			[]string{`closure "大掃除" overlaps closure "年末年始"`, `value="大掃除"`}},
		{"an exception with a day type and steps", "/exceptions", url.Values{"year": {"2026"}, "rows": {"1"},
			"ex.0.date": {"2026-10-01"}, "ex.0.name": {"創立記念日"}, "ex.0.day_type": {"closed"}, "ex.0.steps": {"09:00 chw_setpoint=9"}},
			[]string{"exceptions[2026-10-01]: both a day type and steps"}},
		{"a season with a bad date", "/seasons", url.Values{"year": {"2026"}, "rows": {"1"}, "se.0.name": {"summer"}, "se.0.from": {"06-31"}, "se.0.to": {"09-30"},
			"se.0.w.monday": {"weekday"}, "se.0.w.tuesday": {"weekday"}, "se.0.w.wednesday": {"weekday"}, "se.0.w.thursday": {"weekday"},
			"se.0.w.friday": {"weekday"}, "se.0.w.saturday": {"weekday"}, "se.0.w.sunday": {"closed"}},
			[]string{"seasons[0] (summer): 06-31 to 09-30: not days of a year"}},
		{"a form without its row count", "/closures", url.Values{"year": {"2026"}}, []string{"row count"}},
	}
	for _, tc := range refused {
		before := e.calendarJSON("acme-office")
		r := e.post(c, page+tc.path, tc.form)
		contains(t, tc.name, r, http.StatusBadRequest, tc.want...)
		if !strings.Contains(r.body, `role="alert"`) {
			t.Errorf("%s: the error is not announced", tc.name)
		}
		if after := e.calendarJSON("acme-office"); after != before {
			t.Errorf("%s: a refused change was stored:\n%s\nthen\n%s", tc.name, before, after)
		}
	}

	// Changes that pass, each stored whole.
	r := e.post(c, page+"/weekly", week("closed"))
	if r.status != http.StatusSeeOther || r.location != page+"?year=2026#weekly" {
		t.Fatalf("weekly: %d to %q", r.status, r.location)
	}
	contains(t, "after a change", e.get(c, r.location), http.StatusOK, "Saved.")
	r = e.post(c, page+"/day-types", url.Values{"year": {"2026"}, "rows": {"3"},
		"dt.0.name": {"weekday"}, "dt.0.label": {"平日"}, "dt.0.steps": {"7:00 → chw_setpoint=6.5, max_load=80\n19:00 chw_setpoint=12"},
		"dt.1.name": {"closed"}, "dt.1.steps": {"00:00 chw_setpoint=12"},
		"dt.2.new": {"on"}, "dt.2.name": {"half"}, "dt.2.label": {"Half day"}, "dt.2.steps": {"08:00 chw_setpoint=8\n13:00 chw_setpoint=12"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("day types: %d\n%s", r.status, excerpt(html.UnescapeString(r.body)))
	}
	r = e.post(c, page+"/closures", url.Values{"year": {"2026"}, "rows": {"3"},
		"cl.0.name": {"年末年始"}, "cl.0.from": {"12-29"}, "cl.0.to": {"01-03"}, "cl.0.day_type": {"closed"},
		"cl.1.name": {"お盆"}, "cl.1.from": {"08-13"}, "cl.1.to": {"08-16"}, "cl.1.day_type": {"half"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("closures: %d\n%s", r.status, excerpt(html.UnescapeString(r.body)))
	}
	r = e.post(c, page+"/exceptions", url.Values{"year": {"2026"}, "rows": {"2"},
		"ex.0.date": {"2026-10-01"}, "ex.0.name": {"創立記念日"}, "ex.0.steps": {"09:00 chw_setpoint=9"},
		"ex.1.date": {"2026-12-25"}, "ex.1.name": {"Year-end party"}, "ex.1.day_type": {"half"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("exceptions: %d\n%s", r.status, excerpt(html.UnescapeString(r.body)))
	}
	got, err := e.st.GetCalendar("acme-office")
	if err != nil {
		t.Fatal(err)
	}
	if got.Weekly["friday"] != "closed" || len(got.DayTypes) != 3 || got.DayTypes[0].Label != "平日" ||
		got.DayTypes[0].Steps[0].At != "07:00" || got.DayTypes[0].Steps[0].Set["chw_setpoint"] != 6.5 || got.DayTypes[0].Steps[0].Set["max_load"] != 80.0 ||
		len(got.Closures) != 2 || got.Closures[1].Name != "お盆" || len(got.Exceptions) != 2 || got.Exceptions[0].Steps[0].Set["chw_setpoint"] != 9.0 {
		t.Errorf("the calendar after the changes: %+v", got)
	}

	r = e.get(c, page+"?year=2026")
	for _, tc := range []struct{ date, class string }{
		{"2026-08-14", "day dt-2 named src-closure"},
		{"2026-10-01", "day dt-own named src-exception"},
		{"2026-12-25", "day dt-2 named src-exception"},
		{"2026-11-27", "day dt-1"}, // a Friday, closed now
	} {
		if class, _ := dayCell(t, r.body, tc.date); class != tc.class {
			t.Errorf("%s after the changes: class %q, want %q", tc.date, class, tc.class)
		}
	}
	contains(t, "the edited calendar", r, http.StatusOK, "07:00 chw_setpoint=6.5, max_load=80", "Exception: 創立記念日", "09:00 → chw_setpoint=9")

	// Removing a row.
	r = e.post(c, page+"/closures", url.Values{"year": {"2026"}, "rows": {"2"},
		"cl.0.name": {"年末年始"}, "cl.0.from": {"12-29"}, "cl.0.to": {"01-03"}, "cl.0.day_type": {"closed"}, "cl.0.remove": {"on"},
		"cl.1.name": {"お盆"}, "cl.1.from": {"08-13"}, "cl.1.to": {"08-16"}, "cl.1.day_type": {"half"}})
	if got, _ := e.st.GetCalendar("acme-office"); r.status != http.StatusSeeOther || len(got.Closures) != 1 || got.Closures[0].Name != "お盆" {
		t.Errorf("removing a closure: %d, closures %+v", r.status, got.Closures)
	}
}

// TestCalendarReadOnly: a calendar the operators keep, and a template, are
// shown without forms and with a note; a change sent anyway is refused.
func TestCalendarReadOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	cal, _ := e.st.GetCalendar("acme-office")
	cal.CustomerEditable = false
	if _, _, err := e.st.PutCalendar(cal); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(acmeUser)
	r := e.get(c, "/calendars/acme-office")
	contains(t, "a calendar the operators keep", r, http.StatusOK, "Your energy-service provider keeps this calendar", "Weekly pattern")
	if strings.Contains(r.body, `action="/calendars/acme-office/weekly"`) || strings.Contains(r.body, `name="file"`) {
		t.Error("a read-only calendar shows forms")
	}
	before := e.calendarJSON("acme-office")
	r = e.post(c, "/calendars/acme-office/weekly", url.Values{"year": {"2026"}, "w.monday": {"closed"}})
	if r.status != http.StatusForbidden || e.calendarJSON("acme-office") != before {
		t.Errorf("a change to a read-only calendar: %d", r.status)
	}
	r = e.get(c, "/calendars/office-template")
	contains(t, "a template", r, http.StatusOK, "This is a template", "Make a copy")

	// A viewer reads an editable calendar, and changes nothing.
	cal.CustomerEditable = true
	if _, _, err := e.st.PutCalendar(cal); err != nil {
		t.Fatal(err)
	}
	acmeAccount, _ := e.st.GetUser(acmeUser)
	if err := e.st.CreateUser(store.User{Email: "viewer@acme.example", Role: store.RoleCustomer, Customer: "acme", Access: store.AccessViewer, PasswordHash: acmeAccount.PasswordHash}); err != nil {
		t.Fatal(err)
	}
	viewer := e.signIn("viewer@acme.example")
	r = e.get(viewer, "/calendars/acme-office")
	contains(t, "a viewer", r, http.StatusOK, "You may read this calendar but not change it.")
	if strings.Contains(r.body, `action="/calendars/acme-office/weekly"`) || strings.Contains(r.body, "Retry now") || strings.Contains(r.body, "Push today") {
		t.Error("a viewer is shown forms that change the calendar")
	}
	before = e.calendarJSON("acme-office")
	if r := e.post(viewer, "/calendars/acme-office/closures", url.Values{"year": {"2026"}, "rows": {"0"}}); r.status != http.StatusForbidden || e.calendarJSON("acme-office") != before {
		t.Errorf("a viewer's change: %d", r.status)
	}
	if r := e.post(viewer, "/calendars/office-template/copy", url.Values{"id": {"viewer-copy"}}); r.status != http.StatusForbidden {
		t.Errorf("a viewer's copy: %d", r.status)
	}

	// A copy is the customer's own and editable.
	r = e.post(c, "/calendars/office-template/copy", url.Values{"id": {"acme-copy"}, "name": {"Our office"}})
	if r.status != http.StatusSeeOther || r.location != "/calendars/acme-copy" {
		t.Fatalf("copy: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	if got, err := e.st.GetCalendar("acme-copy"); err != nil || got.Customer != "acme" || !got.CustomerEditable || got.Name != "Our office" {
		t.Errorf("the copy: %+v %v", got, err)
	}
	contains(t, "a copy under a taken id", e.post(c, "/calendars/office-template/copy", url.Values{"id": {"acme-office"}}),
		http.StatusConflict, "calendar id \"acme-office\" is taken", `value="acme-office"`)
}

// TestCalendarFiles: CSV out and in (a bad file changes nothing and lists
// its lines), the iCalendar file and the subscription address.
func TestCalendarFiles(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	r := e.get(c, "/calendars/acme-office/closures.csv")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.body, "年末年始") {
		t.Errorf("CSV: %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	upload := func(file string) response {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("year", "2026")
		fw, _ := mw.CreateFormFile("file", "closures.csv")
		_, _ = io.WriteString(fw, file)
		_ = mw.Close()
		return e.upload(c, "/calendars/acme-office/closures.csv", mw.FormDataContentType(), &b)
	}
	before := e.calendarJSON("acme-office")
	r = upload("kind,name,from,to,day_type\nclosure,お盆,08-13,08-16,closed\nclosure,x,13-01,13-02,closed\n")
	contains(t, "a CSV file with a bad row", r, http.StatusBadRequest, "Not saved:", "Line 3:")
	if e.calendarJSON("acme-office") != before {
		t.Error("a refused CSV file changed the calendar")
	}
	r = upload("kind,name,from,to,day_type\nclosure,お盆,08-13,08-16,closed\nexception,創立記念日,2026-10-01,,closed\n")
	if r.status != http.StatusSeeOther {
		t.Fatalf("a good CSV file: %d\n%s", r.status, excerpt(r.body))
	}
	if got, _ := e.st.GetCalendar("acme-office"); len(got.Closures) != 1 || got.Closures[0].Name != "お盆" || len(got.Exceptions) != 1 {
		t.Errorf("after the import: %+v %+v", got.Closures, got.Exceptions)
	}

	r = e.get(c, "/calendars/acme-office/calendar.ics")
	if r.status != http.StatusOK || !strings.HasPrefix(r.body, "BEGIN:VCALENDAR") || !strings.Contains(r.body, "お盆") {
		t.Errorf("iCalendar: %d\n%s", r.status, r.body)
	}

	contains(t, "no address yet", e.get(c, "/calendars/acme-office"), http.StatusOK, "Make a subscription address")
	if r := e.post(c, "/calendars/acme-office/feed", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("feed address: %d", r.status)
	}
	cal, _ := e.st.GetCalendar("acme-office")
	if cal.FeedSecret == "" {
		t.Fatal("no feed secret after asking for an address")
	}
	contains(t, "the address", e.get(c, "/calendars/acme-office"), http.StatusOK, "/ical/acme-office/"+cal.FeedSecret+".ics")
	e.post(c, "/calendars/acme-office/feed", url.Values{"rotate": {"on"}})
	if again, _ := e.st.GetCalendar("acme-office"); again.FeedSecret == cal.FeedSecret || again.FeedSecret == "" {
		t.Error("rotating kept the old address")
	}
}

func (e *env) upload(c *http.Client, path, contentType string, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", e.srv.URL)
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
}

// tokyoToday is the date of the calendars' zone, which pushes are kept by.
func tokyoToday(t *testing.T) string {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return time.Now().In(loc).Format(time.DateOnly)
}

// TestCalendarOperator: operators see every calendar, create and copy one,
// assign it, push today's programs, see the fleet's pushes, and retry one
// device; the device's page says what it runs today and tomorrow and how
// its last push went.
func TestCalendarOperator(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	// The chillers follow daily programs, as the built-in type does.
	chiller, err := e.types.Get("chiller")
	if err != nil {
		t.Fatal(err)
	}
	chiller.Settings = append(chiller.Settings, store.Setting{Key: program.Key, Type: store.SettingObject, Schema: json.RawMessage(program.JSONSchema)})
	if _, err := e.types.Put(chiller); err != nil {
		t.Fatal(err)
	}

	r := e.get(op, "/admin/calendars")
	contains(t, "the operators' list", r, http.StatusOK, "acme-office", "globex-office", "office-template", "Templates", "Calendar of globex")
	if !strings.Contains(e.get(op, "/").body, `href="/admin/calendars"`) {
		t.Error("the operators' navigation has no link to the calendars")
	}
	if r := e.get(op, "/calendars"); r.status != http.StatusSeeOther || r.location != "/admin/calendars" {
		t.Errorf("the customers' list as an operator: %d to %q, want their own list", r.status, r.location)
	}

	// Create: a taken ID and bad steps are refused with what was typed.
	form := url.Values{"id": {"globex-lab"}, "name": {"Lab"}, "customer": {"globex"}, "device_type": {"chiller"},
		"time_zone": {"Asia/Tokyo"}, "push_at": {"00:05"}, "holidays_country": {"JP"}, "customer_editable": {"on"},
		"open_steps": {"06:30 chw_setpoint=6\n22:00 chw_setpoint=12"}, "closed_steps": {"00:00 chw_setpoint=12"}}
	taken := url.Values{}
	for k, v := range form {
		taken[k] = v
	}
	taken.Set("id", "acme-office")
	contains(t, "a taken id", e.post(op, "/admin/calendars", taken), http.StatusConflict, `The calendar ID "acme-office" is taken`)
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("open_steps", "06:30 chw_setpoint=99")
	contains(t, "steps out of range", e.post(op, "/admin/calendars", bad), http.StatusBadRequest, "Not created:", "chw_setpoint", "06:30 chw_setpoint=99")
	if _, err := e.st.GetCalendar("globex-lab"); err == nil {
		t.Fatal("a refused calendar was stored")
	}
	r = e.post(op, "/admin/calendars", form)
	if r.status != http.StatusSeeOther || r.location != "/calendars/globex-lab" {
		t.Fatalf("create: %d to %q\n%s", r.status, r.location, excerpt(html.UnescapeString(r.body)))
	}
	if got, err := e.st.GetCalendar("globex-lab"); err != nil || got.Customer != "globex" || got.Weekly["saturday"] != "closed" || got.Holidays.DayType != "closed" {
		t.Errorf("created: %+v %v", got, err)
	}

	// Copy a template to acme, from the list.
	r = e.post(op, "/admin/calendars/copy", url.Values{"from": {"office-template"}, "id": {"acme-annex"}, "customer": {"acme"}})
	if r.status != http.StatusSeeOther || r.location != "/calendars/acme-annex" {
		t.Fatalf("copy: %d to %q", r.status, r.location)
	}

	// Assign acme's office to its device, in bulk, all or none.
	contains(t, "assigning a device that does not exist", e.post(op, "/admin/calendars/acme-office/assignments",
		url.Values{"devices": {"acme-chiller-1, nowhere-1"}}), http.StatusBadRequest, "nowhere-1")
	if as, _ := e.st.ListAssignments(); len(as) != 1 {
		t.Errorf("a refused assignment stored some: %+v", as)
	}
	r = e.post(op, "/admin/calendars/acme-office/assignments", url.Values{"devices": {"acme-chiller-1"}, "sites": {"tokyo-tower"}, "device_types": {"chiller"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("assign: %d\n%s", r.status, excerpt(html.UnescapeString(r.body)))
	}
	r = e.get(op, "/calendars/acme-office")
	contains(t, "the assignments", r, http.StatusOK, "acme-chiller-1", "tokyo-tower", "Settings", "Push today's program now")

	// Push today's programs; the fleet's pushes count them.
	r = e.post(op, "/calendars/acme-office/push", url.Values{})
	if r.status != http.StatusSeeOther {
		t.Fatalf("push: %d\n%s", r.status, excerpt(r.body))
	}
	contains(t, "after the push", e.get(op, r.location), http.StatusOK, "Pushed to 1 devices", "acme-chiller-1", "Retry now")
	rec, err := e.st.GetPushRecord("acme-chiller-1", tokyoToday(t))
	if err != nil || rec.Status != store.PushPending {
		t.Fatalf("the push record of the online device: %+v %v; want pending", rec, err)
	}
	r = e.get(op, "/admin/calendars?date="+tokyoToday(t))
	contains(t, "the fleet's pushes", r, http.StatusOK, "Pushes of "+tokyoToday(t))
	if !regexp.MustCompile(`<th scope="row">acme</th>(<td class="num">\d+</td>){5}<td class="num">1</td>`).MatchString(r.body) {
		t.Errorf("the fleet's pushes lack acme's one push (%s):\n%s", rec.Status, excerpt(r.body))
	}
	contains(t, "a bad date", e.get(op, "/admin/calendars?date=2026-13-01"), http.StatusBadRequest, "2026-13-01")

	// The device's page, as its customer sees it.
	acme := e.signIn(acmeUser)
	r = e.get(acme, "/devices/acme-chiller-1")
	contains(t, "the device's schedule", r, http.StatusOK, "Operating calendar", "Today", "Tomorrow", "Last push", "acme-office", "→ chw_setpoint=",
		`<span class="band-fair">Pending</span>`, "not verified yet")
	r = e.post(acme, "/devices/acme-chiller-1/schedule/push", url.Values{})
	if r.status != http.StatusSeeOther || r.location != "/devices/acme-chiller-1#schedule" {
		t.Fatalf("retry: %d to %q", r.status, r.location)
	}
	r = e.get(acme, r.location)
	contains(t, "after a retry", r, http.StatusOK, "Today's program sent to acme-chiller-1 again")
	if again, _ := e.st.GetPushRecord("acme-chiller-1", tokyoToday(t)); len(again.Attempts) == 0 || !again.Attempts[0].At.After(rec.Attempts[0].At) {
		t.Errorf("the retry did not push: %+v, before %+v", again, rec)
	}
	contains(t, "a device that follows its site's calendar", e.get(e.signIn(globexUser), "/devices/globex-chiller-9"), http.StatusOK,
		"Operating calendar", "globex-office", "No program has been pushed to this device yet.")

	// Settings, unassigning and deleting.
	r = e.post(op, "/admin/calendars/acme-office/settings", url.Values{"year": {"2026"}, "name": {"Head office"}, "device_type": {"chiller"},
		"time_zone": {"Mars/Olympus"}, "push_at": {"00:05"}, "holidays_country": {"JP"}, "holidays_day_type": {"closed"}})
	contains(t, "a bad zone", r, http.StatusBadRequest, "time_zone", `value="Mars/Olympus"`)
	r = e.post(op, "/admin/calendars/acme-office/settings", url.Values{"year": {"2026"}, "name": {"Head office"}, "device_type": {"chiller"},
		"time_zone": {"Asia/Tokyo"}, "push_at": {"00:10"}, "holidays_country": {""}})
	if got, _ := e.st.GetCalendar("acme-office"); r.status != http.StatusSeeOther || got.Name != "Head office" || got.PushAt != "00:10" || got.Holidays.Country != "" || got.CustomerEditable {
		t.Errorf("settings: %d %+v", r.status, got)
	}
	contains(t, "deleting a calendar in use", e.post(op, "/admin/calendars/acme-office/delete", url.Values{}), http.StatusBadRequest, "in use")
	for _, a := range [][2]string{{"device", "acme-chiller-1"}, {"site", "tokyo-tower"}, {"type", "chiller"}} {
		if r := e.post(op, "/admin/calendars/acme-office/unassign", url.Values{"kind": {a[0]}, "target": {a[1]}}); r.status != http.StatusSeeOther {
			t.Errorf("unassign %v: %d", a, r.status)
		}
	}
	contains(t, "the delete's question", e.get(op, "/admin/calendars/acme-office/delete"), http.StatusOK, "Delete the calendar acme-office?")
	if r := e.post(op, "/admin/calendars/acme-office/delete", url.Values{}); r.status != http.StatusSeeOther {
		t.Errorf("delete: %d", r.status)
	}
	if _, err := e.st.GetCalendar("acme-office"); err == nil {
		t.Error("the calendar is still there")
	}
}
