package alarm

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/store"
)

// Store keeps rules and alarms; *store.Store implements it.
type Store interface {
	ListAlarmRules() ([]store.AlarmRule, error)
	RaiseAlarm(a store.Alarm) (store.Alarm, bool, error)
	ClearOpenAlarm(rule, device, message string, at time.Time) (store.Alarm, bool, error)
	ListAlarms(f store.AlarmFilter) ([]store.Alarm, error)
	PruneAlarms(before time.Time) (int, error)
}

// Devices says what a device is; *device.Registry implements it.
type Devices interface {
	Labels(name string) (customer, site string, ok bool)
	Type(name string) (string, bool)
}

// Presence says whether devices are connected; *device.Presence
// implements it.
type Presence interface {
	Get(name string) (device.PresenceInfo, bool)
}

// Bus carries the events rules watch, and takes the alarms' changes;
// *events.Bus implements it.
type Bus interface {
	SubscribeFunc(buffer int, keep func(events.Event) bool) *events.Subscription
	Publish(events.Event)
}

// Notifier tells people of an alarm that became active or cleared. It
// must not block for long: it queues.
type Notifier interface {
	Notify(ctx context.Context, a store.Alarm, rule store.AlarmRule, change string) error
}

// Deps are what the engine works with; Notifier, Presence and Logger may be
// nil.
type Deps struct {
	Store    Store
	Devices  Devices
	Presence Presence
	Bus      Bus
	Notifier Notifier
	// Metrics lists the metrics a device type declares, nil when it
	// declares none (any name is then accepted).
	Metrics func(deviceType string) []string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Config tunes the engine.
type Config struct {
	// Retention is how long closed alarms are kept (default 365 days).
	Retention time.Duration
	// Sweep is how often durations are checked (default 1 s).
	Sweep time.Duration
	// MinOffline is the shortest duration an offline rule may give
	// (default DefaultMinOffline).
	MinOffline time.Duration
}

// Engine evaluates the rules. Its state — each device's latest metric
// values and each rule's pending durations — lives in memory; the alarms
// that stand are read back from the store at start, so a restart neither
// raises them again nor forgets them.
type Engine struct {
	d   Deps
	cfg Config

	mu      sync.Mutex
	rules   []*Rule
	swept   []*Rule // the stale and offline rules, which the sweep checks on every device
	devices map[string]*devState
	state   map[stateKey]*ruleState
	vm      vm.VM
	fresh   []string           // scratch of Handle
	env     map[string]float64 // scratch of evalTelemetry: a condition's values
	started time.Time

	sub  *events.Subscription
	stop chan struct{}
	done chan struct{}
	// writers write alarms to the store, each the changes of its share of
	// rules and devices in order, all at once so that many raised together
	// (a site's network failing) share the store's batched commits.
	writers []chan func()
	writes  sync.WaitGroup // writes queued and not done
	pruned  string

	stopOnce, closeOnce sync.Once
}

// writers is how many alarm writes run at once.
const writers = 32

type stateKey struct{ rule, device string }

// devState is what the engine knows of a device.
type devState struct {
	// The map is made by the device's first telemetry (withValues): a
	// fleet watched from the start holds tens of thousands of devices
	// that have sent nothing yet, and making maps for each was most of
	// the alarms' start.
	metrics map[string]*metricState
	// offlineSince is when the device went away; zero while online or
	// never heard of.
	offlineSince time.Time
}

// metricState is what the engine knows of one metric of a device: one
// map lookup per reading keeps the cost of a message low, which every
// message pays whether or not a rule looks at it.
type metricState struct {
	value float64   // the newest value
	stamp int64     // its timestamp, unix milliseconds
	seen  time.Time // when the metric last arrived
}

// ruleState is one rule on one device.
type ruleState struct {
	since      time.Time // the condition has held since; zero when it does not
	clearSince time.Time // the clear condition has held since
	active     bool      // an alarm of the rule on the device is active
	fields     map[string]any
}

// New builds an engine; Start loads the rules and runs it.
func New(d Deps, cfg Config) (*Engine, error) {
	if d.Store == nil || d.Devices == nil {
		return nil, errors.New("new alarm engine: Deps.Store and Deps.Devices are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Metrics == nil {
		d.Metrics = func(string) []string { return nil }
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 365 * 24 * time.Hour
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = time.Second
	}
	if cfg.MinOffline <= 0 {
		cfg.MinOffline = DefaultMinOffline
	}
	e := &Engine{d: d, cfg: cfg, devices: map[string]*devState{}, state: map[stateKey]*ruleState{}}
	for range writers {
		ch := make(chan func(), 1024)
		e.writers = append(e.writers, ch)
		go func() {
			for fn := range ch {
				fn()
				e.writes.Done()
			}
		}()
	}
	return e, nil
}

// CompileRule checks a rule against the metrics of the devices it applies
// to: its device type's, or its device's type's.
func (e *Engine) CompileRule(r store.AlarmRule) (*Rule, error) {
	typ := r.DeviceType
	if typ == "" && r.Device != "" {
		typ, _ = e.d.Devices.Type(r.Device)
	}
	var metrics []string
	if typ != "" {
		metrics = e.d.Metrics(typ)
	}
	return compile(r, metrics, e.cfg.MinOffline)
}

// Load reads the rules and the alarms that stand.
func (e *Engine) Load() error {
	if err := e.RulesChanged(); err != nil {
		return err
	}
	open, err := e.d.Store.ListAlarms(store.AlarmFilter{OpenOnly: true, State: store.AlarmActive})
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.started = e.d.Now()
	for _, a := range open {
		e.stateOf(a.Rule, a.Device).active = true
	}
	return nil
}

// RulesChanged reloads the rules after one was created, changed or
// deleted. A rule that no longer compiles (its type lost a metric) is
// skipped with a warning.
func (e *Engine) RulesChanged() error {
	rs, err := e.d.Store.ListAlarmRules()
	if err != nil {
		return fmt.Errorf("load alarm rules: %w", err)
	}
	var rules []*Rule
	for _, r := range rs {
		if r.Disabled {
			continue
		}
		c, err := e.CompileRule(r)
		if err != nil {
			e.d.Logger.Warn("alarm rule skipped: it no longer compiles", "rule", r.ID, "error", err)
			continue
		}
		rules = append(rules, c)
	}
	var swept []*Rule
	for _, r := range rules {
		if r.Kind == KindStale || r.Kind == KindOffline {
			swept = append(swept, r)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules, e.swept = rules, swept
	for k := range e.state {
		if !slices.ContainsFunc(rules, func(r *Rule) bool { return r.ID == k.rule }) {
			delete(e.state, k)
		}
	}
	return nil
}

// wanted is the events rules watch.
func wanted(ev events.Event) bool {
	switch ev.(type) {
	case events.TelemetryStored, events.DeviceConnected, events.DeviceDisconnected,
		events.DeviceEvent, events.SettingsViolated, events.ScheduleFailed, events.SystemEvent:
		return true
	}
	return false
}

// eventBuffer holds the events that arrive while the engine is busy; a
// full buffer drops telemetry events (counted), never holding up ingest.
const eventBuffer = 65536

// Start loads the rules and alarms and runs the engine until Stop.
func (e *Engine) Start(context.Context) error {
	if err := e.Load(); err != nil {
		return err
	}
	e.stop, e.done = make(chan struct{}), make(chan struct{})
	if e.d.Bus != nil {
		e.sub = e.d.Bus.SubscribeFunc(eventBuffer, wanted)
	}
	go e.loop()
	return nil
}

// Stop ends the engine and waits for its writes.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() {
		if e.stop != nil {
			close(e.stop)
		}
		if e.sub != nil {
			e.sub.Close()
		}
	})
	finished := make(chan struct{})
	go func() {
		if e.done != nil {
			<-e.done
		}
		e.writes.Wait()
		e.closeOnce.Do(func() {
			for _, ch := range e.writers {
				close(ch)
			}
		})
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Dropped counts the events lost to a full buffer.
func (e *Engine) Dropped() uint64 {
	if e.sub == nil {
		return 0
	}
	return e.sub.Dropped()
}

func (e *Engine) loop() {
	defer close(e.done)
	var evc <-chan events.Event
	if e.sub != nil {
		evc = e.sub.C()
	}
	tick := time.NewTicker(e.cfg.Sweep)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case ev, ok := <-evc:
			if !ok {
				evc = nil
				continue
			}
			e.Handle(ev)
		case <-tick.C:
			e.Sweep()
		}
	}
}

// Handle evaluates the rules an event concerns. The loop calls it for
// each event of the bus; tests call it directly.
func (e *Engine) Handle(ev events.Event) {
	now := e.d.Now()
	if sys, ok := ev.(events.SystemEvent); ok {
		e.handleSystem(sys, now)
		return
	}
	name := ev.DeviceName()
	customer, site, ok := e.d.Devices.Labels(name)
	if !ok {
		return
	}
	typ, _ := e.d.Devices.Type(name)
	e.mu.Lock()
	defer e.mu.Unlock()
	ds := e.device(name)
	switch ev := ev.(type) {
	case events.TelemetryStored:
		ds.withValues()
		// A value replaces the one held only when newer, and only a recent
		// one evaluates rules: a back-fill of last night's history is
		// stored, not alarmed on as if it were happening now.
		fresh := e.fresh[:0]
		recent := now.Add(-MaxSampleAge).UnixMilli()
		for _, r := range ev.Readings {
			m := ds.metrics[r.Metric]
			switch {
			case m == nil:
				m = &metricState{value: r.Value, stamp: r.Timestamp}
				ds.metrics[strings.Clone(r.Metric)] = m
			case r.Timestamp < m.stamp:
				m.seen = now
				continue
			default:
				m.value, m.stamp = r.Value, r.Timestamp
			}
			m.seen = now
			if r.Timestamp >= recent {
				fresh = append(fresh, r.Metric)
			}
		}
		e.fresh = fresh
		for _, r := range e.rules {
			if !applies(r, name, customer, site, typ) {
				continue
			}
			switch r.Kind {
			case KindTelemetry:
				if touches(r, fresh) {
					e.evalTelemetry(r, name, customer, site, typ, ds, now)
				}
			case KindStale:
				if st := e.state[stateKey{r.ID, name}]; st != nil && st.active && touches(r, fresh) {
					e.clearLocked(r, name, fmt.Sprintf("%s arrives again", r.Metric), now)
				}
			}
		}
	case events.DeviceConnected:
		ds.offlineSince = time.Time{}
		for _, r := range e.rules {
			if r.Kind == KindOffline && applies(r, name, customer, site, typ) {
				e.clearLocked(r, name, "the device is back online", now)
			}
		}
	case events.DeviceDisconnected:
		ds.offlineSince = ev.At
	case events.DeviceEvent:
		for _, r := range e.rules {
			if r.Kind == KindEvent && applies(r, name, customer, site, typ) &&
				(r.EventCode == "" || r.EventCode == ev.Code) && (r.EventLevel == "" || r.EventLevel == ev.Level) {
				e.raiseLocked(r, name, customer, site, typ, ev.Code+": "+ev.Message,
					map[string]any{"code": ev.Code, "level": ev.Level, "message": ev.Message, "source": ev.Source}, now)
			}
		}
	case events.SettingsViolated:
		for _, r := range e.rules {
			if r.Kind == KindSettings && applies(r, name, customer, site, typ) {
				e.raiseLocked(r, name, customer, site, typ, "reported settings out of their rules: "+strings.Join(ev.Keys, ", "),
					map[string]any{"keys": ev.Keys, "shadow": ev.Shadow}, now)
			}
		}
	case events.ScheduleFailed:
		for _, r := range e.rules {
			if r.Kind == KindSchedule && applies(r, name, customer, site, typ) {
				e.raiseLocked(r, name, customer, site, typ, fmt.Sprintf("the program of %s was %s: %s", ev.Date, ev.Status, ev.Reason),
					map[string]any{"calendar": ev.Calendar, "date": ev.Date, "status": ev.Status, "reason": ev.Reason}, now)
			}
		}
	}
}

// handleSystem raises the alarms of the system rules an event of Hearth
// itself matches. Such an alarm has no device, customer or site, so only
// operators see it; each event is raised again, counted, as device
// events are.
func (e *Engine) handleSystem(ev events.SystemEvent, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.rules {
		if r.Kind == KindSystem && (r.EventCode == "" || r.EventCode == ev.Code) && (r.EventLevel == "" || r.EventLevel == ev.Level) {
			e.raiseLocked(r, "", "", "", "", ev.Code+": "+ev.Message,
				map[string]any{"code": ev.Code, "level": ev.Level, "message": ev.Message, "source": ev.Source}, now)
		}
	}
}

// applies tells whether a rule watches a device.
func applies(r *Rule, name, customer, site, typ string) bool {
	return (r.Customer == "" || r.Customer == customer) && (r.DeviceType == "" || r.DeviceType == typ) &&
		(r.Site == "" || r.Site == site) && (r.Device == "" || r.Device == name)
}

// touches tells whether metrics include one the rule reads.
func touches(r *Rule, metrics []string) bool {
	for _, m := range metrics {
		if slices.Contains(r.metrics, m) {
			return true
		}
	}
	return false
}

// MaxSampleAge is how old a sample may be, when it is stored, to evaluate
// rules: older ones (a gateway's back-fill after an outage) are kept as
// the device's values but raise and clear nothing.
const MaxSampleAge = 10 * time.Minute

func (e *Engine) device(name string) *devState {
	ds, ok := e.devices[name]
	if !ok {
		ds = &devState{}
		e.devices[name] = ds
	}
	return ds
}

// withValues makes the map of a device's telemetry, once.
func (ds *devState) withValues() {
	if ds.metrics == nil {
		ds.metrics = map[string]*metricState{}
	}
}

func (e *Engine) stateOf(rule, dev string) *ruleState {
	k := stateKey{rule, dev}
	st, ok := e.state[k]
	if !ok {
		st = &ruleState{}
		e.state[k] = st
	}
	return st
}

// evalTelemetry evaluates a telemetry rule on a device's latest values:
// the condition held for For raises; the clear condition (or the
// condition no longer holding) held for ClearFor clears.
func (e *Engine) evalTelemetry(r *Rule, name, customer, site, typ string, ds *devState, now time.Time) {
	st := e.stateOf(r.ID, name)
	// The condition's values, from the engine's scratch map (Handle
	// holds mu).
	if e.env == nil {
		e.env = map[string]float64{}
	}
	values := e.env
	for k := range values {
		delete(values, k)
	}
	for _, m := range r.metrics {
		if ms := ds.metrics[m]; ms != nil {
			values[m] = ms.value
		}
	}
	fire, err := eval(&e.vm, r.cond, r.metrics, values)
	if err != nil {
		e.d.Logger.Warn("alarm condition failed", "rule", r.ID, "device", name, "error", err)
		return
	}
	fields := func() map[string]any {
		out := make(map[string]any, len(r.metrics))
		for _, m := range r.metrics {
			out[m] = values[m]
		}
		return out
	}
	cleared := !fire
	if st.active && r.clear != nil {
		if cleared, err = eval(&e.vm, r.clear, r.metrics, values); err != nil {
			e.d.Logger.Warn("alarm clear condition failed", "rule", r.ID, "device", name, "error", err)
			return
		}
	}
	if fire && !st.active {
		st.fields = fields() // for the sweep, which raises without a sample
	}
	switch r.advance(st, fire, cleared, now) {
	case raise:
		f := fields()
		e.raiseLocked(r, name, customer, site, typ, describe(r.Condition, f), f, now)
	case clear:
		e.clearLocked(r, name, "cleared: "+describe(r.Condition, fields()), now)
	}
}

// Outcomes of advance.
const (
	hold  = iota // nothing changes
	raise        // the condition held for For
	clear        // the clear condition held for ClearFor
)

// advance moves a telemetry rule's state on one device to now, given
// whether its condition and its clear condition hold, and says whether the
// alarm is to be raised or cleared. The engine and the preview share it.
func (r *Rule) advance(st *ruleState, fire, cleared bool, now time.Time) int {
	if !st.active {
		if !fire {
			st.since = time.Time{}
			return hold
		}
		if st.since.IsZero() {
			st.since = now
		}
		if now.Sub(st.since) >= r.hold {
			return raise
		}
		return hold
	}
	if !cleared {
		st.clearSince = time.Time{}
		return hold
	}
	if st.clearSince.IsZero() {
		st.clearSince = now
	}
	if now.Sub(st.clearSince) >= r.release {
		return clear
	}
	return hold
}

// describe is a condition with the values that decided it.
func describe(cond string, fields map[string]any) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s = %v", k, fields[k]))
	}
	return cond + " (" + strings.Join(parts, ", ") + ")"
}

// Sweep raises what has held long enough without new samples (conditions
// with a duration, stale metrics, devices offline) and prunes closed
// alarms past their retention once a day.
func (e *Engine) Sweep() {
	now := e.d.Now()
	e.mu.Lock()
	for k, st := range e.state {
		if st.active || st.since.IsZero() {
			continue
		}
		r := e.rule(k.rule)
		if r == nil || r.Kind != KindTelemetry || now.Sub(st.since) < r.hold {
			continue
		}
		if customer, site, ok := e.d.Devices.Labels(k.device); ok {
			typ, _ := e.d.Devices.Type(k.device)
			e.raiseLocked(r, k.device, customer, site, typ, describe(r.Condition, st.fields), st.fields, now)
		}
	}
	for name, ds := range e.devices {
		customer, site, ok := e.d.Devices.Labels(name)
		if !ok {
			delete(e.devices, name)
			continue
		}
		if len(e.swept) == 0 {
			continue
		}
		typ, _ := e.d.Devices.Type(name)
		for _, r := range e.swept {
			if !applies(r, name, customer, site, typ) {
				continue
			}
			switch r.Kind {
			case KindStale:
				last := e.started // not heard since start: counted from then
				if ms := ds.metrics[r.Metric]; ms != nil {
					last = ms.seen
				}
				if now.Sub(last) >= r.hold {
					e.raiseLocked(r, name, customer, site, typ, fmt.Sprintf("no %s for %s", r.Metric, r.hold),
						map[string]any{"metric": r.Metric, "last": last}, now)
				}
			case KindOffline:
				if !ds.offlineSince.IsZero() && now.Sub(ds.offlineSince) >= r.hold {
					e.raiseLocked(r, name, customer, site, typ, fmt.Sprintf("offline since %s", ds.offlineSince.UTC().Format(time.RFC3339)),
						map[string]any{"offline_since": ds.offlineSince}, now)
				}
			}
		}
	}
	prune := e.pruned != now.UTC().Format(time.DateOnly)
	e.pruned = now.UTC().Format(time.DateOnly)
	e.mu.Unlock()
	if prune {
		if n, err := e.d.Store.PruneAlarms(now.Add(-e.cfg.Retention)); err != nil {
			e.d.Logger.Warn("closed alarms not pruned", "error", err)
		} else if n > 0 {
			e.d.Logger.Info("closed alarms pruned", "alarms", n)
		}
	}
}

func (e *Engine) rule(id string) *Rule {
	for _, r := range e.rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Watch tells the engine of devices to watch from the start, such as those
// the presence service knows, so an offline or stale rule covers a device
// that never sends after a restart.
func (e *Engine) Watch(names []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.devices) == 0 {
		e.devices = make(map[string]*devState, len(names))
	}
	// The states of a fleet watched at start are made in one slice.
	states := make([]devState, len(names))
	for i, n := range names {
		ds, ok := e.devices[n]
		if !ok {
			ds = &states[i]
			e.devices[n] = ds
		}
		if e.d.Presence != nil {
			if info, ok := e.d.Presence.Get(n); ok && !info.Online && ds.offlineSince.IsZero() {
				ds.offlineSince = info.DisconnectedAt
			}
		}
	}
}

// raiseLocked raises a rule's alarm on a device, once: a rule whose alarm
// is active is not raised again by each sample, only by a new event. The
// write runs in the background, so many raised at once (a site's network
// failing) share the store's batched commits.
func (e *Engine) raiseLocked(r *Rule, name, customer, site, typ, msg string, fields map[string]any, now time.Time) {
	st := e.stateOf(r.ID, name)
	repeat := st.active
	if repeat && r.Kind != KindEvent && r.Kind != KindSettings && r.Kind != KindSchedule && r.Kind != KindSystem {
		return
	}
	st.active, st.since, st.clearSince = true, time.Time{}, time.Time{}
	a := store.Alarm{Rule: r.ID, RuleName: r.Name, Customer: customer, Site: site, Device: name, DeviceType: typ,
		Severity: r.Severity, Message: msg, Fields: fields, RaisedAt: now, LastAt: now}
	rule := r.AlarmRule
	e.background(r.ID, name, func() {
		stored, activated, err := e.d.Store.RaiseAlarm(a)
		if err != nil {
			e.d.Logger.Error("alarm not raised", "rule", a.Rule, "device", a.Device, "error", err)
			if !repeat {
				// Raised again at the next sample or sweep. Not on this
				// goroutine: the engine may be waiting for its queue.
				go func() {
					e.mu.Lock()
					st.active = false
					e.mu.Unlock()
				}()
			}
			return
		}
		if activated {
			e.changed(stored, rule, store.AlarmRaised)
		}
	})
}

// clearLocked clears a rule's active alarm on a device.
func (e *Engine) clearLocked(r *Rule, name, msg string, now time.Time) {
	st := e.stateOf(r.ID, name)
	if !st.active {
		return
	}
	st.active, st.since, st.clearSince = false, time.Time{}, time.Time{}
	rule := r.AlarmRule
	e.background(r.ID, name, func() {
		a, ok, err := e.d.Store.ClearOpenAlarm(rule.ID, name, msg, now)
		if err != nil {
			e.d.Logger.Error("alarm not cleared", "rule", rule.ID, "device", name, "error", err)
			return
		}
		if ok {
			e.changed(a, rule, store.AlarmClearedBy)
		}
	})
}

// Cleared tells the engine that a person cleared an alarm by hand, so a
// condition that still holds raises it again.
func (e *Engine) Cleared(a store.Alarm) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st, ok := e.state[stateKey{a.Rule, a.Device}]; ok {
		st.active, st.since, st.clearSince = false, time.Time{}, time.Time{}
	}
}

// background queues a write of a rule's alarm on a device, after the
// earlier writes of the same rule and device.
func (e *Engine) background(rule, dev string, fn func()) {
	h := fnv.New32a()
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(dev))
	e.writes.Add(1)
	e.writers[h.Sum32()%uint32(len(e.writers))] <- fn
}

// Wait waits for the writes started so far; for tests.
func (e *Engine) Wait() { e.writes.Wait() }

// changed publishes an alarm's change on the bus and tells people.
func (e *Engine) changed(a store.Alarm, r store.AlarmRule, change string) {
	if e.d.Bus != nil {
		e.d.Bus.Publish(events.AlarmChanged{Device: a.Device, At: a.LastAt, Alarm: a.ID, Rule: a.Rule, Severity: a.Severity, State: a.State, Change: change})
	}
	if e.d.Notifier != nil && len(r.Channels) > 0 {
		if err := e.d.Notifier.Notify(context.Background(), a, r, change); err != nil {
			e.d.Logger.Error("alarm notification not queued", "alarm", a.ID, "error", err)
		}
	}
}
