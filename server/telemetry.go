package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store/tsdb"
	"github.com/hearthiot/hearth/store/wal"
)

// readingWriter stores decoded telemetry: durably in the write-ahead log
// first (when there is one), so that what the device is acknowledged for
// survives a crash, then in the time-series store.
type readingWriter struct {
	db    *tsdb.DB
	log   *wal.Log
	disk  *diskWatch
	slots appendSlots // bounds the appends running at once; see appendSlots
}

// WriteReadings appends the readings to the log's next group commit and
// returns at once; wait returns once that commit is durable and the
// readings are in the time-series store.
func (w readingWriter) WriteReadings(dev, customer, site string, rs []device.Reading) (func() error, error) {
	if err := w.disk.refuse(); err != nil {
		return nil, err
	}
	var commit wal.Commit
	if w.log != nil {
		rec := wal.Record{Device: dev, Customer: customer, Site: site, Points: make([]wal.Point, len(rs))}
		for i, r := range rs {
			rec.Points[i] = wal.Point(r)
		}
		var err error
		if commit, err = w.log.Append(rec); err != nil {
			return nil, fmt.Errorf("log telemetry: %w", err)
		}
	}
	return func() error {
		if w.log != nil {
			if err := commit.Wait(); err != nil {
				return fmt.Errorf("log telemetry: %w", err)
			}
		}
		pts := make([]tsdb.Point, len(rs))
		for i, r := range rs {
			pts[i] = tsdb.Point(r)
		}
		w.slots.enter()
		err := w.db.Append(dev, customer, site, pts)
		w.slots.leave()
		if errors.Is(err, tsdb.ErrInvalidPoint) {
			// The storage refuses these readings for good (a timestamp at
			// the edge of retention, say): the device must not resend them.
			return &device.TelemetryError{Code: device.CodeBadTimestamp, Message: "the readings cannot be stored: " + err.Error(), Err: err}
		}
		return err
	}, nil
}

// openTelemetryLog opens the write-ahead log of telemetry and stores again
// what it still holds — what a crash may have kept from the time-series
// store — before any device can connect. Storing is idempotent: the store
// keeps one sample per series and millisecond. Samples the store refuses
// for good (past retention by now) are dropped and counted.
func (s *Server) openTelemetryLog() error {
	dropped := 0
	l, st, err := wal.Open(s.cfg.walDir(), wal.Options{Logger: s.logger.With("component", "telemetry log")}, func(r wal.Record) error {
		pts := make([]tsdb.Point, len(r.Points))
		for i, p := range r.Points {
			pts[i] = tsdb.Point(p)
		}
		err := s.tsdb.Append(r.Device, r.Customer, r.Site, pts)
		if errors.Is(err, tsdb.ErrInvalidPoint) {
			dropped += len(pts)
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if st.Records > 0 || st.Cut > 0 {
		rate := 0.0
		if st.Duration > 0 {
			rate = float64(st.Points) / st.Duration.Seconds()
		}
		s.logger.Info("telemetry log replayed", "segments", st.Segments, "records", st.Records, "samples", st.Points,
			"dropped_samples", dropped, "cut_segments", st.Cut, "cut_bytes", st.CutBytes, "duration", st.Duration, "samples_per_s", int(rate))
	}
	s.walReplay = st
	if !s.cfg.Telemetry.Log {
		return l.Close(false)
	}
	s.wal = l
	s.onStop("telemetry log", func(context.Context) error { return l.Close(false) })
	return nil
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
