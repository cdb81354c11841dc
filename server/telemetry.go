package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store/tsdb"
	"github.com/hearthiot/hearth/store/wal"
)

// readingWriter stores decoded telemetry: durably in the write-ahead log
// first (when there is one), so that what the device is acknowledged for
// survives a crash, then in the time-series store.
type readingWriter struct {
	db     *tsdb.DB
	groups *appendGroups // nil without the log
	disk   *diskWatch
	slots  appendSlots // bounds the appends running at once without the log; see appendSlots
}

func newReadingWriter(db *tsdb.DB, log *wal.Log, disk *diskWatch, slots appendSlots) readingWriter {
	w := readingWriter{db: db, disk: disk, slots: slots}
	if log != nil {
		w.groups = newAppendGroups(db, log)
	}
	return w
}

// WriteReadings appends the readings to the log's next group commit and
// returns at once; wait returns once that commit is durable and the
// readings are in the time-series store.
func (w readingWriter) WriteReadings(dev, customer, site string, rs []device.Reading) (func() error, error) {
	if err := w.disk.refuse(); err != nil {
		return nil, err
	}
	pts := make([]tsdb.Point, len(rs))
	for i, r := range rs {
		pts[i] = tsdb.Point(r)
	}
	if w.groups == nil {
		return func() error {
			w.slots.enter()
			defer w.slots.leave()
			return storeError(w.db.Append(dev, customer, site, pts))
		}, nil
	}
	g, i, err := w.groups.add(tsdb.Record{Device: dev, Customer: customer, Site: site, Points: pts})
	if err != nil {
		return nil, err
	}
	return func() error {
		<-g.applied
		return storeError(g.errs[i])
	}, nil
}

// storeError is the error of readings the time-series store did not take.
func storeError(err error) error {
	if errors.Is(err, tsdb.ErrInvalidPoint) {
		// The storage refuses these readings for good (a timestamp at
		// the edge of retention, say): the device must not resend them.
		return &device.TelemetryError{Code: device.CodeBadTimestamp, Message: "the readings cannot be stored: " + err.Error(), Err: err}
	}
	return err
}

// appendGroups stores telemetry in the time-series store one group commit
// of the log at a time: the readings of every message a commit made
// durable go to the store in one write (tsdb.AppendBatch) rather than one
// write per message by each waiting message. The store's cost per write
// is then paid once per commit, and the messages' goroutines wake once,
// when their readings are stored.
//
// One long-lived goroutine (run) stores the groups in commit order, so a
// device's readings are stored in order. It is the only waiter of each
// commit, so the log's committer hands it the processor the moment the
// commit is durable. A goroutine started per commit instead could wait in
// the run queue behind the connections' goroutines before it even waited
// for its commit, and every later commit waited for it.
type appendGroups struct {
	db  *tsdb.DB
	log *wal.Log

	mu      sync.Mutex
	cur     *appendGroup   // the group of the commit records are appended to now
	pending []*appendGroup // groups run has not taken yet, in commit order
	closed  bool
	wake    chan struct{} // one token when pending may have grown
	done    chan struct{} // closed when run returns

	writes atomic.Uint64 // groups written to the store
}

// appendGroup is the readings of one commit of the log.
type appendGroup struct {
	commit  wal.Commit
	recs    []tsdb.Record
	errs    []error       // one per record, set before applied is closed
	applied chan struct{} // closed once the group is stored or failed
}

func newAppendGroups(db *tsdb.DB, log *wal.Log) *appendGroups {
	a := &appendGroups{db: db, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go a.run()
	return a
}

// add appends a record to the log and to the group of the commit that
// will make it durable, and returns the group and the record's place in
// it.
func (a *appendGroups) add(rec tsdb.Record) (*appendGroup, int, error) {
	lr := wal.Record{Device: rec.Device, Customer: rec.Customer, Site: rec.Site, Points: rec.Points}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, 0, fmt.Errorf("log telemetry: %w", wal.ErrClosed)
	}
	// Appended under mu, so that records join groups in the log's order
	// and run, which takes mu once the commit is done, sees every record
	// of its commit.
	c, err := a.log.Append(lr)
	if err != nil {
		return nil, 0, fmt.Errorf("log telemetry: %w", err)
	}
	g := a.cur
	if g == nil || g.commit.Done() != c.Done() {
		g = &appendGroup{commit: c, applied: make(chan struct{})}
		a.cur = g
		a.pending = append(a.pending, g)
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	g.recs = append(g.recs, rec)
	return g, len(g.recs) - 1, nil
}

// run stores the groups in commit order until close, and then the groups
// still pending.
func (a *appendGroups) run() {
	defer close(a.done)
	var gs []*appendGroup
	for {
		a.mu.Lock()
		gs, a.pending = a.pending, gs[:0]
		closed := a.closed
		a.mu.Unlock()
		for i, g := range gs {
			a.store(g)
			gs[i] = nil
		}
		if len(gs) > 0 {
			continue
		}
		if closed {
			return
		}
		<-a.wake
	}
}

// store waits for a group's commit, then stores the group's readings.
func (a *appendGroups) store(g *appendGroup) {
	err := g.commit.Wait()
	a.mu.Lock()
	if a.cur == g {
		a.cur = nil
	}
	recs := g.recs
	a.mu.Unlock()
	g.errs = make([]error, len(recs))
	if err != nil {
		for i := range g.errs {
			g.errs[i] = fmt.Errorf("log telemetry: %w", err)
		}
	} else {
		a.db.AppendBatch(recs, g.errs)
		a.writes.Add(1)
	}
	g.recs = nil
	close(g.applied)
}

// close refuses further records and returns once every group taken is
// stored (or failed, when the log closed first).
func (a *appendGroups) close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	<-a.done
}

// telemetryCommitInterval is the least time between two commits of the
// telemetry log. At 10,000 messages/s a disk that syncs in a third of a
// millisecond would otherwise commit 3–4 messages at a time, thousands of
// fdatasyncs a second; 2 ms gathers about 20 a commit, for at most 2 ms
// more before a PUBACK.
const telemetryCommitInterval = 2 * time.Millisecond

// openTelemetryLog opens the write-ahead log of telemetry and stores again
// what it still holds — what a crash may have kept from the time-series
// store — before any device can connect. Storing is idempotent: the store
// keeps one sample per series and millisecond. Samples the store refuses
// for good (past retention by now) are dropped and counted.
func (s *Server) openTelemetryLog() error {
	dropped := 0
	l, st, err := wal.Open(s.cfg.walDir(), wal.Options{
		Logger:         s.logger.With("component", "telemetry log"),
		CommitInterval: telemetryCommitInterval,
	}, func(r wal.Record) error {
		err := s.tsdb.Append(r.Device, r.Customer, r.Site, r.Points)
		if errors.Is(err, tsdb.ErrInvalidPoint) {
			dropped += len(r.Points)
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

// Downsample answers from the store's one-pass downsampling.
func (t telemetryReader) Downsample(ctx context.Context, q gate.DownsampleQuery) ([]gate.Point, error) {
	out, err := t.DownsampleMany(ctx, []gate.DownsampleQuery{q})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// DownsampleMany answers several queries from the store in one query slot.
// A range of one instant is one step ending there: the store counts steps
// from a start before the end, so it is asked from one step earlier and the
// step before the instant is left out.
func (t telemetryReader) DownsampleMany(ctx context.Context, qs []gate.DownsampleQuery) ([][]gate.Point, error) {
	tqs := make([]tsdb.DownsampleQuery, len(qs))
	for i, q := range qs {
		start := q.Start
		if !start.Before(q.End) {
			start = q.End.Add(-q.Step)
		}
		tqs[i] = tsdb.DownsampleQuery{Device: q.Device, Customer: q.Customer, Metric: q.Metric, Start: start, End: q.End, Step: q.Step}
	}
	all, err := t.db.DownsampleMany(ctx, tqs)
	switch {
	case errors.Is(err, tsdb.ErrBusy) || errors.Is(err, tsdb.ErrClosed):
		return nil, fmt.Errorf("%w: %w", gate.ErrTelemetryUnavailable, err)
	case errors.Is(err, tsdb.ErrInvalidQuery):
		return nil, gate.Invalid("%v", err)
	case err != nil:
		return nil, err
	}
	out := make([][]gate.Point, len(qs))
	for i, steps := range all {
		pts := make([]gate.Point, 0, len(steps))
		for _, s := range steps {
			if s.Timestamp < qs[i].Start.UnixMilli() {
				continue
			}
			pts = append(pts, gate.Point{Timestamp: s.Timestamp, Min: s.Min, Avg: s.Avg, Max: s.Max})
		}
		out[i] = pts
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
