package gate

import (
	"errors"

	"github.com/hearthiot/hearth/store"
)

// Presentation is how the pages show a device's metrics: its type's
// metric definitions by name. A metric without one keeps the pages' own
// look.
type Presentation map[string]store.Metric

// Hidden reports whether the pages leave metric out for a reader who is
// not an operator.
func (p Presentation) Hidden(metric string, operator bool) bool {
	m, ok := p[metric]
	return ok && !operator && m.OperatorsOnly()
}

// PresentationOf returns how the pages present the metrics of a device
// the scope has listed (Devices), for customers as for operators: a
// customer reads a type's metric definitions only through the devices it
// may see. A device without a type, or of a type nobody defined, has
// none; audience is a rule of presentation, not of access: the API still
// answers a customer's query of an operators-only metric.
func (s Scope) PresentationOf(d DeviceView) (Presentation, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if !s.p.Operator() && d.Customer != s.p.Customer {
		return nil, NotFound("device")
	}
	if d.Type == "" || s.g.types == nil {
		return nil, nil
	}
	t, err := s.g.types.Get(d.Type)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(Presentation, len(t.Metrics))
	for _, m := range t.Metrics {
		out[m.Name] = m
	}
	return out, nil
}
