package remotewrite

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/prompb"
	"github.com/klauspost/compress/snappy"

	"github.com/hearthiot/hearth/internal/atomicfile"
	"github.com/hearthiot/hearth/store/wal"
)

type label struct{ name, value string }

// remote sends the log to one receiver.
type remote struct {
	m        *Mirror
	url      string // as configured, credentials included: never logged
	endpoint string // without the URL's own credentials
	name     string // redacted
	id       string
	client   *http.Client
	version  string
	extra    []label
	user     string
	pass     string
	bearer   string
	logger   *slog.Logger

	reader *wal.Reader // only the sender goroutine reads

	mu         sync.Mutex
	acked      wal.Position // everything before it is sent (or dropped)
	savedAt    time.Time
	state      string
	lastSent   time.Time
	lastErr    string
	lastErrAt  time.Time
	lastStatus int
	newest     int64 // newest sample timestamp sent, unix ms
	dropped    map[string]uint64

	samples, bytes, batches, retries, failed atomic.Uint64
	// lag counts the samples in the log not sent: known once the backlog
	// at start is counted (lagKnown), then kept by the log's appends.
	lagBase  atomic.Int64 // backlog samples at start minus samples consumed since
	appended uint64       // the log's point count when lagBase was taken
	lagKnown atomic.Bool

	buf batch
	// labels caches each series' sorted labels across batches, so that a
	// series seen before costs a map lookup; cleared past maxCachedSeries.
	labels map[string][]prompb.Label
}

// maxCachedSeries bounds the label cache: some 200 bytes a series.
const maxCachedSeries = 500_000

// batch is one request being built: series by key, in first-seen order.
type batch struct {
	series  []prompb.TimeSeries
	index   map[string]int
	labels  []prompb.Label
	samples []prompb.Sample
	n       int // samples
	newest  int64
	started time.Time
	proto   []byte
	snappy  []byte
	key     []byte
}

func (b *batch) reset() {
	clear(b.series)
	b.series = b.series[:0]
	clear(b.index)
	b.labels = b.labels[:0]
	b.samples = b.samples[:0]
	b.n, b.newest = 0, 0
}

// add appends a record's samples.
func (r *remote) add(rec wal.Record) {
	b := &r.buf
	if b.index == nil {
		b.index = map[string]int{}
	}
	if b.n == 0 {
		b.started = time.Now()
	}
	for _, p := range rec.Points {
		b.key = append(append(append(append(append(append(b.key[:0], rec.Device...), 0), rec.Customer...), 0), rec.Site...), 0)
		b.key = append(b.key, p.Metric...)
		i, ok := b.index[string(b.key)]
		if !ok {
			ls, cached := r.labels[string(b.key)]
			if !cached {
				if r.labels == nil || len(r.labels) >= maxCachedSeries {
					r.labels = map[string][]prompb.Label{}
				}
				ls = r.labelsOf(rec, p.Metric)
				r.labels[string(b.key)] = ls
			}
			i = len(b.series)
			b.index[string(b.key)] = i
			b.series = append(b.series, prompb.TimeSeries{Labels: ls})
		}
		b.series[i].Samples = append(b.series[i].Samples, prompb.Sample{Value: p.Value, Timestamp: p.Timestamp})
		b.n++
		b.newest = max(b.newest, p.Timestamp)
	}
}

// labelsOf are a series' labels sorted by name, as the specification
// asks: the store's own (an empty customer or site left out, as the store
// leaves it out) and the extra ones.
func (r *remote) labelsOf(rec wal.Record, metric string) []prompb.Label {
	ls := make([]prompb.Label, 0, 4+len(r.extra))
	ls = append(ls, prompb.Label{Name: "__name__", Value: metric}, prompb.Label{Name: "device", Value: rec.Device})
	if rec.Customer != "" {
		ls = append(ls, prompb.Label{Name: "customer", Value: rec.Customer})
	}
	if rec.Site != "" {
		ls = append(ls, prompb.Label{Name: "site", Value: rec.Site})
	}
	for _, l := range r.extra {
		ls = append(ls, prompb.Label{Name: l.name, Value: l.value})
	}
	slices.SortFunc(ls, func(a, b prompb.Label) int { return cmp.Compare(a.Name, b.Name) })
	return ls
}

// encode makes the request body: protobuf, snappy's block format.
func (r *remote) encode() []byte {
	b := &r.buf
	wr := prompb.WriteRequest{Timeseries: b.series}
	b.proto = wr.MarshalProtobuf(b.proto[:0])
	b.snappy = snappy.Encode(b.snappy[:cap(b.snappy)], b.proto)
	return b.snappy
}

// run sends until ctx ends.
func (r *remote) run(ctx context.Context) {
	save := time.NewTicker(time.Second)
	defer save.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for ctx.Err() == nil {
		r.enforceBudget()
		changed := r.m.log.Changed()
		caughtUp, err := r.fill()
		if err != nil {
			r.fail(0, err)
			r.logger.Error("remote write cannot read the telemetry log; retrying", "error", err)
			if !sleep(ctx, r.m.cfg.MaxBackoff) {
				return
			}
			continue
		}
		full := r.buf.n >= r.m.cfg.BatchSamples
		if r.buf.n > 0 && (full || time.Since(r.buf.started) >= r.m.cfg.Linger) {
			if !r.send(ctx) {
				return
			}
			continue
		}
		if caughtUp {
			r.setState(StateCaughtUp)
		}
		wait := time.Hour
		if r.buf.n > 0 {
			wait = r.m.cfg.Linger - time.Since(r.buf.started)
		}
		linger.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
		case <-changed:
		case <-linger.C:
		case <-save.C:
		}
		linger.Stop()
		r.maybeSave()
	}
}

// fill reads records into the batch until it is full or the log's head is
// reached (caughtUp).
func (r *remote) fill() (caughtUp bool, err error) {
	for r.buf.n < r.m.cfg.BatchSamples {
		rec, ok, err := r.reader.Next()
		if errors.Is(err, wal.ErrGap) {
			r.drop(ReasonGap, 0, fmt.Sprintf("telemetry log segments from %d to %d were removed before they were sent",
				r.reader.Skipped.Segment, r.reader.Position().Segment-1))
			continue
		}
		if err != nil {
			return false, err
		}
		if !ok {
			return true, nil
		}
		r.add(rec)
	}
	return false, nil
}

// send sends the batch until it is accepted, refused for good, or dropped
// by the budget; false when ctx ended first (the batch is sent again from
// the saved position at the next start).
func (r *remote) send(ctx context.Context) bool {
	body := r.encode()
	n := r.buf.n
	backoff := r.m.cfg.MinBackoff
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			r.retries.Add(1)
			r.setState(StateRetrying)
			if !sleep(ctx, jitter(backoff)) {
				return false
			}
			backoff = min(2*backoff, r.m.cfg.MaxBackoff)
			if r.m.log.Backlog(r.ackedPos()) > r.m.cfg.MaxBacklog {
				// Held too long: this batch is the oldest data, dropped first.
				r.drop(ReasonBacklog, n, "the receiver did not accept the oldest samples before the backlog outgrew its budget")
				r.ack(n, 0)
				return true
			}
		}
		if ctx.Err() != nil {
			return false
		}
		status, err := r.post(ctx, body)
		switch {
		case err == nil && status/100 == 2:
			r.bytes.Add(uint64(len(body)))
			r.batches.Add(1)
			r.ack(n, n)
			return true
		case err == nil && status/100 == 4 && status != http.StatusTooManyRequests:
			r.failed.Add(1)
			r.fail(status, fmt.Errorf("the receiver refused a batch of %d samples: HTTP %d", n, status))
			r.drop(ReasonRejected, n, fmt.Sprintf("HTTP %d", status))
			r.ack(n, 0)
			return true
		case err != nil:
			if ctx.Err() != nil {
				return false
			}
			r.fail(0, err)
		default:
			r.fail(status, fmt.Errorf("HTTP %d", status))
		}
		if attempt == 0 {
			r.logger.Warn("remote write failed; retrying with a backoff", "error", r.lastError(), "samples", n)
		}
	}
}

// post makes one request. The error of a failed request never carries the
// credentials: url.Error holds the endpoint, whose own user info is
// stripped.
func (r *remote) post(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("remote write request: %w", err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "hearth/"+r.version)
	switch {
	case r.bearer != "":
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	case r.user != "":
		req.SetBasicAuth(r.user, r.pass)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, errors.New(redactErr(err.Error(), r))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// redactErr removes the credentials from a message, should one hold them.
func redactErr(msg string, r *remote) string {
	msg = strings.ReplaceAll(msg, r.url, r.name)
	msg = strings.ReplaceAll(msg, r.endpoint, r.name)
	for _, s := range []string{r.pass, r.bearer} {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

// ack records the batch as done: the position moves past it, the log's
// segments before it may go.
func (r *remote) ack(consumed, sent int) {
	pos := r.reader.Position()
	r.mu.Lock()
	r.acked = pos
	if sent > 0 {
		r.lastSent = time.Now()
		r.newest = max(r.newest, r.buf.newest)
		r.state = StateSending
		r.lastStatus = http.StatusNoContent
	}
	r.mu.Unlock()
	r.samples.Add(uint64(sent))
	r.lagBase.Add(-int64(consumed))
	r.m.log.Hold(r.id, pos.Segment)
	r.buf.reset()
	r.maybeSave()
}

func (r *remote) ackedPos() wal.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acked
}

// enforceBudget drops the oldest segments while the remote holds more of
// the log than its budget.
func (r *remote) enforceBudget() {
	for r.buf.n == 0 && r.m.log.Backlog(r.reader.Position()) > r.m.cfg.MaxBacklog {
		from := r.reader.Position()
		n, err := r.reader.SkipSegment()
		if err != nil || r.reader.Position() == from {
			return
		}
		r.drop(ReasonBacklog, n, fmt.Sprintf("the backlog outgrew its budget of %d bytes: telemetry log segment %d dropped", r.m.cfg.MaxBacklog, from.Segment))
		r.ack(n, 0)
	}
}

// drop counts samples that will not be sent, logs it and hands it on.
func (r *remote) drop(reason string, samples int, detail string) {
	r.mu.Lock()
	if r.dropped == nil {
		r.dropped = map[string]uint64{}
	}
	r.dropped[reason] += uint64(samples)
	r.mu.Unlock()
	r.logger.Error("remote write dropped samples", "reason", reason, "samples", samples, "detail", detail)
	r.m.onDrop(Drop{Remote: r.name, Samples: samples, Reason: reason, Detail: detail, At: time.Now()})
}

func (r *remote) fail(status int, err error) {
	r.mu.Lock()
	r.lastErr, r.lastErrAt, r.lastStatus = err.Error(), time.Now(), status
	r.mu.Unlock()
}

func (r *remote) lastError() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

func (r *remote) setState(s string) {
	r.mu.Lock()
	r.state = s
	r.mu.Unlock()
}

// countBacklog counts the samples between the remote's position at start
// and the log's head, beside the sender, so that the lag in samples is
// known from then on by the log's own count of what it appends; the
// sender's acknowledgements, subtracted meanwhile, add up the same.
func (r *remote) countBacklog(ctx context.Context, from wal.Position) {
	head, appended := r.m.log.HeadPoints()
	r.appended = appended
	rd := r.m.log.NewReader(from)
	defer rd.Close()
	var n int64
	for ctx.Err() == nil && rd.Position().Before(head) {
		rec, ok, err := rd.Next()
		if errors.Is(err, wal.ErrGap) {
			continue
		}
		if err != nil || !ok {
			break
		}
		// Records past the head taken above are counted by the log's
		// point count instead.
		if !rd.Position().Before(head) && rd.Position() != head {
			break
		}
		n += int64(len(rec.Points))
	}
	r.lagBase.Add(n)
	r.lagKnown.Store(true)
}

// status is the remote's progress now.
func (r *remote) status() Status {
	r.mu.Lock()
	st := Status{URL: r.name, State: r.state, LastSent: r.lastSent, LastError: r.lastErr, LastErrAt: r.lastErrAt,
		LastStatus: r.lastStatus, Dropped: map[string]uint64{}}
	for k, v := range r.dropped {
		st.Dropped[k] = v
	}
	acked, newest := r.acked, r.newest
	r.mu.Unlock()
	if st.State == "" {
		st.State = StateSending
	}
	st.SamplesSent, st.BytesSent, st.BatchesSent = r.samples.Load(), r.bytes.Load(), r.batches.Load()
	st.Retries, st.FailedBatches = r.retries.Load(), r.failed.Load()
	st.BacklogBytes, st.MaxBacklog = r.m.log.Backlog(acked), r.m.cfg.MaxBacklog
	if r.lagKnown.Load() {
		st.LagSamples = max(0, r.lagBase.Load()+int64(r.m.log.Stats().Points-r.appended))
	} else {
		st.LagSamples = -1
	}
	if st.BacklogBytes > 0 && newest > 0 {
		st.LagSeconds = max(0, time.Since(time.UnixMilli(newest)).Seconds())
	}
	return st
}

// savedPosition is a remote's position file.
type savedPosition struct {
	URL     string `json:"url"` // redacted, for people reading the file
	Segment uint64 `json:"segment"`
	Offset  int64  `json:"offset"`
}

func (r *remote) loadPosition() (wal.Position, error) {
	b, err := os.ReadFile(r.positionFile())
	if errors.Is(err, fs.ErrNotExist) {
		return wal.Position{}, nil // a new remote: from the oldest segment on disk
	}
	if err != nil {
		return wal.Position{}, fmt.Errorf("read remote write position: %w", err)
	}
	var p savedPosition
	if err := json.Unmarshal(b, &p); err != nil {
		r.logger.Warn("remote write position file cannot be read; sending from the oldest telemetry log segment", "error", err)
		return wal.Position{}, nil
	}
	return wal.Position{Segment: p.Segment, Offset: p.Offset}, nil
}

// maybeSave saves the position at most once a second.
func (r *remote) maybeSave() {
	r.mu.Lock()
	due := time.Since(r.savedAt) >= time.Second
	r.mu.Unlock()
	if due {
		if err := r.savePosition(); err != nil {
			r.logger.Warn("remote write position not saved", "error", err)
		}
	}
}

func (r *remote) savePosition() error {
	r.mu.Lock()
	p := savedPosition{URL: r.name, Segment: r.acked.Segment, Offset: r.acked.Offset}
	r.savedAt = time.Now()
	r.mu.Unlock()
	b, _ := json.Marshal(p)
	if err := atomicfile.Write(r.positionFile(), b, 0o600); err != nil {
		return fmt.Errorf("save remote write position: %w", err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
