package tsdb

import (
	"fmt"
	"math"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/promql"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmstorage"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/prompb"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/storage"

	"github.com/hearthiot/hearth/store/wal"
)

// maxLabelLen is the longest device, customer, site or metric name accepted;
// VictoriaMetrics' own ingestion applies the same limit to label values.
const maxLabelLen = 4096

// Point is one sample of one metric. The storage keeps values as decimals
// of about 12 significant digits (fewer below 1e-6): far finer than any
// sensor, so a reading comes back as the device sent it. It is the
// telemetry log's point, so that a message's samples go to the log and
// then to the storage without a copy.
type Point = wal.Point

// appendBuf holds what one Append or AppendBatch call needs, reused
// across calls so that the hot path does not allocate.
type appendBuf struct {
	labels [3]prompb.Label
	name   [1]prompb.Label
	prefix []byte
	names  []byte
	ends   []int
	rows   []storage.MetricRow
}

// Record is the points of one device, labelled as Append labels them.
type Record struct {
	Device, Customer, Site string
	Points                 []Point
}

// Append stores points of one device, labelled __name__=Metric, device,
// customer and site (an empty customer or site is left out), and updates the
// latest values. It checks every point first: if one is refused, nothing is
// stored and the error wraps ErrInvalidPoint. Refused are empty or too long
// names, values that are NaN or infinite, and timestamps older than the
// retention or more than two days ahead of the clock (VictoriaMetrics would
// drop those silently). A read sees stored points once they are
// readStaleness (200 ms) old; Flush makes them searchable at once.
func (db *DB) Append(device, customer, site string, pts []Point) error {
	if len(pts) == 0 {
		return nil
	}
	var errs [1]error
	db.AppendBatch([]Record{{Device: device, Customer: customer, Site: site, Points: pts}}, errs[:])
	return errs[0]
}

// AppendBatch stores several records as Append stores each, in one write
// to the storage: the storage's cost per write (its partition, index
// search and shard bookkeeping) is then paid once for all of them. errs,
// of the same length as recs, receives each record's error; a refused
// record (ErrInvalidPoint) leaves the others stored. Records of one device
// are stored in their order.
func (db *DB) AppendBatch(recs []Record, errs []error) {
	if len(errs) != len(recs) {
		panic("tsdb: AppendBatch wants one error slot per record")
	}
	now := time.Now()
	valid := 0
	for i := range recs {
		r := &recs[i]
		errs[i] = nil
		if len(r.Points) == 0 {
			continue
		}
		if errs[i] = validate(r.Device, r.Customer, r.Site, r.Points, now, db.retention); errs[i] == nil {
			valid++
		}
	}
	if valid == 0 {
		return
	}
	if !db.enter() {
		for i := range recs {
			if errs[i] == nil && len(recs[i].Points) > 0 {
				errs[i] = ErrClosed
			}
		}
		return
	}
	defer db.leave()

	b := db.bufs.Get().(*appendBuf)
	defer db.bufs.Put(b)
	b.names = b.names[:0]
	b.ends = b.ends[:0]
	backfill := now.Add(-rollupCacheOffset).UnixMilli()
	old := false
	for i := range recs {
		r := &recs[i]
		if errs[i] != nil {
			continue
		}
		b.labels[0] = prompb.Label{Name: "device", Value: r.Device}
		b.labels[1] = prompb.Label{Name: "customer", Value: r.Customer}
		b.labels[2] = prompb.Label{Name: "site", Value: r.Site}
		b.prefix = storage.MarshalMetricNameRaw(b.prefix[:0], b.labels[:])
		for j := range r.Points {
			b.name[0] = prompb.Label{Name: "__name__", Value: r.Points[j].Metric}
			b.names = storage.MarshalMetricNameRaw(b.names, b.name[:])
			b.names = append(b.names, b.prefix...)
			b.ends = append(b.ends, len(b.names))
			old = old || r.Points[j].Timestamp < backfill
		}
	}
	// The names buffer may have moved while growing, so rows point into it
	// only once it is complete.
	b.rows = b.rows[:0]
	start, k := 0, 0
	for i := range recs {
		if errs[i] != nil {
			continue
		}
		for _, p := range recs[i].Points {
			b.rows = append(b.rows, storage.MetricRow{
				MetricNameRaw: b.names[start:b.ends[k]],
				Timestamp:     p.Timestamp,
				Value:         p.Value,
			})
			start = b.ends[k]
			k++
		}
	}
	err := vmstorage.VMInsertAPI.WriteRows(b.rows)
	clear(b.rows)
	if cap(b.rows) > maxKeptRows {
		// A rare large batch (a back-fill) does not pin its memory.
		b.rows, b.names, b.ends = nil, nil, nil
	}
	indexed := false
	for i := range recs {
		r := &recs[i]
		switch {
		case errs[i] != nil || len(r.Points) == 0:
		case err != nil:
			errs[i] = fmt.Errorf("append %d points of device %q: %w", len(r.Points), r.Device, err)
		default:
			if db.latest.update(latestKey(r.Device, r.Customer), r.Site, r.Points) {
				indexed = true
			}
		}
	}
	// Before unflushed: a flush that sees unflushed must see this too.
	if indexed && err == nil && !db.indexed.Load() {
		db.indexed.Store(true)
	}
	if err == nil && !db.unflushed.Load() {
		db.unflushed.Store(true)
	}
	if old && err == nil {
		db.backfilled.Store(true)
	}
}

// maxKeptRows bounds the rows an appendBuf keeps between calls.
const maxKeptRows = 64 << 10

func validate(device, customer, site string, pts []Point, now time.Time, retention time.Duration) error {
	if device == "" {
		return fmt.Errorf("%w: empty device name", ErrInvalidPoint)
	}
	for _, l := range [...]struct{ name, value string }{{"device", device}, {"customer", customer}, {"site", site}} {
		if len(l.value) > maxLabelLen {
			return fmt.Errorf("%w: %s name is %d bytes long; at most %d are accepted", ErrInvalidPoint, l.name, len(l.value), maxLabelLen)
		}
	}
	minTS := now.Add(-retention).UnixMilli()
	maxTS := now.Add(futureRetention).UnixMilli()
	for i := range pts {
		p := &pts[i]
		switch {
		case p.Metric == "":
			return fmt.Errorf("%w: point %d of device %q has an empty metric name", ErrInvalidPoint, i, device)
		case len(p.Metric) > maxLabelLen:
			return fmt.Errorf("%w: point %d of device %q has a metric name of %d bytes; at most %d are accepted",
				ErrInvalidPoint, i, device, len(p.Metric), maxLabelLen)
		case math.IsNaN(p.Value) || math.IsInf(p.Value, 0):
			return fmt.Errorf("%w: metric %q of device %q has value %v; only finite numbers are accepted",
				ErrInvalidPoint, p.Metric, device, p.Value)
		case p.Timestamp < minTS || p.Timestamp > maxTS:
			return fmt.Errorf("%w: metric %q of device %q has timestamp %s; accepted are %s to %s (retention %s)",
				ErrInvalidPoint, p.Metric, device, time.UnixMilli(p.Timestamp).UTC().Format(time.RFC3339),
				time.UnixMilli(minTS).UTC().Format(time.RFC3339), time.UnixMilli(maxTS).UTC().Format(time.RFC3339), retention)
		}
	}
	return nil
}

// Latest returns the newest sample of every metric of device that was
// appended for customer, sorted by metric, or nil if there is none. Keying
// by customer too means a device name deleted and registered again for
// another customer never shows the earlier owner's values. It survives
// restarts; after a crash it may miss the last few seconds of updates (see
// latestFile).
func (db *DB) Latest(device, customer string) []Point {
	return db.latest.get(latestKey(device, customer))
}

// latestKey is the cache key of a device's values for one customer. Neither
// a device nor a customer name can contain a NUL byte.
func latestKey(device, customer string) string { return device + "\x00" + customer }

// Flush makes everything appended so far searchable at once and drops
// cached query results. It is meant for tests and benchmarks; in normal
// operation a read sees what was stored readStaleness (200 ms) before it.
func (db *DB) Flush() {
	if !db.enter() {
		return
	}
	defer db.leave()
	db.flushMu.Lock()
	db.flushLocked(time.Now())
	db.flushMu.Unlock()
	promql.ResetRollupResultCache()
}
