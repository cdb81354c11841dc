package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

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

// Downsample asks the engine for the minimum, maximum and average of each
// step in one pass (MetricsQL's rollup).
func (t telemetryReader) Downsample(ctx context.Context, q gate.DownsampleQuery) ([]gate.Point, error) {
	secs := max(int64(q.Step/time.Second), 1)
	query := fmt.Sprintf("rollup({__name__=%s,device=%s,customer=%s}[%ds])",
		strconv.Quote(q.Metric), strconv.Quote(q.Device), strconv.Quote(q.Customer), secs)
	series, err := t.db.QueryRange(ctx, query, q.Start, q.End, time.Duration(secs)*time.Second)
	if errors.Is(err, tsdb.ErrBusy) || errors.Is(err, tsdb.ErrClosed) {
		return nil, fmt.Errorf("%w: %w", gate.ErrTelemetryUnavailable, err)
	}
	if err != nil {
		return nil, err
	}
	type acc struct {
		sum, min, max float64
		n, mins, maxs int
	}
	steps := map[int64]*acc{}
	for _, s := range series {
		for i, ts := range s.Timestamps {
			v := s.Values[i]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			a := steps[ts]
			if a == nil {
				a = &acc{min: math.Inf(1), max: math.Inf(-1)}
				steps[ts] = a
			}
			switch s.Labels["rollup"] {
			case "min":
				a.min, a.mins = min(a.min, v), a.mins+1
			case "max":
				a.max, a.maxs = max(a.max, v), a.maxs+1
			case "avg":
				a.sum, a.n = a.sum+v, a.n+1
			}
		}
	}
	out := make([]gate.Point, 0, len(steps))
	for ts, a := range steps {
		if a.n == 0 || a.mins == 0 || a.maxs == 0 {
			continue
		}
		out = append(out, gate.Point{Timestamp: ts, Min: a.min, Avg: a.sum / float64(a.n), Max: a.max})
	}
	slices.SortFunc(out, func(x, y gate.Point) int { return cmp.Compare(x.Timestamp, y.Timestamp) })
	return out, nil
}

func (t telemetryReader) ServePrometheus(w http.ResponseWriter, r *http.Request, endpoint, customer string) {
	t.db.ServePrometheus(w, r, endpoint, customer)
}
