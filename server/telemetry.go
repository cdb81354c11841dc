package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store/tsdb"
	"github.com/hearthiot/hearth/web/api"
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

func (t telemetryReader) Latest(dev, customer string) []api.LatestValue {
	pts := t.db.Latest(dev, customer)
	out := make([]api.LatestValue, len(pts))
	for i, p := range pts {
		out[i] = api.LatestValue(p)
	}
	return out
}

func (t telemetryReader) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]api.Series, error) {
	series, err := t.db.QueryRange(ctx, q, start, end, step)
	if errors.Is(err, tsdb.ErrBusy) || errors.Is(err, tsdb.ErrClosed) {
		return nil, fmt.Errorf("%w: %w", api.ErrTelemetryUnavailable, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]api.Series, len(series))
	for i, s := range series {
		out[i] = api.Series(s)
	}
	return out, nil
}

func (t telemetryReader) ServePrometheus(w http.ResponseWriter, r *http.Request, endpoint, customer string) {
	t.db.ServePrometheus(w, r, endpoint, customer)
}
