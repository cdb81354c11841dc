package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/protocol/program"
)

// Metrics the agent adds to every sample, besides the equipment's points.
const (
	MetricModbusFaults      = "agent_modbus_faults_total"      // failed point reads since the agent started
	MetricSpoolBacklog      = "agent_spool_backlog"            // samples waiting to be sent when this one was taken
	MetricSpoolDropped      = "agent_spool_dropped_total"      // samples dropped from the full spool since the agent started
	MetricTelemetryRejected = "agent_telemetry_rejected_total" // samples Hearth refused for good since the agent started
	MetricEventsRefused     = "agent_events_refused_total"     // device events Hearth refused since the agent started
)

// shadowMsg is a shadow message for the controller: a whole document
// (get/accepted) or a delta.
type shadowMsg struct {
	get   *ShadowState
	delta *Delta
}

// controller owns the equipment: it polls it, spools the samples, applies
// settings from the shadow and the program, and raises events. It runs in
// one goroutine, so the equipment never sees two calls at once.
type controller struct {
	eq       Equipment
	settings map[string]Setting
	spool    *Spool
	out      *outbox
	logger   *slog.Logger
	now      func() time.Time
	dir      string
	interval time.Duration
	inbox    <-chan shadowMsg
	swaps    chan swapReq
	swapped  bool            // eq came from a modbus-map job
	sampled  chan<- struct{} // told after each sample is spooled
	counts   *counters       // what Hearth refused, counted by the link

	prog *localProgram
	// known is what the agent last reported (or read in the shadow) for
	// each key, so that a poll reports only what changed.
	known       map[string]any
	faults      map[string]string // point → kind of its current fault
	faultsTotal uint64
	// refused remembers, per key, the desired value last refused, so that
	// the same refusal raises one event, not one per reconnect.
	refused map[string]string
	// pending holds the program's settings that are due but not yet held,
	// because writing them failed; they are written again at every poll.
	// pendingUpTo is the time the program's steps are due up to while any
	// are pending (zero when none are): it becomes prog.applied, on disk,
	// once none are, so that a restart meanwhile applies them again.
	pending     map[string]any
	pendingUpTo time.Time
}

// outcome is what became of a desired value.
type outcome int

const (
	outcomeHeld    outcome = iota // the equipment holds it
	outcomeRefused                // the setting does not take it, or the equipment holds another: writing it again changes nothing
	outcomeFailed                 // writing it failed: writing it again may succeed
)

func newController(eq Equipment, sp *Spool, out *outbox, logger *slog.Logger, now func() time.Time, dir string, interval time.Duration,
	inbox <-chan shadowMsg, sampled chan<- struct{}, counts *counters) (*controller, error) {
	c := &controller{
		eq: eq, settings: map[string]Setting{}, spool: sp, out: out, logger: logger, now: now, dir: dir,
		interval: interval, inbox: inbox, swaps: make(chan swapReq), sampled: sampled, counts: counts,
		known: map[string]any{}, faults: map[string]string{}, refused: map[string]string{}, pending: map[string]any{},
	}
	if err := c.useEquipment(eq); err != nil {
		return nil, err
	}
	prog, err := loadProgram(dir)
	if err != nil {
		// A program file the agent cannot read is no reason not to run:
		// Hearth sends the program again with the shadow.
		logger.Warn("operating program not loaded", "error", err)
		c.event(protocol.LevelWarning, CodeProgramInvalid, fmt.Sprintf("the saved operating program cannot be read and is ignored until Hearth sends it again: %v", err))
	}
	c.prog = prog
	return c, nil
}

// useEquipment makes eq the equipment the controller reads and writes.
func (c *controller) useEquipment(eq Equipment) error {
	settings := map[string]Setting{}
	for _, s := range eq.Settings() {
		if s.Key == program.Key {
			return fmt.Errorf("setting %q: the name is taken by the operating program; rename the point", s.Key)
		}
		settings[s.Key] = s
	}
	c.eq, c.settings = eq, settings
	return nil
}

// swapReq asks the controller to use other equipment (a new register map).
type swapReq struct {
	eq   Equipment
	done chan swapDone
}

type swapDone struct {
	old Equipment
	err error
}

// swap makes eq the equipment from the next poll on, between two calls to
// the old one, and returns the old one. The whole shadow is asked for
// again, so that the desired settings are applied through the new map.
func (c *controller) swap(ctx context.Context, eq Equipment) (Equipment, error) {
	req := swapReq{eq: eq, done: make(chan swapDone, 1)}
	select {
	case c.swaps <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	d := <-req.done
	return d.old, d.err
}

// run polls at every interval and handles shadow messages and program
// steps until ctx ends.
func (c *controller) run(ctx context.Context) {
	c.catchUp(ctx)
	c.poll(ctx)
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	step := time.NewTimer(c.untilStep())
	defer step.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.poll(ctx)
			c.catchUp(ctx) // also after the clock was set or jumped
		case <-step.C:
			c.catchUp(ctx)
		case req := <-c.swaps:
			old := c.eq
			err := c.useEquipment(req.eq)
			if err == nil {
				c.swapped = true
				// The points of the old map are gone, and with them their
				// faults and refusals; the new map is polled at once.
				clear(c.faults)
				clear(c.refused)
				c.out.requestGet()
				c.poll(ctx)
			}
			req.done <- swapDone{old: old, err: err}
		case m := <-c.inbox:
			switch {
			case m.get != nil:
				c.applyShadow(ctx, *m.get)
			case m.delta != nil:
				c.applyDelta(ctx, *m.delta)
			}
		}
		step.Reset(c.untilStep())
	}
}

// poll reads the equipment once and spools the sample.
func (c *controller) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, c.interval)
	p := c.eq.Poll(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	c.trackFaults(p.Faults, p.Read)
	changed := map[string]any{}
	for k, v := range p.Settings {
		if k == program.Key {
			continue
		}
		if old, ok := c.known[k]; !ok || !sameValue(old, v) {
			changed[k] = v
		}
	}
	c.report(changed)
	values := make(map[string]float64, len(p.Values)+4)
	for k, v := range p.Values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			values[k] = v
		}
	}
	st := c.spool.Stats()
	values[MetricModbusFaults] = float64(c.faultsTotal)
	values[MetricSpoolBacklog] = float64(st.Samples)
	values[MetricSpoolDropped] = float64(st.Dropped)
	values[MetricTelemetryRejected] = float64(c.counts.rejected.Load())
	values[MetricEventsRefused] = float64(c.counts.eventsRefused.Load())

	ts := c.spool.NextTimestamp(c.now().UnixMilli())
	payload, err := json.Marshal(protocol.Sample{TS: ts, Values: values})
	if err != nil {
		c.logger.Error("sample not encoded", "error", err)
		return
	}
	if _, err := c.spool.Append(ts, payload); err != nil {
		c.logger.Error("sample not spooled", "error", err)
		return
	}
	if after := c.spool.Stats(); after.Dropped > st.Dropped {
		c.event(protocol.LevelWarning, CodeSpoolFull, fmt.Sprintf("the spool is full: %d oldest samples dropped (%d since the agent started); Hearth has not acknowledged samples for a while",
			after.Dropped-st.Dropped, after.Dropped))
	}
	select {
	case c.sampled <- struct{}{}:
	default:
	}
}

// trackFaults counts failed reads and raises an event when points start
// failing, change how they fail, or recover: one event per kind and poll,
// so a lost connection is one event, not one per point. A point recovers
// only when it is read again: one that was not tried (not due, or the poll
// ran out of time before it) still counts as failing.
func (c *controller) trackFaults(faults []Fault, read []string) {
	c.faultsTotal += uint64(len(faults))
	now := map[string]Fault{}
	for _, f := range faults {
		now[f.Point] = f
	}
	started := map[string][]Fault{}
	for _, f := range faults {
		if c.faults[f.Point] != f.Kind {
			started[f.Kind] = append(started[f.Kind], f)
		}
	}
	var recovered []string
	for _, p := range read {
		if _, failed := c.faults[p]; failed {
			if _, still := now[p]; !still {
				recovered = append(recovered, p)
				delete(c.faults, p)
			}
		}
	}
	for p, f := range now {
		c.faults[p] = f.Kind
	}
	for _, kind := range slices.Sorted(maps.Keys(started)) {
		fs := started[kind]
		names := make([]string, len(fs))
		for i, f := range fs {
			names[i] = f.Point
		}
		slices.Sort(names)
		msg := fmt.Sprintf("%s: %s", pointList(names), fs[0].Message)
		c.logger.Warn("modbus fault", "kind", kind, "points", strings.Join(names, ","), "error", fs[0].Message)
		c.event(protocol.LevelWarning, codeModbusFaultPrefix+kind, msg)
	}
	if len(recovered) > 0 {
		slices.Sort(recovered)
		c.logger.Info("modbus points recovered", "points", strings.Join(recovered, ","))
		c.event(protocol.LevelInfo, CodeModbusRecovered, pointList(recovered)+" read again")
	}
}

func pointList(names []string) string {
	const show = 8
	if len(names) == 1 {
		return "point " + names[0]
	}
	if len(names) > show {
		return fmt.Sprintf("%d points (%s, …)", len(names), strings.Join(names[:show], ", "))
	}
	return fmt.Sprintf("%d points (%s)", len(names), strings.Join(names, ", "))
}

// applyShadow brings the equipment to a whole shadow document: it follows
// desired.program, applies every desired setting, and reports what the
// equipment holds for each setting that differs from reported.
func (c *controller) applyShadow(ctx context.Context, st ShadowState) {
	clear(c.known)
	for k, v := range st.Reported {
		c.known[k] = v
	}
	report := map[string]any{}
	raw, has := st.Desired[program.Key]
	switch {
	case has && raw != nil:
		c.adoptProgram(ctx, raw, report)
		if c.prog != nil && !jsonEqual(st.Reported[program.Key], c.prog.raw) {
			report[program.Key] = c.prog.raw
		}
	case c.prog != nil:
		// The program was taken out of desired: stop following it.
		c.prog = nil
		c.clearPending()
		if err := saveProgram(c.dir, nil); err != nil {
			c.logger.Error("operating program not removed", "error", err)
		}
		c.logger.Info("operating program removed")
		fallthrough
	default:
		if _, ok := st.Reported[program.Key]; ok {
			report[program.Key] = nil
		}
	}
	for _, k := range slices.Sorted(maps.Keys(st.Desired)) {
		if k == program.Key {
			continue
		}
		if held, ok, _ := c.applyDesired(ctx, k, st.Desired[k]); ok {
			report[k] = held
		}
	}
	// Report what the equipment holds for the settings desired leaves
	// alone, so that the shadow shows the truth after the equipment was
	// changed at its own panel or restarted.
	for _, k := range slices.Sorted(maps.Keys(c.settings)) {
		if _, done := report[k]; done {
			continue
		}
		if _, wanted := st.Desired[k]; wanted {
			continue
		}
		held, err := c.eq.ReadSetting(ctx, k)
		if err != nil {
			c.logger.Warn("setting not read", "setting", k, "error", err)
			continue
		}
		if !sameValue(held, st.Reported[k]) {
			report[k] = held
		}
	}
	c.report(report)
}

// report sends values as the reported state and remembers them.
func (c *controller) report(values map[string]any, clearDesired ...string) {
	for k, v := range values {
		if v == nil {
			delete(c.known, k)
		} else {
			c.known[k] = v
		}
	}
	c.out.report(values, clearDesired...)
}

// applyDelta applies the keys of a delta. A change of the program comes as
// part of it, so the whole shadow is fetched for it.
func (c *controller) applyDelta(ctx context.Context, d Delta) {
	report := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(d.State)) {
		if k == program.Key {
			c.out.requestGet()
			continue
		}
		if held, ok, _ := c.applyDesired(ctx, k, d.State[k]); ok {
			report[k] = held
		}
	}
	c.report(report)
}

// applyDesired applies one desired setting and returns what to report:
// what the equipment holds afterwards, and what became of the value. A
// value it cannot apply raises an event and reports what the equipment
// really holds.
func (c *controller) applyDesired(ctx context.Context, key string, v any) (any, bool, outcome) {
	s, ok := c.settings[key]
	if !ok {
		c.refuse(key, v, protocol.LevelWarning, CodeSettingUnknown,
			fmt.Sprintf("desired %s is not a writable point of the register map; accepted are %s", key, strings.Join(slices.Sorted(maps.Keys(c.settings)), ", ")))
		return nil, false, outcomeRefused
	}
	val, err := s.Check(v)
	if err != nil {
		c.refuse(key, v, protocol.LevelWarning, CodeSettingOutOfRange, "desired "+err.Error()+"; not written")
		held, ok := c.readHeld(ctx, key)
		return held, ok, outcomeRefused
	}
	if cur, err := c.eq.ReadSetting(ctx, key); err == nil && sameValue(cur, val) {
		delete(c.refused, key)
		return cur, true, outcomeHeld
	}
	held, err := c.eq.WriteSetting(ctx, key, val)
	if err != nil {
		c.refuse(key, v, protocol.LevelError, CodeSettingNotApplied, fmt.Sprintf("desired %s %s not written: %v", key, describeValue(v), err))
		held, ok := c.readHeld(ctx, key)
		return held, ok, outcomeFailed
	}
	if !sameValue(held, val) {
		c.refuse(key, v, protocol.LevelWarning, CodeSettingNotHeld, fmt.Sprintf("%s written as %s, but the equipment holds %s", key, describeValue(val), describeValue(held)))
		return held, true, outcomeRefused
	}
	delete(c.refused, key)
	c.logger.Info("setting applied", "setting", key, "value", held)
	return held, true, outcomeHeld
}

func (c *controller) readHeld(ctx context.Context, key string) (any, bool) {
	held, err := c.eq.ReadSetting(ctx, key)
	if err != nil {
		c.logger.Warn("setting not read", "setting", key, "error", err)
		return nil, false
	}
	return held, true
}

// refuse raises an event about a desired value, once per value.
func (c *controller) refuse(key string, v any, level, code, msg string) {
	b, _ := json.Marshal(v)
	id := code + "\x00" + string(b)
	if c.refused[key] == id {
		return
	}
	c.refused[key] = id
	c.logger.Warn("setting refused", "setting", key, "code", code, "message", msg)
	c.event(level, code, msg)
}

// adoptProgram follows a program from desired: kept on disk, and its
// settings of now applied at once. The same program again changes nothing.
func (c *controller) adoptProgram(ctx context.Context, raw any, report map[string]any) {
	if c.prog != nil && jsonEqual(c.prog.raw, raw) {
		return
	}
	p, err := program.FromValue(raw)
	if err != nil {
		c.refuse(program.Key, raw, protocol.LevelWarning, CodeProgramInvalid, fmt.Sprintf("desired program not followed: %v", err))
		return
	}
	now := c.now()
	lp := &localProgram{prog: p, raw: raw, applied: now}
	if err := saveProgram(c.dir, lp); err != nil {
		c.logger.Error("operating program not saved", "error", err)
	}
	c.prog = lp
	c.clearPending()
	delete(c.refused, program.Key)
	set := p.Settings(now)
	c.logger.Info("operating program received", "date", p.Date, "tz", p.Location().String(), "steps", len(p.Steps))
	for _, k := range slices.Sorted(maps.Keys(set)) {
		held, ok, res := c.applyDesired(ctx, k, set[k])
		if ok {
			report[k] = held
		}
		if res == outcomeFailed {
			// Written again at the next polls, as a step's setting is.
			c.pending[k], c.pendingUpTo = set[k], now
		}
	}
}

func (c *controller) clearPending() {
	clear(c.pending)
	c.pendingUpTo = time.Time{}
}

// dueFrom is the time the program's steps are applied up to, or due up to
// while some of their settings are pending.
func (c *controller) dueFrom() time.Time {
	if !c.pendingUpTo.IsZero() {
		return c.pendingUpTo
	}
	return c.prog.applied
}

// catchUp applies the program's steps that began since it last did, on
// time or after the agent was stopped: the settings of those steps are
// written, reported, and cleared from desired, so that a value set by
// hand before the step does not override the program when the shadow is
// read again.
//
// A setting whose write fails stays pending and is written again at every
// poll until the equipment holds it; only then is it reported as applied
// and cleared from desired. The program file says the steps are applied
// only once none of their settings is pending, so that an agent that stops
// or crashes before applies them again at start.
func (c *controller) catchUp(ctx context.Context) {
	if c.prog == nil {
		return
	}
	now := c.now()
	set, due := dueSettings(c.prog.prog, c.dueFrom(), now)
	if due {
		maps.Copy(c.pending, set)
		c.pendingUpTo = now
	}
	if c.pendingUpTo.IsZero() {
		return
	}
	report := map[string]any{}
	var applied, parts []string
	for _, k := range slices.Sorted(maps.Keys(c.pending)) {
		held, ok, res := c.applyDesired(ctx, k, c.pending[k])
		if known, was := c.known[k]; ok && (res == outcomeHeld || !was || !sameValue(known, held)) {
			report[k] = held
		}
		switch res {
		case outcomeHeld:
			applied = append(applied, k)
			parts = append(parts, fmt.Sprintf("%s=%s", k, describeValue(held)))
			delete(c.pending, k)
		case outcomeRefused:
			// The event says why; writing it again changes nothing.
			delete(c.pending, k)
		}
	}
	if len(c.pending) == 0 {
		c.prog.applied, c.pendingUpTo = c.pendingUpTo, time.Time{}
		if err := saveProgram(c.dir, c.prog); err != nil {
			c.logger.Error("operating program not saved", "error", err)
		}
	} else if due {
		c.logger.Warn("operating program settings not applied; writing them again at every poll", "settings", strings.Join(slices.Sorted(maps.Keys(c.pending)), ","))
	}
	if len(applied) > 0 {
		c.logger.Info("operating program step applied", "settings", strings.Join(parts, " "))
		c.event(protocol.LevelInfo, CodeProgramStep, "operating program step applied: "+strings.Join(parts, ", "))
	}
	c.report(report, applied...)
}

// untilStep is the wait until the program's next step; a long wait
// without one.
func (c *controller) untilStep() time.Duration {
	if c.prog == nil {
		return time.Hour
	}
	next, ok := c.prog.prog.Next(c.dueFrom())
	if !ok {
		return time.Hour
	}
	return max(next.Sub(c.now()), 0)
}

func (c *controller) event(level, code, msg string) {
	c.out.event(protocol.Event{Level: level, Code: code, Message: msg, TS: c.now().UnixMilli()})
}

// jsonEqual reports whether two decoded JSON values are the same.
func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
