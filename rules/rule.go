// Package rules runs message rules, as AWS IoT Rules do: a rule takes the
// messages devices publish on a topic filter, keeps those its condition
// holds for, maps each to named values (selecting and renaming fields,
// converting units, parsing a timestamp, naming the device the message is
// about) and hands the result to its actions: store as telemetry, report
// in the device's shadow, republish, send to notification channels as a
// CloudEvent, raise a device event. A message a rule cannot map, or an
// action that fails, goes to the rule's error action and its counters;
// nothing is dropped silently.
//
// Conditions and mappings are expressions of expr (the language alarm
// rules use), compiled when a rule is saved; AWS IoT SQL's common subset is
// translated to it (sql.go).
package rules

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// Action kinds.
const (
	ActionTelemetry = "telemetry"
	ActionShadow    = "shadow"
	ActionRepublish = "republish"
	ActionWebhook   = "webhook"
	ActionEvent     = "event"
)

// ActionKinds lists the action kinds.
var ActionKinds = []string{ActionTelemetry, ActionShadow, ActionRepublish, ActionWebhook, ActionEvent}

// Names a mapping's output gives a meaning to: the device the message is
// about, and when the values were measured.
const (
	FieldDevice = "device"
	FieldTime   = "ts"
)

// Error is a rule refused; Field names the part ("condition",
// "select[2].expr", "actions[0].topic").
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return "rule " + e.Field + ": " + e.Message }

func refuse(field, format string, args ...any) error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Rule is a compiled rule.
type Rule struct {
	store.MessageRule
	filter    []string
	condition *vm.Program
	fields    []field
}

type field struct {
	name string
	all  bool // "*": every field of the payload
	prog *vm.Program
}

// maxNodes bounds one expression.
const maxNodes = 500

// compileEnv declares the per-message functions, so that calls to them
// are checked when a rule is compiled; the values are replaced for each
// message.
func compileEnv() map[string]any {
	return map[string]any{
		"topic":     func(...int) string { return "" },
		"clientid":  func() string { return "" },
		"timestamp": func() int64 { return 0 },
	}
}

// functions are the functions every expression may call besides expr's
// own and the per-message ones.
func functions() []expr.Option {
	num := func(v any) (float64, error) {
		switch n := v.(type) {
		case float64:
			return n, nil
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		}
		return 0, fmt.Errorf("%v is not a number", v)
	}
	return []expr.Option{
		expr.Function("sqrt", func(p ...any) (any, error) {
			x, err := num(p[0])
			return math.Sqrt(x), err
		}, new(func(float64) float64)),
		expr.Function("power", func(p ...any) (any, error) {
			x, err := num(p[0])
			if err != nil {
				return nil, err
			}
			y, err := num(p[1])
			return math.Pow(x, y), err
		}, new(func(float64, float64) float64)),
		expr.Function("mod", func(p ...any) (any, error) {
			x, err := num(p[0])
			if err != nil {
				return nil, err
			}
			y, err := num(p[1])
			return math.Mod(x, y), err
		}, new(func(float64, float64) float64)),
		expr.Function("concat", func(p ...any) (any, error) {
			var b strings.Builder
			for _, v := range p {
				if v != nil {
					fmt.Fprint(&b, v)
				}
			}
			return b.String(), nil
		}),
		expr.Function("isundefined", func(p ...any) (any, error) { return p[0] == nil, nil }, new(func(any) bool)),
		expr.Function("time_ms", func(p ...any) (any, error) {
			t, err := ParseTime(p[0])
			if err != nil {
				return nil, err
			}
			return t.UnixMilli(), nil
		}, new(func(any) int64)),
	}
}

func compile(src string, asBool bool) (*vm.Program, error) {
	opts := append([]expr.Option{expr.Env(compileEnv()), expr.AllowUndefinedVariables(), expr.MaxNodes(maxNodes),
		expr.DisableBuiltin("now"), expr.DisableBuiltin("date")}, functions()...)
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	return expr.Compile(src, opts...)
}

// Compile checks a rule and compiles its expressions; a rule with SQL
// gets its topic, condition and mapping from it.
func Compile(r store.MessageRule) (*Rule, error) {
	if r.SQL != "" {
		if r.Topic != "" || r.Condition != "" || len(r.Select) > 0 {
			return nil, refuse("sql", "give either sql or topic, condition and select, not both")
		}
		topic, cond, fields, err := TranslateSQL(r.SQL)
		if err != nil {
			return nil, refuse("sql", "%s", err.Error())
		}
		r.Topic, r.Condition, r.Select = topic, cond, fields
	}
	out := &Rule{MessageRule: r}
	if err := checkFilter(r.Topic); err != nil {
		return nil, refuse("topic", "%s", err.Error())
	}
	out.filter = strings.Split(r.Topic, "/")
	if r.Condition != "" {
		p, err := compile(r.Condition, true)
		if err != nil {
			return nil, refuse("condition", "%s", oneLine(err))
		}
		out.condition = p
	}
	seen := map[string]bool{}
	for i, f := range r.Select {
		if f.Expr == "*" {
			out.fields = append(out.fields, field{all: true})
			continue
		}
		if !isIdent(f.Name) {
			return nil, refuse(fmt.Sprintf("select[%d].name", i), "%q: a name is letters, digits and _, not beginning with a digit", f.Name)
		}
		if seen[f.Name] {
			return nil, refuse(fmt.Sprintf("select[%d].name", i), "%q is selected twice", f.Name)
		}
		seen[f.Name] = true
		p, err := compile(f.Expr, false)
		if err != nil {
			return nil, refuse(fmt.Sprintf("select[%d].expr", i), "%s", oneLine(err))
		}
		out.fields = append(out.fields, field{name: f.Name, prog: p})
	}
	for i, a := range r.Actions {
		if err := checkAction(fmt.Sprintf("actions[%d]", i), a, r.Customer); err != nil {
			return nil, err
		}
	}
	if r.ErrorAction != nil {
		if err := checkAction("error_action", *r.ErrorAction, r.Customer); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func checkAction(path string, a store.RuleAction, customer string) error {
	if !slices.Contains(ActionKinds, a.Kind) {
		return refuse(path+".kind", "%q: one of %s", a.Kind, strings.Join(ActionKinds, ", "))
	}
	if a.Kind != ActionRepublish && a.Topic != "" || a.Kind != ActionWebhook && len(a.Channels) > 0 ||
		a.Kind != ActionEvent && (a.Code != "" || a.Level != "") {
		return refuse(path, "a %s action takes no topic, channels, code or level of other kinds", a.Kind)
	}
	switch a.Kind {
	case ActionRepublish:
		t := expandTopic(a.Topic, "device-1", "acme", "a/b/c")
		if a.Topic == "" || strings.ContainsAny(t, "+#\x00") || strings.HasPrefix(t, "$") || strings.Contains(t, "${") {
			return refuse(path+".topic", "%q: a topic without wildcards, not beginning with $; ${device}, ${customer}, ${topic} and ${topic(N)} are replaced", a.Topic)
		}
	case ActionWebhook:
		if customer == "" {
			return refuse(path, "notification channels are a customer's; a rule that sends to them names its customer")
		}
		if len(a.Channels) == 0 || len(a.Channels) > 10 {
			return refuse(path+".channels", "name 1 to 10 notification channels")
		}
	case ActionEvent:
		if _, err := protocol.ParseEvent([]byte(fmt.Sprintf(`{"level":%q,"code":%q,"message":"x"}`, a.Level, a.Code)), time.Now()); err != nil {
			return refuse(path, "%s", err.Error())
		}
	}
	return nil
}

// checkFilter checks an MQTT topic filter.
func checkFilter(f string) error {
	if f == "" || len(f) > 256 || strings.ContainsRune(f, 0) {
		return errors.New("a topic filter of 1 to 256 bytes is required")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("%q: # stands only at the end", f)
		case l != "+" && l != "#" && strings.ContainsAny(l, "+#"):
			return fmt.Errorf("%q: + and # stand for whole levels", f)
		}
	}
	return nil
}

// matches reports whether a topic falls under the rule's filter.
func (r *Rule) matches(topic string) bool {
	levels := strings.Split(topic, "/")
	for i, f := range r.filter {
		switch {
		case f == "#":
			return !strings.HasPrefix(topic, "$") || i > 0
		case i >= len(levels):
			return false
		case f == "+":
			if i == 0 && strings.HasPrefix(levels[0], "$") {
				return false
			}
		case f != levels[i]:
			return false
		}
	}
	return len(levels) == len(r.filter)
}

// expandTopic replaces a republish topic's ${…} parts.
func expandTopic(t, device, customer, topic string) string {
	levels := strings.Split(topic, "/")
	for i := len(levels); i >= 1; i-- {
		t = strings.ReplaceAll(t, fmt.Sprintf("${topic(%d)}", i), levels[i-1])
	}
	return strings.NewReplacer("${device}", device, "${customer}", customer, "${topic}", topic).Replace(t)
}

// ParseTime reads a timestamp as devices write them: ISO 8601 / RFC 3339
// with an offset (fractions allowed), or Unix time as a number or numeric
// string, in milliseconds when it is past 10^11 (after 1973 in ms, beyond
// 5138 in seconds), else in seconds.
func ParseTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case float64:
		return unixTime(t)
	case int:
		return unixTime(float64(t))
	case int64:
		return unixTime(float64(t))
	case string:
		if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return ts.UTC(), nil
		}
		if ts, err := time.Parse("2006-01-02T15:04:05.999999999Z0700", t); err == nil {
			return ts.UTC(), nil
		}
		var f float64
		if _, err := fmt.Sscan(t, &f); err == nil && strings.Trim(t, "0123456789.") == "" {
			return unixTime(f)
		}
		return time.Time{}, fmt.Errorf("timestamp %q: ISO 8601 with an offset, or Unix seconds or milliseconds", t)
	}
	return time.Time{}, fmt.Errorf("timestamp %v: ISO 8601 with an offset, or Unix seconds or milliseconds", v)
}

func unixTime(f float64) (time.Time, error) {
	if math.IsNaN(f) || f <= 0 || f > 1e14 {
		return time.Time{}, fmt.Errorf("timestamp %v is out of range", f)
	}
	if f > 1e11 {
		return time.UnixMilli(int64(f)).UTC(), nil
	}
	return time.UnixMilli(int64(f * 1000)).UTC(), nil
}
