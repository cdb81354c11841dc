package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/tsdb"
)

// energyReader reckons energy use with the time-series store's query
// engine (MetricsQL), for the gate's EnergyEngine.
type energyReader struct{ db *tsdb.DB }

// Use asks the engine for one metric of a site's devices per step: the
// increase of a counter (the engine counts from zero after a drop, so
// resets and roll-overs add what was used after them; a gap adds what
// the counter grew across it), or the integral of a rate, which is per
// hour, over the step.
func (e energyReader) Use(ctx context.Context, q gate.EnergyUseQuery) ([]gate.EnergyUseSeries, error) {
	if !gate.ValidMetricName(q.Metric) {
		return nil, gate.Invalid("metric %q: not a metric name", q.Metric)
	}
	sel := fmt.Sprintf(`{__name__=%s,customer=%s,site=%s}[%ds]`, strconv.Quote(q.Metric), strconv.Quote(q.Customer), strconv.Quote(q.Site), int64(q.Step.Seconds()))
	var query string
	switch q.Kind {
	case store.EnergyCounter:
		query = "increase(" + sel + ")"
	case store.EnergyRate:
		query = "integrate(" + sel + ") / 3600"
	default:
		return nil, gate.Invalid("energy kind %q: %q or %q is accepted", q.Kind, store.EnergyCounter, store.EnergyRate)
	}
	series, err := e.db.QueryRange(ctx, query, q.Start, q.End, q.Step)
	switch {
	case errors.Is(err, tsdb.ErrBusy) || errors.Is(err, tsdb.ErrClosed):
		return nil, fmt.Errorf("%w: %w", gate.ErrTelemetryUnavailable, err)
	case errors.Is(err, tsdb.ErrInvalidQuery):
		return nil, gate.Invalid("%v", err)
	case err != nil:
		return nil, err
	}
	out := make([]gate.EnergyUseSeries, 0, len(series))
	for _, s := range series {
		out = append(out, gate.EnergyUseSeries{Device: s.Labels["device"], Timestamps: s.Timestamps, Values: s.Values})
	}
	return out, nil
}
