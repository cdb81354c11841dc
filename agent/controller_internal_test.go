package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/protocol"
)

// fakeEquipment holds settings in memory, as a controller would.
type fakeEquipment struct {
	points   []string // every point, as a poll names them
	values   map[string]float64
	held     map[string]any
	settings []Setting
	faults   []Fault
	untried  map[string]bool // points a poll does not get to
	writes   []string
	fail     map[string]error // WriteSetting fails for these keys
	clamp    map[string]any   // WriteSetting holds this instead
}

func newFake() *fakeEquipment {
	return &fakeEquipment{
		points: []string{"chw_supply_c", "chw_return_c", "hw_supply_c", "gas_m3h", "chw_setpoint_c", "mode", "run_enable"},
		values: map[string]float64{"chw_supply_c": 7.2},
		held:   map[string]any{"chw_setpoint_c": 7.0, "mode": "cooling", "run_enable": true},
		settings: []Setting{
			{Key: "chw_setpoint_c", Unit: "°C", Min: 4, Max: 15},
			{Key: "mode", Min: math.NaN(), Max: math.NaN(), Values: []string{"off", "cooling", "heating"}},
			{Key: "run_enable", Min: math.NaN(), Max: math.NaN(), Bool: true},
		},
		untried: map[string]bool{}, fail: map[string]error{}, clamp: map[string]any{},
	}
}

func (f *fakeEquipment) Poll(context.Context) Poll {
	p := Poll{Values: f.values, Settings: f.held, Faults: f.faults}
	for _, pt := range f.points {
		if !f.untried[pt] && !slices.ContainsFunc(f.faults, func(x Fault) bool { return x.Point == pt }) {
			p.Read = append(p.Read, pt)
		}
	}
	return p
}
func (f *fakeEquipment) Settings() []Setting { return f.settings }
func (f *fakeEquipment) ReadSetting(_ context.Context, k string) (any, error) {
	v, ok := f.held[k]
	if !ok {
		return nil, errors.New("no such setting")
	}
	return v, nil
}
func (f *fakeEquipment) WriteSetting(_ context.Context, k string, v any) (any, error) {
	if err := f.fail[k]; err != nil {
		return nil, err
	}
	f.writes = append(f.writes, k)
	if c, ok := f.clamp[k]; ok {
		v = c
	}
	f.held[k] = v
	return v, nil
}

// testClock is a settable clock.
type testClock struct{ t atomic.Int64 }

func (c *testClock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *testClock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *testClock) add(d time.Duration) { c.t.Add(int64(d)) }

func newTestController(t *testing.T, dir string, eq Equipment, clock *testClock, opts SpoolOptions) *controller {
	t.Helper()
	sp, err := OpenSpool(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	c, err := newController(eq, sp, newOutbox(), slog.New(slog.DiscardHandler), clock.now, dir, time.Minute,
		make(chan shadowMsg), make(chan struct{}, 1), new(counters))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// takeReport returns and forgets the report waiting in the outbox.
func takeReport(c *controller) (map[string]any, []string) {
	rep, clears, gen := c.out.pendingReport()
	c.out.reportSent(rep, clears, gen)
	return rep, clears
}

// takeEvents returns and forgets the events waiting, as level/code.
func takeEvents(c *controller) []protocol.Event {
	var out []protocol.Event
	for {
		e, _, ok := c.out.nextEvent()
		if !ok {
			return out
		}
		c.out.eventSent(e)
		out = append(out, e)
	}
}

func codes(es []protocol.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Code)
	}
	return out
}

func TestApplyDesired(t *testing.T) {
	eq := newFake()
	eq.fail["run_enable"] = errors.New("write coil 0 of unit 1: exception 4 (server device failure)")
	eq.clamp["chw_setpoint_c"] = 12.0
	clock := &testClock{}
	clock.set(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	c := newTestController(t, t.TempDir(), eq, clock, SpoolOptions{})
	ctx := context.Background()

	c.applyDelta(ctx, Delta{State: map[string]any{"mode": "heating"}, Version: 2})
	if rep, _ := takeReport(c); !cmp.Equal(rep, map[string]any{"mode": "heating"}) || eq.held["mode"] != "heating" {
		t.Errorf("in range: report %v, held %v", rep, eq.held["mode"])
	}

	// Out of range: nothing written, the real value reported, one event.
	eq.writes = nil
	for range 2 {
		c.applyDelta(ctx, Delta{State: map[string]any{"chw_setpoint_c": 25.0}, Version: 3})
	}
	rep, _ := takeReport(c)
	ev := takeEvents(c)
	if len(eq.writes) != 0 || !cmp.Equal(rep, map[string]any{"chw_setpoint_c": 7.0}) {
		t.Errorf("out of range: writes %v, report %v; want none and the real 7", eq.writes, rep)
	}
	if len(ev) != 1 || ev[0].Code != CodeSettingOutOfRange || ev[0].Level != protocol.LevelWarning ||
		ev[0].Message != "desired chw_setpoint_c 25 is out of range; it takes from 4 to 15 °C; not written" {
		t.Errorf("events %+v; want one setting_out_of_range", ev)
	}

	// A value of the wrong kind is refused the same way.
	c.applyDelta(ctx, Delta{State: map[string]any{"mode": "turbo", "run_enable": "yes"}, Version: 4})
	rep, _ = takeReport(c)
	if diff := cmp.Diff(map[string]any{"mode": "heating", "run_enable": true}, rep); diff != "" {
		t.Errorf("wrong kinds: report (-want +got):\n%s", diff)
	}
	if got := codes(takeEvents(c)); !cmp.Equal(got, []string{CodeSettingOutOfRange, CodeSettingOutOfRange}) {
		t.Errorf("events %v", got)
	}

	// Unknown key: an event, nothing reported.
	c.applyDelta(ctx, Delta{State: map[string]any{"fan_speed": 3.0}, Version: 5})
	if rep, _ := takeReport(c); rep != nil {
		t.Errorf("unknown key reported %v", rep)
	}
	if ev := takeEvents(c); len(ev) != 1 || ev[0].Code != CodeSettingUnknown || !strings.Contains(ev[0].Message, "accepted are chw_setpoint_c, mode, run_enable") {
		t.Errorf("events %+v", ev)
	}

	// A failed write reports what is held; a clamped one what was read back.
	c.applyDelta(ctx, Delta{State: map[string]any{"run_enable": false, "chw_setpoint_c": 14.0}, Version: 6})
	rep, _ = takeReport(c)
	if diff := cmp.Diff(map[string]any{"run_enable": true, "chw_setpoint_c": 12.0}, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if got := codes(takeEvents(c)); !cmp.Equal(got, []string{CodeSettingNotHeld, CodeSettingNotApplied}) {
		t.Errorf("events %v; want setting_not_held, setting_not_applied", got)
	}

	// A value already held is not written again.
	eq.writes = nil
	c.applyDelta(ctx, Delta{State: map[string]any{"mode": "heating"}, Version: 7})
	if len(eq.writes) != 0 {
		t.Errorf("writes %v for a value already held", eq.writes)
	}
}

// TestApplyShadow: a whole document applies desired, and reports what
// desired leaves alone when reported does not match the equipment.
func TestApplyShadow(t *testing.T) {
	eq := newFake()
	clock := &testClock{}
	clock.set(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	c := newTestController(t, t.TempDir(), eq, clock, SpoolOptions{})
	c.applyShadow(context.Background(), ShadowState{
		Desired:  map[string]any{"chw_setpoint_c": 9.0},
		Reported: map[string]any{"chw_setpoint_c": 7.0, "mode": "heating", "run_enable": true, "program": map[string]any{"date": "x"}},
		Version:  10,
	})
	rep, _ := takeReport(c)
	want := map[string]any{"chw_setpoint_c": 9.0, "mode": "cooling", "program": nil}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

// TestProgram: a program from desired is applied at once, kept on disk,
// and its steps applied on time; an agent started after a step it missed
// applies it once; a program taken out of desired stops.
func TestProgram(t *testing.T) {
	dir := t.TempDir()
	eq := newFake()
	clock := &testClock{}
	clock.set(time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC))
	c := newTestController(t, dir, eq, clock, SpoolOptions{})
	ctx := context.Background()
	prog := map[string]any{"date": "2026-12-02", "tz": "UTC", "steps": []any{
		map[string]any{"at": "00:00", "set": map[string]any{"mode": "off"}},
		map[string]any{"at": "07:00", "set": map[string]any{"mode": "cooling", "chw_setpoint_c": 6.5}},
		map[string]any{"at": "19:00", "set": map[string]any{"mode": "off"}},
	}}
	c.applyShadow(ctx, ShadowState{Desired: map[string]any{"program": prog}, Version: 3})
	rep, _ := takeReport(c)
	if rep["mode"] != "off" || !jsonEqual(rep["program"], prog) {
		t.Errorf("report after the program came: %v", rep)
	}
	if _, err := os.Stat(filepath.Join(dir, programFile)); err != nil {
		t.Fatalf("program not saved: %v", err)
	}
	if d := c.untilStep(); d != 30*time.Minute {
		t.Errorf("until the next step: %s; want 30m", d)
	}

	// Nothing is due before 07:00.
	c.catchUp(ctx)
	if rep, _ := takeReport(c); rep != nil {
		t.Errorf("report before the step: %v", rep)
	}
	clock.set(time.Date(2026, 12, 2, 7, 0, 5, 0, time.UTC))
	c.catchUp(ctx)
	rep, clears := takeReport(c)
	if diff := cmp.Diff(map[string]any{"mode": "cooling", "chw_setpoint_c": 6.5}, rep); diff != "" {
		t.Errorf("07:00 step report (-want +got):\n%s", diff)
	}
	if !cmp.Equal(clears, []string{"chw_setpoint_c", "mode"}) {
		t.Errorf("desired keys cleared %v", clears)
	}
	if got := codes(takeEvents(c)); !cmp.Equal(got, []string{CodeProgramStep}) {
		t.Errorf("events %v", got)
	}
	c.catchUp(ctx)
	if rep, _ := takeReport(c); rep != nil {
		t.Errorf("the step applied twice: %v", rep)
	}

	// The agent is down from 18:00 to 20:00 and misses the 19:00 step; a
	// new controller on the same directory applies it once at start.
	c.spool.Close()
	eq.held["mode"] = "cooling"
	clock.set(time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC))
	c2 := newTestController(t, dir, eq, clock, SpoolOptions{})
	if c2.prog == nil {
		t.Fatal("program not loaded at start")
	}
	c2.catchUp(ctx)
	if rep, _ := takeReport(c2); !cmp.Equal(rep, map[string]any{"mode": "off"}) || eq.held["mode"] != "off" {
		t.Errorf("missed 19:00 step: report %v, held %v", rep, eq.held["mode"])
	}
	// The next morning's step comes from the same program.
	if d := c2.untilStep(); d != 4*time.Hour {
		t.Errorf("until the next step: %s; want 4h (00:00 the next day)", d)
	}

	// Taken out of desired: no more steps, the file is gone, reported
	// program cleared.
	c2.applyShadow(ctx, ShadowState{Desired: map[string]any{}, Reported: map[string]any{"program": prog}, Version: 9})
	rep, _ = takeReport(c2)
	if v, ok := rep["program"]; !ok || v != nil {
		t.Errorf("report %v; want program: null", rep)
	}
	if c2.prog != nil {
		t.Error("still following the program")
	}
	if _, err := os.Stat(filepath.Join(dir, programFile)); !os.IsNotExist(err) {
		t.Errorf("program file still there: %v", err)
	}
}

func TestProgramInvalid(t *testing.T) {
	c := newTestController(t, t.TempDir(), newFake(), &testClock{}, SpoolOptions{})
	bad := map[string]any{"date": "2026-12-02", "steps": []any{map[string]any{"at": "25:00", "set": map[string]any{"mode": "off"}}}}
	c.applyShadow(context.Background(), ShadowState{Desired: map[string]any{"program": bad}})
	ev := takeEvents(c)
	if len(ev) != 1 || ev[0].Code != CodeProgramInvalid || !strings.Contains(ev[0].Message, "steps[0].at") {
		t.Errorf("events %+v; want one program_invalid naming steps[0].at", ev)
	}
	if c.prog != nil {
		t.Error("an invalid program is followed")
	}
}

// TestFaults: failing points raise one event per kind, not one per point
// or per poll; they are counted in the samples; recovery is an event.
func TestFaults(t *testing.T) {
	eq := newFake()
	clock := &testClock{}
	clock.set(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	c := newTestController(t, t.TempDir(), eq, clock, SpoolOptions{})
	ctx := context.Background()
	eq.faults = []Fault{
		{Point: "chw_return_c", Kind: FaultLost, Message: "read input registers 0-5 of unit 1: connection lost: EOF"},
		{Point: "hw_supply_c", Kind: FaultLost, Message: "read input registers 0-5 of unit 1: connection lost: EOF"},
		{Point: "gas_m3h", Kind: FaultException, Message: "read input registers 12-13 of unit 1: exception 2 (illegal data address)"},
	}
	c.poll(ctx)
	clock.add(time.Minute)
	c.poll(ctx)
	ev := takeEvents(c)
	if got := codes(ev); !cmp.Equal(got, []string{"modbus_exception", "modbus_lost"}) {
		t.Fatalf("events %v; want one per kind", got)
	}
	if ev[1].Message != "2 points (chw_return_c, hw_supply_c): read input registers 0-5 of unit 1: connection lost: EOF" {
		t.Errorf("message %q", ev[1].Message)
	}
	eq.faults = nil
	clock.add(time.Minute)
	c.poll(ctx)
	if ev := takeEvents(c); len(ev) != 1 || ev[0].Code != CodeModbusRecovered || !strings.Contains(ev[0].Message, "3 points") {
		t.Errorf("events %+v; want modbus_recovered for 3 points", ev)
	}
	recs, err := c.spool.Peek(10, 1<<20)
	if err != nil || len(recs) != 3 {
		t.Fatalf("spooled %d samples, %v", len(recs), err)
	}
	var last struct {
		Values map[string]float64 `json:"values"`
	}
	json.Unmarshal(recs[2].Payload, &last)
	if last.Values[MetricModbusFaults] != 6 || last.Values["chw_supply_c"] != 7.2 || last.Values[MetricSpoolBacklog] != 2 {
		t.Errorf("last sample %v; want 6 faults counted, the other point read, 2 samples waiting before it", last.Values)
	}
}

func TestSpoolFullEvent(t *testing.T) {
	clock := &testClock{}
	clock.set(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	c := newTestController(t, t.TempDir(), newFake(), clock, SpoolOptions{MaxSamples: 2})
	for range 3 {
		c.poll(context.Background())
		clock.add(time.Minute)
	}
	if ev := takeEvents(c); len(ev) != 1 || ev[0].Code != CodeSpoolFull || ev[0].Level != protocol.LevelWarning {
		t.Errorf("events %+v; want one spool_full", ev)
	}
}

// TestPollReportsChanges: a poll reports the settings that changed since
// the shadow was read, and only those.
func TestPollReportsChanges(t *testing.T) {
	eq := newFake()
	clock := &testClock{}
	c := newTestController(t, t.TempDir(), eq, clock, SpoolOptions{})
	ctx := context.Background()
	c.applyShadow(ctx, ShadowState{Reported: map[string]any{"chw_setpoint_c": 7.0, "mode": "cooling", "run_enable": true}})
	takeReport(c)
	clock.add(time.Second)
	c.poll(ctx)
	if rep, _ := takeReport(c); rep != nil {
		t.Errorf("nothing changed, yet reported %v", rep)
	}
	eq.held["mode"] = "off" // changed at the controller's own panel
	clock.add(time.Second)
	c.poll(ctx)
	if rep, _ := takeReport(c); !cmp.Equal(rep, map[string]any{"mode": "off"}) {
		t.Errorf("report %v; want mode off", rep)
	}
}

// savedApplied is the time the program file says steps are applied up to.
func savedApplied(t *testing.T, dir string) time.Time {
	t.Helper()
	lp, err := loadProgram(dir)
	if err != nil || lp == nil {
		t.Fatalf("program file: %v, %v", lp, err)
	}
	return lp.applied
}

// TestProgramStepRetried: a step's setting whose write fails is not said
// to be applied, stays in desired, and is written again at the next polls
// until the equipment holds it; only then does the program file say the
// step is applied, so an agent that stops before applies it at start.
func TestProgramStepRetried(t *testing.T) {
	dir := t.TempDir()
	eq := newFake()
	clock := &testClock{}
	adopted := time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC)
	clock.set(adopted)
	c := newTestController(t, dir, eq, clock, SpoolOptions{})
	ctx := context.Background()
	prog := map[string]any{"date": "2026-12-02", "tz": "UTC", "steps": []any{
		map[string]any{"at": "00:00", "set": map[string]any{"mode": "off"}},
		map[string]any{"at": "07:00", "set": map[string]any{"mode": "cooling", "chw_setpoint_c": 6.5}},
	}}
	c.applyShadow(ctx, ShadowState{Desired: map[string]any{"program": prog}, Version: 3})
	takeReport(c)
	takeEvents(c)

	eq.fail["chw_setpoint_c"] = errors.New("write holding register 1 of unit 1: no answer within 1s")
	clock.set(time.Date(2026, 12, 2, 7, 0, 5, 0, time.UTC))
	c.catchUp(ctx)
	rep, clears := takeReport(c)
	// chw_setpoint_c still holds the 7 reported before: nothing new.
	if diff := cmp.Diff(map[string]any{"mode": "cooling"}, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if !cmp.Equal(clears, []string{"mode"}) {
		t.Errorf("desired cleared %v; want mode only: chw_setpoint_c is not held", clears)
	}
	ev := takeEvents(c)
	if got := codes(ev); !cmp.Equal(got, []string{CodeSettingNotApplied, CodeProgramStep}) {
		t.Fatalf("events %v; want setting_not_applied, program_step", got)
	}
	if ev[1].Message != `operating program step applied: mode="cooling"` {
		t.Errorf("step event %q; want it to name only what is held", ev[1].Message)
	}
	if got := savedApplied(t, dir); !got.Equal(adopted) {
		t.Errorf("program file says applied up to %s; want %s while a setting is not held", got, adopted)
	}

	// The next poll: still failing; nothing new is said.
	clock.add(time.Minute)
	c.catchUp(ctx)
	if rep, clears := takeReport(c); rep != nil || clears != nil {
		t.Errorf("a failed retry reported %v, cleared %v", rep, clears)
	}
	if ev := takeEvents(c); len(ev) != 0 {
		t.Errorf("a failed retry raised %v", codes(ev))
	}

	// The equipment answers again: the setting is written and cleared.
	delete(eq.fail, "chw_setpoint_c")
	clock.add(time.Minute)
	c.catchUp(ctx)
	rep, clears = takeReport(c)
	if !cmp.Equal(rep, map[string]any{"chw_setpoint_c": 6.5}) || !cmp.Equal(clears, []string{"chw_setpoint_c"}) || eq.held["chw_setpoint_c"] != 6.5 {
		t.Errorf("retry: report %v, cleared %v, held %v; want 6.5 written, reported and cleared", rep, clears, eq.held["chw_setpoint_c"])
	}
	if ev := takeEvents(c); len(ev) != 1 || ev[0].Message != "operating program step applied: chw_setpoint_c=6.5" {
		t.Errorf("events %+v; want one program_step for chw_setpoint_c", ev)
	}
	if got, want := savedApplied(t, dir), time.Date(2026, 12, 2, 7, 0, 5, 0, time.UTC); !got.Equal(want) {
		t.Errorf("program file says applied up to %s; want %s", got, want)
	}
	eq.writes = nil
	clock.add(time.Minute)
	c.catchUp(ctx)
	if rep, _ := takeReport(c); rep != nil || len(eq.writes) != 0 {
		t.Errorf("after the step was held: report %v, writes %v", rep, eq.writes)
	}
}

// TestProgramStepAfterRestart: an agent that stops while a step's setting
// is not held applies the step again when it starts.
func TestProgramStepAfterRestart(t *testing.T) {
	dir := t.TempDir()
	eq := newFake()
	clock := &testClock{}
	clock.set(time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC))
	c := newTestController(t, dir, eq, clock, SpoolOptions{})
	ctx := context.Background()
	prog := map[string]any{"date": "2026-12-02", "tz": "UTC", "steps": []any{
		map[string]any{"at": "07:00", "set": map[string]any{"chw_setpoint_c": 6.5}},
	}}
	c.applyShadow(ctx, ShadowState{Desired: map[string]any{"program": prog}, Version: 3})
	eq.fail["chw_setpoint_c"] = errors.New("connection refused")
	clock.set(time.Date(2026, 12, 2, 7, 0, 5, 0, time.UTC))
	c.catchUp(ctx)
	c.spool.Close()

	delete(eq.fail, "chw_setpoint_c")
	clock.add(time.Minute)
	c2 := newTestController(t, dir, eq, clock, SpoolOptions{})
	c2.catchUp(ctx)
	if rep, clears := takeReport(c2); !cmp.Equal(rep, map[string]any{"chw_setpoint_c": 6.5}) || !cmp.Equal(clears, []string{"chw_setpoint_c"}) {
		t.Errorf("after the restart: report %v, cleared %v; want the 07:00 step applied", rep, clears)
	}
	if eq.held["chw_setpoint_c"] != 6.5 {
		t.Errorf("held %v; want 6.5", eq.held["chw_setpoint_c"])
	}
}

// TestProgramAdoptionRetried: a setting of a program just received whose
// write fails is written again at the next poll.
func TestProgramAdoptionRetried(t *testing.T) {
	eq := newFake()
	clock := &testClock{}
	clock.set(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC))
	c := newTestController(t, t.TempDir(), eq, clock, SpoolOptions{})
	ctx := context.Background()
	prog := map[string]any{"date": "2026-12-02", "tz": "UTC", "steps": []any{
		map[string]any{"at": "07:00", "set": map[string]any{"chw_setpoint_c": 6.5}},
	}}
	eq.fail["chw_setpoint_c"] = errors.New("connection refused")
	c.applyShadow(ctx, ShadowState{Desired: map[string]any{"program": prog}, Version: 3})
	takeReport(c)
	delete(eq.fail, "chw_setpoint_c")
	clock.add(time.Minute)
	c.catchUp(ctx)
	if rep, _ := takeReport(c); !cmp.Equal(rep, map[string]any{"chw_setpoint_c": 6.5}) || eq.held["chw_setpoint_c"] != 6.5 {
		t.Errorf("retry: report %v, held %v; want 6.5", rep, eq.held["chw_setpoint_c"])
	}
}

// TestFaultsRecoverOnlyWhenRead: a poll that runs out of time before it
// gets to a failing point does not count the point as recovered; it
// recovers when it is read.
func TestFaultsRecoverOnlyWhenRead(t *testing.T) {
	eq := newFake()
	clock := &testClock{}
	clock.set(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	c := newTestController(t, t.TempDir(), eq, clock, SpoolOptions{})
	ctx := context.Background()
	eq.faults = []Fault{
		{Point: "chw_return_c", Kind: FaultTimeout, Message: "read input registers 1-1 of unit 1: no answer within 1s"},
		{Point: "hw_supply_c", Kind: FaultTimeout, Message: "read input registers 2-2 of unit 1: no answer within 1s"},
	}
	c.poll(ctx)
	takeEvents(c)

	// The equipment answers again, but the poll ends before hw_supply_c.
	eq.faults, eq.untried["hw_supply_c"] = nil, true
	clock.add(time.Minute)
	c.poll(ctx)
	if ev := takeEvents(c); len(ev) != 1 || ev[0].Code != CodeModbusRecovered || ev[0].Message != "point chw_return_c read again" {
		t.Errorf("events %+v; want chw_return_c recovered, and only it", ev)
	}
	delete(eq.untried, "hw_supply_c")
	clock.add(time.Minute)
	c.poll(ctx)
	if ev := takeEvents(c); len(ev) != 1 || ev[0].Message != "point hw_supply_c read again" {
		t.Errorf("events %+v; want hw_supply_c recovered once it is read", ev)
	}
}
