package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/sim/model"
)

// Kind is what a simulated device is.
type Kind string

// Kinds of simulated devices.
const (
	// KindChiller is an absorption chiller-heater: it reports water
	// temperatures, load, gas and its running state, and takes the
	// settings mode, chw_setpoint_c, hw_setpoint_c and program.
	KindChiller Kind = "chiller"
	// KindIAQ is an indoor air-quality sensor: CO2, temperature and
	// humidity; it has no settings.
	KindIAQ Kind = "iaq"
)

// ParseKind reads a kind's name.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case KindChiller, KindIAQ:
		return Kind(s), nil
	}
	return "", fmt.Errorf("device kind %q: use chiller or iaq", s)
}

// Chiller settings keys in the shadow's desired and reported state.
const (
	keyMode        = "mode"
	keyChwSetpoint = "chw_setpoint_c"
	keyHwSetpoint  = "hw_setpoint_c"
	keyRunning     = "running"
	keyFault       = "fault"
	keyFirmware    = "firmware"
)

// Setting ranges a simulated chiller accepts, as its controller would.
const (
	minChw, maxChw = 4.0, 15.0
	minHw, maxHw   = 35.0, 65.0
)

// firmware is what simulated devices report as their firmware version.
const firmware = "sim-1.0.0"

// equipment is one simulated device's model and the settings it holds,
// without the network: the fleet feeds it shadow documents and the clock,
// and publishes what it returns. Its methods are safe for concurrent use.
type equipment struct {
	kind Kind
	loc  *time.Location // where the equipment is: its days and seasons

	mu       sync.Mutex
	chiller  *model.Chiller
	iaq      *model.IAQ
	settings model.ChillerSettings
	running  bool
	fault    int
	prog     *program.Program
	progRaw  any // the program as desired held it, reported back as is
	// history is the programs followed before prog, oldest first.
	history []program.Program
	// stepAt is when the program's next step begins; zero without one.
	stepAt time.Time
}

func newEquipment(kind Kind, b model.Building, seed uint64, loc *time.Location, history ...program.Program) *equipment {
	if loc == nil {
		loc = time.Local
	}
	history = slices.Clone(history)
	slices.SortStableFunc(history, func(a, b program.Program) int { return strings.Compare(a.Date, b.Date) })
	e := &equipment{kind: kind, loc: loc, settings: model.DefaultChillerSettings, history: history}
	switch kind {
	case KindChiller:
		e.chiller = model.NewChiller(seed, b)
	default:
		e.iaq = model.NewIAQ(seed, b)
	}
	return e
}

// planFault makes a chiller fault at at (see model.Chiller.PlanFault).
func (e *equipment) planFault(at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.chiller != nil {
		e.chiller.PlanFault(at)
	}
}

// sample steps the model to t and returns its readings as telemetry
// values, and a report when the running state or the fault changed.
func (e *equipment) sample(t time.Time) (values map[string]float64, report map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t = t.In(e.loc)
	if e.iaq != nil {
		return e.iaq.Step(t).Values(), nil
	}
	r := e.chiller.Step(t, e.settings)
	if r.Running != e.running || r.Fault != e.fault {
		e.running, e.fault = r.Running, r.Fault
		report = map[string]any{keyRunning: r.Running, keyFault: r.Fault}
	}
	return r.Values(), report
}

// sampleFollowing is sample for history: the settings in effect at t are
// those the newest program that has begun by t gives then (the one the
// shadow holds, or one of the history), over the ones held now, so that a
// back-filled week shows the machine starting and stopping on schedule.
func (e *equipment) sampleFollowing(t time.Time) map[string]float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	t = t.In(e.loc)
	if e.iaq != nil {
		return e.iaq.Step(t).Values()
	}
	held := e.settings
	for k, v := range e.programSettings(t) {
		e.setLocked(k, v)
	}
	r := e.chiller.Step(t, e.settings)
	e.settings = held
	return r.Values()
}

// programSettings is what the newest program begun by t sets at t, of the
// shadow's and the history's; the shadow's wins over one of the same date.
func (e *equipment) programSettings(t time.Time) map[string]any {
	shadow := e.prog
	for i := len(e.history); i >= 0; i-- {
		if shadow != nil && (i == 0 || e.history[i-1].Date <= shadow.Date) {
			if set := shadow.Settings(t); set != nil {
				return set
			}
			shadow = nil
		}
		if i == 0 {
			break
		}
		if set := e.history[i-1].Settings(t); set != nil {
			return set
		}
	}
	return nil
}

// reported is the whole reported state, sent once connected: the settings
// held, the running state and the firmware.
func (e *equipment) reported() map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]any{keyFirmware: firmware}
	if e.kind != KindChiller {
		return out
	}
	maps.Copy(out, e.settingsLocked())
	out[keyRunning], out[keyFault] = e.running, e.fault
	if e.progRaw != nil {
		out[program.Key] = e.progRaw
	}
	return out
}

func (e *equipment) settingsLocked() map[string]any {
	return map[string]any{keyMode: e.settings.Mode, keyChwSetpoint: e.settings.ChwSetpoint, keyHwSetpoint: e.settings.HwSetpoint}
}

// applyDesired takes desired keys (a delta's state, or the desired state of
// a whole shadow) at time now and returns what to report: each key it
// understood with the value it now holds. A value it cannot hold (out of
// range, the wrong type) is not applied and the value held is reported, as
// a real controller's read-back would show. A program takes effect at
// once, with the settings its current step gives.
func (e *equipment) applyDesired(desired map[string]any, now time.Time) map[string]any {
	if e.kind != KindChiller || len(desired) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	report := map[string]any{}
	if raw, ok := desired[program.Key]; ok {
		if p, err := program.FromValue(raw); err == nil {
			e.prog, e.progRaw = &p, raw
			for k, v := range p.Settings(now) {
				e.setLocked(k, v)
			}
			e.stepAt, _ = p.Next(now)
			maps.Copy(report, e.settingsLocked())
		} else if raw == nil {
			e.prog, e.progRaw, e.stepAt = nil, nil, time.Time{}
		}
		report[program.Key] = e.progRaw
	}
	for k, v := range desired {
		if k == program.Key || !e.setLocked(k, v) && !isSetting(k) {
			continue
		}
		report[k] = e.settingsLocked()[k]
	}
	if len(report) == 0 {
		return nil
	}
	return report
}

func isSetting(k string) bool { return k == keyMode || k == keyChwSetpoint || k == keyHwSetpoint }

// setLocked applies one setting and reports whether it took.
func (e *equipment) setLocked(k string, v any) bool {
	switch k {
	case keyMode:
		m, _ := v.(string)
		if m != model.ModeCooling && m != model.ModeHeating && m != model.ModeOff {
			return false
		}
		e.settings.Mode = m
	case keyChwSetpoint, keyHwSetpoint:
		f, ok := number(v)
		lo, hi := minChw, maxChw
		if k == keyHwSetpoint {
			lo, hi = minHw, maxHw
		}
		if !ok || f < lo || f > hi {
			return false
		}
		if k == keyChwSetpoint {
			e.settings.ChwSetpoint = f
		} else {
			e.settings.HwSetpoint = f
		}
	default:
		return false
	}
	return true
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// hasProgram reports whether the device follows a program.
func (e *equipment) hasProgram() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.prog != nil
}

// nextStep is when the program's next step begins; zero without a program.
func (e *equipment) nextStep() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stepAt
}

// stepDue applies the program's step that began at or before now, if one
// is due, and returns the settings it changed: a device following its
// program reports them and removes them from desired, so that a setting a
// person changed by hand lasts until the program's next step, and no
// delta is left between what was asked by hand and what the program set.
func (e *equipment) stepDue(now time.Time) (report map[string]any, clear []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.prog == nil || e.stepAt.IsZero() || now.Before(e.stepAt) {
		return nil, nil
	}
	step, ok := e.prog.Active(now)
	e.stepAt, _ = e.prog.Next(now)
	if !ok {
		return nil, nil
	}
	report = map[string]any{}
	for k, v := range step.Set {
		if e.setLocked(k, v) {
			report[k] = e.settingsLocked()[k]
			clear = append(clear, k)
		}
	}
	return report, clear
}
