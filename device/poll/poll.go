// Package poll is direct polling: Hearth itself reads the Modbus TCP
// equipment of devices an operator gave a register map, with no gateway in
// between, and keeps each such device as if it were connected over MQTT.
// Its readings are stored as its telemetry, its settings are reported in
// its classic shadow, a desired setting is written to its register, read
// back and reported, and it is online while its equipment answers.
//
// The Modbus work is package modbus's; this package only runs one
// poller per device and carries what it reads to the rest of Hearth,
// through interfaces the server satisfies with the device package's
// services.
package poll

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// Channel is what the history records for changes that polling makes.
const Channel = "modbus"

// Maps are the stored register maps; *store.Store implements it.
type Maps interface {
	ListPollMaps() ([]store.PollMap, error)
	GetPollMap(device string) (store.PollMap, error)
}

// Ingester stores one telemetry message as if the device had published
// it; device.Telemetry implements it.
type Ingester interface {
	Ingest(thing string, payload []byte, now time.Time) (int, error)
}

// Shadows is the shadow service; device.Shadows implements it.
type Shadows interface {
	Update(thing, name string, body []byte, by device.Actor, now time.Time) ([]byte, error)
	Get(thing, name string) (shadow.Document, error)
}

// Presence records when a polled device's equipment answers;
// device.Presence implements it.
type Presence interface {
	Connected(name string, session uint64, remote string, protocol byte, at time.Time)
	Disconnected(name string, session uint64, reason string, at time.Time)
	Seen(name string, at time.Time)
}

// Deps are what polling works with; all but Logger are required, and
// Events may be nil (desired settings are then written only when a poller
// starts).
type Deps struct {
	Maps      Maps
	Telemetry Ingester
	Shadows   Shadows
	Presence  Presence
	Events    *events.Bus
	Logger    *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// ErrRTU refuses a map for direct polling that reaches its device over a
// serial line: Hearth polls Modbus TCP only; RTU equipment needs the
// gateway agent on the machine the line is attached to.
var ErrRTU = errors.New("direct polling reaches Modbus TCP equipment only; a serial (RTU) device needs the gateway agent (hearth agent)")

// Check parses a register map for direct polling of device, as Put on the
// API does before storing it: a *modbus.MapError names each problem with
// its line; a serial source is refused with ErrRTU.
func Check(device, text string) (*modbus.Map, error) {
	m, err := modbus.Parse(strings.NewReader(text), device)
	if err != nil {
		return nil, err
	}
	if m.Source.RTU != nil {
		return nil, ErrRTU
	}
	return m, nil
}

// Service runs the pollers.
type Service struct {
	d      Deps
	logger *slog.Logger

	// reloadMu makes reloads one at a time, each reading the stored map
	// inside it, so that the last to run polls with the newest map
	// whatever order they were asked in. It is held while a poller stops;
	// mu is not.
	reloadMu sync.Mutex

	mu      sync.Mutex
	started bool
	devices map[string]*polled
	sub     *events.Subscription
	done    chan struct{}
	changes sync.WaitGroup // reloads Changed started
}

// New builds the service; nothing is polled until Start.
func New(d Deps) (*Service, error) {
	if d.Maps == nil || d.Telemetry == nil || d.Shadows == nil || d.Presence == nil {
		return nil, errors.New("new poll service: maps, telemetry, shadows and presence are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{d: d, logger: d.Logger, devices: map[string]*polled{}}, nil
}

// Start polls every device that has a register map. A map that no longer
// parses (written by an older version, say) is logged and skipped; the
// other devices are polled.
func (s *Service) Start(ctx context.Context) error {
	maps, err := s.d.Maps.ListPollMaps()
	if err != nil {
		return fmt.Errorf("start polling: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("start polling: already started")
	}
	s.started = true
	for _, pm := range maps {
		if err := s.startLocked(ctx, pm); err != nil {
			s.logger.Error("cannot poll device", "device", pm.Device, "error", err)
		}
	}
	if s.d.Events != nil {
		s.sub = s.d.Events.SubscribeFunc(256, func(e events.Event) bool {
			d, ok := e.(events.DeltaPending)
			return ok && d.Shadow == ""
		})
		s.done = make(chan struct{})
		go s.watch(s.sub, s.done)
	}
	s.logger.Info("polling started", "devices", len(s.devices))
	return nil
}

// Stop stops every poller and waits for them, bounded by ctx.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.started = false
	s.mu.Unlock()
	s.changes.Wait() // no reload starts a poller after this
	s.mu.Lock()
	devices := s.devices
	s.devices = map[string]*polled{}
	sub, done := s.sub, s.done
	s.sub = nil
	s.mu.Unlock()
	if sub != nil {
		sub.Close()
		<-done
	}
	var errs []error
	for _, p := range devices {
		if err := p.stop(ctx, device.ReasonServerShutdown); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Reload makes polling of device follow its stored map: started, restarted
// with the new map, or stopped when it has none (or the device is gone).
// The API calls it after a change of a map.
func (s *Service) Reload(ctx context.Context, name string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	pm, err := s.d.Maps.GetPollMap(name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reload polling of %q: %w", name, err)
	}
	s.mu.Lock()
	if !s.started {
		s.mu.Unlock()
		return nil
	}
	old, ok := s.devices[name]
	if ok && err == nil && old.text == pm.Map {
		s.mu.Unlock()
		return nil // unchanged
	}
	delete(s.devices, name)
	s.mu.Unlock()

	var errs []error
	if ok {
		// A new map takes the old one's place; no map ends polling.
		reason := device.ReasonTakenOver
		if errors.Is(err, store.ErrNotFound) {
			reason = device.ReasonClean
		}
		if stopErr := old.stop(ctx, reason); stopErr != nil {
			// It finishes in the background; the new map is polled anyway.
			errs = append(errs, fmt.Errorf("reload polling of %q: %w", name, stopErr))
		}
	}
	if err == nil {
		s.mu.Lock()
		if s.started {
			errs = append(errs, s.startLocked(ctx, pm))
		}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Changed is Reload for a change of a device (deleted, say), which the
// registry reports on its own goroutine: the reload runs in the
// background, bounded in time, and Stop waits for it.
func (s *Service) Changed(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return
	}
	s.changes.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Reload(ctx, name); err != nil {
			s.logger.Error("cannot reload polling", "device", name, "error", err)
		}
	})
}

// Polled lists the devices being polled.
func (s *Service) Polled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.devices)
}

// Stats is what the poller of a device counted, and false when the device
// is not polled.
func (s *Service) Stats(name string) (modbus.Stats, bool) {
	s.mu.Lock()
	p, ok := s.devices[name]
	s.mu.Unlock()
	if !ok {
		return modbus.Stats{}, false
	}
	return p.poller.Stats(), true
}

func (s *Service) startLocked(ctx context.Context, pm store.PollMap) error {
	m, err := Check(pm.Device, pm.Map)
	if err != nil {
		return err
	}
	p := &polled{s: s, name: pm.Device, text: pm.Map, m: m, remote: "modbus-tcp://" + m.Source.TCP,
		logger: s.logger.With("device", pm.Device), writes: make(chan struct{}, 1)}
	p.poller, err = modbus.NewPoller(m, p.round, p.logger)
	if err != nil {
		return err
	}
	if err := p.poller.Start(ctx); err != nil {
		return err
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Go(p.writeLoop)
	s.devices[pm.Device] = p
	return nil
}

// watch hands pending deltas of polled devices to their writers.
func (s *Service) watch(sub *events.Subscription, done chan<- struct{}) {
	defer close(done)
	for e := range sub.C() {
		d, ok := e.(events.DeltaPending)
		if !ok || d.Shadow != "" {
			continue
		}
		s.mu.Lock()
		p := s.devices[d.Device]
		s.mu.Unlock()
		if p != nil {
			p.wake()
		}
	}
}

// polled is one device being polled.
type polled struct {
	s      *Service
	name   string
	text   string // the map as stored, to tell a change
	m      *modbus.Map
	remote string
	logger *slog.Logger
	poller *modbus.Poller

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	writes chan struct{} // a delta may be pending

	// online is set by the poller's goroutine and read by the writer,
	// which leaves a delta for when the equipment answers again.
	online atomic.Bool
	// Owned by the poller's goroutine (round).
	session  uint64
	reported map[string]any
	lastKind modbus.FaultKind
}

// stop ends the device's polling; an online device goes offline for
// reason.
func (p *polled) stop(ctx context.Context, reason string) error {
	err := p.poller.Stop(ctx)
	p.cancel()
	p.wg.Wait()
	if p.online.Load() {
		p.s.d.Presence.Disconnected(p.name, p.session, reason, p.s.d.Now())
	}
	return err
}

func (p *polled) wake() {
	select {
	case p.writes <- struct{}{}:
	default:
	}
}

// actor is who the history names for what polling changes: the device,
// as for its own reports over MQTT.
func (p *polled) actor() device.Actor {
	return device.Actor{Name: "device:" + p.name, Channel: Channel}
}

// round carries one round of readings: telemetry, reported settings when
// they changed, and presence. A round that read nothing because the
// equipment did not answer makes the device offline.
func (p *polled) round(r modbus.Round) {
	now := p.s.d.Now()
	if len(r.Readings) == 0 && len(r.Faults) > 0 {
		p.fault(r.Faults[0], true)
		if p.online.Swap(false) {
			p.s.d.Presence.Disconnected(p.name, p.session, disconnectReason(r.Faults[0]), now)
		}
		return
	}
	if len(r.Faults) > 0 {
		p.fault(r.Faults[0], false)
	} else if p.lastKind != "" {
		p.lastKind = ""
		p.event(protocol.LevelInfo, "modbus_recovered", "every point is read again", now)
	}
	if !p.online.Load() {
		p.session = uint64(now.UnixNano())
		p.online.Store(true)
		p.s.d.Presence.Connected(p.name, p.session, p.remote, 0, now)
		p.wake() // a delta left while it was away
	} else {
		p.s.d.Presence.Seen(p.name, now)
	}
	if metrics := r.Metrics(); len(metrics) > 0 {
		body, err := json.Marshal(map[string]any{"ts": r.Time.UnixMilli(), "values": metrics})
		if err == nil {
			_, err = p.s.d.Telemetry.Ingest(p.name, body, now)
		}
		if err != nil {
			p.logger.Warn("polled readings not stored", "error", err)
		}
	}
	if settings := r.Settings(); len(settings) > 0 && !sameValues(settings, p.reported) {
		if err := p.report(settings, now); err != nil {
			p.logger.Warn("polled settings not reported", "error", err)
			return
		}
		p.reported = merged(p.reported, settings)
	}
}

// fault logs a fault, and publishes it as the device's event, when its
// kind differs from the last one, so that a device that stays unreachable
// is one line and one event, not one a round.
func (p *polled) fault(f *modbus.Fault, whole bool) {
	if f.Kind == p.lastKind {
		return
	}
	p.lastKind = f.Kind
	p.logger.Warn("modbus fault", "kind", string(f.Kind), "whole_round", whole, "error", f.Error())
	p.event(protocol.LevelWarning, "modbus_"+string(f.Kind), f.Error(), p.s.d.Now())
}

// event publishes a device event on the bus, as a gateway's events over
// MQTT are.
func (p *polled) event(level, code, msg string, at time.Time) {
	if p.s.d.Events != nil {
		p.s.d.Events.Publish(events.DeviceEvent{Device: p.name, At: at, Level: level, Code: code, Message: msg, Source: Channel})
	}
}

func disconnectReason(f *modbus.Fault) string {
	if f.Kind == modbus.FaultTimeout {
		return device.ReasonKeepaliveTimeout
	}
	return device.ReasonError
}

func (p *polled) report(reported map[string]any, now time.Time) error {
	body, err := json.Marshal(map[string]any{"state": map[string]any{"reported": reported}})
	if err != nil {
		return err
	}
	_, err = p.s.d.Shadows.Update(p.name, "", body, p.actor(), now)
	return err
}

// deltaRecheck is how often a writer looks for a pending delta without
// being woken: the event bus drops events for a subscriber that falls
// behind, and a delta must not wait for the next change to be written.
const deltaRecheck = time.Minute

// writeLoop writes pending desired settings to the equipment whenever a
// delta may be pending, one device at a time.
func (p *polled) writeLoop() {
	tick := time.NewTicker(deltaRecheck)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.writes:
		case <-tick.C:
		}
		if err := p.applyDelta(); err != nil && p.ctx.Err() == nil {
			p.logger.Warn("desired settings not written", "error", err)
		}
	}
}

// applyDelta writes each setting of the classic shadow's delta that the
// map can write, reads it back, and reports what the equipment holds. A
// value the map refuses (out of range) is not written; the value held is
// reported, so the delta stays visible with the reason in the log. Keys
// the map does not know are left alone.
func (p *polled) applyDelta() error {
	if !p.online.Load() {
		return nil // written once the equipment answers again
	}
	doc, err := p.s.d.Shadows.Get(p.name, "")
	var se *shadow.Error
	if errors.As(err, &se) && se.Code == 404 {
		return nil
	}
	if err != nil {
		return err
	}
	delta := shadow.Delta(doc)
	if len(delta) == 0 {
		return nil
	}
	reported := map[string]any{}
	var errs []error
	for _, key := range sortedKeys(delta) {
		pt, ok := p.m.Setting(key)
		if !ok || !pt.Writable {
			continue
		}
		ctx, cancel := context.WithTimeout(p.ctx, 2*p.m.Source.Timeout+time.Second)
		rd, err := p.poller.Write(ctx, key, delta[key])
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("setting %s: %w", key, err))
			if rd, err := p.readSetting(pt); err == nil {
				reported[key] = rd.SettingValue()
			}
			continue
		}
		reported[key] = rd.SettingValue()
	}
	if len(reported) > 0 {
		if err := p.report(reported, p.s.d.Now()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readSetting reads the value a setting holds now.
func (p *polled) readSetting(pt *modbus.Point) (modbus.Reading, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 2*p.m.Source.Timeout+time.Second)
	defer cancel()
	r := p.poller.Client().Read(ctx, pt)
	if len(r.Readings) == 0 {
		if len(r.Faults) > 0 {
			return modbus.Reading{}, r.Faults[0]
		}
		return modbus.Reading{}, errors.New("no reading")
	}
	return r.Readings[0], nil
}

// sameValues reports whether every value of got is already in had, as
// JSON would compare them.
func sameValues(got, had map[string]any) bool {
	for k, v := range got {
		old, ok := had[k]
		if !ok {
			return false
		}
		a, errA := json.Marshal(v)
		b, errB := json.Marshal(old)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			return false
		}
	}
	return true
}

func merged(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, b)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
