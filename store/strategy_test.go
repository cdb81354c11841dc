package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

func TestStrategySettingsAndChanges(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, s.CreateCustomer(store.Customer{Name: "b"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "ch-1", Customer: "a", Site: "default"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "ch-b", Customer: "b", Site: "default"}))
	now := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	mustOK(t, s.PutStrategySetting(store.StrategySetting{Customer: "a", Site: "default", Strategy: "setpoint_reset", Enabled: true, UpdatedAt: now}))
	mustOK(t, s.PutStrategySetting(store.StrategySetting{Customer: "a", Site: "default", Strategy: "setpoint_reset", Device: "ch-1", UpdatedAt: now}))
	// A site or device that is not there, or a device of another site, is refused.
	wantErr(t, s.PutStrategySetting(store.StrategySetting{Customer: "a", Site: "nowhere", Strategy: "setpoint_reset"}), store.ErrNotFound)
	wantErr(t, s.PutStrategySetting(store.StrategySetting{Customer: "a", Site: "default", Strategy: "setpoint_reset", Device: "ch-b"}), store.ErrNotFound)
	wantErr(t, s.PutStrategySetting(store.StrategySetting{Customer: "a", Site: "default", Strategy: "bad name"}), store.ErrInvalid)
	got, err := s.StrategySettings("a", "default")
	mustOK(t, err)
	if len(got) != 2 || got[0].Device != "" || !got[0].Enabled || got[1].Device != "ch-1" || got[1].Enabled {
		t.Fatalf("settings: %+v; want the site's, then the device's", got)
	}
	if all, _ := s.StrategySettings("", ""); len(all) != 2 {
		t.Errorf("every setting: %+v", all)
	}
	mustOK(t, s.DeleteStrategySetting("a", "default", "setpoint_reset", "ch-1"))
	wantErr(t, s.DeleteStrategySetting("a", "default", "setpoint_reset", "ch-1"), store.ErrNotFound)

	var cs []store.StrategyChange
	for i := range 5 {
		dev := "ch-1"
		if i%2 == 1 {
			dev = "ch-2"
		}
		cs = append(cs, store.StrategyChange{Customer: "a", Site: "default", Device: dev, Strategy: "setpoint_reset", At: now.Add(time.Duration(i) * time.Hour),
			Action: "set", Key: "chw_setpoint_c", To: json.RawMessage("8")})
	}
	cs = append(cs, store.StrategyChange{Customer: "b", Site: "default", Device: "ch-b", At: now, Action: "set"})
	mustOK(t, s.AddStrategyChanges(cs))
	list, err := s.StrategyChanges("a", "default", "", time.Time{}, 10)
	mustOK(t, err)
	if len(list) != 5 || !list[0].At.Equal(now.Add(4*time.Hour)) || !list[4].At.Equal(now) {
		t.Fatalf("a's changes: %d, want 5 newest first", len(list))
	}
	list, _ = s.StrategyChanges("a", "default", "ch-2", time.Time{}, 10)
	if len(list) != 2 || list[0].Device != "ch-2" {
		t.Errorf("ch-2's changes: %+v", list)
	}
	list, _ = s.StrategyChanges("a", "default", "", now.Add(2*time.Hour), 1)
	if len(list) != 1 || !list[0].At.Equal(now.Add(time.Hour)) {
		t.Errorf("the page before 11:00: %+v", list)
	}
	n, err := s.PruneStrategyChanges(now.Add(90 * time.Minute))
	mustOK(t, err)
	if n != 3 { // a's 09:00 and 10:00, b's 09:00
		t.Errorf("pruned %d, want 3", n)
	}
	if list, _ := s.StrategyChanges("b", "default", "", time.Time{}, 10); len(list) != 0 {
		t.Errorf("b's changes after pruning: %+v", list)
	}

	mustOK(t, s.PutStrategyState("ch-1", "a", json.RawMessage(`{"warmup":{}}`)))
	wantErr(t, s.PutStrategyState("ch-1", "a", json.RawMessage(`{`)), store.ErrInvalid)
	wantErr(t, s.PutStrategyState("ch-1", "b", json.RawMessage(`{}`)), store.ErrNotFound)
	wantErr(t, s.PutStrategyState("no-such-device", "a", json.RawMessage(`{}`)), store.ErrNotFound)
	st, err := s.GetStrategyState("ch-1")
	mustOK(t, err)
	if string(st) != `{"warmup":{}}` {
		t.Errorf("state: %s", st)
	}
	mustOK(t, s.DeleteDevice("ch-1"))
	if st, _ := s.GetStrategyState("ch-1"); st != nil {
		t.Errorf("a deleted device's state: %s", st)
	}
	// A write that raced the deletion does not bring the state back.
	wantErr(t, s.PutStrategyState("ch-1", "a", json.RawMessage(`{"warmup":{}}`)), store.ErrNotFound)
	if st, _ := s.GetStrategyState("ch-1"); st != nil {
		t.Errorf("a deleted device's state after a late write: %s", st)
	}
}
