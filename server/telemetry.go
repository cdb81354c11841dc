package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store/tsdb"
)

// readingWriter stores decoded telemetry in the time-series store.
type readingWriter struct{ db *tsdb.DB }

func (w readingWriter) WriteReadings(dev, customer, site string, rs []device.Reading) error {
	pts := make([]tsdb.Point, len(rs))
	for i, r := range rs {
		pts[i] = tsdb.Point(r)
	}
	err := w.db.Append(dev, customer, site, pts)
	if errors.Is(err, tsdb.ErrInvalidPoint) {
		// The storage refuses these readings for good (a timestamp at the
		// edge of retention, say): the device must not resend them.
		return &device.TelemetryError{Code: device.CodeBadTimestamp, Message: "the readings cannot be stored: " + err.Error(), Err: err}
	}
	return err
}

// telemetryReader serves the API's telemetry reads from the time-series
// store; the API does not import it, so VictoriaMetrics stays out of web.
type telemetryReader struct{ db *tsdb.DB }

func (t telemetryReader) Latest(dev, customer string) []gate.LatestValue {
	pts := t.db.Latest(dev, customer)
	out := make([]gate.LatestValue, len(pts))
	for i, p := range pts {
		out[i] = gate.LatestValue(p)
	}
	return out
}

// Downsample answers from the store's one-pass downsampling. A range of
// one instant is one step ending there: the store counts steps from a
// start before the end, so it is asked from one step earlier and the step
// before the instant is left out.
func (t telemetryReader) Downsample(ctx context.Context, q gate.DownsampleQuery) ([]gate.Point, error) {
	start := q.Start
	if !start.Before(q.End) {
		start = q.End.Add(-q.Step)
	}
	steps, err := t.db.Downsample(ctx, tsdb.DownsampleQuery{
		Device: q.Device, Customer: q.Customer, Metric: q.Metric, Start: start, End: q.End, Step: q.Step,
	})
	switch {
	case errors.Is(err, tsdb.ErrBusy) || errors.Is(err, tsdb.ErrClosed):
		return nil, fmt.Errorf("%w: %w", gate.ErrTelemetryUnavailable, err)
	case errors.Is(err, tsdb.ErrInvalidQuery):
		return nil, gate.Invalid("%v", err)
	case err != nil:
		return nil, err
	}
	out := make([]gate.Point, 0, len(steps))
	for _, s := range steps {
		if s.Timestamp < q.Start.UnixMilli() {
			continue
		}
		out = append(out, gate.Point{Timestamp: s.Timestamp, Min: s.Min, Avg: s.Avg, Max: s.Max})
	}
	return out, nil
}

func (t telemetryReader) MetricNames(ctx context.Context, customer string, limit int) ([]string, error) {
	names, err := t.db.MetricNames(ctx, customer, limit)
	if errors.Is(err, tsdb.ErrBusy) || errors.Is(err, tsdb.ErrClosed) {
		return nil, fmt.Errorf("%w: %w", gate.ErrTelemetryUnavailable, err)
	}
	return names, err
}

func (t telemetryReader) ServePrometheus(w http.ResponseWriter, r *http.Request, endpoint, customer string) {
	t.db.ServePrometheus(w, r, endpoint, customer)
}
