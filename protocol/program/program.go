// Package program is the daily operating program a device keeps in its
// shadow: the times of day at which its settings change (start the chiller
// at 07:00 at 7 °C, turn it off at 19:00). The scheduler writes it to
// state.desired.program from the device's calendar; simulated devices and
// the gateway agent follow it, and keep following it while they cannot
// reach Hearth.
//
// A program is one JSON object:
//
//	{"date": "2026-12-02", "tz": "Asia/Tokyo",
//	 "steps": [{"at": "07:00", "set": {"mode": "cooling", "chw_setpoint_c": 7}},
//	           {"at": "19:00", "set": {"mode": "off"}}]}
//
// From date on, in time zone tz, each step's settings hold from its time of
// day until the next step. The steps repeat on the following days until a
// newer program arrives, so a device that loses its connection keeps its
// daily routine; before the first step of date itself, the program has not
// begun and the device keeps what it had.
//
// The package is pure: it parses, checks and evaluates programs, and knows
// nothing of shadows, devices or the network. It is part of the protocol
// Hearth shares with the programs that run elsewhere (package protocol),
// so it imports nothing of Hearth.
package program

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// Key is the desired-state key that holds a device's program.
const Key = "program"

// EventInvalid is the code of the device event a device raises when it
// cannot follow the program it was sent; the scheduler counts the day's
// push as rejected.
const EventInvalid = "program_invalid"

// Limits of a program.
const (
	MaxSteps   = 48 // a change every half hour
	MaxSetKeys = 32
	maxKeyLen  = 64
	maxString  = 256
)

// JSONSchema is the program's shape, for the settings of a device type
// that follows programs (a setting of type object with this schema).
const JSONSchema = `{
  "type": "object",
  "required": ["date", "steps"],
  "additionalProperties": false,
  "properties": {
    "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
    "tz": {"type": "string", "maxLength": 64},
    "steps": {
      "type": "array", "minItems": 1, "maxItems": 48,
      "items": {
        "type": "object", "required": ["at", "set"], "additionalProperties": false,
        "properties": {
          "at": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
          "set": {"type": "object", "minProperties": 1, "maxProperties": 32,
                  "additionalProperties": {"type": ["number", "string", "boolean"]}}
        }
      }
    }
  }
}`

// Step is one change of settings at a time of day.
type Step struct {
	At  string         `json:"at"` // "HH:MM", local time
	Set map[string]any `json:"set"`

	minute int // minutes since midnight
}

// Minute is the step's time of day in minutes since midnight.
func (s Step) Minute() int { return s.minute }

// Program is a parsed, checked program.
type Program struct {
	Date  string `json:"date"`
	TZ    string `json:"tz,omitempty"`
	Steps []Step `json:"steps"`

	loc   *time.Location
	start time.Time // midnight of Date in loc
}

// Error says what is wrong with a program; Path names the part
// ("steps[2].at").
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "program: " + e.Message
	}
	return "program " + e.Path + ": " + e.Message
}

func fail(path, format string, args ...any) error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

var (
	datePattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	atPattern   = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

// Parse reads a program from JSON and checks it.
func Parse(b []byte) (Program, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var p Program
	if err := dec.Decode(&p); err != nil {
		return Program{}, fail("", "cannot parse %q: %v", clip(b), err)
	}
	if dec.More() {
		return Program{}, fail("", "text after the program")
	}
	for i := range p.Steps {
		for k, v := range p.Steps[i].Set {
			if n, ok := v.(json.Number); ok {
				f, err := n.Float64()
				if err != nil {
					return Program{}, fail(fmt.Sprintf("steps[%d].set.%s", i, k), "%s is not a number a device can hold", n)
				}
				p.Steps[i].Set[k] = f
			}
		}
	}
	return p, p.check()
}

// FromValue reads a program from a value decoded from JSON, as it sits in
// a shadow's desired state (a map[string]any).
func FromValue(v any) (Program, error) {
	if _, ok := v.(map[string]any); !ok {
		return Program{}, fail("", "a %s, want an object", jsonType(v))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Program{}, fail("", "cannot encode: %v", err)
	}
	return Parse(b)
}

func (p *Program) check() error {
	if !datePattern.MatchString(p.Date) {
		return fail("date", "%q is not a date like 2026-12-02", p.Date)
	}
	loc := time.UTC
	if p.TZ != "" {
		var err error
		if loc, err = time.LoadLocation(p.TZ); err != nil {
			return fail("tz", "%q is not a time zone like Asia/Tokyo", p.TZ)
		}
	}
	start, err := time.ParseInLocation(time.DateOnly, p.Date, loc)
	if err != nil {
		return fail("date", "%q is not a date: %v", p.Date, err)
	}
	if len(p.Steps) == 0 {
		return fail("steps", "no steps; a program needs at least one")
	}
	if len(p.Steps) > MaxSteps {
		return fail("steps", "%d steps; at most %d", len(p.Steps), MaxSteps)
	}
	prev := -1
	for i := range p.Steps {
		s := &p.Steps[i]
		path := fmt.Sprintf("steps[%d]", i)
		m := atPattern.FindStringSubmatch(s.At)
		if m == nil {
			return fail(path+".at", "%q is not a time of day like 07:30", s.At)
		}
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		s.minute = h*60 + mi
		if s.minute <= prev {
			return fail(path+".at", "%s is not after the step before it; steps go in order of time, one per minute at most", s.At)
		}
		prev = s.minute
		if len(s.Set) == 0 {
			return fail(path+".set", "no settings; a step sets at least one")
		}
		if len(s.Set) > MaxSetKeys {
			return fail(path+".set", "%d settings; at most %d", len(s.Set), MaxSetKeys)
		}
		for k, v := range s.Set {
			if k == "" || len(k) > maxKeyLen {
				return fail(path+".set", "key %q must have 1 to %d characters", clipString(k), maxKeyLen)
			}
			switch v := v.(type) {
			case float64, bool:
			case string:
				if len(v) > maxString {
					return fail(path+".set."+k, "a string of %d bytes; at most %d", len(v), maxString)
				}
			default:
				return fail(path+".set."+k, "a %s; a setting is a number, a string or a boolean", jsonType(v))
			}
		}
	}
	p.loc, p.start = loc, start
	return nil
}

// Location is the program's time zone.
func (p Program) Location() *time.Location {
	if p.loc == nil {
		return time.UTC
	}
	return p.loc
}

// Active is the step in effect at t, and false when the program has not
// begun at t (t is before the program's first step on its date).
func (p Program) Active(t time.Time) (Step, bool) {
	if len(p.Steps) == 0 || p.loc == nil {
		return Step{}, false
	}
	lt := t.In(p.loc)
	midnight := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, p.loc)
	if midnight.Before(p.start) {
		return Step{}, false
	}
	minute := lt.Hour()*60 + lt.Minute()
	i := sort.Search(len(p.Steps), func(i int) bool { return p.Steps[i].minute > minute }) - 1
	if i >= 0 {
		return p.Steps[i], true
	}
	// Before the day's first step: yesterday's last step still holds,
	// unless today is the first day.
	if midnight.Equal(p.start) {
		return Step{}, false
	}
	return p.Steps[len(p.Steps)-1], true
}

// Settings is what the program sets at t: every key any step set, each
// with the value of the latest step up to t, counting yesterday's steps
// after the first day. A key that only a later step names is absent.
func (p Program) Settings(t time.Time) map[string]any {
	if _, ok := p.Active(t); !ok {
		return nil
	}
	lt := t.In(p.loc)
	minute := lt.Hour()*60 + lt.Minute()
	midnight := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, p.loc)
	out := map[string]any{}
	if !midnight.Equal(p.start) {
		for _, s := range p.Steps {
			for k, v := range s.Set {
				out[k] = v
			}
		}
	}
	for _, s := range p.Steps {
		if s.minute > minute {
			break
		}
		for k, v := range s.Set {
			out[k] = v
		}
	}
	return out
}

// Next is when the next step after t begins, and false when there is no
// step left (never, since steps repeat daily, unless the program is empty).
func (p Program) Next(t time.Time) (time.Time, bool) {
	if len(p.Steps) == 0 || p.loc == nil {
		return time.Time{}, false
	}
	lt := t.In(p.loc)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, p.loc)
	if day.Before(p.start) {
		day = p.start
	}
	for range 3 { // today, tomorrow; one more for a day shortened by a DST change
		for _, s := range p.Steps {
			at := time.Date(day.Year(), day.Month(), day.Day(), s.minute/60, s.minute%60, 0, 0, p.loc)
			if at.After(t) {
				return at, true
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}, false
}

// Equal reports whether two programs say the same.
func (p Program) Equal(o Program) bool {
	a, errA := json.Marshal(p)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

func clipString(s string) string { return clip([]byte(s)) }
