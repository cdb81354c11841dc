package gate

import (
	"errors"
	"slices"

	"github.com/hearthiot/hearth/store"
)

// MaxChartMetrics bounds the metrics one chart shows.
const MaxChartMetrics = store.MaxChartMetrics

// ChartMetrics returns the metrics the signed-in person charts on the page
// of a device they may see: their choice for the device's type, nil when
// they made none or have no user record to keep one in.
func (s Scope) ChartMetrics(device string) ([]string, error) {
	d, err := s.Device(device)
	if err != nil {
		return nil, err
	}
	if s.p.User == "" {
		return nil, nil
	}
	u, err := s.g.store.GetUser(s.p.User)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return slices.Clone(u.ChartMetrics[d.Type]), nil
}

// SetChartMetrics keeps the metrics the signed-in person charts on the
// pages of devices of the same type as device, one they may see; none
// forgets the choice, so the pages chart their default metrics again.
// People admitted only by a groups claim have no user record to keep it in
// (ErrNoUserRecord).
func (s Scope) SetChartMetrics(device string, metrics []string) error {
	d, err := s.Device(device)
	if err != nil {
		return err
	}
	if len(metrics) > MaxChartMetrics {
		return Invalid(`metrics: at most %d metrics per chart, got %d`, MaxChartMetrics, len(metrics))
	}
	var kept []string
	for _, m := range metrics {
		if !ValidMetricName(m) {
			return Invalid(`metric %q: a metric name is a letter or '_' followed by letters, digits and '_'`, m)
		}
		if !slices.Contains(kept, m) {
			kept = append(kept, m)
		}
	}
	if s.p.User == "" {
		return ErrNoUserRecord
	}
	if d.Type == "" {
		return Invalid(`device %q has no type to keep a chart choice for`, d.Name)
	}
	_, err = s.g.store.UpdateUser(s.p.User, func(u *store.User) error {
		if len(kept) == 0 {
			delete(u.ChartMetrics, d.Type)
			return nil
		}
		if u.ChartMetrics == nil {
			u.ChartMetrics = map[string][]string{}
		}
		u.ChartMetrics[d.Type] = kept
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoUserRecord
	}
	return err
}
