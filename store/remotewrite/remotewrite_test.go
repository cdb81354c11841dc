package remotewrite_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/prompb"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/snappy"

	"github.com/hearthiot/hearth/store/remotewrite"
	"github.com/hearthiot/hearth/store/remotewrite/vmtest"
	"github.com/hearthiot/hearth/store/wal"
)

// fleet writes telemetry like a fleet's: devices of two customers, one
// device without a site, five metrics a message, each series' timestamps
// rising; it remembers every sample written by series.
type fleet struct {
	mu      sync.Mutex
	samples map[string][]sample // series key → samples in log order
	order   []string            // series key of every sample in log order
	next    int64
}

type sample struct {
	ts int64
	v  float64
}

func newFleet() *fleet {
	return &fleet{samples: map[string][]sample{}, next: time.Now().Add(-2 * time.Hour).UnixMilli()}
}

func seriesKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, labels[k])
	}
	return b.String()
}

// write appends n messages of each of devices devices to the log.
func (f *fleet) write(t testing.TB, l *wal.Log, devices, n int, extra map[string]string) {
	t.Helper()
	var last wal.Commit
	defer func() {
		if err := last.Wait(); err != nil {
			t.Fatal(err)
		}
	}()
	for range n {
		f.mu.Lock()
		ts := f.next
		f.next += 1000
		f.mu.Unlock()
		for d := range devices {
			rec := wal.Record{Device: fmt.Sprintf("dev-%03d", d), Customer: []string{"acme", "globex"}[d%2], Site: "hq"}
			if d == 0 {
				rec.Site = ""
			}
			for m := range 5 {
				rec.Points = append(rec.Points, wal.Point{Metric: fmt.Sprintf("metric_%d", m), Timestamp: ts, Value: float64(ts%100000)/8 + float64(d*10+m)})
			}
			c, err := l.Append(rec)
			if err != nil {
				t.Fatal(err)
			}
			last = c
			f.mu.Lock()
			for _, p := range rec.Points {
				labels := map[string]string{"__name__": p.Metric, "device": rec.Device, "customer": rec.Customer}
				if rec.Site != "" {
					labels["site"] = rec.Site
				}
				for k, v := range extra {
					labels[k] = v
				}
				k := seriesKey(labels)
				f.samples[k] = append(f.samples[k], sample{p.Timestamp, p.Value})
				f.order = append(f.order, k)
			}
			f.mu.Unlock()
		}
	}
}

func (f *fleet) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.order)
}

// exported reads back every series VictoriaMetrics holds.
func exported(t testing.TB, vm *vmtest.VM) map[string][]sample {
	t.Helper()
	series, err := vm.Export(`{__name__!=""}`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]sample{}
	for _, s := range series {
		k := seriesKey(s.Metric)
		for i := range s.Values {
			out[k] = append(out[k], sample{s.Timestamps[i], s.Values[i]})
		}
		slices.SortFunc(out[k], func(a, b sample) int { return int(a.ts - b.ts) })
	}
	return out
}

// orderProxy forwards remote write requests to a receiver and records, for
// every request the receiver accepted, each series' timestamps in the
// order they arrived.
type orderProxy struct {
	mu   sync.Mutex
	seen map[string][]int64
	down bool // answer 503 as a load balancer would with no receiver behind
}

func (p *orderProxy) handler(t testing.TB, target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			http.Error(w, "no receiver", http.StatusServiceUnavailable)
			return
		}
		raw, err := snappy.Decode(nil, body)
		if err != nil || r.Header.Get("Content-Encoding") != "snappy" {
			t.Errorf("a request that is not snappy: %v", err)
		}
		wru := prompb.GetWriteRequestUnmarshaler()
		wr, err := wru.UnmarshalProtobuf(raw)
		if err != nil {
			t.Errorf("a request that is not a remote write protobuf: %v", err)
		}
		var got map[string][]int64
		if err == nil {
			got = map[string][]int64{}
			for _, ts := range wr.Timeseries {
				labels := map[string]string{}
				for i, l := range ts.Labels {
					labels[l.Name] = l.Value
					if i > 0 && ts.Labels[i-1].Name >= l.Name {
						t.Errorf("labels not sorted by name: %v", ts.Labels)
					}
				}
				k := seriesKey(labels)
				for _, s := range ts.Samples {
					got[k] = append(got[k], s.Timestamp)
				}
			}
		}
		prompb.PutWriteRequestUnmarshaler(wru)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			p.mu.Lock()
			for k, ts := range got {
				p.seen[k] = append(p.seen[k], ts...)
			}
			p.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func openLog(t testing.TB, dir string) *wal.Log {
	t.Helper()
	l, _, err := wal.Open(dir, wal.Options{SegmentBytes: 1 << 20}, func(wal.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// waitCaughtUp waits until every sample written is sent or dropped.
func waitCaughtUp(t testing.TB, m *remotewrite.Mirror, within time.Duration) remotewrite.Status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := m.Status()[0]
		if st.LagSamples == 0 && st.BacklogBytes == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up within %s: %+v", within, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMirrorOutage: every sample written to the log reaches a real
// VictoriaMetrics with the store's labels and the extra ones, each
// series' samples in log order, while the receiver is away for a while
// under load; the lag counts what waits and returns to zero.
func TestMirrorOutage(t *testing.T) {
	vm := vmtest.Start(t, "-dedup.minScrapeInterval=1ms")
	proxy := &orderProxy{seen: map[string][]int64{}}
	srv := httptest.NewServer(proxy.handler(t, vm.URL))
	defer srv.Close()

	l := openLog(t, t.TempDir())
	defer l.Close(false)
	extra := map[string]string{"hearth_box": "tokyo-1"}
	m, err := remotewrite.New(remotewrite.Config{URLs: []string{srv.URL + "/api/v1/write"}, Labels: extra, MaxBacklog: 1 << 30,
		BatchSamples: 2000, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, l, t.TempDir(), "test", logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())

	f := newFleet()
	f.write(t, l, 20, 50, extra) // 5,000 samples
	waitCaughtUp(t, m, 30*time.Second)

	// The receiver goes away under load; the load goes on.
	proxy.mu.Lock()
	proxy.down = true
	proxy.mu.Unlock()
	vm.Stop()
	f.write(t, l, 20, 200, extra) // 20,000 samples
	deadline := time.Now().Add(10 * time.Second)
	for m.Status()[0].Retries == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := m.Status()[0]
	if st.Retries == 0 || st.State != remotewrite.StateRetrying || st.LagSamples < 20000 || st.BacklogBytes == 0 || st.LastError == "" {
		t.Fatalf("while the receiver is away: %+v; want retries, state retrying, a lag of at least 20000 samples, a backlog and the error", st)
	}
	vm.Restart()
	proxy.mu.Lock()
	proxy.down = false
	proxy.mu.Unlock()
	f.write(t, l, 20, 50, extra)
	st = waitCaughtUp(t, m, 60*time.Second)
	if st.SamplesSent != uint64(f.total()) || len(st.Dropped) != 0 && st.Dropped[remotewrite.ReasonBacklog]+st.Dropped[remotewrite.ReasonRejected]+st.Dropped[remotewrite.ReasonGap] != 0 {
		t.Errorf("sent %d of %d, dropped %v", st.SamplesSent, f.total(), st.Dropped)
	}
	if st.LagSeconds != 0 || st.State != remotewrite.StateCaughtUp {
		t.Errorf("caught up: lag %gs, state %q", st.LagSeconds, st.State)
	}

	got := exported(t, vm)
	if diff := cmp.Diff(f.samples, got, cmp.AllowUnexported(sample{})); diff != "" {
		t.Errorf("VictoriaMetrics holds other samples than were written (-written +stored):\n%s", diff)
	}
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	for k, ts := range proxy.seen {
		if !slices.IsSorted(ts) || len(slices.Compact(slices.Clone(ts))) != len(ts) {
			t.Errorf("series %s arrived out of order or twice: %v", k, ts)
			break
		}
	}
	if len(proxy.seen) != len(f.samples) {
		t.Errorf("%d series arrived, %d written", len(proxy.seen), len(f.samples))
	}
}

// TestMirrorBudget: with the receiver down past the disk budget, the
// oldest segments are dropped and counted, each drop is reported, the
// log holds no more than the budget for it; once the receiver is back,
// the newest samples arrive, and sent plus dropped is everything.
func TestMirrorBudget(t *testing.T) {
	vm := vmtest.Start(t, "-dedup.minScrapeInterval=1ms")
	vm.Stop()
	l := openLog(t, t.TempDir())
	defer l.Close(false)
	var mu sync.Mutex
	var drops []remotewrite.Drop
	const budget = 2 << 20
	m, err := remotewrite.New(remotewrite.Config{URLs: []string{vm.WriteURL()}, MaxBacklog: budget,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, l, t.TempDir(), "test", logger(t),
		func(d remotewrite.Drop) { mu.Lock(); drops = append(drops, d); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())

	f := newFleet()
	maxBacklog := int64(0)
	for range 40 { // about 5 MiB of log: 5,000 samples a round
		f.write(t, l, 20, 50, nil)
		maxBacklog = max(maxBacklog, m.Status()[0].BacklogBytes)
	}
	deadline := time.Now().Add(20 * time.Second)
	for m.Status()[0].Dropped[remotewrite.ReasonBacklog] == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := m.Status()[0]
	if st.Dropped[remotewrite.ReasonBacklog] == 0 {
		t.Fatalf("nothing dropped past the budget: %+v", st)
	}
	// The budget is checked between batches and retries: the segment being
	// written and one being read may come on top of it.
	if limit := int64(budget + 2<<20); maxBacklog > limit || st.BacklogBytes > limit {
		t.Errorf("backlog reached %d bytes (now %d), budget %d", maxBacklog, st.BacklogBytes, budget)
	}
	mu.Lock()
	if len(drops) == 0 || drops[0].Reason != remotewrite.ReasonBacklog || drops[0].Samples == 0 || !strings.Contains(drops[0].Remote, "127.0.0.1") {
		t.Errorf("drops reported: %+v", drops)
	}
	mu.Unlock()

	vm.Restart()
	st = waitCaughtUp(t, m, 60*time.Second)
	dropped := int(st.Dropped[remotewrite.ReasonBacklog])
	if int(st.SamplesSent)+dropped != f.total() {
		t.Errorf("sent %d + dropped %d != written %d", st.SamplesSent, dropped, f.total())
	}
	// The oldest went first: what arrived is the newest, a suffix of the
	// log.
	got := exported(t, vm)
	n := 0
	for _, s := range got {
		n += len(s)
	}
	if n != int(st.SamplesSent) {
		t.Errorf("VictoriaMetrics holds %d samples, %d were sent", n, st.SamplesSent)
	}
	want := map[string][]sample{}
	seen := map[string]int{}
	for i, k := range f.order {
		s := f.samples[k][seen[k]]
		seen[k]++
		if i >= dropped {
			want[k] = append(want[k], s)
		}
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(sample{})); diff != "" {
		t.Errorf("what arrived is not the newest %d samples (-want +got):\n%s", f.total()-dropped, diff)
	}
}

// TestMirrorResumes: a mirror stopped while its receiver is away keeps
// its position and the log's segments it did not send (the log closed
// as the server closes it, keeping the hold), and a new one, after the
// log is opened again, sends exactly what was left.
func TestMirrorResumes(t *testing.T) {
	vm := vmtest.Start(t, "-dedup.minScrapeInterval=1ms")
	logDir, posDir := t.TempDir(), t.TempDir()
	cfg := remotewrite.Config{URLs: []string{vm.WriteURL()}, MaxBacklog: 1 << 30, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	l := openLog(t, logDir)
	m, err := remotewrite.New(cfg, l, posDir, "test", logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := newFleet()
	f.write(t, l, 10, 50, nil)
	waitCaughtUp(t, m, 30*time.Second)
	vm.Stop()
	f.write(t, l, 10, 1000, nil) // 50,000 samples, several segments
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	hold := m.Hold()
	if err := l.Close(false); err != nil {
		t.Fatal(err)
	}
	if err := wal.RemoveSegmentsBefore(logDir, hold); err != nil {
		t.Fatal(err)
	}

	vm.Restart()
	l = openLog(t, logDir)
	defer l.Close(false)
	m, err = remotewrite.New(cfg, l, posDir, "test", logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	f.write(t, l, 10, 10, nil)
	waitCaughtUp(t, m, 60*time.Second)
	if diff := cmp.Diff(f.samples, exported(t, vm), cmp.AllowUnexported(sample{})); diff != "" {
		t.Errorf("after a restart, VictoriaMetrics holds other samples than were written (-written +stored):\n%s", diff)
	}
}

// TestMirrorAnswers: a 4xx other than 429 drops the batch, counted; 429
// and 5xx are retried until accepted. The credentials go in the
// Authorization header and nowhere in the status.
func TestMirrorAnswers(t *testing.T) {
	var mu sync.Mutex
	answers := []int{http.StatusBadRequest, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusNoContent}
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		auth = append(auth, r.Header.Get("Authorization"))
		code := http.StatusNoContent
		if len(answers) > 0 {
			code, answers = answers[0], answers[1:]
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	l := openLog(t, t.TempDir())
	defer l.Close(false)
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("box", "s3cret-pw")
	m, err := remotewrite.New(remotewrite.Config{URLs: []string{u.String() + "/api/v1/write"}, MaxBacklog: 1 << 30,
		BatchSamples: 100, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}, l, t.TempDir(), "test", logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	f := newFleet()
	f.write(t, l, 20, 1, nil) // 100 samples: one batch
	deadline := time.Now().Add(10 * time.Second)
	for m.Status()[0].FailedBatches == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	f.write(t, l, 20, 1, nil) // the next batch: 429, 503, then accepted
	st := waitCaughtUp(t, m, 10*time.Second)
	if st.FailedBatches != 1 || st.Dropped[remotewrite.ReasonRejected] != 100 || st.SamplesSent != 100 || st.Retries != 2 {
		t.Errorf("status %+v: want one batch of 100 refused and dropped, 100 sent after 2 retries", st)
	}
	if strings.Contains(fmt.Sprint(st), "s3cret") || strings.Contains(st.URL, "box") {
		t.Errorf("the status shows the credentials: %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range auth {
		if a != "Basic Ym94OnMzY3JldC1wdw==" {
			t.Errorf("Authorization %q, want the URL's Basic credentials", a)
		}
	}
}
