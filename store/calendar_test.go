package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// calendarFixture is a store with customer acme, its site hq and device
// ch-1 there, and customer globex.
func calendarFixture(t *testing.T) *store.Store {
	t.Helper()
	s, _ := openStore(t)
	for _, c := range []string{"acme", "globex"} {
		mustOK(t, s.CreateCustomer(store.Customer{Name: c}))
	}
	mustOK(t, s.CreateSite(store.Site{Customer: "acme", Name: "hq"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "ch-1", Customer: "acme", Site: "hq", Type: "chiller"}))
	return s
}

func testCalendar(id, customer string) store.Calendar {
	return store.Calendar{ID: id, Customer: customer, Name: "Office", TimeZone: "Asia/Tokyo", PushAt: "00:05",
		DayTypes: []store.CalendarDayType{{Name: "weekday", Steps: []store.CalendarStep{{At: "07:00", Set: map[string]any{"mode": "cooling"}}}}},
		Weekly:   store.CalendarWeek{"monday": "weekday"}}
}

func TestCalendarsAndAssignments(t *testing.T) {
	t.Parallel()
	s := calendarFixture(t)
	c, created, err := s.PutCalendar(testCalendar("office", "acme"))
	mustOK(t, err)
	if !created || c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Fatalf("created %+v", c)
	}
	c.Name = "Head office"
	c2, created, err := s.PutCalendar(c)
	mustOK(t, err)
	if created || !c2.CreatedAt.Equal(c.CreatedAt) || c2.Name != "Head office" {
		t.Errorf("replaced %+v", c2)
	}
	moved := c2
	moved.Customer = "globex"
	if _, _, err := s.PutCalendar(moved); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("moving a calendar to another customer: %v", err)
	}
	if _, _, err := s.PutCalendar(testCalendar("x", "nobody")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a calendar of a customer that does not exist: %v", err)
	}
	_, _, err = s.PutCalendar(testCalendar("template", ""))
	mustOK(t, err)

	// Assignments: the calendar must be the customer's own, the target
	// its own; all or none are stored.
	mustOK(t, s.PutAssignments([]store.Assignment{
		{Kind: store.AssignDevice, Customer: "acme", Target: "ch-1", Calendar: "office"},
		{Kind: store.AssignSite, Customer: "acme", Target: "hq", Calendar: "office"},
		{Kind: store.AssignType, Customer: "acme", Target: "chiller", Calendar: "office"},
	}))
	for _, tt := range []struct {
		a    store.Assignment
		want error
	}{
		{store.Assignment{Kind: store.AssignDevice, Customer: "acme", Target: "ch-1", Calendar: "template"}, store.ErrInvalid},
		{store.Assignment{Kind: store.AssignDevice, Customer: "globex", Target: "ch-1", Calendar: "office"}, store.ErrInvalid},
		{store.Assignment{Kind: store.AssignDevice, Customer: "acme", Target: "nope", Calendar: "office"}, store.ErrNotFound},
		{store.Assignment{Kind: store.AssignSite, Customer: "acme", Target: "nowhere", Calendar: "office"}, store.ErrNotFound},
		{store.Assignment{Kind: "building", Customer: "acme", Target: "hq", Calendar: "office"}, store.ErrInvalid},
		{store.Assignment{Kind: store.AssignSite, Customer: "acme", Target: "hq", Calendar: "missing"}, store.ErrNotFound},
	} {
		err := s.PutAssignments([]store.Assignment{{Kind: store.AssignDevice, Customer: "acme", Target: "ch-1", Calendar: "office"}, tt.a})
		if !errors.Is(err, tt.want) {
			t.Errorf("assign %+v: %v, want %v", tt.a, err, tt.want)
		}
	}
	as, err := s.ListAssignments()
	mustOK(t, err)
	if len(as) != 3 {
		t.Errorf("%d assignments after refused batches, want 3: %+v", len(as), as)
	}

	// A calendar in use is not deleted; the refusal names what uses it.
	err = s.DeleteCalendar("office")
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "device ch-1") {
		t.Errorf("delete a calendar in use: %v", err)
	}
	mustOK(t, s.DeleteAssignment(store.AssignType, "acme", "chiller"))
	mustOK(t, s.DeleteAssignment(store.AssignSite, "acme", "hq"))
	// Deleting the device removes its assignment; then the calendar goes.
	mustOK(t, s.DeleteDevice("ch-1"))
	mustOK(t, s.DeleteCalendar("office"))
	if _, err := s.GetCalendar("office"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get a deleted calendar: %v", err)
	}
}

func TestPushRecords(t *testing.T) {
	t.Parallel()
	s := calendarFixture(t)
	prog := json.RawMessage(`{"date":"2026-12-07","steps":[{"at":"07:00","set":{"mode":"cooling"}}]}`)
	var rs []store.PushRecord
	for _, d := range []string{"2026-12-05", "2026-12-06", "2026-12-07"} {
		rs = append(rs, store.PushRecord{Device: "ch-1", Customer: "acme", Date: d, Calendar: "office", Program: prog, Status: store.PushPending})
	}
	rs = append(rs, store.PushRecord{Device: "ch-2", Customer: "acme", Date: "2026-12-07", Calendar: "office", Program: prog, Status: store.PushVerified})
	mustOK(t, s.PutPushRecords(rs))
	got, err := s.PushRecords("ch-1", nil)
	mustOK(t, err)
	if len(got) != 3 || got[0].Date != "2026-12-07" || got[2].Date != "2026-12-05" {
		t.Errorf("a device's records, newest first: %+v", got)
	}
	today, err := s.PushRecords("", func(_, date string) bool { return date == "2026-12-07" })
	mustOK(t, err)
	if len(today) != 2 {
		t.Errorf("%d records of the day, want 2", len(today))
	}
	n, err := s.PrunePushRecords("2026-12-07")
	mustOK(t, err)
	if n != 2 {
		t.Errorf("pruned %d, want 2", n)
	}
	if _, err := s.GetPushRecord("ch-1", "2026-12-06"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a pruned record: %v", err)
	}
	r, err := s.GetPushRecord("ch-1", "2026-12-07")
	mustOK(t, err)
	if string(r.Program) != string(prog) {
		t.Errorf("program kept as %s", r.Program)
	}
	mustOK(t, s.DeleteDevice("ch-1"))
	if left, _ := s.PushRecords("ch-1", nil); len(left) != 0 {
		t.Errorf("a deleted device keeps %d push records", len(left))
	}
}
