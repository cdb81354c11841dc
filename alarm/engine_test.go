package alarm_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/alarm"
	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/store"
)

// clock is the engine's clock, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// told records what the engine asked to tell people.
type told struct {
	mu  sync.Mutex
	got []string
}

func (n *told) Notify(_ context.Context, a store.Alarm, r store.AlarmRule, change string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, r.ID+" "+a.Device+" "+change)
	return nil
}

func (n *told) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.got
	n.got = nil
	return out
}

// world is a real store and registry with customer acme, an air-quality
// sensor co2-1 and a chiller ch-1, and an engine on them.
type world struct {
	t      *testing.T
	st     *store.Store
	reg    *device.Registry
	clock  *clock
	told   *told
	engine *alarm.Engine
}

var metricsOf = map[string][]string{
	"iaq":     {"co2_ppm", "humidity_pct", "temperature_c"},
	"chiller": {"chw_return_c", "chw_supply_c", "gas_m3h", "running"},
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logger := slog.New(slog.DiscardHandler)
	authority, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), logger)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := device.NewRegistry(st, authority, logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []device.DeviceSpec{{Name: "co2-1", Customer: "acme", Type: "iaq"}, {Name: "ch-1", Customer: "acme", Type: "chiller"}} {
		if _, err := reg.CreateDevice(d); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{t: t, st: st, reg: reg, clock: &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}, told: &told{}}
	w.newEngine()
	return w
}

func (w *world) newEngine() {
	w.t.Helper()
	e, err := alarm.New(alarm.Deps{Store: w.st, Devices: w.reg, Notifier: w.told, Now: w.clock.now,
		Metrics: func(typ string) []string { return metricsOf[typ] }}, alarm.Config{})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := e.Load(); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = e.Stop(context.Background()) })
	w.engine = e
}

func (w *world) rule(r store.AlarmRule) {
	w.t.Helper()
	if r.Customer == "" && r.Kind != alarm.KindSystem {
		r.Customer = "acme"
	}
	if r.Severity == "" {
		r.Severity = store.SeverityMajor
	}
	if _, err := w.engine.CompileRule(r); err != nil {
		w.t.Fatalf("rule %s: %v", r.ID, err)
	}
	if _, _, err := w.st.PutAlarmRule(r); err != nil {
		w.t.Fatal(err)
	}
	if err := w.engine.RulesChanged(); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) sample(dev string, values map[string]float64) {
	var rs []events.Reading
	for k, v := range values {
		rs = append(rs, events.Reading{Metric: k, Timestamp: w.clock.now().UnixMilli(), Value: v})
	}
	w.engine.Handle(events.TelemetryStored{Device: dev, At: w.clock.now(), Readings: rs})
	w.engine.Wait()
}

func (w *world) sweep() {
	w.engine.Sweep()
	w.engine.Wait()
}

// alarms is the rule's alarms on a device, newest first.
func (w *world) alarms(rule, dev string) []store.Alarm {
	w.t.Helper()
	as, err := w.st.ListAlarms(store.AlarmFilter{Rule: rule, Device: dev})
	if err != nil {
		w.t.Fatal(err)
	}
	return as
}

func TestThresholdWithHysteresis(t *testing.T) {
	w := newWorld(t)
	w.rule(store.AlarmRule{ID: "co2", Name: "CO2 high", DeviceType: "iaq", Condition: "co2_ppm > 1000", ClearCondition: "co2_ppm < 900", Channels: []string{"ops"}})
	w.sample("co2-1", map[string]float64{"co2_ppm": 800})
	if len(w.alarms("co2", "co2-1")) != 0 {
		t.Fatal("an alarm below the threshold")
	}
	w.sample("co2-1", map[string]float64{"co2_ppm": 1200})
	as := w.alarms("co2", "co2-1")
	if len(as) != 1 || as[0].State != store.AlarmActive || as[0].Fields["co2_ppm"] != 1200.0 || !strings.Contains(as[0].Message, "co2_ppm = 1200") {
		t.Fatalf("over the threshold: %+v", as)
	}
	// Every further sample over it is the same alarm, not a new one, and
	// people are told once.
	w.sample("co2-1", map[string]float64{"co2_ppm": 1300})
	// Between the two thresholds: still active (hysteresis).
	w.sample("co2-1", map[string]float64{"co2_ppm": 950})
	if as := w.alarms("co2", "co2-1"); len(as) != 1 || as[0].State != store.AlarmActive || as[0].Count != 1 {
		t.Fatalf("between the thresholds: %+v", as)
	}
	w.sample("co2-1", map[string]float64{"co2_ppm": 850})
	if as := w.alarms("co2", "co2-1"); len(as) != 1 || as[0].State != store.AlarmCleared {
		t.Fatalf("under the clear threshold: %+v", as)
	}
	if got := w.told.take(); strings.Join(got, "; ") != "co2 co2-1 raised; co2 co2-1 cleared" {
		t.Errorf("told %q; want one raised and one cleared", got)
	}
	// Other metrics of the device do not evaluate the rule; other devices'
	// types do not match it.
	w.sample("co2-1", map[string]float64{"humidity_pct": 40})
	w.sample("ch-1", map[string]float64{"chw_supply_c": 20})
	if got := w.told.take(); len(got) != 0 {
		t.Errorf("told %q on unrelated samples", got)
	}
}

func TestDurationsAndRestart(t *testing.T) {
	w := newWorld(t)
	w.rule(store.AlarmRule{ID: "chw", Name: "Chilled water warm", DeviceType: "chiller", Condition: "chw_supply_c > 9", For: "10m", ClearCondition: "chw_supply_c < 8.5", ClearFor: "5m", Channels: []string{"ops"}})
	w.sample("ch-1", map[string]float64{"chw_supply_c": 9.5})
	w.clock.add(9 * time.Minute)
	w.sweep()
	if len(w.alarms("chw", "ch-1")) != 0 {
		t.Fatal("raised before the condition held for 10 minutes")
	}
	// A dip resets the duration.
	w.sample("ch-1", map[string]float64{"chw_supply_c": 8.8})
	w.sample("ch-1", map[string]float64{"chw_supply_c": 9.6})
	w.clock.add(5 * time.Minute)
	w.sweep()
	if len(w.alarms("chw", "ch-1")) != 0 {
		t.Fatal("the dip did not reset the duration")
	}
	// Held for 10 minutes with no new sample: the sweep raises it.
	w.clock.add(5 * time.Minute)
	w.sweep()
	if as := w.alarms("chw", "ch-1"); len(as) != 1 || as[0].State != store.AlarmActive {
		t.Fatalf("after 10 minutes: %+v", as)
	}
	// A restart keeps the active alarm: no second one, no second message.
	w.told.take()
	w.newEngine()
	w.sample("ch-1", map[string]float64{"chw_supply_c": 9.7})
	w.clock.add(11 * time.Minute)
	w.sweep()
	if as := w.alarms("chw", "ch-1"); len(as) != 1 || as[0].Count != 1 {
		t.Errorf("after a restart: %+v", as)
	}
	// Clearing needs 5 minutes under 8.5.
	w.sample("ch-1", map[string]float64{"chw_supply_c": 8.2})
	w.clock.add(4 * time.Minute)
	w.sample("ch-1", map[string]float64{"chw_supply_c": 8.3})
	if as := w.alarms("chw", "ch-1"); as[0].State != store.AlarmActive {
		t.Fatal("cleared before 5 minutes")
	}
	w.clock.add(time.Minute)
	w.sample("ch-1", map[string]float64{"chw_supply_c": 8.1})
	if as := w.alarms("chw", "ch-1"); as[0].State != store.AlarmCleared {
		t.Fatalf("after 5 minutes under 8.5: %+v", as[0])
	}
	if got := w.told.take(); len(got) != 1 || got[0] != "chw ch-1 cleared" {
		t.Errorf("told %q after the restart; want only the clear", got)
	}
}

func TestStaleOfflineAndEvents(t *testing.T) {
	w := newWorld(t)
	w.rule(store.AlarmRule{ID: "stale", Name: "No CO2", DeviceType: "iaq", Kind: alarm.KindStale, Metric: "co2_ppm", For: "15m"})
	w.rule(store.AlarmRule{ID: "away", Name: "Offline", DeviceType: "chiller", Kind: alarm.KindOffline, For: "10m"})
	w.rule(store.AlarmRule{ID: "fault", Name: "Modbus fault", Device: "ch-1", Kind: alarm.KindEvent, EventCode: "modbus_timeout", Severity: store.SeverityCritical})
	w.sample("co2-1", map[string]float64{"co2_ppm": 600})
	w.engine.Handle(events.DeviceDisconnected{Device: "ch-1", At: w.clock.now(), Reason: "keepalive_timeout"})
	w.clock.add(9 * time.Minute)
	w.sweep()
	// A blip: back within the 10 minutes.
	w.engine.Handle(events.DeviceConnected{Device: "ch-1", At: w.clock.now()})
	w.engine.Handle(events.DeviceDisconnected{Device: "ch-1", At: w.clock.now()})
	w.clock.add(7 * time.Minute)
	w.sweep()
	if as := w.alarms("stale", "co2-1"); len(as) != 1 || !strings.Contains(as[0].Message, "no co2_ppm for 15m") {
		t.Errorf("16 minutes without CO2: %+v", as)
	}
	if as := w.alarms("away", "ch-1"); len(as) != 0 {
		t.Errorf("offline 9 then 7 minutes raised %+v; want nothing", as)
	}
	w.clock.add(3 * time.Minute)
	w.sweep()
	if as := w.alarms("away", "ch-1"); len(as) != 1 {
		t.Errorf("offline 10 minutes: %+v", as)
	}
	w.engine.Handle(events.DeviceConnected{Device: "ch-1", At: w.clock.now()})
	w.sample("co2-1", map[string]float64{"co2_ppm": 610})
	w.engine.Wait()
	if as := w.alarms("away", "ch-1"); as[0].State != store.AlarmCleared {
		t.Errorf("back online: %+v", as[0])
	}
	if as := w.alarms("stale", "co2-1"); as[0].State != store.AlarmCleared {
		t.Errorf("CO2 again: %+v", as[0])
	}
	// Events: each matching one repeats the alarm; others do not match.
	for _, code := range []string{"modbus_timeout", "modbus_timeout", "setting_out_of_range"} {
		w.engine.Handle(events.DeviceEvent{Device: "ch-1", At: w.clock.now(), Level: "error", Code: code, Message: "no answer from 10.0.0.9:502", Source: "modbus"})
	}
	w.engine.Wait()
	as := w.alarms("fault", "ch-1")
	if len(as) != 1 || as[0].Count != 2 || as[0].Fields["code"] != "modbus_timeout" || as[0].Severity != store.SeverityCritical {
		t.Errorf("Modbus faults: %+v", as)
	}
}

func TestCompileRefuses(t *testing.T) {
	iaq := metricsOf["iaq"]
	for _, tt := range []struct {
		name  string
		rule  store.AlarmRule
		field string
		want  string
	}{
		{"syntax", store.AlarmRule{DeviceType: "iaq", Condition: "co2_ppm >"}, "condition", "unexpected"},
		{"unknown metric", store.AlarmRule{DeviceType: "iaq", Condition: "co2 > 1000"}, "condition", `"co2" is not a metric of the device type; it has co2_ppm`},
		{"no metric", store.AlarmRule{DeviceType: "iaq", Condition: "1 < 2"}, "condition", "names no metric"},
		{"not boolean", store.AlarmRule{DeviceType: "iaq", Condition: "co2_ppm + 1"}, "condition", "bool"},
		{"huge", store.AlarmRule{DeviceType: "iaq", Condition: strings.Repeat("co2_ppm > 1 && ", 300) + "co2_ppm > 1"}, "condition", "exceed"},
		{"bad duration", store.AlarmRule{DeviceType: "iaq", Condition: "co2_ppm > 1000", For: "ten minutes"}, "for", "not a duration"},
		{"long duration", store.AlarmRule{DeviceType: "iaq", Condition: "co2_ppm > 1000", For: "900h"}, "for", "out of range"},
		{"no target", store.AlarmRule{Condition: "co2_ppm > 1000"}, "device_type", "name the devices"},
		{"kind", store.AlarmRule{DeviceType: "iaq", Kind: "weather"}, "kind", "not a kind"},
		{"blip", store.AlarmRule{DeviceType: "iaq", Kind: alarm.KindOffline, For: "20s"}, "for", "not an alarm"},
		{"stale unknown", store.AlarmRule{DeviceType: "iaq", Kind: alarm.KindStale, Metric: "co2", For: "15m"}, "metric", "not a metric"},
		{"severity", store.AlarmRule{DeviceType: "iaq", Condition: "co2_ppm > 1", Severity: "urgent"}, "severity", "not a severity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rule
			r.ID, r.Name = "r", "r"
			if r.Severity == "" {
				r.Severity = store.SeverityMinor
			}
			_, err := alarm.Compile(r, iaq)
			var ae *alarm.Error
			if !errors.As(err, &ae) || ae.Field != tt.field || !strings.Contains(ae.Message, tt.want) {
				t.Errorf("got %v; want a refusal of %s saying %q", err, tt.field, tt.want)
			}
		})
	}
	// Without declared metrics any name is accepted.
	if _, err := alarm.Compile(store.AlarmRule{ID: "r", Name: "r", DeviceType: "custom", Severity: store.SeverityMinor, Condition: "flow_lpm < 3 || pressure_bar > 6"}, nil); err != nil {
		t.Errorf("a type without declared metrics: %v", err)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"co2_ppm > 1000", "co2_ppm > 1000 && humidity_pct < 30", "abs(temperature_c - 21) > 3", "(", "co2_ppm in [1,2]", `"a" + co2_ppm`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		r := store.AlarmRule{ID: "r", Name: "r", DeviceType: "iaq", Severity: store.SeverityMinor, Condition: cond}
		c, err := alarm.Compile(r, metricsOf["iaq"])
		if err != nil {
			var ae *alarm.Error
			if !errors.As(err, &ae) {
				t.Fatalf("a refusal that is not an *alarm.Error: %v", err)
			}
			return
		}
		if len(c.Metrics()) == 0 {
			t.Fatalf("%q compiled with no metric", cond)
		}
	})
}

// A preview replays a rule over stored values: excursions long enough
// fire once each, short ones do not, and hysteresis holds an alarm
// through a dip that does not reach the clear threshold.
func TestPreview(t *testing.T) {
	r, err := alarm.Compile(store.AlarmRule{ID: "r", Name: "r", DeviceType: "iaq", Severity: store.SeverityWarning,
		Condition: "co2_ppm > 1000", For: "15m", ClearCondition: "co2_ppm < 900"}, metricsOf["iaq"])
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	var co2 []alarm.Sample
	level := func(m int) float64 {
		switch {
		case m >= 60 && m < 100: // 40 minutes over: fires
			return 1200
		case m >= 200 && m < 210: // 10 minutes over: too short
			return 1100
		case m >= 300 && m < 330, m >= 335 && m < 360: // over, a dip to 950 (not under 900), over again
			return 1300
		case m >= 330 && m < 335:
			return 950
		}
		return 600
	}
	for m := range 24 * 60 {
		co2 = append(co2, alarm.Sample{At: from.Add(time.Duration(m) * time.Minute), Value: level(m)})
	}
	got, err := r.Preview(map[string][]alarm.Sample{"co2_ppm": co2}, from, from.Add(24*time.Hour-time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	at := func(m int) time.Time { return from.Add(time.Duration(m) * time.Minute) }
	want := []alarm.Firing{{Raised: at(75), Cleared: at(100)}, {Raised: at(315), Cleared: at(360)}}
	if len(got) != len(want) {
		t.Fatalf("preview %+v; want %+v", got, want)
	}
	for i := range want {
		if !got[i].Raised.Equal(want[i].Raised) || !got[i].Cleared.Equal(want[i].Cleared) {
			t.Errorf("firing %d: %+v; want %+v", i, got[i], want[i])
		}
	}
	if _, err := r.Preview(nil, from, from.Add(time.Hour), 0); err == nil {
		t.Error("a preview with no step was accepted")
	}
}

// A back-fill of old samples is kept as the device's values but raises
// nothing; an older sample never replaces a newer one.
func TestBackfillDoesNotAlarm(t *testing.T) {
	w := newWorld(t)
	w.rule(store.AlarmRule{ID: "co2", Name: "CO2 high", DeviceType: "iaq", Condition: "co2_ppm > 1000"})
	old := w.clock.now().Add(-3 * time.Hour).UnixMilli()
	w.engine.Handle(events.TelemetryStored{Device: "co2-1", At: w.clock.now(), Readings: []events.Reading{{Metric: "co2_ppm", Timestamp: old, Value: 1500}}})
	w.engine.Wait()
	if as := w.alarms("co2", "co2-1"); len(as) != 0 {
		t.Fatalf("a three-hour-old sample raised %+v", as)
	}
	w.sample("co2-1", map[string]float64{"co2_ppm": 700})
	// A late sample older than the one held: not the device's value now.
	w.engine.Handle(events.TelemetryStored{Device: "co2-1", At: w.clock.now(), Readings: []events.Reading{{Metric: "co2_ppm", Timestamp: w.clock.now().Add(-time.Minute).UnixMilli(), Value: 1500}}})
	w.engine.Wait()
	if as := w.alarms("co2", "co2-1"); len(as) != 0 {
		t.Errorf("a sample older than the one held raised %+v", as)
	}
}

// Settings out of their rules and a failed schedule push raise alarms with
// what the event said; an alarm cleared by a person is raised again by the
// next sample that still crosses its threshold.
func TestSettingsScheduleAndManualClear(t *testing.T) {
	w := newWorld(t)
	w.rule(store.AlarmRule{ID: "settings", Name: "Settings", DeviceType: "chiller", Kind: alarm.KindSettings})
	w.rule(store.AlarmRule{ID: "program", Name: "Program", DeviceType: "chiller", Kind: alarm.KindSchedule})
	w.rule(store.AlarmRule{ID: "co2", Name: "CO2 high", DeviceType: "iaq", Condition: "co2_ppm > 1000"})
	w.engine.Handle(events.SettingsViolated{Device: "ch-1", At: w.clock.now(), Keys: []string{"reported.chw_setpoint_c"}})
	w.engine.Handle(events.ScheduleFailed{Device: "ch-1", At: w.clock.now(), Calendar: "office", Date: "2026-12-07", Status: "failed", Reason: "not verified after 5 checks"})
	w.engine.Wait()
	if as := w.alarms("settings", "ch-1"); len(as) != 1 || !strings.Contains(as[0].Message, "reported.chw_setpoint_c") {
		t.Errorf("settings out of their rules: %+v", as)
	}
	if as := w.alarms("program", "ch-1"); len(as) != 1 || as[0].Fields["status"] != "failed" || !strings.Contains(as[0].Message, "not verified") {
		t.Errorf("a failed push: %+v", as)
	}
	if as := w.alarms("settings", "co2-1"); len(as) != 0 {
		t.Errorf("a rule of another type raised on the sensor: %+v", as)
	}

	w.sample("co2-1", map[string]float64{"co2_ppm": 1200})
	a := w.alarms("co2", "co2-1")[0]
	cleared, _, err := w.st.ClearAlarm(a.ID, "user:fm@acme.example", "window opened", w.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	w.engine.Cleared(cleared)
	w.clock.add(time.Minute)
	w.sample("co2-1", map[string]float64{"co2_ppm": 1250})
	if as := w.alarms("co2", "co2-1"); len(as) != 1 || as[0].State != store.AlarmActive || as[0].Count != 2 {
		t.Errorf("still over the threshold after a clear by hand: %+v; want the alarm active again", as)
	}
}

// TestSystemEvents: a system rule raises an alarm, without device or
// customer, for each event of Hearth itself it matches; it may name no
// devices or customer.
func TestSystemEvents(t *testing.T) {
	w := newWorld(t)
	w.rule(store.AlarmRule{ID: "rw", Name: "Remote write dropped samples", Kind: alarm.KindSystem, EventCode: "remote_write_dropped", Severity: store.SeverityMajor})
	for _, code := range []string{"remote_write_dropped", "remote_write_dropped", "something_else"} {
		w.engine.Handle(events.SystemEvent{At: w.clock.now(), Level: "error", Code: code, Message: "remote write to http://vm/api/v1/write dropped 1200 samples (backlog)", Source: "remote write"})
	}
	w.engine.Wait()
	as := w.alarms("rw", "")
	if len(as) != 1 || as[0].Count != 2 || as[0].Customer != "" || as[0].Device != "" || as[0].Fields["code"] != "remote_write_dropped" || !strings.Contains(as[0].Message, "dropped 1200 samples") {
		t.Errorf("system alarms: %+v", as)
	}
	if _, err := alarm.Compile(store.AlarmRule{ID: "x", Name: "x", Kind: alarm.KindSystem, Customer: "acme", Severity: store.SeverityMajor}, nil); err == nil {
		t.Error("a system rule for a customer compiled")
	}
}
