package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// RuleStore keeps rules; *store.Store implements it.
type RuleStore interface {
	ListMessageRules() ([]store.MessageRule, error)
}

// Telemetry takes telemetry as a device's own message would be taken;
// *device.Telemetry implements it. Storing goes on after Accept returns.
type Telemetry interface {
	Accept(thing string, payload []byte, now time.Time) (device.Storing, error)
}

// Shadows updates shadows; *device.Shadows implements it.
type Shadows interface {
	Update(thing, name string, body []byte, by device.Actor, now time.Time) ([]byte, error)
}

// Publisher publishes to devices; *broker.Outbound implements it.
type Publisher interface {
	Publish(topic string, payload []byte, qos byte) error
}

// Events takes device events; *device.DeviceEvents implements it.
type Events interface {
	Ingest(thing string, payload []byte, now time.Time) error
}

// Devices describes registered devices; *device.Registry implements it.
// Labels answers from memory, for every message.
type Devices interface {
	Device(name string) (store.Device, error)
	Labels(name string) (customer, site string, ok bool)
}

// Webhooks sends a rule's result to notification channels of a customer
// (through the notification outbox, as a CloudEvent to webhooks).
type Webhooks interface {
	SendRuleResult(ctx context.Context, r store.MessageRule, dev store.Device, channels []string, data map[string]any, at time.Time) error
}

// Deps are what the engine acts through; Webhooks and Events may be nil
// (their actions then fail, counted).
type Deps struct {
	Store     RuleStore
	Devices   Devices
	Telemetry Telemetry
	Shadows   Shadows
	Publisher Publisher
	Events    Events
	Webhooks  Webhooks
	Logger    *slog.Logger
}

// GatewayAttribute names, in a device's attributes, the device that may
// speak for it: a rule may map a message of that gateway to it.
const GatewayAttribute = "gateway"

// Stats are a rule's counters since Hearth started.
type Stats struct {
	Matched   uint64     `json:"matched"`   // messages on its topic that met its condition
	Succeeded uint64     `json:"succeeded"` // … whose every action succeeded
	Failed    uint64     `json:"failed"`    // … that could not be mapped, or an action failed
	LastError *LastError `json:"last_error,omitempty"`
}

// LastError is the newest failure of a rule, with a sample of the message.
type LastError struct {
	At      time.Time `json:"at"`
	Device  string    `json:"device"`
	Topic   string    `json:"topic"`
	Error   string    `json:"error"`
	Payload string    `json:"payload"` // at most 1 KiB of it
}

type counters struct {
	matched, succeeded, failed atomic.Uint64
	mu                         sync.Mutex
	last                       *LastError
}

// Engine runs the rules.
type Engine struct {
	d   Deps
	log *slog.Logger

	mu    sync.RWMutex
	rules []*Rule
	stats map[string]*counters
}

// New builds the engine; Load reads the rules.
func New(d Deps) (*Engine, error) {
	if d.Store == nil || d.Devices == nil || d.Telemetry == nil || d.Shadows == nil || d.Publisher == nil {
		return nil, errors.New("rules: store, devices, telemetry, shadows and a publisher are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{d: d, log: d.Logger, stats: map[string]*counters{}}, nil
}

// Load compiles every stored rule; one that no longer compiles is logged
// and left out.
func (e *Engine) Load() error {
	all, err := e.d.Store.ListMessageRules()
	if err != nil {
		return fmt.Errorf("load message rules: %w", err)
	}
	var rules []*Rule
	for _, r := range all {
		c, err := Compile(r)
		if err != nil {
			e.log.Error("message rule left out", "rule", r.ID, "error", err)
			continue
		}
		rules = append(rules, c)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = rules
	for _, r := range rules {
		if e.stats[r.ID] == nil {
			e.stats[r.ID] = &counters{}
		}
	}
	return nil
}

// RulesChanged reloads the rules after one was written.
func (e *Engine) RulesChanged() error { return e.Load() }

// Stats returns a rule's counters.
func (e *Engine) Stats(id string) Stats {
	e.mu.RLock()
	c := e.stats[id]
	e.mu.RUnlock()
	if c == nil {
		return Stats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Matched: c.matched.Load(), Succeeded: c.succeeded.Load(), Failed: c.failed.Load()}
	if c.last != nil {
		l := *c.last
		s.LastError = &l
	}
	return s
}

// matching returns the enabled rules whose filter takes topic and that
// apply to a device of customer.
func (e *Engine) matching(topic, customer string) []*Rule {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []*Rule
	for _, r := range e.rules {
		if !r.Disabled && (r.Customer == "" || r.Customer == customer) && r.matches(topic) {
			out = append(out, r)
		}
	}
	return out
}

// Handle runs the rules on a message device thing published on topic and
// returns the readings its telemetry actions are storing, which the caller
// waits for before it acknowledges the message. It returns an error only
// when readings could not be taken for a passing reason (a
// *device.TelemetryError with CodeInternal or CodeStorageFull): the device
// should not be acknowledged, so that it sends the message again.
// Everything else a rule meets is counted and goes to its error action.
func (e *Engine) Handle(thing, topic string, payload []byte, now time.Time) ([]device.Storing, error) {
	e.mu.RLock()
	none := len(e.rules) == 0
	e.mu.RUnlock()
	if none {
		return nil, nil
	}
	customer, site, ok := e.d.Devices.Labels(thing)
	if !ok {
		return nil, nil // deleted meanwhile
	}
	pub := store.Device{Name: thing, Customer: customer, Site: site}
	rules := e.matching(topic, pub.Customer)
	if len(rules) == 0 {
		return nil, nil
	}
	msg := message{thing: thing, topic: topic, raw: payload, now: now}
	msg.decode()
	var retry error
	var storing []device.Storing
	for _, r := range rules {
		s, err := e.run(r, pub, &msg)
		if err != nil {
			retry = err
		}
		storing = append(storing, s...)
	}
	return storing, retry
}

// message is one message as rules see it.
type message struct {
	thing, topic string
	raw          []byte
	now          time.Time
	fields       map[string]any
	decodeErr    error
	vars         map[string]any // the fields and the functions, made once
}

func (m *message) decode() {
	m.fields, m.decodeErr = decodeObject(m.raw)
}

// env is what a rule's expressions see: the payload's fields and the
// message's functions. It is made once per message: expressions do not
// change it.
func (m *message) env() map[string]any {
	if m.vars != nil {
		return m.vars
	}
	env := make(map[string]any, len(m.fields)+3)
	maps.Copy(env, m.fields)
	thing, topic, now := m.thing, m.topic, m.now
	levels := strings.Split(topic, "/")
	env["topic"] = func(n ...int) string {
		if len(n) == 0 {
			return topic
		}
		if n[0] < 1 || n[0] > len(levels) {
			return ""
		}
		return levels[n[0]-1]
	}
	env["clientid"] = func() string { return thing }
	env["timestamp"] = func() int64 { return now.UnixMilli() }
	m.vars = env
	return env
}

// Result is what a rule made of a message: whether its condition held,
// the mapped values, the device and time they are about, and each action
// prepared.
type Result struct {
	Matched bool           `json:"matched"`
	Values  map[string]any `json:"values,omitempty"`
	Device  string         `json:"device,omitempty"`
	Time    time.Time      `json:"ts,omitzero"`
	Actions []ActionPlan   `json:"actions,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// ActionPlan is one action prepared: what it would do, and, once done,
// its error.
type ActionPlan struct {
	Kind     string          `json:"kind"`
	Topic    string          `json:"topic,omitempty"`
	Channels []string        `json:"channels,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	Error    string          `json:"error,omitempty"`
	do       func() error
	store    func() (device.Storing, error) // a telemetry action instead of do
}

// evaluate applies a rule to a message without acting.
func (e *Engine) evaluate(r *Rule, pub store.Device, m *message) Result {
	if m.decodeErr != nil {
		return Result{Matched: true, Error: m.decodeErr.Error()}
	}
	env := m.env()
	if r.condition != nil {
		ok, err := expr.Run(r.condition, env)
		if err != nil {
			return Result{Matched: true, Error: "condition: " + oneLine(err)}
		}
		if ok != true {
			return Result{}
		}
	}
	res := Result{Matched: true, Values: make(map[string]any, len(m.fields)+len(r.fields))}
	if len(r.fields) == 0 {
		maps.Copy(res.Values, m.fields)
	}
	for _, f := range r.fields {
		if f.all {
			maps.Copy(res.Values, m.fields)
			continue
		}
		v, err := expr.Run(f.prog, env)
		if err != nil {
			res.Error = fmt.Sprintf("select %s: %s", f.name, oneLine(err))
			return res
		}
		if v != nil {
			res.Values[f.name] = v
		}
	}
	res.Device = pub.Name
	if v, ok := res.Values[FieldDevice]; ok {
		name, _ := v.(string)
		delete(res.Values, FieldDevice)
		if name != pub.Name {
			dev, err := e.d.Devices.Device(name)
			if err != nil || dev.Attributes[GatewayAttribute] != pub.Name {
				res.Error = fmt.Sprintf("device %q: %s may speak only for itself and for devices whose %q attribute names it", name, pub.Name, GatewayAttribute)
				return res
			}
			res.Device = name
		}
	}
	res.Time = m.now
	if v, ok := res.Values[FieldTime]; ok {
		delete(res.Values, FieldTime)
		t, err := ParseTime(v)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		res.Time = t
	}
	for _, a := range r.Actions {
		res.Actions = append(res.Actions, e.prepare(r, a, res, m))
	}
	return res
}

// prepare makes one action ready to run on a mapped message.
func (e *Engine) prepare(r *Rule, a store.RuleAction, res Result, m *message) ActionPlan {
	p := ActionPlan{Kind: a.Kind}
	fail := func(err error) ActionPlan {
		p.Error, p.do, p.store = err.Error(), nil, nil
		return p
	}
	switch a.Kind {
	case ActionTelemetry:
		values := map[string]float64{}
		for k, v := range res.Values {
			switch n := v.(type) {
			case float64:
				values[k] = n
			case int:
				values[k] = float64(n)
			case int64:
				values[k] = float64(n)
			case bool:
				values[k] = map[bool]float64{false: 0, true: 1}[n]
			}
		}
		if len(values) == 0 {
			return fail(errors.New("no numeric values to store"))
		}
		for k, v := range values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fail(fmt.Errorf("%s: %v is not a value telemetry holds", k, v))
			}
		}
		body := appendSample(nil, res.Time.UnixMilli(), values)
		p.Payload = body
		p.store = func() (device.Storing, error) { return e.d.Telemetry.Accept(res.Device, body, m.now) }
	case ActionShadow:
		body, err := json.Marshal(map[string]any{"state": map[string]any{"reported": res.Values}})
		if err != nil {
			return fail(err)
		}
		p.Payload = body
		p.do = func() error {
			_, err := e.d.Shadows.Update(res.Device, "", body, device.Actor{Name: "rule:" + r.ID, Channel: device.ChannelMQTT}, m.now)
			return err
		}
	case ActionRepublish:
		body, err := json.Marshal(withMeta(res))
		if err != nil {
			return fail(err)
		}
		dev, _ := e.d.Devices.Device(res.Device)
		p.Topic, p.Payload = expandTopic(a.Topic, res.Device, dev.Customer, m.topic), body
		if strings.ContainsAny(p.Topic, "+#\x00") || strings.HasPrefix(p.Topic, "$") {
			return fail(fmt.Errorf("republish topic %q: no wildcards, not beginning with $", p.Topic))
		}
		p.do = func() error { return e.d.Publisher.Publish(p.Topic, body, 1) }
	case ActionWebhook:
		data := withMeta(res)
		body, err := json.Marshal(data)
		if err != nil {
			return fail(err)
		}
		p.Channels, p.Payload = a.Channels, body
		p.do = func() error {
			if e.d.Webhooks == nil {
				return errors.New("notifications are not available on this server")
			}
			dev, err := e.d.Devices.Device(res.Device)
			if err != nil {
				return err
			}
			return e.d.Webhooks.SendRuleResult(context.Background(), r.MessageRule, dev, a.Channels, data, res.Time)
		}
	case ActionEvent:
		vals, _ := json.Marshal(res.Values)
		msg := fmt.Sprintf("rule %s: %s", r.Name, vals)
		if len(msg) > 1024 {
			msg = msg[:1021] + "…"
		}
		body, err := json.Marshal(protocol.Event{Level: a.Level, Code: a.Code, Message: msg, TS: res.Time.UnixMilli()})
		if err != nil {
			return fail(err)
		}
		p.Payload = body
		p.do = func() error {
			if e.d.Events == nil {
				return errors.New("device events are not available on this server")
			}
			return e.d.Events.Ingest(res.Device, body, m.now)
		}
	}
	return p
}

// withMeta is a mapped message as republished and sent: its values, with
// the device and the time.
func withMeta(res Result) map[string]any {
	out := maps.Clone(res.Values)
	out[FieldDevice] = res.Device
	out[FieldTime] = res.Time.UnixMilli()
	return out
}

// run applies a rule to a message and acts; telemetry actions are
// returned storing.
func (e *Engine) run(r *Rule, pub store.Device, m *message) ([]device.Storing, error) {
	res := e.evaluate(r, pub, m)
	if !res.Matched {
		return nil, nil
	}
	c := e.counters(r.ID)
	c.matched.Add(1)
	var retry error
	var failures []string
	var storing []device.Storing
	if res.Error != "" {
		failures = append(failures, res.Error)
	}
	for i := range res.Actions {
		a := &res.Actions[i]
		var err error
		switch {
		case a.store != nil:
			var s device.Storing
			if s, err = a.store(); err == nil {
				storing = append(storing, s)
			}
		case a.do != nil:
			err = a.do()
		default:
			err = errors.New(a.Error)
		}
		if err != nil {
			failures = append(failures, a.Kind+": "+err.Error())
			var te *device.TelemetryError
			if errors.As(err, &te) && (te.Code == device.CodeInternal || te.Code == device.CodeStorageFull) {
				retry = te
			}
		}
	}
	if len(failures) == 0 {
		c.succeeded.Add(1)
		return storing, nil
	}
	c.failed.Add(1)
	why := strings.Join(failures, "; ")
	sample := string(m.raw)
	if len(sample) > 1024 {
		sample = sample[:1024]
	}
	c.mu.Lock()
	c.last = &LastError{At: m.now, Device: pub.Name, Topic: m.topic, Error: why, Payload: sample}
	c.mu.Unlock()
	e.errorAction(r, pub, m, why, sample)
	return storing, retry
}

func (e *Engine) counters(id string) *counters {
	e.mu.RLock()
	c := e.stats[id]
	e.mu.RUnlock()
	if c != nil {
		return c
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stats[id] == nil {
		e.stats[id] = &counters{}
	}
	return e.stats[id]
}

// errorAction runs a rule's error action with what went wrong: the rule,
// the topic, the device, the error and the payload (at most 1 KiB, as
// text).
func (e *Engine) errorAction(r *Rule, pub store.Device, m *message, why, sample string) {
	if r.ErrorAction == nil {
		return
	}
	res := Result{Device: pub.Name, Time: m.now, Values: map[string]any{
		"rule": r.ID, "topic": m.topic, "error": why, "payload": sample,
	}}
	p := e.prepare(r, *r.ErrorAction, res, m)
	err := errors.New(p.Error)
	switch {
	case p.store != nil:
		var s device.Storing
		if s, err = p.store(); err == nil {
			_, err = s.Wait()
		}
	case p.do != nil:
		err = p.do()
	}
	if err != nil {
		e.log.Warn("message rule error action failed", "rule", r.ID, "device", pub.Name, "error", err)
	}
}

// DryRun applies a rule, compiled but not necessarily saved, to a message
// as device thing would publish it, and says what each action would do,
// doing nothing.
func (e *Engine) DryRun(r store.MessageRule, thing, topic string, payload []byte, now time.Time) (Result, error) {
	c, err := Compile(r)
	if err != nil {
		return Result{}, err
	}
	pub, err := e.d.Devices.Device(thing)
	if err != nil {
		return Result{}, fmt.Errorf("device %q: %w", thing, err)
	}
	if !c.matches(topic) {
		return Result{Error: fmt.Sprintf("topic %q is not under the rule's filter %q", topic, c.Topic)}, nil
	}
	m := message{thing: thing, topic: topic, raw: payload, now: now}
	m.decode()
	res := e.evaluate(c, pub, &m)
	for i := range res.Actions {
		res.Actions[i].do, res.Actions[i].store = nil, nil
	}
	if res.Values != nil {
		for k, v := range res.Values {
			if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				res.Values[k] = fmt.Sprint(f) // JSON has no NaN or infinity
			}
		}
	}
	return res, nil
}
