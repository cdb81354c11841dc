package device

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/hearthiot/hearth/device/events"
)

// ReadingWriter stores the readings of one message of one device. It is
// implemented by the time-series store; the labels let a customer's queries
// be restricted to the customer's own series.
//
// WriteReadings begins storing and returns wait, which returns once the
// readings are stored: a writer that first makes them durable in a log
// lets its caller go on with the next message meanwhile. Readings are
// stored in the order WriteReadings took them. An error from WriteReadings
// means nothing was begun.
type ReadingWriter interface {
	WriteReadings(device, customer, site string, rs []Reading) (wait func() error, err error)
}

// LabelSource tells which customer and site a device belongs to. Registry
// implements it from memory, so it is cheap per message.
type LabelSource interface {
	Labels(name string) (customer, site string, ok bool)
}

const codeCount = 10

// rejectionCodes lists every code Ingest can reject with, in the order the
// per-code counters are kept.
func rejectionCodes() [codeCount]string {
	return [...]string{
		CodeBadJSON, CodeBadValue, CodeBadMetric, CodeBadTimestamp,
		CodeBatchTooLarge, CodeEmpty, CodeUnknownDevice, CodeInternal, CodeStorageFull, CodeRateLimited,
	}
}

// Telemetry is the ingest path of telemetry messages: decode, label, store,
// count. It is safe for concurrent use; the broker calls Ingest from many
// client goroutines at once.
type Telemetry struct {
	lim    TelemetryLimits
	labels LabelSource
	w      ReadingWriter
	events EventPublisher // nil: no events

	// arrival holds, per device, the last arrival time (unix ms) given to
	// readings that carry no timestamp of their own.
	arrival sync.Map // device name → *atomic.Int64
	// metrics holds, per device, the metric names it has used since start,
	// so that one device cannot create series without bound.
	metrics sync.Map // device name → *metricSet
	// limiters hold each device's sample rate and what it held back or
	// refused; rates gives a device's type's own, when it has one.
	limiters sync.Map // device name → *deviceLimit
	rates    func(device string) (perSecond float64, burst int, ok bool)
	delayed  atomic.Uint64

	messages atomic.Uint64
	samples  atomic.Uint64
	rejected [codeCount]atomic.Uint64
}

// NewTelemetry returns an ingest path that decodes with lim, labels with
// labels and stores through w.
func NewTelemetry(lim TelemetryLimits, labels LabelSource, w ReadingWriter, opts ...TelemetryOption) *Telemetry {
	t := &Telemetry{lim: lim.withDefaults(), labels: labels, w: w}
	for _, o := range opts {
		o(t)
	}
	return t
}

// EventPublisher takes events without blocking; events.Bus implements it.
type EventPublisher interface{ Publish(events.Event) }

// TelemetryOption configures a Telemetry.
type TelemetryOption func(*Telemetry)

// WithEvents makes Ingest publish a TelemetryRejected event for every
// rejected message.
func WithEvents(p EventPublisher) TelemetryOption {
	return func(t *Telemetry) { t.events = p }
}

// WithRates gives devices their type's sample rate and burst, where rates
// says it has one; others have the limits' Rate and Burst. After a type's
// rate changes, RatesChanged applies it.
func WithRates(rates func(device string) (perSecond float64, burst int, ok bool)) TelemetryOption {
	return func(t *Telemetry) { t.rates = rates }
}

// RatesChanged makes every device take its rate anew, as its next message
// arrives. What the old rates held back or refused stays counted.
func (t *Telemetry) RatesChanged() {
	t.limiters.Range(func(_, v any) bool {
		v.(*deviceLimit).lim.Store(nil)
		return true
	})
}

// deviceLimit is one device's sample rate and what it held back or refused.
type deviceLimit struct {
	lim atomic.Pointer[rate.Limiter] // nil: to be taken anew
	rateCount
}

// rateOf is the sample rate and burst device thing has now: its type's,
// else the limits'. perSecond 0 is no limit.
func (t *Telemetry) rateOf(thing string) (perSecond float64, burst int) {
	perSecond, burst = t.lim.Rate, t.lim.Burst
	if t.rates != nil {
		if r, b, ok := t.rates(thing); ok {
			perSecond, burst = r, b
		}
	}
	if perSecond <= 0 {
		return 0, 0
	}
	return perSecond, max(burst, 1)
}

// limiter returns the device's rate, or nil when it has none.
func (t *Telemetry) limiter(thing string) (*deviceLimit, *rate.Limiter) {
	v, ok := t.limiters.Load(thing)
	if ok {
		if lim := v.(*deviceLimit).lim.Load(); lim != nil {
			return v.(*deviceLimit), lim
		}
	}
	perSecond, burst := t.rateOf(thing)
	if perSecond <= 0 {
		return nil, nil
	}
	if !ok {
		v, _ = t.limiters.LoadOrStore(thing, new(deviceLimit))
	}
	dl := v.(*deviceLimit)
	dl.lim.CompareAndSwap(nil, rate.NewLimiter(rate.Limit(perSecond), burst))
	return dl, dl.lim.Load()
}

// throttle takes n samples from the device's rate and returns how long the
// message is to be held back, or why it is refused.
func (t *Telemetry) throttle(thing string, n int, now time.Time) (time.Duration, *TelemetryError) {
	dl, lim := t.limiter(thing)
	if lim == nil {
		return 0, nil
	}
	r := lim.ReserveN(now, n)
	if !r.OK() {
		dl.refuse(now)
		return 0, &TelemetryError{Code: CodeRateLimited, Message: fmt.Sprintf(
			"%d samples in one message; this device may send at most %d at once: send them in smaller messages", n, lim.Burst())}
	}
	d := r.DelayFrom(now)
	if d > t.lim.MaxDelay {
		r.CancelAt(now)
		dl.refuse(now)
		return 0, &TelemetryError{Code: CodeRateLimited, Message: fmt.Sprintf(
			"more samples than this device may send (%g a second, %d at once); keep them and send them in %s", float64(lim.Limit()), lim.Burst(), d.Round(time.Second))}
	}
	if d > 0 {
		t.delayed.Add(1)
		dl.delay(now)
	}
	return d, nil
}

// DeviceRate is the sample rate device thing has now, and how many of its
// messages were held back or refused for their rate since start.
func (t *Telemetry) DeviceRate(thing string) RateUse {
	var u RateUse
	u.PerSecond, u.Burst = t.rateOf(thing)
	if v, ok := t.limiters.Load(thing); ok {
		v.(*deviceLimit).read(&u)
	}
	return u
}

// metricSet is the metric names one device has used.
type metricSet struct {
	mu    sync.Mutex
	names map[string]struct{}
}

// admitMetrics checks that the readings add no more distinct metric names
// than the device may have, and records the new ones. The message is
// refused whole if they would.
func (t *Telemetry) admitMetrics(thing string, rs []Reading) error {
	v, ok := t.metrics.Load(thing)
	if !ok {
		v, _ = t.metrics.LoadOrStore(thing, &metricSet{names: make(map[string]struct{})})
	}
	set := v.(*metricSet)
	set.mu.Lock()
	defer set.mu.Unlock()
	var added []string
	for _, r := range rs {
		if _, known := set.names[r.Metric]; known {
			continue
		}
		if len(set.names) >= t.lim.MaxMetrics {
			for _, name := range added {
				delete(set.names, name)
			}
			return &TelemetryError{Code: CodeBadMetric, Message: fmt.Sprintf(
				"metric %q is new, and this device already uses the %d distinct metrics a device may have", r.Metric, t.lim.MaxMetrics)}
		}
		name := strings.Clone(r.Metric)
		set.names[name] = struct{}{}
		added = append(added, name)
	}
	return nil
}

// Ingest decodes and stores one telemetry message of device thing, all or
// nothing. It returns the number of readings stored, or a *TelemetryError:
// CodeUnknownDevice when the device is not registered, a decoding code when
// the payload is wrong, or CodeInternal wrapping the writer's error when
// storing failed and the device may retry.
func (t *Telemetry) Ingest(thing string, payload []byte, now time.Time) (int, error) {
	s, err := t.Accept(thing, payload, now)
	if err != nil {
		return 0, err
	}
	return s.Wait()
}

// Storing is a telemetry message that was accepted and is being stored.
type Storing interface {
	// Wait returns once the message is stored, with what Ingest returns.
	Wait() (int, error)
}

// Accept decodes and checks one telemetry message of device thing and
// begins storing it, without waiting for it to be stored: the caller waits
// on the result. A message that cannot be stored at all is refused here
// with Ingest's errors; storing can still fail (CodeInternal, or a
// writer's own TelemetryError) in Wait. Messages of one device are stored
// in the order Accept took them.
func (t *Telemetry) Accept(thing string, payload []byte, now time.Time) (Storing, error) {
	t.messages.Add(1)
	customer, site, ok := t.labels.Labels(thing)
	if !ok {
		return nil, t.reject(thing, now, &TelemetryError{Code: CodeUnknownDevice, Message: fmt.Sprintf("device %q is not registered", thing)})
	}
	rs, err := DecodeTelemetry(payload, t.arrivalTime(thing, now), t.lim)
	if err == nil {
		err = t.admitMetrics(thing, rs)
	}
	if err != nil {
		var te *TelemetryError
		if !errors.As(err, &te) {
			te = &TelemetryError{Code: CodeInternal, Message: "the message could not be decoded", Err: err}
		}
		return nil, t.reject(thing, now, te)
	}
	delay, te := t.throttle(thing, len(rs), now)
	if te != nil {
		return nil, t.reject(thing, now, te)
	}
	s := &storing{t: t, thing: thing, now: now, rs: rs, delay: delay}
	s.wait, err = t.w.WriteReadings(thing, customer, site, rs)
	if err != nil {
		return nil, s.failed(err)
	}
	return s, nil
}

// storing is the Storing of Accept.
type storing struct {
	t     *Telemetry
	thing string
	now   time.Time
	rs    []Reading
	wait  func() error
	delay time.Duration // how long its acknowledgement is held back
}

func (s *storing) Wait() (int, error) {
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if err := s.wait(); err != nil {
		return 0, s.failed(err)
	}
	s.t.samples.Add(uint64(len(s.rs)))
	if s.t.events != nil {
		s.t.events.Publish(events.TelemetryStored{Device: s.thing, At: s.now, Readings: newest(s.rs)})
	}
	return len(s.rs), nil
}

// failed counts and returns the rejection of readings the writer could not
// store.
func (s *storing) failed(err error) error {
	// A writer that knows the readings can never be stored (not only not
	// now) says so with a TelemetryError of its own, so the device is told
	// not to send them again.
	var te *TelemetryError
	if errors.As(err, &te) {
		return s.t.reject(s.thing, s.now, te)
	}
	return s.t.reject(s.thing, s.now, &TelemetryError{
		Code:    CodeInternal,
		Message: "the readings could not be stored; send the message again later",
		Err:     fmt.Errorf("write %d readings of device %q: %w", len(s.rs), s.thing, err),
	})
}

// newest is the newest reading of each metric of rs, in their order.
func newest(rs []Reading) []events.Reading {
	out := make([]events.Reading, 0, len(rs))
	same := true
	for _, r := range rs {
		same = same && r.Timestamp == rs[0].Timestamp
	}
	if same { // one sample: every metric once
		for _, r := range rs {
			out = append(out, events.Reading{Metric: r.Metric, Timestamp: r.Timestamp, Value: r.Value})
		}
		return out
	}
	at := make(map[string]int, 32)
	for _, r := range rs {
		i, ok := at[r.Metric]
		switch {
		case !ok:
			at[r.Metric] = len(out)
			out = append(out, events.Reading{Metric: r.Metric, Timestamp: r.Timestamp, Value: r.Value})
		case r.Timestamp >= out[i].Timestamp:
			out[i].Timestamp, out[i].Value = r.Timestamp, r.Value
		}
	}
	return out
}

// arrivalTime returns the time readings without a timestamp of their own are
// stored at: now, but always at least a millisecond after the previous
// message of the same device. Storage keeps one sample per series and
// millisecond (a QoS 1 redelivery of a timestamped message must not count
// twice), so two messages arriving within one millisecond would otherwise
// overwrite each other. A device that bursts a queue of untimestamped
// messages after an outage is spread over consecutive milliseconds instead.
func (t *Telemetry) arrivalTime(thing string, now time.Time) time.Time {
	v, ok := t.arrival.Load(thing)
	if !ok {
		v, _ = t.arrival.LoadOrStore(thing, new(atomic.Int64))
	}
	last := v.(*atomic.Int64)
	ms := now.UnixMilli()
	for {
		prev := last.Load()
		next := max(ms, prev+1)
		if last.CompareAndSwap(prev, next) {
			return time.UnixMilli(next)
		}
	}
}

func (t *Telemetry) reject(thing string, now time.Time, e *TelemetryError) error {
	for i, c := range rejectionCodes() {
		if c == e.Code {
			t.rejected[i].Add(1)
			break
		}
	}
	if t.events != nil {
		t.events.Publish(events.TelemetryRejected{Device: thing, At: now, Code: e.Code, Message: e.Message})
	}
	return e
}

// TelemetryStats are counters since start: messages handled (stored or
// rejected), samples stored, messages rejected in total and by code, and
// messages whose acknowledgement was held back for their device's rate.
type TelemetryStats struct {
	Messages       uint64
	Samples        uint64
	Rejected       uint64
	RejectedByCode map[string]uint64
	Delayed        uint64
}

// Stats reads the counters. Each counter is read atomically; the set is not
// a snapshot of one instant, which does not matter for monitoring.
func (t *Telemetry) Stats() TelemetryStats {
	s := TelemetryStats{
		Messages:       t.messages.Load(),
		Samples:        t.samples.Load(),
		RejectedByCode: make(map[string]uint64),
		Delayed:        t.delayed.Load(),
	}
	for i, c := range rejectionCodes() {
		n := t.rejected[i].Load()
		s.Rejected += n
		if n > 0 {
			s.RejectedByCode[c] = n
		}
	}
	return s
}
