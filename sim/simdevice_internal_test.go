package sim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/sim/model"
)

// desired decodes a desired document as the fleet does, numbers exact.
func desired(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := decodeJSON([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEquipmentApplyDesired(t *testing.T) {
	now := time.Date(2026, 8, 5, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		doc  string
		want map[string]any
	}{
		{"set-point in range", `{"chw_setpoint_c": 8.5}`, map[string]any{"chw_setpoint_c": 8.5}},
		{"mode", `{"mode": "heating"}`, map[string]any{"mode": "heating"}},
		{"out of the controller's range: the held value is reported", `{"chw_setpoint_c": 30}`, map[string]any{"chw_setpoint_c": 7.0}},
		{"wrong type", `{"hw_setpoint_c": "hot"}`, map[string]any{"hw_setpoint_c": 55.0}},
		{"unknown mode", `{"mode": "turbo"}`, map[string]any{"mode": "cooling"}},
		{"keys it does not know are left alone", `{"colour": "red"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEquipment(KindChiller, model.Office, 1, time.UTC)
			got := e.applyDesired(desired(t, tt.doc), now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
	if got := newEquipment(KindIAQ, model.Office, 1, time.UTC).applyDesired(desired(t, `{"mode": "off"}`), now); got != nil {
		t.Errorf("a sensor reported settings: %v", got)
	}
}

func TestEquipmentProgram(t *testing.T) {
	e := newEquipment(KindChiller, model.Office, 1, time.UTC)
	at := func(h, m int) time.Time { return time.Date(2026, 12, 2, h, m, 0, 0, time.UTC) }
	prog := `{"program": {"date": "2026-12-02", "steps": [
		{"at": "07:00", "set": {"mode": "heating", "hw_setpoint_c": 50}},
		{"at": "19:00", "set": {"mode": "off"}}]}}`
	report := e.applyDesired(desired(t, prog), at(9, 0))
	if report["mode"] != "heating" || report["hw_setpoint_c"] != 50.0 || report[program.Key] == nil {
		t.Fatalf("program received at 09:00 reported %v; want heating at 50 °C and the program", report)
	}
	if got := e.nextStep(); !got.Equal(at(19, 0)) {
		t.Errorf("next step %s, want 19:00", got)
	}
	// A person changes the set-point by hand in the afternoon...
	e.applyDesired(desired(t, `{"hw_setpoint_c": 45}`), at(14, 0))
	if r, clear := e.stepDue(at(18, 59)); r != nil || clear != nil {
		t.Errorf("a step before its time: %v %v", r, clear)
	}
	// ...and at 19:00 the program turns the machine off, clearing the
	// desired key it took over.
	r, clear := e.stepDue(at(19, 0))
	if diff := cmp.Diff(map[string]any{"mode": "off"}, r); diff != "" || len(clear) != 1 || clear[0] != "mode" {
		t.Errorf("19:00 step reported %v, cleared %v", r, clear)
	}
	if rep := e.reported(); rep["hw_setpoint_c"] != 45.0 || rep["mode"] != "off" || rep["firmware"] != firmware {
		t.Errorf("reported after the step: %v", rep)
	}
	if got := e.nextStep(); !got.Equal(time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("next step after 19:00: %s, want 07:00 the next day", got)
	}
	// Deleting the program stops it.
	e.applyDesired(map[string]any{program.Key: nil}, at(20, 0))
	if !e.nextStep().IsZero() {
		t.Error("a deleted program still has a next step")
	}
	// A program it cannot read changes nothing.
	before := e.reported()
	e.applyDesired(desired(t, `{"program": {"date": "tomorrow"}}`), at(21, 0))
	if diff := cmp.Diff(before, e.reported()); diff != "" {
		t.Errorf("a bad program changed the device (-before +after):\n%s", diff)
	}
}

func TestEquipmentSample(t *testing.T) {
	c := newEquipment(KindChiller, model.Hotel, 3, time.UTC)
	values, report := c.sample(time.Date(2026, 8, 5, 14, 0, 0, 0, time.UTC))
	for _, k := range []string{"chw_supply_c", "chw_return_c", "load_pct", "gas_m3h", "running"} {
		if _, ok := values[k]; !ok {
			t.Errorf("chiller telemetry lacks %s: %v", k, values)
		}
	}
	if report == nil || report["running"] != true {
		t.Errorf("first sample of a running chiller reported %v; want running", report)
	}
	if _, again := c.sample(time.Date(2026, 8, 5, 14, 1, 0, 0, time.UTC)); again != nil {
		t.Errorf("an unchanged running state was reported again: %v", again)
	}
	values, _ = newEquipment(KindIAQ, model.School, 3, time.UTC).sample(time.Date(2026, 8, 5, 10, 0, 0, 0, time.UTC))
	if _, ok := values["co2_ppm"]; !ok || len(values) != 3 {
		t.Errorf("sensor telemetry %v", values)
	}
}

func TestDeviceTypeDocuments(t *testing.T) {
	for _, k := range []Kind{KindChiller, KindIAQ} {
		name, doc := DeviceType(k)
		var v struct {
			Settings []struct{ Key string } `json:"settings"`
		}
		if err := json.Unmarshal(doc, &v); err != nil || name != string(k) {
			t.Fatalf("%s: %s %v", k, doc, err)
		}
		if k == KindChiller && len(v.Settings) != 4 {
			t.Errorf("chiller settings %v", v.Settings)
		}
	}
}

// A back-fill follows the programs of the days it covers: each day the one
// of its date, the shadow's over the history's, and the last one begun
// after that.
func TestEquipmentFollowsHistory(t *testing.T) {
	parse := func(s string) program.Program {
		t.Helper()
		p, err := program.Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	workday := func(date string) program.Program {
		return parse(`{"date": "` + date + `", "tz": "UTC", "steps": [
			{"at": "07:00", "set": {"mode": "heating", "hw_setpoint_c": 50}},
			{"at": "20:00", "set": {"mode": "off"}}]}`)
	}
	closed := parse(`{"date": "2026-12-05", "tz": "UTC", "steps": [{"at": "00:00", "set": {"mode": "off"}}]}`)
	// Given out of order, as a caller may.
	e := newEquipment(KindChiller, model.Hotel, 1, time.UTC, closed, workday("2026-12-04"))
	running := func(day, hour int) bool {
		t.Helper()
		return e.sampleFollowing(time.Date(2026, 12, day, hour, 0, 0, 0, time.UTC))["running"] == 1
	}
	for _, tt := range []struct {
		day, hour int
		want      bool
		why       string
	}{
		{3, 12, true, "before any program: the settings held, which run"},
		{4, 6, true, "the workday program's first day, before its first step: the settings held"},
		{4, 12, true, "the workday program at noon"},
		{4, 21, false, "the workday program after 20:00"},
		{5, 12, false, "the closed day"},
		{6, 12, false, "the closed day's program repeats on a day with none of its own"},
	} {
		if got := running(tt.day, tt.hour); got != tt.want {
			t.Errorf("12-%02d %02d:00: running %v, want %v (%s)", tt.day, tt.hour, got, tt.want, tt.why)
		}
	}
	// The shadow's program of the 6th wins over the history's repeat, and
	// over a history program of its own date.
	e = newEquipment(KindChiller, model.Hotel, 1, time.UTC, workday("2026-12-04"), closed, parse(`{"date": "2026-12-06", "tz": "UTC", "steps": [{"at": "00:00", "set": {"mode": "off"}}]}`))
	if got := e.applyDesired(desired(t, `{"program": {"date": "2026-12-06", "tz": "UTC", "steps": [{"at": "07:00", "set": {"mode": "heating"}}]}}`), time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)); got == nil {
		t.Fatal("the program was not taken")
	}
	if !running(6, 12) {
		t.Error("the shadow's program of the day lost to the history's")
	}
	if running(6, 6) {
		t.Error("before the shadow program's first step, the history's program of that date should hold")
	}
	if !running(4, 12) {
		t.Error("the history's workday was not followed with a shadow program of a later date")
	}
}
