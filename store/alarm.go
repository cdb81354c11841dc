package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AlarmRule says when a device is in alarm. What its fields mean is
// decided in package alarm, which compiles it; the store keeps rules as
// given and checks only their shape.
type AlarmRule struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Customer narrows the rule to one customer's devices; empty applies
	// it to every customer's (operators only).
	Customer string `json:"customer,omitempty"`
	// DeviceType, Site and Device narrow it further; a rule names at least
	// one of them.
	DeviceType string `json:"device_type,omitempty"`
	Site       string `json:"site,omitempty"`
	Device     string `json:"device,omitempty"`
	// Kind is what the rule watches: telemetry (Condition), stale (no
	// Metric for For), offline (for For), event (device events), settings
	// (reported settings out of their rules) or schedule (a push that
	// failed).
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	// Condition raises the alarm once true for For; ClearCondition (by
	// default, not Condition) clears it once true for ClearFor.
	Condition      string `json:"condition,omitempty"`
	For            string `json:"for,omitempty"`
	ClearCondition string `json:"clear_condition,omitempty"`
	ClearFor       string `json:"clear_for,omitempty"`
	Metric         string `json:"metric,omitempty"`
	// EventCode and EventLevel select device events; empty matches any.
	EventCode  string `json:"event_code,omitempty"`
	EventLevel string `json:"event_level,omitempty"`
	// Channels are the names of the customer's notification channels told
	// of the alarm.
	Channels  []string  `json:"channels,omitempty"`
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Alarm severities, most urgent first.
const (
	SeverityCritical = "critical"
	SeverityMajor    = "major"
	SeverityMinor    = "minor"
	SeverityWarning  = "warning"
)

// Severities lists the severities, most urgent first.
var Severities = []string{SeverityCritical, SeverityMajor, SeverityMinor, SeverityWarning}

// Alarm states.
const (
	AlarmActive  = "active"
	AlarmCleared = "cleared"
)

// Alarm is one rule's alarm on one device, from raised until it is cleared
// and acknowledged. A repeat while it is open raises its count.
type Alarm struct {
	ID         string `json:"id"`
	Rule       string `json:"rule"`
	RuleName   string `json:"rule_name"`
	Customer   string `json:"customer"`
	Site       string `json:"site"`
	Device     string `json:"device"`
	DeviceType string `json:"device_type,omitempty"`
	Severity   string `json:"severity"`
	State      string `json:"state"` // active or cleared
	// Acknowledged: a person has seen it. An alarm both cleared and
	// acknowledged is closed: the next one of its rule and device is new.
	Acknowledged bool   `json:"acknowledged"`
	Message      string `json:"message"`
	// Fields are what raised it: the values of the condition's metrics, an
	// event's code and message.
	Fields    map[string]any `json:"fields,omitempty"`
	Count     int            `json:"count"`
	RaisedAt  time.Time      `json:"raised_at"`
	LastAt    time.Time      `json:"last_at"`
	ClearedAt time.Time      `json:"cleared_at,omitzero"`
	AckedAt   time.Time      `json:"acknowledged_at,omitzero"`
	AckedBy   string         `json:"acknowledged_by,omitempty"`
	History   []AlarmChange  `json:"history"`
}

// Open reports whether the alarm still stands for its rule and device.
func (a Alarm) Open() bool { return a.State == AlarmActive || !a.Acknowledged }

// AlarmChange is one step of an alarm's life.
type AlarmChange struct {
	At      time.Time `json:"at"`
	Action  string    `json:"action"` // raised, repeated, cleared, acknowledged
	By      string    `json:"by,omitempty"`
	Comment string    `json:"comment,omitempty"`
	Message string    `json:"message,omitempty"`
}

// Alarm actions in its history.
const (
	AlarmRaised       = "raised"
	AlarmRepeated     = "repeated"
	AlarmClearedBy    = "cleared"
	AlarmAcknowledged = "acknowledged"
)

// Limits of alarms and rules.
const (
	maxAlarmHistory   = 50
	maxRuleText       = 2048
	maxAlarmComment   = 1024
	MaxChannelsOfRule = 16
)

func alarmOpenKey(rule, device string) []byte { return []byte(rule + "\x00" + device) }

// newAlarmID is sortable by time of creation: nanoseconds in hex, then
// random bytes against two in the same nanosecond.
func newAlarmID(t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%s", t.UnixNano(), hex.EncodeToString(r[:]))
}

// NewRuleID names a new alarm rule.
func NewRuleID() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "rule-" + hex.EncodeToString(r[:])
}

func checkAlarmRule(r AlarmRule) error {
	if err := checkSlug("rule id", r.ID); err != nil {
		return err
	}
	if err := checkText("name", r.Name, 200, true); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"condition", r.Condition}, {"clear_condition", r.ClearCondition},
	} {
		if len(f.v) > maxRuleText {
			return fmt.Errorf("%s is %d bytes, at most %d are accepted: %w", f.name, len(f.v), maxRuleText, ErrInvalid)
		}
	}
	if !slices.Contains(Severities, r.Severity) {
		return fmt.Errorf("severity %q: use one of %s: %w", r.Severity, strings.Join(Severities, ", "), ErrInvalid)
	}
	if len(r.Channels) > MaxChannelsOfRule {
		return fmt.Errorf("%d channels, at most %d are accepted: %w", len(r.Channels), MaxChannelsOfRule, ErrInvalid)
	}
	return nil
}

// PutAlarmRule creates or replaces a rule; its customer must exist.
func (s *Store) PutAlarmRule(r AlarmRule) (AlarmRule, bool, error) {
	if err := checkAlarmRule(r); err != nil {
		return AlarmRule{}, false, fmt.Errorf("put alarm rule: %w", err)
	}
	created := false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAlarmRules))
		var err error
		created, err = stampOwned(b, tx, "rule", r.ID, &r, func(r *AlarmRule) (string, *time.Time, *time.Time) {
			return r.Customer, &r.CreatedAt, &r.UpdatedAt
		})
		if err != nil {
			return err
		}
		return putJSON(b, []byte(r.ID), r)
	})
	if err != nil {
		return AlarmRule{}, false, fmt.Errorf("put alarm rule %q: %w", r.ID, err)
	}
	return r, created, nil
}

// GetAlarmRule returns one rule.
func (s *Store) GetAlarmRule(id string) (AlarmRule, error) {
	r, err := getRecord[AlarmRule](s, bucketAlarmRules, id)
	if err != nil {
		return AlarmRule{}, fmt.Errorf("get alarm rule %q: %w", id, err)
	}
	return r, nil
}

// ListAlarmRules returns every rule, sorted by ID.
func (s *Store) ListAlarmRules() ([]AlarmRule, error) {
	out, err := listRecords[AlarmRule](s, bucketAlarmRules)
	if err != nil {
		return nil, fmt.Errorf("list alarm rules: %w", err)
	}
	return out, nil
}

// DeleteAlarmRule removes a rule. Its alarms stay, as history.
func (s *Store) DeleteAlarmRule(id string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAlarmRules))
		if b.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete alarm rule %q: %w", id, err)
	}
	return nil
}

// RaiseAlarm records that a's rule fires on a's device: a new alarm, or,
// when one is open for the rule and device, a repeat that raises its count
// and makes it active again. It returns the alarm as stored and whether it
// changed from not active to active (a new alarm or a cleared one firing
// again), which is what people are told of.
func (s *Store) RaiseAlarm(a Alarm) (Alarm, bool, error) {
	var out Alarm
	activated := false
	err := s.batch(func(tx *bolt.Tx) error {
		alarms, open := tx.Bucket([]byte(bucketAlarms)), tx.Bucket([]byte(bucketAlarmsOpen))
		key := alarmOpenKey(a.Rule, a.Device)
		activated = false
		if id := open.Get(key); id != nil {
			var cur Alarm
			ok, err := getJSON(alarms, id, &cur)
			if err != nil {
				return err
			}
			if ok {
				cur.Count++
				cur.LastAt, cur.Fields, cur.Message = a.LastAt, a.Fields, a.Message
				action := AlarmRepeated
				if cur.State != AlarmActive {
					cur.State, cur.ClearedAt, activated = AlarmActive, time.Time{}, true
					action = AlarmRaised
				}
				cur.History = appendAlarmChange(cur.History, AlarmChange{At: a.LastAt, Action: action, Message: a.Message})
				out = cur
				return putJSON(alarms, id, cur)
			}
		}
		a.ID = newAlarmID(a.RaisedAt)
		a.State, a.Acknowledged, a.Count = AlarmActive, false, 1
		a.History = []AlarmChange{{At: a.RaisedAt, Action: AlarmRaised, Message: a.Message}}
		out, activated = a, true
		if err := open.Put(key, []byte(a.ID)); err != nil {
			return err
		}
		return putJSON(alarms, []byte(a.ID), a)
	})
	if err != nil {
		return Alarm{}, false, fmt.Errorf("raise alarm of rule %q on %q: %w", a.Rule, a.Device, err)
	}
	return out, activated, nil
}

func appendAlarmChange(h []AlarmChange, c AlarmChange) []AlarmChange {
	h = append(h, c)
	if len(h) > maxAlarmHistory {
		// Keep the first (how it began) and the newest.
		h = append(h[:1], h[len(h)-maxAlarmHistory+1:]...)
	}
	return h
}

// ClearOpenAlarm clears the open alarm of a rule on a device because its
// condition cleared; ok is false when none was active.
func (s *Store) ClearOpenAlarm(rule, device, message string, at time.Time) (Alarm, bool, error) {
	var out Alarm
	cleared := false
	err := s.batch(func(tx *bolt.Tx) error {
		cleared = false
		id := tx.Bucket([]byte(bucketAlarmsOpen)).Get(alarmOpenKey(rule, device))
		if id == nil {
			return nil
		}
		a, ok, err := s.changeAlarm(tx, string(id), func(a *Alarm) error {
			if a.State != AlarmActive {
				return errUnchanged
			}
			a.State, a.ClearedAt = AlarmCleared, at
			a.History = appendAlarmChange(a.History, AlarmChange{At: at, Action: AlarmClearedBy, Message: message})
			return nil
		})
		out, cleared = a, ok
		return err
	})
	if err != nil {
		return Alarm{}, false, fmt.Errorf("clear alarm of rule %q on %q: %w", rule, device, err)
	}
	return out, cleared, nil
}

// errUnchanged tells changeAlarm that nothing is to be written.
var errUnchanged = fmt.Errorf("unchanged")

// changeAlarm applies fn to a stored alarm and writes it, closing it
// (removing it from the open index) once cleared and acknowledged. ok is
// false when fn said errUnchanged.
func (s *Store) changeAlarm(tx *bolt.Tx, id string, fn func(*Alarm) error) (Alarm, bool, error) {
	alarms := tx.Bucket([]byte(bucketAlarms))
	var a Alarm
	found, err := getJSON(alarms, []byte(id), &a)
	if err != nil {
		return Alarm{}, false, err
	}
	if !found {
		return Alarm{}, false, ErrNotFound
	}
	switch err := fn(&a); {
	case err == errUnchanged:
		return a, false, nil
	case err != nil:
		return Alarm{}, false, err
	}
	if !a.Open() {
		open := tx.Bucket([]byte(bucketAlarmsOpen))
		key := alarmOpenKey(a.Rule, a.Device)
		if bytes.Equal(open.Get(key), []byte(a.ID)) {
			if err := open.Delete(key); err != nil {
				return Alarm{}, false, err
			}
		}
	}
	return a, true, putJSON(alarms, []byte(a.ID), a)
}

// AcknowledgeAlarm records that by has seen an alarm; acknowledging one
// already acknowledged changes nothing (ok false).
func (s *Store) AcknowledgeAlarm(id, by, comment string, at time.Time) (Alarm, bool, error) {
	return s.personChange(id, comment, func(a *Alarm) error {
		if a.Acknowledged {
			return errUnchanged
		}
		a.Acknowledged, a.AckedAt, a.AckedBy = true, at, by
		a.History = appendAlarmChange(a.History, AlarmChange{At: at, Action: AlarmAcknowledged, By: by, Comment: comment})
		return nil
	})
}

// ClearAlarm clears an active alarm by hand (ok false when it is not
// active); if its condition still holds, the rule raises it again.
func (s *Store) ClearAlarm(id, by, comment string, at time.Time) (Alarm, bool, error) {
	return s.personChange(id, comment, func(a *Alarm) error {
		if a.State != AlarmActive {
			return errUnchanged
		}
		a.State, a.ClearedAt = AlarmCleared, at
		a.History = appendAlarmChange(a.History, AlarmChange{At: at, Action: AlarmClearedBy, By: by, Comment: comment})
		return nil
	})
}

func (s *Store) personChange(id, comment string, fn func(*Alarm) error) (Alarm, bool, error) {
	if err := checkText("comment", comment, maxAlarmComment, false); err != nil {
		return Alarm{}, false, err
	}
	var out Alarm
	changed := false
	err := s.update(func(tx *bolt.Tx) error {
		a, ok, err := s.changeAlarm(tx, id, fn)
		out, changed = a, ok
		return err
	})
	if err != nil {
		return Alarm{}, false, fmt.Errorf("alarm %q: %w", id, err)
	}
	return out, changed, nil
}

// GetAlarm returns one alarm.
func (s *Store) GetAlarm(id string) (Alarm, error) {
	a, err := getRecord[Alarm](s, bucketAlarms, id)
	if err != nil {
		return Alarm{}, fmt.Errorf("get alarm %q: %w", id, err)
	}
	return a, nil
}

// AlarmFilter selects alarms; zero fields select all.
type AlarmFilter struct {
	Customer, Site, Device, Rule, Severity, State string
	Acknowledged                                  *bool
	// OpenOnly keeps the alarms that still stand (active or not yet
	// acknowledged), read through the open index.
	OpenOnly bool
	Limit    int // newest first; 0 is no limit
}

func (f AlarmFilter) match(a Alarm) bool {
	return (f.Customer == "" || a.Customer == f.Customer) && (f.Site == "" || a.Site == f.Site) &&
		(f.Device == "" || a.Device == f.Device) && (f.Rule == "" || a.Rule == f.Rule) &&
		(f.Severity == "" || a.Severity == f.Severity) && (f.State == "" || a.State == f.State) &&
		(f.Acknowledged == nil || a.Acknowledged == *f.Acknowledged)
}

// ListAlarms returns the alarms f selects: active first, then newest
// raised first.
func (s *Store) ListAlarms(f AlarmFilter) ([]Alarm, error) {
	var out []Alarm
	err := s.db.View(func(tx *bolt.Tx) error {
		alarms := tx.Bucket([]byte(bucketAlarms))
		keep := func(v []byte) error {
			var a Alarm
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("cannot decode an alarm: %w", err)
			}
			if f.match(a) {
				out = append(out, a)
			}
			return nil
		}
		if f.OpenOnly {
			return tx.Bucket([]byte(bucketAlarmsOpen)).ForEach(func(_, id []byte) error {
				if v := alarms.Get(id); v != nil {
					return keep(v)
				}
				return nil
			})
		}
		c := alarms.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if err := keep(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list alarms: %w", err)
	}
	slices.SortStableFunc(out, func(a, b Alarm) int {
		if (a.State == AlarmActive) != (b.State == AlarmActive) {
			if a.State == AlarmActive {
				return -1
			}
			return 1
		}
		return strings.Compare(b.ID, a.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// PruneAlarms deletes closed alarms (cleared and acknowledged) cleared
// before before, and says how many.
func (s *Store) PruneAlarms(before time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAlarms))
		var old [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var a Alarm
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("cannot decode alarm %q: %w", k, err)
			}
			if !a.Open() && a.ClearedAt.Before(before) {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune alarms: %w", err)
	}
	return n, nil
}
