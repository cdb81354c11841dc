package alarm

import (
	"errors"
	"time"

	"github.com/expr-lang/expr/vm"
)

// Sample is one value of a metric at a time.
type Sample struct {
	At    time.Time
	Value float64
}

// Firing is one alarm a preview found: raised, and cleared unless it was
// still active at the end.
type Firing struct {
	Raised  time.Time `json:"raised"`
	Cleared time.Time `json:"cleared,omitzero"`
}

// MaxPreviewSteps bounds the steps of one preview.
const MaxPreviewSteps = 20000

// Preview replays a telemetry rule over stored values of one device, step
// by step from from to to, exactly as the engine would have evaluated it
// on samples at those times, and returns the alarms it would have raised.
// series holds each metric the rule reads, oldest first; at each step a
// metric's value is its newest at or before the step.
func (r *Rule) Preview(series map[string][]Sample, from, to time.Time, step time.Duration) ([]Firing, error) {
	if r.Kind != KindTelemetry {
		return nil, errors.New("only telemetry rules can be previewed on stored data")
	}
	if step <= 0 || !to.After(from) || to.Sub(from)/step > MaxPreviewSteps {
		return nil, errors.New("the preview's range and step give no steps or too many")
	}
	var m vm.VM
	values := make(map[string]float64, len(r.metrics))
	next := make(map[string]int, len(r.metrics))
	var st ruleState
	var out []Firing
	for t := from; !t.After(to); t = t.Add(step) {
		for _, name := range r.metrics {
			s := series[name]
			i := next[name]
			for i < len(s) && !s[i].At.After(t) {
				values[name] = s[i].Value
				i++
			}
			next[name] = i
		}
		fire, err := eval(&m, r.cond, r.metrics, values)
		if err != nil {
			return nil, err
		}
		cleared := !fire
		if st.active && r.clear != nil {
			if cleared, err = eval(&m, r.clear, r.metrics, values); err != nil {
				return nil, err
			}
		}
		switch r.advance(&st, fire, cleared, t) {
		case raise:
			st.active, st.since = true, time.Time{}
			out = append(out, Firing{Raised: t})
		case clear:
			st.active, st.clearSince = false, time.Time{}
			out[len(out)-1].Cleared = t
		}
	}
	return out, nil
}
