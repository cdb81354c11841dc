package device_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
)

// writeCall is one WriteReadings call.
type writeCall struct {
	Device, Customer, Site string
	Readings               []device.Reading
}

// recordingWriter keeps what it is asked to store, and fails while fail is
// set.
type recordingWriter struct {
	mu    sync.Mutex
	calls []writeCall
	fail  error
}

func (w *recordingWriter) WriteReadings(dev, customer, site string, rs []device.Reading) (func() error, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return nil, w.fail
	}
	return func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.calls = append(w.calls, writeCall{dev, customer, site, rs})
		return nil
	}, nil
}

func TestTelemetryIngest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.reg.CreateSite(store.Site{Customer: "acme", Name: "tower-b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.CreateDevice(device.DeviceSpec{Name: "ahu-1", Customer: "acme", Site: "tower-b"}); err != nil {
		t.Fatal(err)
	}
	w := &recordingWriter{}
	tel := device.NewTelemetry(device.TelemetryLimits{}, f.reg, w)

	n, err := tel.Ingest("ahu-1", []byte(`{"supply_air_c": 14.5, "fan_on": true}`), telemetryNow)
	if err != nil || n != 2 {
		t.Fatalf("Ingest = %d, %v; want 2 readings", n, err)
	}
	want := []writeCall{{"ahu-1", "acme", "tower-b", []device.Reading{{"supply_air_c", nowMS, 14.5}, {"fan_on", nowMS, 1}}}}
	if diff := cmp.Diff(want, w.calls); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}

	rejects := []struct {
		thing, payload, code string
	}{
		{"nobody", `{"a": 1}`, device.CodeUnknownDevice},
		{"ahu-1", `{"a": "x"}`, device.CodeBadValue},
		{"ahu-1", `nope`, device.CodeBadJSON},
		{"ahu-1", `{"ts": 1, "a": 1}`, device.CodeBadTimestamp},
		{"ahu-1", `[{"a": 1}, {"a": "x"}]`, device.CodeBadValue}, // all or nothing
	}
	for _, r := range rejects {
		n, err := tel.Ingest(r.thing, []byte(r.payload), telemetryNow)
		var te *device.TelemetryError
		if n != 0 || !errors.As(err, &te) || te.Code != r.code {
			t.Errorf("Ingest(%q, %s) = %d, %v; want code %s", r.thing, r.payload, n, err, r.code)
		}
	}
	if len(w.calls) != 1 {
		t.Errorf("rejected messages reached the writer: %d calls", len(w.calls))
	}

	// The device is deleted: its telemetry is refused from then on.
	if _, err := f.reg.CreateDevice(device.DeviceSpec{Name: "gone", Customer: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.DeleteDevice("gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := tel.Ingest("gone", []byte(`{"a": 1}`), telemetryNow); err == nil {
		t.Error("telemetry of a deleted device accepted")
	}

	// Storage fails: the device is told to retry; the cause is kept for logs.
	diskFull := errors.New("disk full")
	w.fail = diskFull
	n, err = tel.Ingest("ahu-1", []byte(`{"a": 1}`), telemetryNow)
	var te *device.TelemetryError
	if n != 0 || !errors.As(err, &te) || te.Code != device.CodeInternal || !errors.Is(err, diskFull) {
		t.Errorf("Ingest with failing writer = %d, %v; want CodeInternal wrapping the cause", n, err)
	}
	if te != nil && (te.Message == "" || strings.Contains(te.Message, "disk full")) {
		t.Errorf("device message %q is empty or leaks the internal cause", te.Message)
	}

	want2 := device.TelemetryStats{
		Messages: 8,
		Samples:  2,
		Rejected: 7,
		RejectedByCode: map[string]uint64{
			device.CodeUnknownDevice: 2,
			device.CodeBadValue:      2,
			device.CodeBadJSON:       1,
			device.CodeBadTimestamp:  1,
			device.CodeInternal:      1,
		},
	}
	if diff := cmp.Diff(want2, tel.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestTelemetryIngestConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(t, "s1")
	w := &recordingWriter{}
	tel := device.NewTelemetry(device.TelemetryLimits{}, f.reg, w)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				payload := fmt.Sprintf(`{"g%d": %d, "i": %d}`, g, i, i)
				if _, err := tel.Ingest("s1", []byte(payload), telemetryNow); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := tel.Stats()
	if st.Messages != 200 || st.Samples != 400 || st.Rejected != 0 || len(w.calls) != 200 {
		t.Errorf("stats %+v, %d writes; want 200 messages, 400 samples", st, len(w.calls))
	}
	for _, c := range w.calls {
		if len(c.Readings) != 2 || c.Readings[1].Metric != "i" || c.Readings[0].Value != c.Readings[1].Value {
			t.Fatalf("write %+v mixes up readings of concurrent messages", c)
		}
	}
}

// TestTelemetryArrivalTimesAreDistinct: messages without a timestamp that
// arrive within one millisecond are stored at distinct, increasing times,
// so none overwrites another; explicit timestamps are kept as sent.
func TestTelemetryArrivalTimesAreDistinct(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, name := range []string{"burst-1", "burst-2"} {
		if _, err := f.reg.CreateDevice(device.DeviceSpec{Name: name, Customer: "acme"}); err != nil {
			t.Fatal(err)
		}
	}
	w := &recordingWriter{}
	tel := device.NewTelemetry(device.TelemetryLimits{}, f.reg, w)
	for i := range 5 {
		if _, err := tel.Ingest("burst-1", []byte(fmt.Sprintf(`{"v": %d}`, i)), telemetryNow); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tel.Ingest("burst-1", []byte(fmt.Sprintf(`{"ts": %d, "v": 99}`, nowMS-5000)), telemetryNow); err != nil {
		t.Fatal(err)
	}
	if _, err := tel.Ingest("burst-2", []byte(`{"v": 7}`), telemetryNow); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, c := range w.calls {
		got = append(got, c.Readings[0].Timestamp)
	}
	// burst-1's five messages take nowMS, +1, +2, +3, +4; its timestamped
	// message keeps its own ts; burst-2 has its own clock.
	want := []int64{nowMS, nowMS + 1, nowMS + 2, nowMS + 3, nowMS + 4, nowMS - 5000, nowMS}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timestamps (-want +got):\n%s", diff)
	}
}

// permanentWriter refuses every write for good once it is waited for, as
// the time-series store does for a point it can never hold.
type permanentWriter struct{}

func (permanentWriter) WriteReadings(string, string, string, []device.Reading) (func() error, error) {
	return func() error {
		return &device.TelemetryError{Code: device.CodeBadTimestamp, Message: "outside what the storage accepts"}
	}, nil
}

func TestTelemetryWriterRefusalIsKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.reg.CreateDevice(device.DeviceSpec{Name: "edge-1", Customer: "acme"}); err != nil {
		t.Fatal(err)
	}
	tel := device.NewTelemetry(device.TelemetryLimits{}, f.reg, permanentWriter{})
	_, err := tel.Ingest("edge-1", []byte(`{"v": 1}`), telemetryNow)
	var te *device.TelemetryError
	if !errors.As(err, &te) || te.Code != device.CodeBadTimestamp {
		t.Fatalf("Ingest error %v, want the writer's bad_timestamp (not internal, which devices retry)", err)
	}
	if got := tel.Stats().RejectedByCode[device.CodeBadTimestamp]; got != 1 {
		t.Errorf("bad_timestamp rejections counted %d, want 1", got)
	}
}

// A device may not create series without bound: a message that would add
// more distinct metrics than allowed is refused whole, and known metrics
// keep working.
func TestTelemetryMetricLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.reg.CreateDevice(device.DeviceSpec{Name: "chatty-1", Customer: "acme"}); err != nil {
		t.Fatal(err)
	}
	w := &recordingWriter{}
	tel := device.NewTelemetry(device.TelemetryLimits{MaxMetrics: 3}, f.reg, w)
	if _, err := tel.Ingest("chatty-1", []byte(`{"a": 1, "b": 2}`), telemetryNow); err != nil {
		t.Fatal(err)
	}
	_, err := tel.Ingest("chatty-1", []byte(`{"a": 1, "c": 3, "d": 4}`), telemetryNow)
	var te *device.TelemetryError
	if !errors.As(err, &te) || te.Code != device.CodeBadMetric || !strings.Contains(te.Message, `"d"`) {
		t.Fatalf("fourth metric: %v, want bad_metric naming d", err)
	}
	// The refused message added nothing: c still fits, and a, b, c work.
	if _, err := tel.Ingest("chatty-1", []byte(`{"c": 3}`), telemetryNow); err != nil {
		t.Errorf("third metric after the refusal: %v", err)
	}
	if _, err := tel.Ingest("chatty-1", []byte(`{"a": 1, "b": 2, "c": 3}`), telemetryNow); err != nil {
		t.Errorf("known metrics: %v", err)
	}
	if got := len(w.calls); got != 3 {
		t.Errorf("%d writes, want 3 (the refused message wrote nothing)", got)
	}
}

// A device past its sample rate has its messages held back, which slows
// it to the rate; a message larger than its burst, or one that would wait
// longer than MaxDelay, is refused with rate_limited; a device type's
// own rate replaces the server's.
func TestTelemetryRate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, name := range []string{"meter-1", "meter-2"} {
		if _, err := f.reg.CreateDevice(device.DeviceSpec{Name: name, Customer: "acme"}); err != nil {
			t.Fatal(err)
		}
	}
	w := &recordingWriter{}
	tel := device.NewTelemetry(device.TelemetryLimits{Rate: 1000, Burst: 100, MaxDelay: 150 * time.Millisecond}, f.reg, w,
		device.WithRates(func(d string) (float64, int, bool) { return 10, 5, d == "meter-2" }))
	batch := func(n int) []byte {
		var b strings.Builder
		b.WriteString("[")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"ts": %d, "v": %d}`, nowMS-int64(n-i), i)
		}
		b.WriteString("]")
		return []byte(b.String())
	}
	code := func(err error) string {
		var te *device.TelemetryError
		if errors.As(err, &te) {
			return te.Code
		}
		return fmt.Sprint(err)
	}
	// The burst passes at once; the next 100 wait for a tenth of a second.
	if _, err := tel.Ingest("meter-1", batch(100), telemetryNow); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := tel.Ingest("meter-1", batch(100), telemetryNow); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 90*time.Millisecond {
		t.Errorf("a message past the burst was stored after %v; want it held back about 100ms", d)
	}
	// Another 100 would wait 200ms, past MaxDelay: refused, not taken.
	if _, err := tel.Ingest("meter-1", batch(100), telemetryNow); code(err) != device.CodeRateLimited {
		t.Fatalf("a message past MaxDelay: %v; want rate_limited", err)
	}
	// More than the burst at once can never pass.
	if _, err := tel.Ingest("meter-1", batch(101), telemetryNow.Add(time.Second)); code(err) != device.CodeRateLimited ||
		!strings.Contains(err.Error(), "at most 100 at once") {
		t.Fatalf("a message over the burst: %v", err)
	}
	// meter-2's type allows 5 at once.
	if _, err := tel.Ingest("meter-2", batch(6), telemetryNow); code(err) != device.CodeRateLimited {
		t.Fatalf("meter-2 over its type's burst: %v", err)
	}
	if _, err := tel.Ingest("meter-2", batch(5), telemetryNow); err != nil {
		t.Fatalf("meter-2 within its type's burst: %v", err)
	}
	st := tel.Stats()
	if st.Delayed != 1 || st.RejectedByCode[device.CodeRateLimited] != 3 {
		t.Errorf("stats %+v; want 1 delayed and 3 rate_limited", st)
	}
}
