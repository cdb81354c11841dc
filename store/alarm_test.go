package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// An alarm's life: one open alarm per rule and device, repeats counted,
// cleared by its condition or a person, closed once also acknowledged;
// the next firing after that is a new alarm.
func TestAlarmLifecycle(t *testing.T) {
	s, _ := openStore(t)
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	raise := func(at time.Time) (store.Alarm, bool) {
		t.Helper()
		a, activated, err := s.RaiseAlarm(store.Alarm{Rule: "r1", RuleName: "CO2 high", Customer: "acme", Site: "hq", Device: "co2-1",
			Severity: store.SeverityMajor, Message: "co2_ppm 1200", RaisedAt: at, LastAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return a, activated
	}
	a, activated := raise(t0)
	if !activated || a.ID == "" || a.State != store.AlarmActive || a.Count != 1 {
		t.Fatalf("first raise: %+v activated=%v", a, activated)
	}
	again, activated := raise(t0.Add(time.Minute))
	if activated || again.ID != a.ID || again.Count != 2 || !again.LastAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("repeat while active: %+v activated=%v; want the same alarm counted twice, not activated", again, activated)
	}
	cleared, ok, err := s.ClearOpenAlarm("r1", "co2-1", "co2_ppm 800", t0.Add(2*time.Minute))
	if err != nil || !ok || cleared.State != store.AlarmCleared {
		t.Fatalf("clear: %+v %v %v", cleared, ok, err)
	}
	if _, ok, _ := s.ClearOpenAlarm("r1", "co2-1", "", t0.Add(3*time.Minute)); ok {
		t.Error("clearing a cleared alarm changed it")
	}
	// Cleared but not acknowledged: a new firing makes it active again.
	back, activated := raise(t0.Add(4 * time.Minute))
	if !activated || back.ID != a.ID || back.State != store.AlarmActive || back.Count != 3 || !back.ClearedAt.IsZero() {
		t.Errorf("firing again before acknowledgement: %+v activated=%v", back, activated)
	}
	acked, ok, err := s.AcknowledgeAlarm(a.ID, "user:fm@acme.example", "on it", t0.Add(5*time.Minute))
	if err != nil || !ok || !acked.Acknowledged || acked.AckedBy != "user:fm@acme.example" {
		t.Fatalf("acknowledge: %+v %v %v", acked, ok, err)
	}
	if _, ok, _ := s.AcknowledgeAlarm(a.ID, "user:x", "", t0.Add(6*time.Minute)); ok {
		t.Error("acknowledging twice changed the alarm")
	}
	// Cleared by hand after acknowledgement: closed.
	closed, ok, err := s.ClearAlarm(a.ID, "user:fm@acme.example", "replaced the filter", t0.Add(7*time.Minute))
	if err != nil || !ok || closed.Open() {
		t.Fatalf("clear by hand: %+v %v %v", closed, ok, err)
	}
	if n := len(closed.History); n != 6 || closed.History[n-1].Comment != "replaced the filter" {
		t.Errorf("history: %+v", closed.History)
	}
	open, err := s.ListAlarms(store.AlarmFilter{OpenOnly: true})
	if err != nil || len(open) != 0 {
		t.Errorf("open alarms after closing: %+v %v", open, err)
	}
	fresh, activated := raise(t0.Add(8 * time.Minute))
	if !activated || fresh.ID == a.ID || fresh.Count != 1 {
		t.Errorf("firing after the alarm closed: %+v; want a new alarm", fresh)
	}

	// Listing: active first, then newest; filters.
	if _, _, err := s.RaiseAlarm(store.Alarm{Rule: "r2", Customer: "other", Device: "x", Severity: store.SeverityMinor, RaisedAt: t0, LastAt: t0}); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListAlarms(store.AlarmFilter{Customer: "acme"})
	if err != nil || len(all) != 2 || all[0].ID != fresh.ID || all[1].ID != a.ID {
		t.Errorf("acme's alarms: %+v %v", all, err)
	}
	no := false
	if un, _ := s.ListAlarms(store.AlarmFilter{Acknowledged: &no, Customer: "acme"}); len(un) != 1 || un[0].ID != fresh.ID {
		t.Errorf("unacknowledged: %+v", un)
	}
	// Retention prunes closed alarms only.
	if n, err := s.PruneAlarms(t0.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("prune: %d %v; want the one closed alarm", n, err)
	}
	if _, err := s.GetAlarm(a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the pruned alarm: %v", err)
	}
	if _, _, err := s.AcknowledgeAlarm("nope", "x", "", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("acknowledging an unknown alarm: %v", err)
	}
}

func TestAlarmRuleShape(t *testing.T) {
	s, _ := openStore(t)
	if err := s.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	r := store.AlarmRule{ID: "r1", Name: "CO2 high", Customer: "acme", DeviceType: "iaq", Kind: "telemetry", Severity: store.SeverityMajor, Condition: "co2_ppm > 1000"}
	if _, created, err := s.PutAlarmRule(r); err != nil || !created {
		t.Fatalf("put: %v %v", created, err)
	}
	for name, bad := range map[string]store.AlarmRule{
		"severity":         {ID: "r2", Name: "x", Kind: "telemetry", Severity: "urgent"},
		"unknown customer": {ID: "r3", Name: "x", Customer: "nobody", Kind: "telemetry", Severity: store.SeverityMinor},
		"no name":          {ID: "r4", Kind: "telemetry", Severity: store.SeverityMinor},
	} {
		if _, _, err := s.PutAlarmRule(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	moved := r
	moved.Customer = ""
	if _, _, err := s.PutAlarmRule(moved); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("moving a rule to another owner: %v", err)
	}
	if err := s.DeleteAlarmRule("r1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlarmRule("r1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}

// A file written before alarms existed opens with its records kept and
// alarms working: the migration adds the buckets and nothing else.
func TestAlarmMigrationKeepsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hearth.db")
	old, err := store.OpenAtSchemaVersion(path, 8) // before alarms and notifications
	if err != nil {
		t.Fatal(err)
	}
	if err := old.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := old.CreateDevice(store.Device{Name: "co2-1", Customer: "acme", Site: store.DefaultSite}); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetDevice("co2-1"); err != nil {
		t.Errorf("a device after the upgrade: %v", err)
	}
	if _, _, err := s.PutAlarmRule(store.AlarmRule{ID: "r", Name: "r", Customer: "acme", Severity: store.SeverityMinor}); err != nil {
		t.Errorf("a rule after the upgrade: %v", err)
	}
}
