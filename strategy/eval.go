package strategy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/protocol/control"
	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
)

// evalCtx is one device's evaluation after one telemetry message.
type evalCtx struct {
	r                   *Runner
	m                   *memo
	dev, customer, site string
	sch                 *settings.Schema
	now                 time.Time
	doc                 *shadow.Document
}

// shadow reads the device's classic shadow once per evaluation.
func (c *evalCtx) shadow() (shadow.Document, bool) {
	if c.doc != nil {
		return *c.doc, true
	}
	doc, err := c.r.d.Shadows.Get(c.dev, "")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.r.logger.Warn("cannot read the shadow for a strategy", "device", c.dev, "error", err)
		return shadow.Document{}, false
	}
	c.doc = &doc
	return doc, true
}

// held is the value of a setting in effect: desired when set, else
// reported.
func held(doc shadow.Document, key string) (any, bool) {
	if v, ok := doc.State.Desired[key]; ok && v != nil {
		return v, true
	}
	v, ok := doc.State.Reported[key]
	return v, ok && v != nil
}

func (c *evalCtx) value(metric string) (float64, bool) {
	rd, ok := c.m.values[metric]
	if !ok || math.IsNaN(rd.Value) || c.now.Sub(time.UnixMilli(rd.Timestamp)) > valueMaxAge {
		return 0, false
	}
	return rd.Value, true
}

func (c *evalCtx) outdoor() (float64, bool) {
	if v, ok := c.value(metricOutside); ok {
		return v, true
	}
	return c.value(metricOutdoorAir)
}

// setpointReset moves a running chiller-heater's water set-point with its
// load and the outdoor temperature.
func (c *evalCtx) setpointReset() {
	if run, ok := c.value(metricRunning); ok && run != 1 {
		return
	}
	doc, ok := c.shadow()
	if !ok {
		return
	}
	mode, _ := held(doc, keyMode)
	var key, supply string
	var law control.Reset
	switch mode {
	case "cooling":
		key, supply, law = keyChwSetpoint, metricChwSupply, control.DefaultChilledReset
	case "heating":
		key, supply, law = keyHwSetpoint, metricHwSupply, control.DefaultHotReset
	default:
		return
	}
	rg, ok := Range(c.sch, key)
	if !ok {
		return
	}
	load, ok := c.value(metricLoad)
	if !ok {
		return
	}
	in := control.Reading{LoadPct: load}
	in.OutdoorC, in.HasOutdoor = c.outdoor()
	if law.Basis == control.ByBoth && !in.HasOutdoor {
		law.Basis = control.ByLoad
	}
	cur, _ := held(doc, key)
	in.SetpointC, _ = number(cur)
	in.SupplyC, in.HasSupply = c.value(supply)
	in.HasSupply = in.HasSupply && in.SetpointC != 0
	target, goal := law.Setpoint(in, rg), law.Goal(in, rg)
	reason := fmt.Sprintf("load %s %%", formatNumber(math.Round(load)))
	if in.HasOutdoor {
		reason += fmt.Sprintf(", outdoor %s °C", formatNumber(math.Round(in.OutdoorC*10)/10))
	}
	if in.HasSupply {
		reason += fmt.Sprintf(", supply %s °C", formatNumber(math.Round(in.SupplyC*10)/10))
	}
	c.apply(control.SetpointReset, key, target, formatNumber(goal), reason+fmt.Sprintf("; heading for %s", formatNumber(goal)))
}

// ventilation opens an air handler's outdoor-air damper by the CO2 its
// return air, or its site's room sensors, measure.
func (c *evalCtx) ventilation() {
	if run, ok := c.value(metricRunning); ok && run != 1 {
		return
	}
	rg, ok := Range(c.sch, keyOutdoorAir)
	if !ok {
		return
	}
	co2, ok := c.value(metricReturnCO2)
	source := "return air"
	if !ok {
		co2, ok = c.r.siteCO2(c.customer, c.site, c.now)
		source = "the site's highest room"
	}
	if !ok {
		return
	}
	doc, ok := c.shadow()
	if !ok {
		return
	}
	law := control.DefaultDCV
	if v, ok := held(doc, keyMinOutdoorAir); ok {
		if f, ok := number(v); ok {
			law.MinPct = math.Max(law.MinPct, f)
		}
	}
	target := law.OutdoorAirPct(co2, rg)
	if cur, ok := held(doc, keyOutdoorAir); ok {
		if f, ok := number(cur); ok && !rg.Moves(f, target, true) {
			return
		}
	}
	c.apply(control.Ventilation, keyOutdoorAir, target, formatNumber(target),
		fmt.Sprintf("CO2 %s ppm in %s", formatNumber(math.Round(co2)), source))
}

// siteCO2 is the highest recent room CO2 of a site.
func (r *Runner) siteCO2(customer, site string, now time.Time) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	best, ok := 0.0, false
	for _, rd := range r.co2[customer+"\x00"+site] {
		if now.Sub(rd.at) <= co2MaxAge && (!ok || rd.ppm > best) {
			best, ok = rd.ppm, true
		}
	}
	return best, ok
}

// optimumStart starts a plant that is off as late as its recorded warm-up
// allows before the occupied time of its calendar's day, and records how
// long each start took.
func (c *evalCtx) optimumStart() {
	run, hasRun := c.value(metricRunning)
	c.learn(run == 1 && hasRun)
	if c.r.d.Calendars == nil {
		return
	}
	cal, ok := c.r.d.Calendars.CalendarOf(c.dev)
	if !ok {
		return
	}
	if _, ok := c.sch.Setting(keyMode); !ok {
		return
	}
	day := cal.Resolve(cal.Today(c.now))
	if day.Date == "" || c.m.st.Started == day.Date {
		return
	}
	occupied, mode, ok := occupiedTime(day, cal.Location())
	if !ok || !c.now.Before(occupied) {
		return
	}
	out, ok := c.outdoor()
	if !ok {
		return
	}
	cooling := mode == "cooling"
	lead := c.m.st.Warmup.Lead(cooling, out, 0, maxLead)
	if c.now.Before(occupied.Add(-lead)) {
		return
	}
	doc, ok := c.shadow()
	if !ok {
		return
	}
	if cur, _ := held(doc, keyMode); cur != "off" && cur != nil || hasRun && run == 1 {
		return // running already, or in a mode a person chose
	}
	// Today counts as started only once the plant was told to start: a
	// refused write is tried again at the next evaluation.
	if c.apply(control.OptimumStart, keyMode, mode, mode+"@"+day.Date,
		fmt.Sprintf("%s before the occupied time %s, outdoor %s °C, from %d recorded starts",
			lead.Round(time.Minute), occupied.Format("15:04"), formatNumber(math.Round(out*10)/10), len(c.m.st.Warmup.Starts))) {
		c.m.st.Started = day.Date
		c.r.save(c.dev, c.m)
	}
}

// occupiedTime is the time of the day's first step that turns the plant
// on, and the mode it turns it on in.
func occupiedTime(day scheduler.Day, loc *time.Location) (time.Time, string, bool) {
	d, err := time.ParseInLocation(time.DateOnly, day.Date, loc)
	if err != nil {
		return time.Time{}, "", false
	}
	for _, st := range day.Steps {
		mode, _ := st.Set[keyMode].(string)
		if mode != "cooling" && mode != "heating" {
			continue
		}
		at, err := time.Parse("15:04", st.At)
		if err != nil {
			continue
		}
		return time.Date(d.Year(), d.Month(), d.Day(), at.Hour(), at.Minute(), 0, 0, loc), mode, true
	}
	return time.Time{}, "", false
}

// learn times a start: from the running state's rise until the supply
// water is within a kelvin of its set-point, recorded as the building's
// warm-up need.
func (c *evalCtx) learn(running bool) {
	m := c.m
	if running && m.seenRunning && !m.running {
		out, ok := c.outdoor()
		m.learning, m.startedAt, m.startOutdoor = ok, c.now, out
		m.cooling = true
		if doc, ok := c.shadow(); ok {
			if mode, _ := held(doc, keyMode); mode == "heating" {
				m.cooling = false
			}
		}
	}
	m.running, m.seenRunning = running, true
	if !m.learning {
		return
	}
	if !running || c.now.Sub(m.startedAt) > learnFor {
		m.learning = false
		return
	}
	var reached bool
	if m.cooling {
		sup, ok1 := c.value(metricChwSupply)
		sp, ok2 := c.value(keyChwSetpoint)
		reached = ok1 && ok2 && sup <= sp+1
	} else {
		sup, ok1 := c.value(metricHwSupply)
		sp, ok2 := c.value(keyHwSetpoint)
		reached = ok1 && ok2 && sup >= sp-1
	}
	if reached {
		m.learning = false
		m.st.Warmup = m.st.Warmup.Observe(m.cooling, m.startOutdoor, c.now.Sub(m.startedAt), maxLead)
		c.r.save(c.dev, m)
	}
}

// apply writes a strategy's value of a setting through the shadow
// service, unless it holds already or a person's value holds over it. It
// reports false when the shadow could not be read or the write was
// refused, so that a caller does not count the value as taken.
//
// A person's change wins until the next strategy change. The strategy's
// value is named by ident (the set-point, the damper opening, or the mode
// and the day for optimum start). When the desired value of a key the
// strategy wrote last differs from what it wrote while the strategy still
// wants the same (same ident), someone changed it since: the strategy
// yields and leaves the key alone while its own value stays that ident;
// once its value changes (the next strategy change) it writes again.
func (c *evalCtx) apply(strategy, key string, target any, ident, reason string) bool {
	doc, ok := c.shadow()
	if !ok {
		return false
	}
	m := c.m
	desired, hasDesired := doc.State.Desired[key]
	hasDesired = hasDesired && desired != nil
	change := store.StrategyChange{Customer: c.customer, Site: c.site, Device: c.dev, Strategy: strategy, At: c.now, Key: key}
	if y, ok := m.st.Yield[key]; ok && y.Strategy == strategy {
		if y.Ident == ident {
			return true
		}
		delete(m.st.Yield, key)
		resume := change
		resume.Action, resume.From, resume.To = "resume", raw(y.Value), raw(target)
		resume.Reason = "its own value changed since a person's change; the strategy writes again"
		c.r.record(resume)
	} else if w, ok := m.st.Written[key]; ok && w.Strategy == strategy && w.Ident == ident && hasDesired && !same(desired, w.Value) {
		c.r.mu.Lock()
		by := c.r.person[c.dev]
		c.r.mu.Unlock()
		m.st.Yield[key] = yielded{Strategy: strategy, Ident: ident, Value: desired, At: c.now, By: by}
		y := change
		y.Action, y.From, y.To, y.By = "yield", raw(w.Value), raw(desired), by
		y.Reason = "a person's value holds until the strategy's own value changes"
		c.r.record(y)
		c.r.save(c.dev, m)
		return true
	}
	cur, _ := held(doc, key)
	if same(cur, target) {
		return true
	}
	body, err := json.Marshal(map[string]any{"state": map[string]any{"desired": map[string]any{key: target}}})
	if err != nil {
		return false
	}
	if _, err := c.r.d.Shadows.Update(c.dev, "", body, Actor(strategy), c.now); err != nil {
		c.r.logger.Warn("strategy write refused", "device", c.dev, "strategy", strategy, "key", key, "error", err)
		return false
	}
	c.doc = nil
	m.st.Written[key] = written{Strategy: strategy, Ident: ident, Value: target, At: c.now}
	set := change
	set.Action, set.From, set.To, set.Reason = "set", raw(cur), raw(target), reason
	c.r.record(set)
	c.r.save(c.dev, m)
	return true
}

func (r *Runner) record(ch store.StrategyChange) {
	if err := r.d.Store.AddStrategyChanges([]store.StrategyChange{ch}); err != nil {
		r.logger.Error("cannot record a strategy change", "device", ch.Device, "strategy", ch.Strategy, "error", err)
	}
}
