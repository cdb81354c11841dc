package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/store"
)

// Store is what the scheduler reads and keeps in the record store;
// *store.Store implements it.
type Store interface {
	ListCalendars() ([]store.Calendar, error)
	GetCalendar(id string) (store.Calendar, error)
	ListAssignments() ([]store.Assignment, error)
	PutPushRecords(rs []store.PushRecord) error
	PushRecords(device string, keep func(device, date string) bool) ([]store.PushRecord, error)
	PrunePushRecords(before string) (int, error)
}

// Devices lists the registered devices; *device.Registry implements it.
type Devices interface {
	Summaries() []device.DeviceSummary
}

// Shadows is the shadow service the scheduler writes programs through, so
// that history, settings checks and device messages are those of every
// other change; *device.Shadows implements it.
type Shadows interface {
	Get(thing, name string) (shadow.Document, error)
	Update(thing, name string, body []byte, by device.Actor, now time.Time) ([]byte, error)
	ResendDelta(thing, name string) (bool, error)
}

// Presence tells whether a device is connected; *device.Presence
// implements it.
type Presence interface {
	Get(name string) (device.PresenceInfo, bool)
}

// Bus carries the events the scheduler listens to (a device's reports,
// connections, refusals) and publishes (a push that failed for good);
// *events.Bus implements it.
type Bus interface {
	SubscribeFunc(buffer int, keep func(events.Event) bool) *events.Subscription
	Publish(e events.Event)
}

// Config tunes the checks. Zero values take the defaults.
type Config struct {
	// CheckDelay is how long after a push its first check comes; each
	// further check waits Backoff times longer. Defaults 1m and 2.
	CheckDelay time.Duration
	Backoff    float64
	// MaxChecks is how many checks a device that stays online gets
	// before its push fails. Default 5.
	MaxChecks int
	// Workers push to this many devices at once, so their shadow writes
	// share bbolt commits. Default 32.
	Workers int
	// KeepDays is how many days of push records are kept. Default 35.
	KeepDays int
}

func (c Config) withDefaults() Config {
	if c.CheckDelay <= 0 {
		c.CheckDelay = time.Minute
	}
	if c.Backoff < 1 {
		c.Backoff = 2
	}
	if c.MaxChecks <= 0 {
		c.MaxChecks = 5
	}
	if c.Workers <= 0 {
		c.Workers = 32
	}
	if c.KeepDays <= 0 {
		c.KeepDays = 35
	}
	return c
}

// Deps are what the scheduler works with; all but Bus and Logger are
// required. Now is its clock (default time.Now): tests move it through
// days, a new year and daylight-saving changes.
type Deps struct {
	Store    Store
	Devices  Devices
	Shadows  Shadows
	Presence Presence
	Types    Settings
	Bus      Bus
	Logger   *slog.Logger
	Now      func() time.Time
}

// Actor is who the history records the scheduler's writes as.
var Actor = device.Actor{Name: "scheduler", Channel: device.ChannelScheduler}

// Scheduler writes each device's program of the day from its calendar to
// its shadow at the calendar's push time, and checks that the device took
// it: when the device reports it (its shadow update, at once), and at
// checks that back off; a device that stays online without taking it is
// sent the program again at each check, a device that is away is checked
// when it comes back. What happens is kept per device and day in the
// store, so a restart resumes where it was.
type Scheduler struct {
	d      Deps
	cfg    Config
	now    func() time.Time
	logger *slog.Logger

	mu       sync.Mutex
	cals     map[string]*Compiled // by ID
	byDevice map[string]deviceCal // device → its calendar
	// stale marks byDevice as behind the registry: a device was created,
	// moved or deleted since it was worked out. reassignMu keeps one
	// working-out at a time, so an older one never lands after a newer.
	stale      atomic.Bool
	reassignMu sync.Mutex
	lastDate   map[string]string            // device → the last date it has a record of
	open       map[string]*openPush         // device → today's record, while not final
	dirty      map[string]*store.PushRecord // device NUL date → record to write
	pruned     string                       // the last day push records were pruned

	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	sub     *events.Subscription
	started bool
}

// deviceCal is a device's calendar, and the customer both belong to.
type deviceCal struct {
	calendar, customer string
}

// openPush is a push not final yet.
type openPush struct {
	rec store.PushRecord
}

// New builds a scheduler; Start loads the calendars and begins.
func New(d Deps, cfg Config) (*Scheduler, error) {
	if d.Store == nil || d.Devices == nil || d.Shadows == nil || d.Presence == nil {
		return nil, errors.New("new scheduler: Store, Devices, Shadows and Presence are required")
	}
	s := &Scheduler{
		d: d, cfg: cfg.withDefaults(), now: d.Now, logger: d.Logger,
		cals: map[string]*Compiled{}, byDevice: map[string]deviceCal{}, lastDate: map[string]string{},
		open: map[string]*openPush{}, dirty: map[string]*store.PushRecord{},
		wake: make(chan struct{}, 1),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Load reads the calendars, the assignments and the pushes of the last two
// days, so that pending checks resume and missed pushes are caught up at
// the next RunDue. Start calls it.
func (s *Scheduler) Load() error {
	if err := s.reloadCalendars(); err != nil {
		return err
	}
	if err := s.reassign(); err != nil {
		return err
	}
	since := s.now().UTC().AddDate(0, 0, -2).Format(time.DateOnly)
	recs, err := s.d.Store.PushRecords("", func(_, date string) bool { return date >= since })
	if err != nil {
		return fmt.Errorf("load pushes: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		if r.Date > s.lastDate[r.Device] {
			s.lastDate[r.Device] = r.Date
		}
		if r.Status == store.PushPending || r.Status == store.PushOffline {
			if o, ok := s.open[r.Device]; !ok || o.rec.Date < r.Date {
				s.open[r.Device] = &openPush{rec: r}
			}
		}
	}
	return nil
}

// Start loads the state and runs the scheduler until Stop: pushes at each
// calendar's time, checks, reactions to devices' reports and returns.
func (s *Scheduler) Start(ctx context.Context) error {
	if err := s.Load(); err != nil {
		return err
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	if s.d.Bus != nil {
		s.sub = s.d.Bus.SubscribeFunc(eventBuffer, wanted)
	}
	s.started = true
	go s.loop()
	return nil
}

// Stop ends the loop and writes what is not written yet.
func (s *Scheduler) Stop(ctx context.Context) error {
	if !s.started {
		return nil
	}
	close(s.stop)
	if s.sub != nil {
		s.sub.Close()
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.flush()
}

// eventBuffer holds the events that arrive while the loop is busy, such as
// a fleet's reports during its push; past it, a sweep makes up for the
// lost ones (verifyOpen).
const eventBuffer = 16384

// wanted is the events the scheduler acts on (HandleEvent): devices'
// changes of their classic shadow, returns, and refusals of a program.
func wanted(ev events.Event) bool {
	switch e := ev.(type) {
	case events.ShadowUpdated:
		return e.Shadow == "" && e.Channel != device.ChannelScheduler
	case events.DeviceConnected:
		return true
	case events.DeviceEvent:
		return e.Code == program.EventInvalid
	}
	return false
}

// maxSleep bounds how long the loop sleeps, so a clock change or a day's
// end is noticed within it.
const maxSleep = time.Minute

func (s *Scheduler) loop() {
	defer close(s.done)
	var evc <-chan events.Event
	var dropped uint64
	if s.sub != nil {
		evc = s.sub.C()
	}
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	for {
		next := s.RunDue(context.Background())
		wait := min(max(time.Until(next), time.Millisecond), maxSleep)
		timer := time.NewTimer(wait)
	inner:
		for {
			select {
			case <-s.stop:
				timer.Stop()
				return
			case <-timer.C:
				break inner
			case <-s.wake:
				timer.Stop()
				break inner
			case ev, ok := <-evc:
				if !ok {
					evc = nil
					continue
				}
				s.HandleEvent(ev)
			case <-flush.C:
				if n := s.droppedEvents(); n != dropped {
					// Reports were lost while the loop was busy: look at
					// what they would have said.
					dropped = n
					s.verifyOpen(s.now())
				}
				if err := s.flush(); err != nil {
					s.logger.Warn("push records not written; retrying", "error", err)
				}
			}
		}
	}
}

// Wake makes the loop look for due work at once.
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// reloadCalendars compiles every stored calendar. One that no longer
// compiles (its device type's rules changed under it) is logged and left
// out until it is fixed.
func (s *Scheduler) reloadCalendars() error {
	list, err := s.d.Store.ListCalendars()
	if err != nil {
		return fmt.Errorf("load calendars: %w", err)
	}
	cals := make(map[string]*Compiled, len(list))
	for _, cal := range list {
		c, err := Compile(cal, s.d.Types)
		if err != nil {
			s.logger.Error("calendar left out: it no longer compiles", "calendar", cal.ID, "error", err)
			continue
		}
		cals[cal.ID] = c
	}
	s.mu.Lock()
	s.cals = cals
	s.mu.Unlock()
	return nil
}

// reassign works out every device's calendar: its own assignment, else its
// site's, else its customer's for its device type.
func (s *Scheduler) reassign() error {
	s.reassignMu.Lock()
	defer s.reassignMu.Unlock()
	// A change during the listing marks it stale again.
	s.stale.Store(false)
	as, err := s.d.Store.ListAssignments()
	if err != nil {
		s.stale.Store(true)
		return fmt.Errorf("load assignments: %w", err)
	}
	ds := s.d.Devices.Summaries()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byDevice = resolveAssignments(as, ds)
	return nil
}

// current works the devices' calendars out again if a device changed
// since they were; on failure the old ones hold and the next call retries.
func (s *Scheduler) current() {
	if !s.stale.Load() {
		return
	}
	if err := s.reassign(); err != nil {
		s.logger.Warn("calendars of devices not worked out again", "error", err)
	}
}

// resolveAssignments is the rule that gives each device at most one
// calendar: a device assignment wins over a site's, which wins over the
// customer's for the device's type.
func resolveAssignments(as []store.Assignment, ds []device.DeviceSummary) map[string]deviceCal {
	// A struct key rather than the three joined: this runs for every
	// device at start, and joining made three strings for each.
	type key struct{ kind, customer, target string }
	byKey := make(map[key]string, len(as))
	for _, a := range as {
		byKey[key{a.Kind, a.Customer, a.Target}] = a.Calendar
	}
	out := make(map[string]deviceCal, len(ds))
	for _, d := range ds {
		for _, k := range [...]key{
			{store.AssignDevice, d.Customer, d.Name},
			{store.AssignSite, d.Customer, d.Site},
			{store.AssignType, d.Customer, d.Type},
		} {
			if id, ok := byKey[k]; ok {
				out[d.Name] = deviceCal{calendar: id, customer: d.Customer}
				break
			}
		}
	}
	return out
}

// CalendarOf returns a device's calendar, compiled; ok is false when the
// device has none.
func (s *Scheduler) CalendarOf(device string) (*Compiled, bool) {
	s.current()
	s.mu.Lock()
	defer s.mu.Unlock()
	dc, ok := s.byDevice[device]
	if !ok {
		return nil, false
	}
	c, ok := s.cals[dc.calendar]
	return c, ok
}

// job is one device's program of one day to push.
type job struct {
	device, customer string
	cal              *Compiled
	date             time.Time
}

// RunDue does everything due at the scheduler's now: pushes whose time
// came (catching up those missed while Hearth was stopped), checks,
// pushes whose day ended unverified, pruning; it writes what changed and
// returns when something is next due.
func (s *Scheduler) RunDue(ctx context.Context) time.Time {
	s.current()
	now := s.now()
	next := now.Add(maxSleep)
	var jobs []job
	var checks []string
	s.mu.Lock()
	for dev, dc := range s.byDevice {
		c, ok := s.cals[dc.calendar]
		if !ok {
			continue
		}
		date := c.Today(now)
		ds := date.Format(time.DateOnly)
		if s.lastDate[dev] >= ds {
			// Pushed today; the next push is tomorrow's.
			if t := c.PushTime(date.AddDate(0, 0, 1)); t.Before(next) {
				next = t
			}
			continue
		}
		if t := c.PushTime(date); now.Before(t) {
			if t.Before(next) {
				next = t
			}
			continue
		}
		jobs = append(jobs, job{device: dev, customer: dc.customer, cal: c, date: date})
	}
	for dev, o := range s.open {
		c, ok := s.cals[o.rec.Calendar]
		if ok && o.rec.Date < c.Today(now).Format(time.DateOnly) {
			// The day ended before the device took its program.
			reason := "not verified by the end of the day"
			if o.rec.Status == store.PushOffline {
				reason = "the device was offline all day"
			}
			s.finish(o, store.PushFailed, reason, now)
			delete(s.open, dev)
			continue
		}
		if o.rec.Status != store.PushPending || o.rec.NextCheck.IsZero() {
			continue
		}
		if !o.rec.NextCheck.After(now) {
			checks = append(checks, dev)
		} else if o.rec.NextCheck.Before(next) {
			next = o.rec.NextCheck
		}
	}
	prune := s.pruned != now.UTC().Format(time.DateOnly)
	s.mu.Unlock()

	s.push(ctx, jobs, now)
	for _, dev := range checks {
		s.check(dev, now)
	}
	if prune {
		s.prune(now)
	}
	if err := s.flush(); err != nil {
		s.logger.Warn("push records not written; retrying", "error", err)
	}
	// Checks scheduled by this run are due after it.
	s.mu.Lock()
	for _, o := range s.open {
		if o.rec.Status == store.PushPending && !o.rec.NextCheck.IsZero() && o.rec.NextCheck.Before(next) {
			next = o.rec.NextCheck
		}
	}
	s.mu.Unlock()
	return next
}

// push runs jobs on the workers.
func (s *Scheduler) push(ctx context.Context, jobs []job, now time.Time) {
	if len(jobs) == 0 {
		return
	}
	slices.SortFunc(jobs, func(a, b job) int { return cmpString(a.device, b.device) })
	work := make(chan job)
	var wg sync.WaitGroup
	for range min(s.cfg.Workers, len(jobs)) {
		wg.Go(func() {
			for j := range work {
				s.pushOne(j, now)
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		work <- j
	}
	close(work)
	wg.Wait()
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pushOne writes a device's program of the day to its shadow, unless its
// desired program is that already, and opens the day's record.
func (s *Scheduler) pushOne(j job, now time.Time) store.PushRecord {
	day := j.cal.Resolve(j.date)
	prog, err := j.cal.Program(day)
	rec := store.PushRecord{Device: j.device, Customer: j.customer, Date: day.Date, Calendar: j.cal.Calendar().ID, Program: prog, Status: store.PushPending}
	if err != nil {
		s.logger.Error("cannot build a program", "device", j.device, "calendar", rec.Calendar, "error", err)
		return s.record(rec, store.PushFailed, err.Error(), now, "push")
	}
	desired, reported, err := s.programs(j.device)
	if err != nil {
		rec.Attempts = append(rec.Attempts, store.PushAttempt{At: now, Action: "push", Result: "cannot read the shadow: " + err.Error()})
		rec.NextCheck = now.Add(s.cfg.CheckDelay)
		return s.record(rec, store.PushPending, "the shadow could not be read; tried again at the next check", now, "")
	}
	switch {
	case sameProgram(reported, prog):
		rec.Attempts = append(rec.Attempts, store.PushAttempt{At: now, Action: "push", Result: "the device runs it already"})
		rec.VerifiedAt = now
		return s.record(rec, store.PushVerified, "", now, "")
	case sameProgram(desired, prog):
		rec.Attempts = append(rec.Attempts, store.PushAttempt{At: now, Action: "push", Result: "already desired; not written again"})
	default:
		body, _ := json.Marshal(map[string]any{"state": map[string]any{"desired": map[string]json.RawMessage{program.Key: prog}}})
		if _, err := s.d.Shadows.Update(j.device, "", body, Actor, now); err != nil {
			var se *shadow.Error
			if errors.As(err, &se) && se.Code < http.StatusInternalServerError {
				// The shadow service refused the program for good (the
				// device type's rules): no retry helps.
				rec.Attempts = append(rec.Attempts, store.PushAttempt{At: now, Action: "push", Result: "refused: " + se.Message})
				return s.record(rec, store.PushFailed, "the program was refused: "+se.Message, now, "")
			}
			rec.Attempts = append(rec.Attempts, store.PushAttempt{At: now, Action: "push", Result: "not written: " + err.Error()})
			rec.NextCheck = now.Add(s.cfg.CheckDelay)
			return s.record(rec, store.PushPending, "not written yet; tried again at the next check", now, "")
		}
		rec.Pushes++
		rec.PushedAt = now
		rec.Attempts = append(rec.Attempts, store.PushAttempt{At: now, Action: "push", Result: "written"})
	}
	if info, _ := s.d.Presence.Get(j.device); !info.Online {
		return s.record(rec, store.PushOffline, "the device was offline at push time; checked when it returns", now, "")
	}
	rec.NextCheck = now.Add(s.cfg.CheckDelay)
	return s.record(rec, store.PushPending, "", now, "")
}

// record keeps a record as the device's record of its day: open while
// pending or offline, final otherwise; it is written at the next flush.
// A final failure is published on the bus.
func (s *Scheduler) record(rec store.PushRecord, status, reason string, now time.Time, action string) store.PushRecord {
	rec.Status, rec.Reason = status, reason
	if action != "" {
		rec.Attempts = append(rec.Attempts, store.PushAttempt{At: now, Action: action, Result: reason})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.Date > s.lastDate[rec.Device] {
		s.lastDate[rec.Device] = rec.Date
	}
	if status == store.PushPending || status == store.PushOffline {
		s.open[rec.Device] = &openPush{rec: rec}
	} else if o, ok := s.open[rec.Device]; ok && o.rec.Date <= rec.Date {
		delete(s.open, rec.Device)
	}
	s.markDirty(rec)
	if status == store.PushFailed || status == store.PushRejected {
		s.publishFailure(rec, now)
	}
	return rec
}

// finish makes an open record final; the caller holds s.mu.
func (s *Scheduler) finish(o *openPush, status, reason string, now time.Time) {
	o.rec.Status, o.rec.Reason, o.rec.NextCheck = status, reason, time.Time{}
	switch status {
	case store.PushVerified:
		o.rec.VerifiedAt = now
	case store.PushFailed, store.PushRejected:
		o.rec.Attempts = append(o.rec.Attempts, store.PushAttempt{At: now, Action: "check", Result: reason})
		s.publishFailure(o.rec, now)
	}
	s.markDirty(o.rec)
}

func (s *Scheduler) publishFailure(rec store.PushRecord, now time.Time) {
	s.logger.Warn("schedule push failed", "device", rec.Device, "calendar", rec.Calendar, "date", rec.Date, "status", rec.Status, "reason", rec.Reason)
	if s.d.Bus != nil {
		s.d.Bus.Publish(events.ScheduleFailed{Device: rec.Device, At: now, Calendar: rec.Calendar, Date: rec.Date, Status: rec.Status, Reason: rec.Reason})
	}
}

// markDirty queues a record for the next flush; the caller holds s.mu.
func (s *Scheduler) markDirty(rec store.PushRecord) {
	r := rec
	s.dirty[rec.Device+"\x00"+rec.Date] = &r
}

// flush writes the queued records in one transaction. They stay queued,
// and readable through Record, until they are written.
func (s *Scheduler) flush() error {
	s.mu.Lock()
	if len(s.dirty) == 0 {
		s.mu.Unlock()
		return nil
	}
	queued := make(map[string]*store.PushRecord, len(s.dirty))
	rs := make([]store.PushRecord, 0, len(s.dirty))
	for k, r := range s.dirty {
		queued[k] = r
		rs = append(rs, *r)
	}
	s.mu.Unlock()
	if err := s.d.Store.PutPushRecords(rs); err != nil {
		return err
	}
	s.mu.Lock()
	for k, r := range queued {
		if s.dirty[k] == r { // not queued again since
			delete(s.dirty, k)
		}
	}
	s.mu.Unlock()
	return nil
}

// programs reads the desired and reported programs of a device's classic
// shadow; nil when absent.
func (s *Scheduler) programs(dev string) (desired, reported any, err error) {
	doc, err := s.d.Shadows.Get(dev, "")
	var se *shadow.Error
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return doc.State.Desired[program.Key], doc.State.Reported[program.Key], nil
}

// sameProgram reports whether a program in a shadow (as decoded from JSON)
// is the program pushed, comparing their JSON values.
func sameProgram(v any, pushed []byte) bool {
	if v == nil {
		return false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	var x, y any
	if json.Unmarshal(b, &x) != nil || json.Unmarshal(pushed, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// check looks at a pending push whose check is due: verified when the
// device reports the program; otherwise sent again while the device is
// online, failed after the last check, set aside while it is away.
func (s *Scheduler) check(dev string, now time.Time) {
	s.mu.Lock()
	o, ok := s.open[dev]
	if !ok || o.rec.Status != store.PushPending {
		s.mu.Unlock()
		return
	}
	rec := o.rec
	s.mu.Unlock()

	desired, reported, err := s.programs(dev)
	result := ""
	switch {
	case err != nil:
		result = "cannot read the shadow: " + err.Error()
	case sameProgram(reported, rec.Program):
		s.settle(dev, rec.Date, store.PushVerified, "", now)
		return
	case !sameProgram(desired, rec.Program):
		// Someone changed desired.program since the push (an operator by
		// hand): the day's program is theirs to run now, not a failure.
		s.settle(dev, rec.Date, store.PushFailed, "desired.program was changed after the push", now)
		return
	}
	online := false
	if info, _ := s.d.Presence.Get(dev); info.Online {
		online = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok = s.open[dev]
	if !ok || o.rec.Date != rec.Date || o.rec.Status != store.PushPending {
		return
	}
	o.rec.Checks++
	switch {
	case !online:
		o.rec.Status, o.rec.Reason, o.rec.NextCheck = store.PushOffline, "the device went offline; checked when it returns", time.Time{}
		o.rec.Attempts = append(o.rec.Attempts, store.PushAttempt{At: now, Action: "check", Result: "offline"})
	case o.rec.Checks >= s.cfg.MaxChecks:
		if result == "" {
			result = fmt.Sprintf("not verified after %d checks", o.rec.Checks)
		}
		s.finish(o, store.PushFailed, result, now)
		delete(s.open, dev)
		return
	default:
		if result == "" {
			result = "not reported yet; sent again"
			if _, err := s.d.Shadows.ResendDelta(dev, ""); err != nil {
				result = "not reported yet; cannot send again: " + err.Error()
			} else {
				o.rec.Pushes++
			}
		}
		o.rec.Attempts = append(o.rec.Attempts, store.PushAttempt{At: now, Action: "check", Result: result})
		wait := time.Duration(float64(s.cfg.CheckDelay) * pow(s.cfg.Backoff, o.rec.Checks))
		o.rec.NextCheck = now.Add(wait)
	}
	s.markDirty(o.rec)
}

func pow(b float64, n int) float64 {
	out := 1.0
	for range n {
		out *= b
	}
	return out
}

// settle makes a device's open record of date final.
func (s *Scheduler) settle(dev, date, status, reason string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.open[dev]
	if !ok || o.rec.Date != date {
		return
	}
	if status == store.PushVerified {
		o.rec.Attempts = append(o.rec.Attempts, store.PushAttempt{At: now, Action: "check", Result: "verified"})
	}
	s.finish(o, status, reason, now)
	delete(s.open, dev)
}

// HandleEvent reacts to what devices do: a report may verify a push, a
// return to the network makes an offline push pending again, and a device
// that says it cannot follow its program has rejected it. The loop calls
// it for each event of the bus; tests call it directly.
func (s *Scheduler) HandleEvent(ev events.Event) {
	now := s.now()
	switch e := ev.(type) {
	case events.ShadowUpdated:
		if e.Shadow != "" || e.Channel == device.ChannelScheduler {
			return
		}
		s.mu.Lock()
		o, ok := s.open[e.Device]
		var date string
		var prog json.RawMessage
		if ok {
			date, prog = o.rec.Date, o.rec.Program
		}
		s.mu.Unlock()
		if !ok {
			return
		}
		if _, reported, err := s.programs(e.Device); err == nil && sameProgram(reported, prog) {
			s.settle(e.Device, date, store.PushVerified, "", now)
		}
	case events.DeviceConnected:
		s.mu.Lock()
		if o, ok := s.open[e.Device]; ok && o.rec.Status == store.PushOffline {
			o.rec.Status, o.rec.Reason = store.PushPending, ""
			o.rec.NextCheck = now.Add(s.cfg.CheckDelay)
			o.rec.Attempts = append(o.rec.Attempts, store.PushAttempt{At: now, Action: "check", Result: "the device is back; checked shortly"})
			s.markDirty(o.rec)
		}
		s.mu.Unlock()
		s.Wake()
	case events.DeviceEvent:
		if e.Code != program.EventInvalid {
			return
		}
		s.mu.Lock()
		o, ok := s.open[e.Device]
		var date string
		if ok {
			date = o.rec.Date
		}
		s.mu.Unlock()
		if ok {
			s.settle(e.Device, date, store.PushRejected, "the device cannot follow the program: "+e.Message, now)
		}
	}
}

// droppedEvents counts the events lost to a full buffer.
func (s *Scheduler) droppedEvents() uint64 {
	if s.sub == nil {
		return 0
	}
	return s.sub.Dropped()
}

// verifyOpen settles every pending push whose device already reports its
// program, as HandleEvent would have on the device's report.
func (s *Scheduler) verifyOpen(now time.Time) {
	type pending struct {
		dev, date string
		prog      json.RawMessage
	}
	var ps []pending
	s.mu.Lock()
	for dev, o := range s.open {
		if o.rec.Status == store.PushPending {
			ps = append(ps, pending{dev, o.rec.Date, o.rec.Program})
		}
	}
	s.mu.Unlock()
	for _, p := range ps {
		if _, reported, err := s.programs(p.dev); err == nil && sameProgram(reported, p.prog) {
			s.settle(p.dev, p.date, store.PushVerified, "", now)
		}
	}
}

// prune deletes push records older than KeepDays, once a day.
func (s *Scheduler) prune(now time.Time) {
	before := now.UTC().AddDate(0, 0, -s.cfg.KeepDays).Format(time.DateOnly)
	n, err := s.d.Store.PrunePushRecords(before)
	if err != nil {
		s.logger.Warn("old push records not pruned", "error", err)
		return
	}
	s.mu.Lock()
	s.pruned = now.UTC().Format(time.DateOnly)
	s.mu.Unlock()
	if n > 0 {
		s.logger.Info("old push records pruned", "records", n, "before", before)
	}
}

// CalendarsChanged reloads the calendars and assignments after a change
// and pushes at once, to every device whose program of today changed (or
// whose calendar did), when today's push time has passed: a change that
// affects today takes effect today.
func (s *Scheduler) CalendarsChanged(ctx context.Context) error {
	if err := s.reloadCalendars(); err != nil {
		return err
	}
	if err := s.reassign(); err != nil {
		return err
	}
	now := s.now()
	var candidates []job
	s.mu.Lock()
	for dev, dc := range s.byDevice {
		c, ok := s.cals[dc.calendar]
		if !ok {
			continue
		}
		date := c.Today(now)
		if now.Before(c.PushTime(date)) {
			continue // the day's push is still to come
		}
		if s.lastDate[dev] < date.Format(time.DateOnly) {
			continue // RunDue pushes it
		}
		candidates = append(candidates, job{device: dev, customer: dc.customer, cal: c, date: date})
	}
	s.mu.Unlock()
	var jobs []job
	for _, j := range candidates {
		prog, err := j.cal.Program(j.cal.Resolve(j.date))
		if err != nil {
			continue
		}
		if rec, ok := s.Record(j.device, j.date.Format(time.DateOnly)); ok && rec.Calendar == j.cal.Calendar().ID && bytes.Equal(rec.Program, prog) {
			continue
		}
		jobs = append(jobs, j)
	}
	s.push(ctx, jobs, now)
	s.Wake()
	return s.flush()
}

// DevicesChanged notes that a device was created, moved or deleted: its
// calendar is worked out again before the next use of the assignments
// (once for a burst of changes, such as a fleet provisioned in bulk), and
// a device that gets a calendar is pushed to at the next RunDue.
func (s *Scheduler) DevicesChanged() {
	s.stale.Store(true)
	s.Wake()
}

// PushNow pushes today's program of a calendar to every device it applies
// to, again even where it was pushed, and answers each device's record.
func (s *Scheduler) PushNow(ctx context.Context, calendar string) ([]store.PushRecord, error) {
	if err := s.reloadCalendars(); err != nil {
		return nil, err
	}
	s.current()
	now := s.now()
	s.mu.Lock()
	c, ok := s.cals[calendar]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("calendar %q: %w", calendar, store.ErrNotFound)
	}
	var jobs []job
	for dev, dc := range s.byDevice {
		if dc.calendar == calendar {
			jobs = append(jobs, job{device: dev, customer: dc.customer, cal: c, date: c.Today(now)})
		}
	}
	s.mu.Unlock()
	return s.pushAll(ctx, jobs, now)
}

// Retry pushes a device's program of today again at once.
func (s *Scheduler) Retry(ctx context.Context, dev string) (store.PushRecord, error) {
	s.current()
	now := s.now()
	s.mu.Lock()
	dc, ok := s.byDevice[dev]
	var c *Compiled
	if ok {
		c, ok = s.cals[dc.calendar]
	}
	s.mu.Unlock()
	if !ok {
		return store.PushRecord{}, fmt.Errorf("device %q has no calendar: %w", dev, store.ErrNotFound)
	}
	recs, err := s.pushAll(ctx, []job{{device: dev, customer: dc.customer, cal: c, date: c.Today(now)}}, now)
	if err != nil {
		return store.PushRecord{}, err
	}
	return recs[0], nil
}

// pushAll pushes jobs, writes their records and answers them in device
// order.
func (s *Scheduler) pushAll(ctx context.Context, jobs []job, now time.Time) ([]store.PushRecord, error) {
	slices.SortFunc(jobs, func(a, b job) int { return cmpString(a.device, b.device) })
	out := make([]store.PushRecord, len(jobs))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(s.cfg.Workers, max(len(jobs), 1)) {
		wg.Go(func() {
			for i := range work {
				out[i] = s.pushOne(jobs[i], now)
			}
		})
	}
	for i := range jobs {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.Wake()
	return out, s.flush()
}

// Record is a device's record of a day as the scheduler knows it now:
// records open or waiting to be written are newer in memory than in the
// store.
func (s *Scheduler) Record(dev, date string) (store.PushRecord, bool) {
	s.mu.Lock()
	if o, ok := s.open[dev]; ok && o.rec.Date == date {
		s.mu.Unlock()
		return o.rec, true
	}
	if r, ok := s.dirty[dev+"\x00"+date]; ok {
		s.mu.Unlock()
		return *r, true
	}
	s.mu.Unlock()
	recs, err := s.d.Store.PushRecords(dev, func(_, d string) bool { return d == date })
	if err != nil || len(recs) == 0 {
		return store.PushRecord{}, false
	}
	return recs[0], true
}

// Devices lists the devices a calendar applies to, sorted.
func (s *Scheduler) Devices(calendar string) []string {
	s.current()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for dev, dc := range s.byDevice {
		if dc.calendar == calendar {
			out = append(out, dev)
		}
	}
	slices.Sort(out)
	return out
}
