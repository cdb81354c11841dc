package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

const bucketMessageRules = "message_rules" // id → MessageRule

// MessageRule maps messages devices publish on a topic filter to actions,
// as AWS IoT Rules do. Package rules says what its expressions mean; the
// store keeps it and checks its shape.
type MessageRule struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Customer limits the rule to the devices of one customer; empty (an
	// operator's rule) is every customer's.
	Customer string `json:"customer,omitempty"`
	// SQL is the rule in AWS IoT SQL's common subset; when set, Topic,
	// Condition and Select are what it translates to.
	SQL       string       `json:"sql,omitempty"`
	Topic     string       `json:"topic"`
	Condition string       `json:"condition,omitempty"`
	Select    []RuleField  `json:"select,omitempty"` // empty: the payload's fields as they are
	Actions   []RuleAction `json:"actions"`
	// ErrorAction runs when a message cannot be mapped or an action fails.
	ErrorAction *RuleAction `json:"error_action,omitempty"`
	Disabled    bool        `json:"disabled,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// RuleField is one output of a rule's mapping: an expression and the name
// it is given. "*" as the expression copies every field of the payload.
type RuleField struct {
	Name string `json:"name,omitempty"`
	Expr string `json:"expr"`
}

// RuleAction is one thing a rule does with a mapped message.
type RuleAction struct {
	Kind     string   `json:"kind"`               // telemetry, shadow, republish, webhook, event
	Topic    string   `json:"topic,omitempty"`    // republish: the topic, with ${…} parts
	Channels []string `json:"channels,omitempty"` // webhook: notification channels of the rule's customer
	Code     string   `json:"code,omitempty"`     // event: its code
	Level    string   `json:"level,omitempty"`    // event: info, warning or error
}

// Bounds of a rule's shape.
const (
	MaxRuleActions     = 10
	MaxRuleFields      = 100
	maxMessageRuleText = 4096
)

// NewMessageRuleID names a new message rule.
func NewMessageRuleID() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "mrule-" + hex.EncodeToString(r[:])
}

func checkMessageRule(r MessageRule) error {
	if err := checkSlug("rule id", r.ID); err != nil {
		return err
	}
	if err := checkText("name", r.Name, maxNameLen, true); err != nil {
		return err
	}
	if err := checkText("description", r.Description, maxDescriptionLen, false); err != nil {
		return err
	}
	for field, v := range map[string]string{"sql": r.SQL, "topic": r.Topic, "condition": r.Condition} {
		if len(v) > maxMessageRuleText {
			return fmt.Errorf("%s: at most %d bytes: %w", field, maxMessageRuleText, ErrInvalid)
		}
	}
	if len(r.Select) > MaxRuleFields {
		return fmt.Errorf("%d fields selected, at most %d: %w", len(r.Select), MaxRuleFields, ErrInvalid)
	}
	if len(r.Actions) == 0 || len(r.Actions) > MaxRuleActions {
		return fmt.Errorf("%d actions; a rule has 1 to %d: %w", len(r.Actions), MaxRuleActions, ErrInvalid)
	}
	return nil
}

// PutMessageRule creates or replaces a rule; its customer must exist and
// does not change.
func (s *Store) PutMessageRule(r MessageRule) (MessageRule, bool, error) {
	if err := checkMessageRule(r); err != nil {
		return MessageRule{}, false, fmt.Errorf("put message rule: %w", err)
	}
	created := false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketMessageRules))
		var err error
		created, err = stampOwned(b, tx, "rule", r.ID, &r, func(r *MessageRule) (string, *time.Time, *time.Time) {
			return r.Customer, &r.CreatedAt, &r.UpdatedAt
		})
		if err != nil {
			return err
		}
		return putJSON(b, []byte(r.ID), r)
	})
	if err != nil {
		return MessageRule{}, false, fmt.Errorf("put message rule %q: %w", r.ID, err)
	}
	return r, created, nil
}

// GetMessageRule returns one rule.
func (s *Store) GetMessageRule(id string) (MessageRule, error) {
	r, err := getRecord[MessageRule](s, bucketMessageRules, id)
	if err != nil {
		return MessageRule{}, fmt.Errorf("get message rule %q: %w", id, err)
	}
	return r, nil
}

// ListMessageRules returns every rule, sorted by ID.
func (s *Store) ListMessageRules() ([]MessageRule, error) {
	out, err := listRecords[MessageRule](s, bucketMessageRules)
	if err != nil {
		return nil, fmt.Errorf("list message rules: %w", err)
	}
	return out, nil
}

// DeleteMessageRule removes a rule.
func (s *Store) DeleteMessageRule(id string) error {
	if err := s.deleteRecord(bucketMessageRules, id); err != nil {
		return fmt.Errorf("delete message rule %q: %w", id, err)
	}
	return nil
}

// createMessageRuleBucket adds the bucket of message rules.
func createMessageRuleBucket(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketMessageRules)); err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketMessageRules, err)
	}
	return nil
}
