package scheduler_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
)

// clock is the scheduler's clock in tests, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

// nopPublisher stands in for the broker's outbound: no device is
// subscribed in these tests, and what is sent is counted.
type nopPublisher struct {
	mu     sync.Mutex
	deltas map[string]int
}

func (p *nopPublisher) Publish(topic string, _ []byte, _ byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deltas == nil {
		p.deltas = map[string]int{}
	}
	p.deltas[topic]++
	return nil
}

func (p *nopPublisher) count(topic string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deltas[topic]
}

// world is a real store, registry, device types, shadow service and
// presence, with customer acme, a chiller device type that takes programs,
// an office calendar for acme's chillers and three chillers.
type world struct {
	t        *testing.T
	dir      string
	st       *store.Store
	reg      *device.Registry
	types    *device.DeviceTypes
	shadows  *device.Shadows
	presence *device.Presence
	bus      *events.Bus
	failed   *events.Subscription
	pub      *nopPublisher
	clock    *clock
	sched    *scheduler.Scheduler
}

func newWorld(t *testing.T, start time.Time) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), clock: &clock{t: start}, bus: events.New(), pub: &nopPublisher{}}
	w.open()
	if _, err := w.reg.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.types.Put(store.DeviceType{Name: "chiller", Settings: []store.Setting{
		{Key: "mode", Type: store.SettingString, Enum: []json.RawMessage{json.RawMessage(`"cooling"`), json.RawMessage(`"heating"`), json.RawMessage(`"off"`)}},
		{Key: "chw_setpoint_c", Type: store.SettingNumber, Minimum: ptr(5.0), Maximum: ptr(12.0)},
		{Key: program.Key, Type: store.SettingObject, Schema: json.RawMessage(program.JSONSchema)},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ch-1", "ch-2", "ch-3"} {
		if _, err := w.reg.CreateDevice(device.DeviceSpec{Name: name, Customer: "acme", Type: "chiller"}); err != nil {
			t.Fatal(err)
		}
	}
	cal := officeCalendar()
	cal.DeviceType = "chiller"
	if _, _, err := w.st.PutCalendar(cal); err != nil {
		t.Fatal(err)
	}
	if err := w.st.PutAssignments([]store.Assignment{{Kind: store.AssignType, Customer: "acme", Target: "chiller", Calendar: "office"}}); err != nil {
		t.Fatal(err)
	}
	w.newScheduler()
	return w
}

func ptr[T any](v T) *T { return &v }

// open opens the store and builds the services on it, as at start-up.
func (w *world) open() {
	t := w.t
	st, err := store.Open(filepath.Join(w.dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logger := slog.New(slog.DiscardHandler)
	authority, err := ca.LoadOrCreate(filepath.Join(w.dir, "ca"), logger)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := device.NewRegistry(st, authority, logger)
	if err != nil {
		t.Fatal(err)
	}
	w.st, w.reg = st, reg
	w.types = device.NewDeviceTypes(st, reg.Type)
	w.shadows = device.NewShadows(device.ShadowDeps{Store: st, Publisher: w.pub, Events: w.bus, Settings: w.types})
	w.presence = device.NewPresence(w.bus)
}

func (w *world) newScheduler() {
	w.t.Helper()
	s, err := scheduler.New(scheduler.Deps{
		Store: w.st, Devices: w.reg, Shadows: w.shadows, Presence: w.presence, Types: w.types, Bus: w.bus, Now: w.clock.now,
	}, scheduler.Config{CheckDelay: time.Minute, MaxChecks: 5})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := s.Load(); err != nil {
		w.t.Fatal(err)
	}
	if w.failed != nil {
		w.failed.Close()
	}
	w.failed = w.bus.Subscribe(64)
	w.sched = s
}

// run does what is due now, and hands the scheduler the events of the bus
// (device reports, connections), as its loop does.
func (w *world) run() {
	w.t.Helper()
	w.drain()
	w.sched.RunDue(context.Background())
}

func (w *world) drain() {
	for {
		select {
		case ev := <-w.failed.C():
			if _, ok := ev.(events.ScheduleFailed); !ok {
				w.sched.HandleEvent(ev)
			}
		default:
			return
		}
	}
}

// record is a device's push record of date, as stored.
func (w *world) record(dev, date string) store.PushRecord {
	w.t.Helper()
	r, err := w.st.GetPushRecord(dev, date)
	if err != nil {
		w.t.Fatalf("push record of %s on %s: %v", dev, date, err)
	}
	return r
}

// desired is a device's desired program.
func (w *world) desired(dev string) map[string]any {
	w.t.Helper()
	doc, err := w.shadows.Get(dev, "")
	if err != nil {
		w.t.Fatalf("shadow of %s: %v", dev, err)
	}
	p, _ := doc.State.Desired[program.Key].(map[string]any)
	return p
}

// report makes a device take its desired program, as firmware does.
func (w *world) report(dev string) {
	w.t.Helper()
	body, _ := json.Marshal(map[string]any{"state": map[string]any{"reported": map[string]any{program.Key: w.desired(dev)}}})
	if _, err := w.shadows.Update(dev, "", body, device.Actor{Name: "device:" + dev, Channel: device.ChannelMQTT}, w.clock.now()); err != nil {
		w.t.Fatal(err)
	}
}

// tokyo8am is 08:00 on Monday 2026-12-07 in Tokyo.
var tokyo8am = time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)

// TestPushAndVerify: the day's program goes to every assigned device at
// once when its push time has passed (the catch-up of a Hearth that was
// stopped at 00:05), recorded as the scheduler; a device that reports it
// is verified at once, one that never does is sent it again at each check
// and fails after the fifth, one that is away is checked when it returns.
func TestPushAndVerify(t *testing.T) {
	w := newWorld(t, tokyo8am)
	w.presence.Connected("ch-1", 1, "10.0.0.1:1", 4, tokyo8am)
	w.presence.Connected("ch-2", 1, "10.0.0.2:1", 4, tokyo8am)
	w.run()
	for _, dev := range []string{"ch-1", "ch-2", "ch-3"} {
		p := w.desired(dev)
		if p["date"] != "2026-12-07" || p["tz"] != "Asia/Tokyo" {
			t.Fatalf("%s desired program %v; want 2026-12-07 in Asia/Tokyo", dev, p)
		}
	}
	h, _, err := w.st.History(store.HistoryQuery{Device: "ch-1"})
	if err != nil || len(h) != 1 || h[0].Actor != "scheduler" || h[0].Channel != "scheduler" {
		t.Fatalf("ch-1 history %+v, %v; want one entry by the scheduler", h, err)
	}
	if r := w.record("ch-1", "2026-12-07"); r.Status != store.PushPending || r.Pushes != 1 {
		t.Errorf("ch-1 after the push: %+v", r)
	}
	if r := w.record("ch-3", "2026-12-07"); r.Status != store.PushOffline {
		t.Errorf("ch-3, offline at push time: %+v", r)
	}

	// ch-1 takes its program: verified at once, from its report.
	w.report("ch-1")
	w.run()
	if r := w.record("ch-1", "2026-12-07"); r.Status != store.PushVerified || r.VerifiedAt.IsZero() {
		t.Errorf("ch-1 after its report: %+v", r)
	}

	// ch-2 never reports: five checks, each sending the program again.
	delta := "$aws/things/ch-2/shadow/update/delta"
	sentBefore := w.pub.count(delta)
	for range 10 {
		w.clock.add(20 * time.Minute) // past any check's backoff
		w.run()
	}
	r := w.record("ch-2", "2026-12-07")
	if r.Status != store.PushFailed || r.Checks != 5 {
		t.Errorf("ch-2 never reporting: %+v; want failed after 5 checks", r)
	}
	if sent := w.pub.count(delta) - sentBefore; sent != 4 {
		t.Errorf("ch-2 was sent its program again %d times; want 4 (at each check but the last)", sent)
	}

	// ch-3 comes back and takes its program.
	w.presence.Connected("ch-3", 1, "10.0.0.3:1", 4, w.clock.now())
	w.run()
	if r := w.record("ch-3", "2026-12-07"); r.Status != store.PushPending {
		t.Errorf("ch-3 back: %+v; want pending", r)
	}
	w.report("ch-3")
	w.run()
	if r := w.record("ch-3", "2026-12-07"); r.Status != store.PushVerified {
		t.Errorf("ch-3 after its report: %+v", r)
	}
}

// TestFailureIsPublished: a push that fails for good is an event on the
// bus, for alarms to act on.
func TestFailureIsPublished(t *testing.T) {
	w := newWorld(t, tokyo8am)
	sub := w.bus.Subscribe(64)
	defer sub.Close()
	w.presence.Connected("ch-2", 1, "10.0.0.2:1", 4, tokyo8am)
	w.run()
	for range 8 {
		w.clock.add(20 * time.Minute)
		w.run()
	}
	for {
		select {
		case ev := <-sub.C():
			if f, ok := ev.(events.ScheduleFailed); ok && f.Device == "ch-2" {
				if f.Status != store.PushFailed || f.Calendar != "office" || f.Date != "2026-12-07" || f.Reason == "" {
					t.Errorf("failure event %+v", f)
				}
				return
			}
		default:
			t.Fatal("no ScheduleFailed event for ch-2")
		}
	}
}

// TestRestartResumes: a Hearth restarted between a push and its
// verification resumes the checks, does not push again, and verifies
// when the device reports.
func TestRestartResumes(t *testing.T) {
	w := newWorld(t, tokyo8am)
	w.presence.Connected("ch-1", 1, "10.0.0.1:1", 4, tokyo8am)
	w.run()
	before, _, _ := w.st.History(store.HistoryQuery{Device: "ch-1"})

	w.newScheduler() // as after a restart, over the same store
	w.clock.add(30 * time.Second)
	w.run()
	after, _, _ := w.st.History(store.HistoryQuery{Device: "ch-1"})
	if len(after) != len(before) {
		t.Errorf("the program was written again after the restart: %d history entries, then %d", len(before), len(after))
	}
	w.report("ch-1")
	w.run()
	if r := w.record("ch-1", "2026-12-07"); r.Status != store.PushVerified {
		t.Errorf("ch-1 after the restart and its report: %+v", r)
	}
}

// TestNextDayAndOfflineAllDay: the next day's program is pushed at the
// next push time (a closed day, the weekend), and a device that stayed
// away all of the day before has that day's push failed.
func TestNextDayAndOfflineAllDay(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 10, 23, 0, 0, 0, time.UTC)) // Friday 12-11 08:00 Tokyo
	w.run()
	if r := w.record("ch-1", "2026-12-11"); r.Status != store.PushOffline {
		t.Fatalf("ch-1 on Friday: %+v", r)
	}
	// Saturday 00:04 Tokyo: not yet.
	w.clock.set(time.Date(2026, 12, 11, 15, 4, 0, 0, time.UTC))
	w.run()
	if p := w.desired("ch-1"); p["date"] != "2026-12-11" {
		t.Errorf("before the push time the program is still Friday's: %v", p["date"])
	}
	// Saturday 00:05 Tokyo: Saturday's (closed) program, and Friday failed.
	w.clock.set(time.Date(2026, 12, 11, 15, 5, 0, 0, time.UTC))
	w.run()
	p := w.desired("ch-1")
	steps, _ := p["steps"].([]any)
	if p["date"] != "2026-12-12" || len(steps) != 1 {
		t.Errorf("Saturday's program %v; want the closed day's one step", p)
	}
	if r := w.record("ch-1", "2026-12-11"); r.Status != store.PushFailed || r.Reason != "the device was offline all day" {
		t.Errorf("Friday's push of a device away all day: %+v", r)
	}
}

// TestCalendarChangeToday: a change to the calendar that changes today's
// program pushes it at once; one that does not change today pushes
// nothing.
func TestCalendarChangeToday(t *testing.T) {
	w := newWorld(t, tokyo8am)
	w.run()
	cal, err := w.st.GetCalendar("office")
	if err != nil {
		t.Fatal(err)
	}
	// An exception on another day changes nothing today.
	cal.Exceptions = append(cal.Exceptions, store.CalendarException{Date: "2026-12-24", Name: "party", DayType: "closed"})
	if _, _, err := w.st.PutCalendar(cal); err != nil {
		t.Fatal(err)
	}
	if err := w.sched.CalendarsChanged(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := w.st.History(store.HistoryQuery{Device: "ch-1"}); len(h) != 1 {
		t.Errorf("a change for another day wrote the program again (%d history entries)", len(h))
	}
	// Today closed for maintenance: pushed at once.
	cal.Exceptions = append(cal.Exceptions, store.CalendarException{Date: "2026-12-07", Name: "maintenance", DayType: "closed"})
	if _, _, err := w.st.PutCalendar(cal); err != nil {
		t.Fatal(err)
	}
	if err := w.sched.CalendarsChanged(context.Background()); err != nil {
		t.Fatal(err)
	}
	steps, _ := w.desired("ch-1")["steps"].([]any)
	if len(steps) != 1 {
		t.Errorf("today's program after closing today: %v", w.desired("ch-1"))
	}
	if r := w.record("ch-1", "2026-12-07"); r.Pushes != 1 || r.Status != store.PushOffline {
		t.Errorf("ch-1's record after the change: %+v", r)
	}
}

// TestProgramAlreadyDesired: a device whose desired program is the day's
// already is not written to again; one that runs it is verified at once.
func TestProgramAlreadyDesired(t *testing.T) {
	w := newWorld(t, tokyo8am)
	w.run()
	w.report("ch-1")
	// The next push of the same program (a second Hearth start the same
	// day with its records lost, say) finds it running.
	rec, err := w.sched.Retry(context.Background(), "ch-1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != store.PushVerified {
		t.Errorf("a push of the program the device runs: %+v", rec)
	}
	if h, _, _ := w.st.History(store.HistoryQuery{Device: "ch-1"}); len(h) != 2 {
		t.Errorf("%d history entries; want the push and the report only", len(h))
	}
}

// TestNewDeviceGetsItsCalendar: a device created after its calendar was
// assigned (here, to its customer's chillers) is given the day's program
// at the next run, as the server wires the registry to the scheduler.
func TestNewDeviceGetsItsCalendar(t *testing.T) {
	w := newWorld(t, tokyo8am)
	w.reg.OnChange(func(string) { w.sched.DevicesChanged() })
	w.run()
	if _, err := w.reg.CreateDevice(device.DeviceSpec{Name: "ch-4", Customer: "acme", Type: "chiller"}); err != nil {
		t.Fatal(err)
	}
	if c, ok := w.sched.CalendarOf("ch-4"); !ok || c.Calendar().ID != "office" {
		t.Fatalf("the new chiller's calendar: %v %v", c, ok)
	}
	w.run()
	if got := w.desired("ch-4")["date"]; got != "2026-12-07" {
		t.Errorf("the new chiller's desired program is of %v, want 2026-12-07", got)
	}
	if r := w.record("ch-4", "2026-12-07"); r.Pushes != 1 {
		t.Errorf("the new chiller's push record: %+v", r)
	}
}

// TestLostReportsAreFoundBySweep: when the loop loses devices' reports
// (its event buffer overflowed during a fleet's push), the sweep finds
// the programs they reported and verifies those pushes, and only those.
func TestLostReportsAreFoundBySweep(t *testing.T) {
	w := newWorld(t, tokyo8am)
	w.presence.Connected("ch-1", 1, "10.0.0.1:1", 4, tokyo8am)
	w.presence.Connected("ch-2", 1, "10.0.0.2:1", 4, tokyo8am)
	w.run()
	w.report("ch-1")
	// The report's events are lost.
	for len(w.failed.C()) > 0 {
		<-w.failed.C()
	}
	w.sched.RunDue(context.Background())
	if r := w.record("ch-1", "2026-12-07"); r.Status != store.PushPending {
		t.Fatalf("ch-1 with its report lost: %+v; want still pending", r)
	}
	w.sched.VerifyOpen(w.clock.now())
	w.sched.RunDue(context.Background()) // writes what changed
	if r := w.record("ch-1", "2026-12-07"); r.Status != store.PushVerified {
		t.Errorf("ch-1 after the sweep: %+v; want verified", r)
	}
	if r := w.record("ch-2", "2026-12-07"); r.Status != store.PushPending {
		t.Errorf("ch-2, which never reported, after the sweep: %+v; want pending", r)
	}
}
