package gate

import (
	"errors"
	"fmt"
	"time"

	"github.com/hearthiot/hearth/rules"
	"github.com/hearthiot/hearth/store"
)

// MessageRuleStore keeps message rules; *store.Store implements it.
type MessageRuleStore interface {
	PutMessageRule(r store.MessageRule) (store.MessageRule, bool, error)
	GetMessageRule(id string) (store.MessageRule, error)
	ListMessageRules() ([]store.MessageRule, error)
	DeleteMessageRule(id string) error
}

// MessageRuleView is a rule with its counters since Hearth started; a
// rule written in SQL has the topic, condition and select it translates
// to.
type MessageRuleView struct {
	store.MessageRule
	Stats RuleStats
}

// RuleStats, RuleResult and RuleActionPlan are the rule engine's counters
// and dry runs, as the channels show them.
type (
	RuleStats      = rules.Stats
	RuleResult     = rules.Result
	RuleActionPlan = rules.ActionPlan
)

func ruleView(r store.MessageRule, engine RuleEngine) MessageRuleView {
	if c, err := rules.Compile(r); err == nil {
		r.Topic, r.Condition, r.Select = c.Topic, c.Condition, c.Select
	}
	return MessageRuleView{MessageRule: r, Stats: engine.Stats(r.ID)}
}

func (s Scope) messageRules() (MessageRuleStore, RuleEngine, error) {
	if err := s.check(); err != nil {
		return nil, nil, err
	}
	if s.g.ruleStore == nil || s.g.ruleEngine == nil {
		return nil, nil, Unavailable("message rules are not available on this server")
	}
	return s.g.ruleStore, s.g.ruleEngine, nil
}

// RuleEngine is the running rule engine; *rules.Engine implements it.
type RuleEngine interface {
	RulesChanged() error
	Stats(id string) rules.Stats
	DryRun(r store.MessageRule, thing, topic string, payload []byte, now time.Time) (rules.Result, error)
}

// ruleError maps a rule that does not compile to the field it names.
func ruleError(err error) error {
	var re *rules.Error
	if errors.As(err, &re) {
		return Invalid("field %q: %s", re.Field, re.Message)
	}
	return err
}

// visibleMessageRule returns a rule p may see: any for an operator, a
// customer's own for its people.
func (s Scope) visibleMessageRule(id string) (store.MessageRule, error) {
	rs, _, err := s.messageRules()
	if err != nil {
		return store.MessageRule{}, err
	}
	r, err := rs.GetMessageRule(id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.p.Operator() && r.Customer != s.p.Customer {
		return store.MessageRule{}, NotFound("message rule")
	}
	return r, err
}

// MessageRules lists the rules p may see, with their counters.
func (s Scope) MessageRules() ([]MessageRuleView, error) {
	rs, engine, err := s.messageRules()
	if err != nil {
		return nil, err
	}
	all, err := rs.ListMessageRules()
	if err != nil {
		return nil, err
	}
	out := make([]MessageRuleView, 0, len(all))
	for _, r := range all {
		if s.p.Operator() || r.Customer == s.p.Customer {
			out = append(out, ruleView(r, engine))
		}
	}
	return out, nil
}

// MessageRule returns one rule p may see, with its counters.
func (s Scope) MessageRule(id string) (MessageRuleView, error) {
	r, err := s.visibleMessageRule(id)
	if err != nil {
		return MessageRuleView{}, err
	}
	_, engine, _ := s.messageRules()
	return ruleView(r, engine), nil
}

// PutMessageRule creates a rule (an empty ID is given one) or replaces
// one (operators only), compiled whole and its channels checked.
func (s Scope) PutMessageRule(r store.MessageRule) (store.MessageRule, bool, error) {
	rs, engine, err := s.messageRules()
	if err != nil {
		return store.MessageRule{}, false, err
	}
	if err := s.operatorOnly("write message rules"); err != nil {
		return store.MessageRule{}, false, err
	}
	if r.ID == "" {
		r.ID = store.NewMessageRuleID()
	}
	if _, err := rules.Compile(r); err != nil {
		return store.MessageRule{}, false, ruleError(err)
	}
	if r.Customer != "" {
		if _, err := s.g.store.GetCustomer(r.Customer); err != nil {
			return store.MessageRule{}, false, missingReference("customer", r.Customer, err)
		}
	}
	actions := append([]store.RuleAction(nil), r.Actions...)
	if r.ErrorAction != nil {
		actions = append(actions, *r.ErrorAction)
	}
	for _, a := range actions {
		for _, ch := range a.Channels {
			if s.g.channels == nil {
				return store.MessageRule{}, false, Unavailable("notifications are not available on this server")
			}
			if _, err := s.g.channels.GetNotificationChannel(r.Customer, ch); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return store.MessageRule{}, false, Invalid("field %q: %s has no notification channel named %q", "channels", r.Customer, ch)
				}
				return store.MessageRule{}, false, err
			}
		}
	}
	out, created, err := rs.PutMessageRule(r)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.MessageRule{}, false, missingReference("customer", r.Customer, err)
		}
		return store.MessageRule{}, false, err
	}
	if err := engine.RulesChanged(); err != nil {
		s.g.logger.Warn("message rule stored; the engine did not reload", "rule", r.ID, "error", err)
	}
	return out, created, nil
}

// DeleteMessageRule deletes a rule (operators only).
func (s Scope) DeleteMessageRule(id string) error {
	rs, engine, err := s.messageRules()
	if err != nil {
		return err
	}
	if err := s.operatorOnly("delete message rules"); err != nil {
		return err
	}
	if err := rs.DeleteMessageRule(id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFound("message rule")
		}
		return err
	}
	if err := engine.RulesChanged(); err != nil {
		s.g.logger.Warn("message rule deleted; the engine did not reload", "rule", id, "error", err)
	}
	return nil
}

// DryRunMessageRule applies a rule — a stored one p may see, or one being
// written — to a message device thing (p's) would publish on topic, and
// says what each action would do, doing nothing.
func (s Scope) DryRunMessageRule(r store.MessageRule, thing, topic string, payload []byte) (rules.Result, error) {
	_, engine, err := s.messageRules()
	if err != nil {
		return rules.Result{}, err
	}
	if _, err := s.deviceFor(thing); err != nil {
		return rules.Result{}, Invalid(`field "device": no such device`)
	}
	if r.ID == "" {
		r.ID = "dry-run"
	}
	res, err := engine.DryRun(r, thing, topic, payload, s.g.now())
	if err != nil {
		var re *rules.Error
		if errors.As(err, &re) {
			return rules.Result{}, ruleError(err)
		}
		return rules.Result{}, fmt.Errorf("dry run: %w", err)
	}
	return res, nil
}

// DryRunStoredMessageRule is DryRunMessageRule for a stored rule p may
// see.
func (s Scope) DryRunStoredMessageRule(id, thing, topic string, payload []byte) (rules.Result, error) {
	r, err := s.visibleMessageRule(id)
	if err != nil {
		return rules.Result{}, err
	}
	return s.DryRunMessageRule(r, thing, topic, payload)
}
