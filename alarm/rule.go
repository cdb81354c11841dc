// Package alarm watches the fleet: it compiles alarm rules, evaluates them
// on what arrives on the event bus (telemetry stored, presence, device
// events, settings out of their rules, schedule pushes that failed), off
// the ingest path, and raises and clears alarms in the store, telling the
// notifications of each alarm that becomes active or clears.
package alarm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/hearthiot/hearth/store"
)

// Kinds of rule: what it watches.
const (
	KindTelemetry = "telemetry" // a condition on a device's metrics, held for a duration
	KindStale     = "stale"     // a metric not received for a duration
	KindOffline   = "offline"   // the device disconnected for a duration
	KindEvent     = "event"     // a device event (a Modbus fault, a refused setting)
	KindSettings  = "settings"  // reported settings out of their type's rules
	KindSchedule  = "schedule"  // the day's program did not reach the device
	KindSystem    = "system"    // an event of Hearth itself (remote write dropped samples)
)

// Kinds lists the kinds of rule.
var Kinds = []string{KindTelemetry, KindStale, KindOffline, KindEvent, KindSettings, KindSchedule, KindSystem}

// Limits of a rule.
const (
	// MaxFor bounds For and ClearFor.
	MaxFor = 7 * 24 * time.Hour
	// maxNodes bounds a condition's size, in expression nodes.
	maxNodes = 200
	// DefaultMinOffline is the shortest offline duration a rule may give
	// (Config.MinOffline): a gateway's reconnect is not an alarm.
	DefaultMinOffline = time.Minute
)

// Error is a rule refused; Field names the part ("condition").
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

func refuse(field, format string, args ...any) error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Rule is a rule compiled: its conditions' programs and the metrics they
// read.
type Rule struct {
	store.AlarmRule
	cond, clear   *vm.Program
	metrics       []string // the metrics the conditions read, sorted
	hold, release time.Duration
}

// Metrics are the metrics the rule's conditions read; for a stale rule,
// its metric.
func (r *Rule) Metrics() []string { return r.metrics }

// For is how long the condition must hold before the alarm is raised.
func (r *Rule) For() time.Duration { return r.hold }

// Compile checks a rule and compiles its conditions. metrics are the
// metrics the devices it applies to may have (their device type's); nil
// accepts any metric name.
func Compile(r store.AlarmRule, metrics []string) (*Rule, error) {
	return compile(r, metrics, DefaultMinOffline)
}

func compile(r store.AlarmRule, metrics []string, minOffline time.Duration) (*Rule, error) {
	if r.Kind == "" {
		r.Kind = KindTelemetry
	}
	if !slices.Contains(Kinds, r.Kind) {
		return nil, refuse("kind", "%q is not a kind of rule; use one of %s", r.Kind, strings.Join(Kinds, ", "))
	}
	if r.Kind == KindSystem && (r.Customer != "" || r.Site != "" || r.Device != "" || r.DeviceType != "") {
		return nil, refuse("customer", "a system rule watches Hearth itself, not devices, and is the operators': leave customer, site, device and device_type empty")
	}
	if r.Kind != KindSystem && r.DeviceType == "" && r.Site == "" && r.Device == "" {
		return nil, refuse("device_type", `name the devices the rule watches: "device", "site" or "device_type"`)
	}
	if r.Site != "" && r.Customer == "" {
		return nil, refuse("site", "a site belongs to a customer: name the customer too")
	}
	if !slices.Contains(store.Severities, r.Severity) {
		return nil, refuse("severity", "%q is not a severity; use one of %s", r.Severity, strings.Join(store.Severities, ", "))
	}
	c := &Rule{AlarmRule: r}
	var err error
	if c.hold, err = duration("for", r.For); err != nil {
		return nil, err
	}
	if c.release, err = duration("clear_for", r.ClearFor); err != nil {
		return nil, err
	}
	switch r.Kind {
	case KindTelemetry:
		if strings.TrimSpace(r.Condition) == "" {
			return nil, refuse("condition", `a telemetry rule needs a condition, such as "co2_ppm > 1000"`)
		}
		var names []string
		if c.cond, names, err = compileCondition("condition", r.Condition, metrics); err != nil {
			return nil, err
		}
		c.metrics = names
		if strings.TrimSpace(r.ClearCondition) != "" {
			var more []string
			if c.clear, more, err = compileCondition("clear_condition", r.ClearCondition, metrics); err != nil {
				return nil, err
			}
			c.metrics = append(c.metrics, more...)
			slices.Sort(c.metrics)
			c.metrics = slices.Compact(c.metrics)
		}
	case KindStale:
		if r.Metric == "" {
			return nil, refuse("metric", "a stale-data rule names the metric that must keep arriving")
		}
		if metrics != nil && !slices.Contains(metrics, r.Metric) {
			return nil, refuse("metric", "%q is not a metric of the device type; it has %s", r.Metric, strings.Join(metrics, ", "))
		}
		if c.hold <= 0 {
			return nil, refuse("for", "say how long without %s is an alarm, such as \"15m\"", r.Metric)
		}
		c.metrics = []string{r.Metric}
	case KindOffline:
		if c.hold < minOffline {
			return nil, refuse("for", "a device offline for %s is not an alarm; give at least %s", c.hold, minOffline)
		}
	}
	if r.Kind != KindTelemetry && (r.Condition != "" || r.ClearCondition != "") {
		return nil, refuse("condition", "only telemetry rules have conditions")
	}
	return c, nil
}

func duration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, refuse(field, "%q is not a duration; write it as \"10m\", \"90s\" or \"1h30m\"", s)
	}
	if d < 0 || d > MaxFor {
		return 0, refuse(field, "%s is out of range: 0s to %s", s, MaxFor)
	}
	return d, nil
}

// compileCondition compiles a condition over metric values: a boolean
// expression in expr's language whose names are metrics. It refuses names
// that are not metrics of the type, and a condition that names no metric,
// which would fire on every sample.
func compileCondition(field, src string, metrics []string) (*vm.Program, []string, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, nil, refuse(field, "%s", oneLine(err))
	}
	var v names
	ast.Walk(&tree.Node, &v)
	slices.Sort(v.names)
	used := slices.Compact(v.names)
	if len(used) == 0 {
		return nil, nil, refuse(field, "%q names no metric, so it would be the same for every sample; compare a metric, such as \"co2_ppm > 1000\"", src)
	}
	env := make(map[string]float64, len(used))
	for _, n := range used {
		if metrics != nil && !slices.Contains(metrics, n) {
			return nil, nil, refuse(field, "%q is not a metric of the device type; it has %s", n, strings.Join(metrics, ", "))
		}
		env[n] = 0
	}
	prog, err := expr.Compile(src, expr.Env(env), expr.AsBool(), expr.MaxNodes(maxNodes), expr.DisableBuiltin("now"), expr.DisableBuiltin("date"))
	if err != nil {
		return nil, nil, refuse(field, "%s", oneLine(err))
	}
	return prog, used, nil
}

// names collects the identifiers of an expression.
type names struct{ names []string }

func (v *names) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok {
		v.names = append(v.names, id.Value)
	}
}

// oneLine is an expr error without its source excerpt and caret.
func oneLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// Eval runs a condition over a device's metric values, false when one of
// its metrics has no value yet.
func eval(m *vm.VM, prog *vm.Program, names []string, values map[string]float64) (bool, error) {
	for _, n := range names {
		if _, ok := values[n]; !ok {
			return false, nil
		}
	}
	out, err := m.Run(prog, values)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}
