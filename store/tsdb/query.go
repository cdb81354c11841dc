package tsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/netstorage"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/promql"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/searchutil"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/httpserver"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/storage"
)

const (
	// maxPointsPerSeries is VictoriaMetrics' default limit of points a
	// range query may return per series.
	maxPointsPerSeries = 30_000
	// defaultQueryTimeout bounds queries whose context has no deadline.
	defaultQueryTimeout = 30 * time.Second
	// instantStep is the step of instant queries: VictoriaMetrics derives
	// the window of rollups written without one (rate(m)) from it.
	instantStep = 5 * time.Minute
)

// Series is one time series of a query result. Points without a value (no
// sample in the window) are left out, so Timestamps and Values have equal
// length and hold no NaN.
type Series struct {
	Labels     map[string]string
	Timestamps []int64 // unix milliseconds
	Values     []float64
}

// QueryRange evaluates a MetricsQL (PromQL-compatible) query at every step
// from start to end. Downsampling for charts is a rollup over the step, for
// example avg_over_time(m{device="d"}[1h]) with step 1h. Results are cached
// by VictoriaMetrics when start and end are multiples of step. The query
// runs at most until ctx's deadline (30 s without one); cancelling ctx
// without a deadline does not stop a running query.
func (db *DB) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	if step < time.Millisecond {
		return nil, fmt.Errorf("%w: step %s is below 1ms", ErrInvalidQuery, step)
	}
	s, e, st := start.UnixMilli(), end.UnixMilli(), step.Milliseconds()
	if e < s {
		return nil, fmt.Errorf("%w: end %s is before start %s", ErrInvalidQuery, end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	if err := promql.ValidateMaxPointsPerSeries(s, e, st, maxPointsPerSeries); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	return db.exec(ctx, query, s, e, st, false)
}

// Query evaluates a MetricsQL query at one instant, as Prometheus' instant
// query does: a plain selector returns the last sample within the lookback
// window before at.
func (db *DB) Query(ctx context.Context, query string, at time.Time) ([]Series, error) {
	t := at.UnixMilli()
	return db.exec(ctx, query, t, t, instantStep.Milliseconds(), true)
}

func (db *DB) exec(ctx context.Context, query string, start, end, step int64, instant bool) ([]Series, error) {
	if query == "" {
		return nil, fmt.Errorf("%w: empty query", ErrInvalidQuery)
	}
	var res []netstorage.Result
	err := db.inSlot(ctx, func(deadline searchutil.Deadline) error {
		ec := &promql.EvalConfig{
			Start:              start,
			End:                end,
			Step:               step,
			MaxPointsPerSeries: maxPointsPerSeries,
			Deadline:           deadline,
			MayCache:           true,
			RoundDigits:        100,
			// The result cache's key leaves the generation out
			// (CacheTagFilters): a new series has no samples in the
			// part of a result it keeps, older than rollupCacheOffset.
			EnforcedTagFilterss: [][]storage.TagFilter{{db.readFilter()}},
		}
		var err error
		res, err = promql.Exec(nil, ec, query, instant)
		return classify(err)
	})
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	return toSeries(res), nil
}

// inSlot runs f in one of the DB's query slots, with the deadline f must
// keep: ctx's, or defaultQueryTimeout from now.
func (db *DB) inSlot(ctx context.Context, f func(deadline searchutil.Deadline) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !db.enter() {
		return ErrClosed
	}
	defer db.leave()
	db.searchable(readStaleness)
	release, err := db.acquireQuery(ctx)
	if err != nil {
		return err
	}
	defer release()

	timeout := defaultQueryTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return context.DeadlineExceeded
		}
	}
	return f(searchutil.NewDeadline(time.Now(), timeout, ""))
}

// classify marks the engine's "bad request" errors with ErrInvalidQuery so
// callers can tell the user's mistake from the server's failure.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var esc *httpserver.ErrorWithStatusCode
	if errors.As(err, &esc) && esc.StatusCode >= 400 && esc.StatusCode < 500 {
		return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	return err
}

func toSeries(res []netstorage.Result) []Series {
	out := make([]Series, 0, len(res))
	for i := range res {
		r := &res[i]
		n := 0
		for _, v := range r.Values {
			if !math.IsNaN(v) {
				n++
			}
		}
		if n == 0 {
			continue
		}
		s := Series{
			Labels:     make(map[string]string, len(r.MetricName.Tags)+1),
			Timestamps: make([]int64, 0, n),
			Values:     make([]float64, 0, n),
		}
		if len(r.MetricName.MetricGroup) > 0 {
			s.Labels["__name__"] = string(r.MetricName.MetricGroup)
		}
		for _, t := range r.MetricName.Tags {
			s.Labels[string(t.Key)] = string(t.Value)
		}
		// Copy: the engine shares timestamp slices between series.
		for j, v := range r.Values {
			if !math.IsNaN(v) {
				s.Timestamps = append(s.Timestamps, r.Timestamps[j])
				s.Values = append(s.Values, v)
			}
		}
		out = append(out, s)
	}
	return out
}

// acquireQuery takes one of the MaxConcurrentQueries slots, waiting up to
// maxQueueWait or until ctx ends.
func (db *DB) acquireQuery(ctx context.Context) (func(), error) {
	release := func() { <-db.queries }
	select {
	case db.queries <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(maxQueueWait)
	defer t.Stop()
	select {
	case db.queries <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, fmt.Errorf("%w: all %d slots busy for %s", ErrBusy, cap(db.queries), maxQueueWait)
	}
}

// statusOf maps an error of this package to the HTTP status that fits it.
func statusOf(err error) int {
	var esc *httpserver.ErrorWithStatusCode
	switch {
	case errors.Is(err, ErrInvalidQuery):
		return http.StatusBadRequest
	case errors.Is(err, ErrBusy):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	case errors.As(err, &esc):
		return esc.StatusCode
	default:
		return http.StatusUnprocessableEntity
	}
}
