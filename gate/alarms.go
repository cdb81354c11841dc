package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hearthiot/hearth/alarm"
	"github.com/hearthiot/hearth/store"
)

// AlarmStore keeps alarm rules and alarms; *store.Store implements it.
type AlarmStore interface {
	PutAlarmRule(r store.AlarmRule) (store.AlarmRule, bool, error)
	GetAlarmRule(id string) (store.AlarmRule, error)
	ListAlarmRules() ([]store.AlarmRule, error)
	DeleteAlarmRule(id string) error
	GetAlarm(id string) (store.Alarm, error)
	ListAlarms(f store.AlarmFilter) ([]store.Alarm, error)
	AcknowledgeAlarm(id, by, comment string, at time.Time) (store.Alarm, bool, error)
	ClearAlarm(id, by, comment string, at time.Time) (store.Alarm, bool, error)
}

// AlarmEngine is the running alarm engine, which compiles rules and is
// told of every change to them; *alarm.Engine implements it.
type AlarmEngine interface {
	CompileRule(r store.AlarmRule) (*alarm.Rule, error)
	RulesChanged() error
	Cleared(a store.Alarm)
}

// alarms is the alarm store and engine, or why there are none.
func (s Scope) alarms() (AlarmStore, AlarmEngine, error) {
	if err := s.check(); err != nil {
		return nil, nil, err
	}
	if s.g.alarmStore == nil || s.g.alarmEngine == nil {
		return nil, nil, Unavailable("alarms are not available on this server")
	}
	return s.g.alarmStore, s.g.alarmEngine, nil
}

// mayManageRules refuses who may not write rules: operators write any; a
// customer's admins their own customer's.
func (s Scope) mayManageRules() error {
	if s.p.Operator() || s.p.Level() == store.AccessAdmin {
		return nil
	}
	return Forbidden("alarm rules are managed by operators and by your company's administrators")
}

// AlarmRuleKinds lists the kinds of alarm rule, for forms that offer them.
func AlarmRuleKinds() []string { return slices.Clone(alarm.Kinds) }

// MayManageAlarmRules says whether p may create, change and delete alarm
// rules (nil) or why not, so that pages offer those forms only to whom
// PutAlarmRule and DeleteAlarmRule would let through.
func (s Scope) MayManageAlarmRules() error {
	if _, _, err := s.alarms(); err != nil {
		return err
	}
	return s.mayManageRules()
}

// visibleRule returns a rule p may see: any for an operator, a customer's
// own for the customer; another's reads as absent.
func (s Scope) visibleRule(id string) (store.AlarmRule, error) {
	as, _, err := s.alarms()
	if err != nil {
		return store.AlarmRule{}, err
	}
	r, err := as.GetAlarmRule(id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.p.Operator() && r.Customer != s.p.Customer {
		return store.AlarmRule{}, NotFound("alarm rule")
	}
	return r, err
}

// AlarmRules lists the rules p may see, of one customer when customer is
// set (a customer's own, whatever it names).
func (s Scope) AlarmRules(customer string) ([]store.AlarmRule, error) {
	as, _, err := s.alarms()
	if err != nil {
		return nil, err
	}
	if !s.p.Operator() {
		customer = s.p.Customer
	}
	all, err := as.ListAlarmRules()
	if err != nil {
		return nil, err
	}
	out := make([]store.AlarmRule, 0, len(all))
	for _, r := range all {
		if customer == "" || r.Customer == customer {
			out = append(out, r)
		}
	}
	return out, nil
}

// AlarmRule returns one rule p may see.
func (s Scope) AlarmRule(id string) (store.AlarmRule, error) { return s.visibleRule(id) }

// PutAlarmRule creates a rule (an empty ID is given one) or replaces one,
// checked whole: compiled against its device type's metrics, its customer,
// site, device and type existing and its devices p's.
func (s Scope) PutAlarmRule(ctx context.Context, r store.AlarmRule) (store.AlarmRule, bool, error) {
	as, engine, err := s.alarms()
	if err != nil {
		return store.AlarmRule{}, false, err
	}
	if err := s.mayManageRules(); err != nil {
		return store.AlarmRule{}, false, err
	}
	if !s.p.Operator() {
		if r.Customer == "" {
			r.Customer = s.p.Customer
		}
		if r.Customer != s.p.Customer {
			return store.AlarmRule{}, false, Forbidden(fmt.Sprintf("you write alarm rules for %q only", s.p.Customer))
		}
	}
	if r.ID == "" {
		r.ID = store.NewRuleID()
	} else if old, err := as.GetAlarmRule(r.ID); err == nil {
		switch {
		case !s.p.Operator() && old.Customer != s.p.Customer:
			// Another customer's: its owner is not named.
			return store.AlarmRule{}, false, &Error{Kind: KindExists, Message: fmt.Sprintf("an alarm rule with id %q exists; choose another id", r.ID)}
		case old.Customer != r.Customer:
			return store.AlarmRule{}, false, Invalid(`field "customer": a rule stays with %s; create another for another customer`, ownerOf(old.Customer))
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.AlarmRule{}, false, err
	}
	if err := s.checkRuleTargets(r); err != nil {
		return store.AlarmRule{}, false, err
	}
	if r.Kind == "" {
		r.Kind = alarm.KindTelemetry
	}
	if _, err := engine.CompileRule(r); err != nil {
		var ae *alarm.Error
		if errors.As(err, &ae) {
			return store.AlarmRule{}, false, Invalid("field %q: %s", ae.Field, ae.Message)
		}
		return store.AlarmRule{}, false, err
	}
	out, created, err := as.PutAlarmRule(r)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.AlarmRule{}, false, missingReference("customer", r.Customer, err)
		}
		return store.AlarmRule{}, false, err
	}
	if err := engine.RulesChanged(); err != nil {
		s.g.logger.Warn("alarm rule stored; the engine did not reload", "rule", r.ID, "error", err)
	}
	return out, created, nil
}

// checkRuleTargets checks the devices a rule names exist and are its
// customer's.
func (s Scope) checkRuleTargets(r store.AlarmRule) error {
	if r.Customer != "" {
		if _, err := s.g.store.GetCustomer(r.Customer); err != nil {
			return missingReference("customer", r.Customer, err)
		}
	}
	if r.Device != "" {
		d, err := s.deviceFor(r.Device)
		if err != nil {
			return Invalid(`field "device": no such device`)
		}
		if r.Customer != "" && d.Customer != r.Customer {
			return Invalid("field %q: device %q is not %s's", "device", r.Device, r.Customer)
		}
	}
	if r.Site != "" && r.Customer != "" {
		sites, err := s.g.store.ListSites(r.Customer)
		if err != nil {
			return err
		}
		found := false
		for _, st := range sites {
			found = found || st.Name == r.Site
		}
		if !found {
			return Invalid("field %q: customer %q has no site named %q", "site", r.Customer, r.Site)
		}
	}
	if r.DeviceType != "" && s.g.types != nil {
		if _, err := s.g.types.Get(r.DeviceType); err != nil {
			return missingReference("device_type", r.DeviceType, err)
		}
	}
	for _, c := range r.Channels {
		switch {
		case strings.TrimSpace(c) == "":
			return Invalid(`field "channels": an empty channel name`)
		case r.Customer == "":
			return Invalid(`field "channels": channels belong to a customer; a rule for every customer cannot name them`)
		case s.g.channels != nil:
			if _, err := s.g.channels.GetNotificationChannel(r.Customer, c); errors.Is(err, store.ErrNotFound) {
				return Invalid(`field "channels": %s has no notification channel named %q`, r.Customer, c)
			} else if err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteAlarmRule removes a rule; its alarms stay as history.
func (s Scope) DeleteAlarmRule(id string) error {
	as, engine, err := s.alarms()
	if err != nil {
		return err
	}
	if _, err := s.visibleRule(id); err != nil {
		return err
	}
	if err := s.mayManageRules(); err != nil {
		return err
	}
	if err := as.DeleteAlarmRule(id); err != nil {
		return err
	}
	if err := engine.RulesChanged(); err != nil {
		s.g.logger.Warn("alarm rule deleted; the engine did not reload", "rule", id, "error", err)
	}
	return nil
}

// Alarms lists the alarms f selects among those p may see: a customer's
// are its own devices' alarms, whoever wrote the rule.
func (s Scope) Alarms(f store.AlarmFilter) ([]store.Alarm, error) {
	as, _, err := s.alarms()
	if err != nil {
		return nil, err
	}
	if !s.p.Operator() {
		f.Customer = s.p.Customer
	}
	return as.ListAlarms(f)
}

// visibleAlarm returns an alarm p may see.
func (s Scope) visibleAlarm(id string) (store.Alarm, error) {
	as, _, err := s.alarms()
	if err != nil {
		return store.Alarm{}, err
	}
	a, err := as.GetAlarm(id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.p.Operator() && a.Customer != s.p.Customer {
		return store.Alarm{}, NotFound("alarm")
	}
	return a, err
}

// Alarm returns one alarm p may see.
func (s Scope) Alarm(id string) (store.Alarm, error) { return s.visibleAlarm(id) }

// AcknowledgeAlarm records that p has seen an alarm. Viewers may not.
func (s Scope) AcknowledgeAlarm(id, comment string) (store.Alarm, error) {
	as, _, err := s.alarms()
	if err != nil {
		return store.Alarm{}, err
	}
	if _, err := s.visibleAlarm(id); err != nil {
		return store.Alarm{}, err
	}
	if !s.p.MayChangeSettings() {
		return store.Alarm{}, Forbidden("viewers may read alarms but not acknowledge them")
	}
	a, _, err := as.AcknowledgeAlarm(id, s.p.ActorName(), comment, s.g.now().UTC())
	return a, err
}

// ClearAlarm clears an active alarm by hand; a condition that still holds
// raises it again. Viewers may not.
func (s Scope) ClearAlarm(id, comment string) (store.Alarm, error) {
	as, engine, err := s.alarms()
	if err != nil {
		return store.Alarm{}, err
	}
	if _, err := s.visibleAlarm(id); err != nil {
		return store.Alarm{}, err
	}
	if !s.p.MayChangeSettings() {
		return store.Alarm{}, Forbidden("viewers may read alarms but not clear them")
	}
	a, changed, err := as.ClearAlarm(id, s.p.ActorName(), comment, s.g.now().UTC())
	if err != nil {
		return store.Alarm{}, err
	}
	if changed {
		engine.Cleared(a)
	}
	return a, nil
}

// Bounds of a rule preview.
const (
	previewDays       = 7
	previewStep       = time.Minute
	maxPreviewDevices = 50
)

// RulePreview is what a rule would have done over the stored telemetry of
// the devices it applies to.
type RulePreview struct {
	From    time.Time       `json:"from"`
	To      time.Time       `json:"to"`
	Step    string          `json:"step"`
	Fired   int             `json:"fired"` // alarms raised, all devices
	Devices []DevicePreview `json:"devices"`
	// Truncated: the rule applies to more devices than were replayed.
	Truncated bool `json:"truncated,omitempty"`
}

// DevicePreview is a rule's replay on one device.
type DevicePreview struct {
	Device  string         `json:"device"`
	Fired   int            `json:"fired"`
	Firings []alarm.Firing `json:"firings"`
}

// PreviewAlarmRule replays a telemetry rule, unsaved, over the last seven
// days of the stored telemetry of the devices p may see that it applies
// to (at most 50), at one-minute steps of each metric's average, with the
// engine's own evaluation: how many alarms it would have raised, so that
// thresholds are set from data.
func (s Scope) PreviewAlarmRule(ctx context.Context, r store.AlarmRule) (RulePreview, error) {
	_, engine, err := s.alarms()
	if err != nil {
		return RulePreview{}, err
	}
	if s.g.telemetry == nil {
		return RulePreview{}, Unavailable("telemetry is not available on this server")
	}
	if !s.p.Operator() {
		r.Customer = s.p.Customer
	}
	if r.ID == "" {
		r.ID = "preview"
	}
	if r.Name == "" {
		r.Name = "preview"
	}
	if r.Kind == "" {
		r.Kind = alarm.KindTelemetry
	}
	if r.Kind != alarm.KindTelemetry {
		return RulePreview{}, Invalid(`field "kind": only telemetry rules can be previewed on stored data`)
	}
	if err := s.checkRuleTargets(r); err != nil {
		return RulePreview{}, err
	}
	compiled, err := engine.CompileRule(r)
	if err != nil {
		var ae *alarm.Error
		if errors.As(err, &ae) {
			return RulePreview{}, Invalid("field %q: %s", ae.Field, ae.Message)
		}
		return RulePreview{}, err
	}
	f, err := s.deviceFilter(r.Customer, r.Site)
	if err != nil {
		return RulePreview{}, err
	}
	devices, err := s.g.registry.Devices(f)
	if err != nil {
		return RulePreview{}, err
	}
	to := s.g.now().UTC().Truncate(previewStep)
	out := RulePreview{From: to.Add(-previewDays * 24 * time.Hour), To: to, Step: previewStep.String(), Devices: []DevicePreview{}}
	for _, d := range devices {
		if r.Device != "" && d.Name != r.Device || r.DeviceType != "" && d.Type != r.DeviceType {
			continue
		}
		if len(out.Devices) == maxPreviewDevices {
			out.Truncated = true
			break
		}
		series := map[string][]alarm.Sample{}
		for _, m := range compiled.Metrics() {
			pts, err := s.g.telemetry.Downsample(ctx, DownsampleQuery{Device: d.Name, Customer: d.Customer, Metric: m, Start: out.From, End: out.To, Step: previewStep})
			if err != nil {
				return RulePreview{}, err
			}
			samples := make([]alarm.Sample, 0, len(pts))
			for _, p := range pts {
				samples = append(samples, alarm.Sample{At: time.UnixMilli(p.Timestamp).UTC(), Value: p.Avg})
			}
			series[m] = samples
		}
		firings, err := compiled.Preview(series, out.From, out.To, previewStep)
		if err != nil {
			return RulePreview{}, Invalid("%v", err)
		}
		if firings == nil {
			firings = []alarm.Firing{}
		}
		out.Devices = append(out.Devices, DevicePreview{Device: d.Name, Fired: len(firings), Firings: firings})
		out.Fired += len(firings)
	}
	return out, nil
}
