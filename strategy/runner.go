package strategy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/protocol/control"
	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
)

// Store keeps which strategies run where, what they did and what the
// runner remembers of each device; *store.Store implements it.
type Store interface {
	StrategySettings(customer, site string) ([]store.StrategySetting, error)
	PutStrategySetting(st store.StrategySetting) error
	DeleteStrategySetting(customer, site, strategy, device string) error
	AddStrategyChanges(cs []store.StrategyChange) error
	PruneStrategyChanges(before time.Time) (int, error)
	GetStrategyState(device string) (json.RawMessage, error)
	PutStrategyState(device, customer string, state json.RawMessage) error
}

// Devices says where a device is and what it is; *device.Registry
// implements it.
type Devices interface {
	Labels(name string) (customer, site string, ok bool)
	Type(name string) (string, bool)
}

// Types gives a device type's settings, whose ranges bound what a
// strategy writes; *device.DeviceTypes implements it.
type Types interface {
	Settings(typ string) (*settings.Schema, error)
}

// Shadows is the shadow service the strategies write through;
// *device.Shadows implements it.
type Shadows interface {
	Get(thing, name string) (shadow.Document, error)
	Update(thing, name string, body []byte, by device.Actor, now time.Time) ([]byte, error)
}

// Calendars gives a device's operating calendar, whose first step that
// turns the plant on is the occupied time optimum start works back from;
// *scheduler.Scheduler implements it.
type Calendars interface {
	CalendarOf(device string) (*scheduler.Compiled, bool)
}

// Bus carries the telemetry the strategies look at and the shadow updates
// that name who changed a setting; *events.Bus implements it.
type Bus interface {
	SubscribeFunc(buffer int, keep func(events.Event) bool) *events.Subscription
}

// Deps are what the runner works with; Calendars and Logger may be nil
// (without calendars optimum start has no occupied time and does
// nothing).
type Deps struct {
	Store     Store
	Devices   Devices
	Types     Types
	Shadows   Shadows
	Calendars Calendars
	Bus       Bus
	Logger    *slog.Logger
	Now       func() time.Time
}

// Config tunes the runner.
type Config struct {
	// Retention is how long strategy changes are kept (default 90 days).
	Retention time.Duration
	// ResetEvery, VentilationEvery and StartEvery are how often each
	// strategy may look at (and write) a device; zero values take the
	// intervals of package control, which the simulator's season uses
	// too. Tests shorten them.
	ResetEvery, VentilationEvery, StartEvery time.Duration
}

// Setting keys and metrics the strategies use, as the built-in device
// types name them.
const (
	keyMode          = "mode"
	keyChwSetpoint   = "chw_setpoint_c"
	keyHwSetpoint    = "hw_setpoint_c"
	keyOutdoorAir    = "outdoor_air_pct"
	keyMinOutdoorAir = "min_outdoor_air_pct"

	metricLoad       = "load_pct"
	metricChwSupply  = "chw_supply_c"
	metricHwSupply   = "hw_supply_c"
	metricOutside    = "outside_temp_c"
	metricOutdoorAir = "outdoor_air_c"
	metricRunning    = "running"
	metricReturnCO2  = "return_co2_ppm"
	metricRoomCO2    = "co2_ppm"
)

// Bounds of what the runner keeps.
const (
	// co2MaxAge is how old a room sensor's CO2 may be to steer its site's
	// air handlers.
	co2MaxAge = 15 * time.Minute
	// valueMaxAge is how old, by its own timestamp, a device's reading may
	// be to steer a strategy: a metric the device stopped sending (a
	// broken sensor), or a back-fill of earlier readings, steers nothing.
	valueMaxAge = 15 * time.Minute
	// maxLead bounds how early optimum start starts a plant.
	maxLead = 4 * time.Hour
	// learnFor is how long after a start the runner waits for the supply
	// water to reach its set-point before it gives up on that start.
	learnFor = 6 * time.Hour
)

// Actor is who the shadow history records a strategy's write as.
func Actor(strategy string) device.Actor {
	return device.Actor{Name: "strategy:" + strategy, Channel: device.ChannelStrategy}
}

// Runner evaluates the strategies switched on, device by device, as their
// telemetry arrives.
type Runner struct {
	d      Deps
	cfg    Config
	now    func() time.Time
	logger *slog.Logger

	mu       sync.Mutex
	settings map[string][]store.StrategySetting // customer NUL site → its settings
	devices  map[string]*memo
	co2      map[string]map[string]co2Reading // customer NUL site → device → its room CO2
	person   map[string]string                // device → who last changed its shadow by hand

	sub     *events.Subscription
	stop    chan struct{}
	done    chan struct{}
	started bool
}

type co2Reading struct {
	ppm float64
	at  time.Time
}

// memo is what the runner knows of a device: its state kept in the store
// and what it saw last.
type memo struct {
	customer string // the device's owner when the memo was made
	st       state
	values   map[string]events.Reading // metric → its newest reading
	last     map[string]time.Time      // strategy → its last evaluation
	// A start being timed for the warm-up record.
	running      bool
	seenRunning  bool
	learning     bool
	cooling      bool
	startedAt    time.Time
	startOutdoor float64
}

// state is what the runner keeps of a device across restarts.
type state struct {
	// Written is the value each strategy wrote last, by setting key.
	Written map[string]written `json:"written,omitempty"`
	// Yield holds the settings a person changed after a strategy wrote
	// them, by setting key.
	Yield map[string]yielded `json:"yield,omitempty"`
	// Warmup is the building's recorded warm-up need.
	Warmup control.Warmup `json:"warmup"`
	// Started is the day (YYYY-MM-DD, the calendar's) optimum start last
	// started the plant.
	Started string `json:"started,omitempty"`
}

type written struct {
	Strategy string    `json:"strategy"`
	Ident    string    `json:"ident"`
	Value    any       `json:"value"`
	At       time.Time `json:"at"`
}

// yielded is a person's value the strategy leaves alone while its own
// value is Ident.
type yielded struct {
	Strategy string    `json:"strategy"`
	Ident    string    `json:"ident"`
	Value    any       `json:"value"`
	At       time.Time `json:"at"`
	By       string    `json:"by,omitempty"`
}

// New builds a runner; Start loads the settings and begins.
func New(d Deps, cfg Config) (*Runner, error) {
	if d.Store == nil || d.Devices == nil || d.Types == nil || d.Shadows == nil || d.Bus == nil {
		return nil, errors.New("new strategy runner: Store, Devices, Types, Shadows and Bus are required")
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 90 * 24 * time.Hour
	}
	if cfg.ResetEvery <= 0 {
		cfg.ResetEvery = control.ResetInterval
	}
	if cfg.VentilationEvery <= 0 {
		cfg.VentilationEvery = control.VentilationInterval
	}
	if cfg.StartEvery <= 0 {
		cfg.StartEvery = control.StartInterval
	}
	r := &Runner{d: d, cfg: cfg, now: d.Now, logger: d.Logger,
		devices: map[string]*memo{}, co2: map[string]map[string]co2Reading{}, person: map[string]string{}}
	if r.now == nil {
		r.now = time.Now
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Start loads the strategy settings and begins watching telemetry.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.reload(); err != nil {
		return err
	}
	r.sub = r.d.Bus.SubscribeFunc(4096, func(e events.Event) bool {
		switch e.(type) {
		case events.TelemetryStored, events.ShadowUpdated:
			return true
		}
		return false
	})
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	r.started = true
	go r.loop()
	return nil
}

// Stop ends the runner; a device's evaluation under way finishes first.
func (r *Runner) Stop(ctx context.Context) error {
	if !r.started {
		return nil
	}
	r.started = false
	close(r.stop)
	r.sub.Close()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop strategy runner: %w", ctx.Err())
	}
}

func (r *Runner) loop() {
	defer close(r.done)
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	r.prune()
	for {
		select {
		case <-r.stop:
			return
		case <-prune.C:
			r.prune()
		case e, ok := <-r.sub.C():
			if !ok {
				return
			}
			switch ev := e.(type) {
			case events.ShadowUpdated:
				if ev.Shadow == "" && (ev.Channel == device.ChannelAPI || ev.Channel == device.ChannelPage) {
					r.mu.Lock()
					r.person[ev.Device] = ev.Actor
					r.mu.Unlock()
				}
			case events.TelemetryStored:
				r.telemetry(ev)
			}
		}
	}
}

// prune drops old strategy changes, and what the runner holds in memory
// of devices no longer registered (their stored state went with them).
func (r *Runner) prune() {
	r.mu.Lock()
	for dev := range r.devices {
		if _, _, ok := r.d.Devices.Labels(dev); !ok {
			delete(r.devices, dev)
		}
	}
	for dev := range r.person {
		if _, _, ok := r.d.Devices.Labels(dev); !ok {
			delete(r.person, dev)
		}
	}
	for k, sensors := range r.co2 {
		for dev := range sensors {
			if customer, site, ok := r.d.Devices.Labels(dev); !ok || customer+"\x00"+site != k {
				delete(sensors, dev)
			}
		}
		if len(sensors) == 0 {
			delete(r.co2, k)
		}
	}
	r.mu.Unlock()
	if n, err := r.d.Store.PruneStrategyChanges(r.now().Add(-r.cfg.Retention)); err != nil {
		r.logger.Error("cannot prune strategy changes", "error", err)
	} else if n > 0 {
		r.logger.Info("strategy changes pruned", "count", n)
	}
}

// reload reads every strategy setting from the store.
func (r *Runner) reload() error {
	all, err := r.d.Store.StrategySettings("", "")
	if err != nil {
		return err
	}
	m := map[string][]store.StrategySetting{}
	for _, st := range all {
		k := st.Customer + "\x00" + st.Site
		m[k] = append(m[k], st)
	}
	r.mu.Lock()
	r.settings = m
	r.mu.Unlock()
	return nil
}

// Set switches a strategy on or off for a site or a device of it.
func (r *Runner) Set(st store.StrategySetting) error {
	if !control.Known(st.Strategy) {
		return fmt.Errorf("strategy %q: use one of %s: %w", st.Strategy, strings.Join(control.Names, ", "), store.ErrInvalid)
	}
	if err := r.d.Store.PutStrategySetting(st); err != nil {
		return err
	}
	return r.reload()
}

// Delete removes a site's or a device's setting of a strategy.
func (r *Runner) Delete(customer, site, strategy, device string) error {
	if err := r.d.Store.DeleteStrategySetting(customer, site, strategy, device); err != nil {
		return err
	}
	return r.reload()
}

// Enabled reports the strategies that run for a device of a site: its own
// setting, else its site's.
func (r *Runner) Enabled(customer, site, dev string) map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	sts := r.settings[customer+"\x00"+site]
	if len(sts) == 0 {
		return nil
	}
	out := map[string]bool{}
	own := map[string]bool{}
	for _, st := range sts {
		switch st.Device {
		case dev:
			out[st.Strategy] = st.Enabled
			own[st.Strategy] = true
		case "":
			if !own[st.Strategy] {
				out[st.Strategy] = st.Enabled
			}
		}
	}
	for k, on := range out {
		if !on {
			delete(out, k)
		}
	}
	return out
}

// telemetry takes one stored message of a device.
func (r *Runner) telemetry(ev events.TelemetryStored) {
	customer, site, ok := r.d.Devices.Labels(ev.Device)
	if !ok {
		return
	}
	at := ev.At
	if at.IsZero() {
		at = r.now()
	}
	// Every message passes here, most of them of devices no strategy
	// runs for: nothing is allocated before that is known.
	if v, ok := roomCO2(ev.Readings); ok {
		r.mu.Lock()
		k := customer + "\x00" + site
		if r.co2[k] == nil {
			r.co2[k] = map[string]co2Reading{}
		}
		r.co2[k][ev.Device] = co2Reading{ppm: v, at: at}
		r.mu.Unlock()
	}
	on := r.Enabled(customer, site, ev.Device)
	if len(on) == 0 {
		return
	}
	typ, ok := r.d.Devices.Type(ev.Device)
	if !ok || typ == "" {
		return
	}
	sch, err := r.d.Types.Settings(typ)
	if err != nil || sch == nil {
		return
	}
	m, err := r.memo(ev.Device, customer)
	if err != nil {
		r.logger.Error("cannot read strategy state", "device", ev.Device, "error", err)
		return
	}
	for _, rd := range ev.Readings {
		if old, ok := m.values[rd.Metric]; !ok || rd.Timestamp >= old.Timestamp {
			m.values[rd.Metric] = rd
		}
	}
	now := r.now()
	ctx := evalCtx{r: r, m: m, dev: ev.Device, customer: customer, site: site, sch: sch, now: now}
	if on[control.OptimumStart] && r.due(m, control.OptimumStart, now, r.cfg.StartEvery) {
		ctx.optimumStart()
	}
	if on[control.SetpointReset] && r.due(m, control.SetpointReset, now, r.cfg.ResetEvery) {
		ctx.setpointReset()
	}
	if on[control.Ventilation] && r.due(m, control.Ventilation, now, r.cfg.VentilationEvery) {
		ctx.ventilation()
	}
}

// roomCO2 is a message's room CO2 reading; the event holds one reading
// of each metric, its newest.
func roomCO2(rs []events.Reading) (float64, bool) {
	for _, rd := range rs {
		if rd.Metric == metricRoomCO2 {
			return rd.Value, true
		}
	}
	return 0, false
}

// due reports whether a strategy may look at a device again, and if so
// marks it as looked at now: the rate limit that keeps a shadow from being
// written per sample.
func (r *Runner) due(m *memo, strategy string, now time.Time, every time.Duration) bool {
	if last, ok := m.last[strategy]; ok && now.Sub(last) < every {
		return false
	}
	m.last[strategy] = now
	return true
}

// memo is what the runner holds of a device, read from the store the
// first time. A device deleted and registered again for another customer
// starts afresh: its stored state went with the deletion.
func (r *Runner) memo(dev, customer string) (*memo, error) {
	r.mu.Lock()
	m, ok := r.devices[dev]
	r.mu.Unlock()
	if ok && m.customer == customer {
		return m, nil
	}
	raw, err := r.d.Store.GetStrategyState(dev)
	if err != nil {
		return nil, err
	}
	m = &memo{customer: customer, values: map[string]events.Reading{}, last: map[string]time.Time{}}
	if raw != nil {
		if err := json.Unmarshal(raw, &m.st); err != nil {
			r.logger.Warn("strategy state unreadable; starting afresh", "device", dev, "error", err)
			m.st = state{}
		}
	}
	if m.st.Written == nil {
		m.st.Written = map[string]written{}
	}
	if m.st.Yield == nil {
		m.st.Yield = map[string]yielded{}
	}
	r.mu.Lock()
	r.devices[dev] = m
	r.mu.Unlock()
	return m, nil
}

func (r *Runner) save(dev string, m *memo) {
	b, err := json.Marshal(m.st)
	if err == nil {
		err = r.d.Store.PutStrategyState(dev, m.customer, b)
	}
	if errors.Is(err, store.ErrNotFound) {
		// Deleted meanwhile, maybe registered again for someone else:
		// this memo is forgotten, and the next message starts afresh.
		r.mu.Lock()
		if r.devices[dev] == m {
			delete(r.devices, dev)
		}
		r.mu.Unlock()
		return
	}
	if err != nil {
		r.logger.Error("cannot keep strategy state", "device", dev, "error", err)
	}
}

// Range is the range of a number setting of a device type, for a
// strategy's bounds; ok is false when the type has no such number setting
// or leaves it unbounded.
func Range(sch *settings.Schema, key string) (control.Range, bool) {
	st, ok := sch.Setting(key)
	if !ok || (st.Type != "number" && st.Type != "integer") || st.Minimum == nil || st.Maximum == nil {
		return control.Range{}, false
	}
	rg := control.Range{Min: *st.Minimum, Max: *st.Maximum}
	if st.Step != nil {
		rg.Step = *st.Step
	} else if st.Type == "integer" {
		rg.Step = 1
	}
	return rg, rg.Check() == nil
}

// number reads a shadow value as a number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// same reports whether two shadow values are equal, numbers by value.
func same(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && math.Abs(x-y) < 1e-9
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func raw(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
