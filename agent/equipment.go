package agent

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Equipment is what the agent needs of the equipment behind it: reading
// every point, and reading and writing its settings. The Modbus package
// provides it; tests use a fake.
//
// Calls never overlap: the agent makes them from one goroutine.
type Equipment interface {
	// Poll reads every point once. A point that cannot be read is left out
	// of Values and named in Faults; the others are read all the same.
	Poll(ctx context.Context) Poll
	// Settings lists the settings the agent may write: the register map's
	// writable points.
	Settings() []Setting
	// ReadSetting reads what the equipment holds for a setting.
	ReadSetting(ctx context.Context, key string) (any, error)
	// WriteSetting writes a setting, reads it back and returns what the
	// equipment holds now, which may differ from what was written (a
	// controller that rounds or clamps).
	WriteSetting(ctx context.Context, key string, v any) (any, error)
}

// Poll is the result of reading every point once.
type Poll struct {
	Values map[string]float64 // telemetry metric → value
	// Settings holds the points read that have a shadow key, writable or
	// not (a running state, a fault code), as the reported state holds
	// them: a number, a name or true/false.
	Settings map[string]any
	Faults   []Fault
	// Read names the points read, as Faults names them. A point that
	// failed before recovers when it is read again; one neither read nor
	// failed (not due, or a poll that ran out of time before it) is still
	// taken to fail.
	Read []string
}

// Fault kinds, as the device events name them (modbus_timeout, …).
const (
	FaultTimeout   = "timeout"   // the equipment did not answer in time
	FaultException = "exception" // it answered with a Modbus exception code
	FaultCRC       = "crc"       // the answer was damaged on the line (RTU checksum)
	FaultConnect   = "connect"   // no connection could be made
	FaultLost      = "lost"      // the connection broke during a request
	FaultInvalid   = "invalid"   // an answer that does not fit, or a value that is no reading
)

// Fault is one point that could not be read.
type Fault struct {
	Point   string // the point's name
	Kind    string // one of the Fault* kinds
	Message string // what went wrong, for people
}

// Setting is one writable point and the values it takes.
type Setting struct {
	Key  string
	Unit string
	// Min and Max bound a number; both are NaN when the map gives no range.
	Min, Max float64
	// Values lists the accepted strings of a setting that takes names
	// (mode: off, cooling, heating); empty for numbers.
	Values []string
	// Bool marks an on/off setting (a coil): it takes true or false.
	Bool bool
}

// Check reports whether v is a value the setting accepts, and returns it
// in the form the equipment takes: float64 for a number, string for a
// name, bool for an on/off setting. The message says what is accepted.
func (s Setting) Check(v any) (any, error) {
	switch {
	case s.Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case float64:
			if x == 0 || x == 1 {
				return x == 1, nil
			}
		}
		return nil, fmt.Errorf("%s is %s; it takes true or false", s.Key, describeValue(v))
	case len(s.Values) > 0:
		if x, ok := v.(string); ok && slices.Contains(s.Values, x) {
			return x, nil
		}
		return nil, fmt.Errorf("%s is %s; it takes %s", s.Key, describeValue(v), strings.Join(quoteAll(s.Values), ", "))
	}
	x, ok := v.(float64)
	if !ok {
		return nil, fmt.Errorf("%s is %s; it takes a number%s", s.Key, describeValue(v), s.rangeText())
	}
	if math.IsNaN(x) || math.IsInf(x, 0) || !math.IsNaN(s.Min) && x < s.Min || !math.IsNaN(s.Max) && x > s.Max {
		return nil, fmt.Errorf("%s %v is out of range; it takes%s", s.Key, x, s.rangeText())
	}
	return x, nil
}

func (s Setting) rangeText() string {
	unit := ""
	if s.Unit != "" {
		unit = " " + s.Unit
	}
	switch {
	case !math.IsNaN(s.Min) && !math.IsNaN(s.Max):
		return fmt.Sprintf(" from %v to %v%s", s.Min, s.Max, unit)
	case !math.IsNaN(s.Min):
		return fmt.Sprintf(" of at least %v%s", s.Min, unit)
	case !math.IsNaN(s.Max):
		return fmt.Sprintf(" of at most %v%s", s.Max, unit)
	}
	return ""
}

func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", clipString(x, 40))
	case float64, bool:
		return fmt.Sprint(x)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// sameValue reports whether two setting values are equal as the shadow
// compares them: numbers by value.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return a == nil && b == nil
}
