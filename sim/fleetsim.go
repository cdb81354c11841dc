package sim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/sim/model"
)

// Defaults applied by StartFleet to zero fields of FleetConfig.
const (
	DefaultFleetInterval = time.Minute
	// DefaultBackfillBatch is how many samples one back-fill message
	// carries: about 60 KB for a chiller, within Hearth's default payload
	// (128 KiB) and batch (1,000 entries) limits.
	DefaultBackfillBatch = 200
	// Reconnect backoff: doubling from the first to the last, with jitter.
	reconnectFirst = time.Second
	reconnectMax   = time.Minute
	// fleetReadBuffer and fleetMaxBody size a simulated device's reader:
	// shadow documents of a few kilobytes at most.
	fleetReadBuffer = 4 << 10
	fleetMaxBody    = 256 << 10
)

// FleetDevice is one device of a simulated fleet.
type FleetDevice struct {
	Credentials
	Kind     Kind
	Building model.Building // who is in the building when; default office
	// Seed draws the equipment's size and quirks; devices of the same
	// seed and kind behave alike.
	Seed uint64
	// Location is where the building is, whose clock its people and
	// weather follow; time.Local when nil.
	Location *time.Location
	// FaultAfter, when set, makes a chiller fault that long after the
	// fleet starts (once it runs), for a demonstration of alarms.
	FaultAfter time.Duration
	// History is the operating programs the equipment followed before the
	// fleet started, each from its date: a back-fill runs the machine as
	// they said, where the program the shadow holds has not begun.
	History []program.Program
}

// FleetConfig describes a simulated fleet.
type FleetConfig struct {
	// Broker is Hearth's MQTT address, host:port; TLS its client
	// configuration (nil connects over plain TCP, where an operator turned
	// it on). Each device adds its own certificate to it.
	Broker  string
	TLS     *tls.Config
	Devices []FleetDevice
	// Interval between two telemetry messages of one device
	// (DefaultFleetInterval when 0); the devices are spread over it.
	Interval time.Duration
	// Backfill, when positive, makes each device send that much history
	// the first time it connects, stepped through its model at Interval,
	// as a device back-fills after an outage.
	Backfill time.Duration
	// BackfillStep is the time between two back-filled samples (Interval
	// when 0).
	BackfillStep time.Duration
	// BackfillBatch is the most samples one back-fill message carries
	// (DefaultBackfillBatch when 0); lower it for a broker with a smaller
	// payload limit.
	BackfillBatch      int
	KeepAlive          time.Duration // DefaultKeepAlive when 0
	ConnectTimeout     time.Duration // DefaultConnectTimeout when 0
	ConnectConcurrency int           // dials at a time; DefaultConnectConcurrency when 0
	// JobFailureRate is the share of job executions, 0 to 1, that devices
	// end FAILED instead of SUCCEEDED; which ones is drawn from each
	// device's seed and the job's id (JobFails).
	JobFailureRate float64
	// JobDuration is how long a device works on a job between IN_PROGRESS
	// and its result.
	JobDuration time.Duration
	// JobDownloadMax, when positive, makes a device download the file a
	// job document's "url" names, at most this many bytes, and fail the
	// job when the download fails or the whole file's SHA-256 is not the
	// document's "sha256".
	JobDownloadMax int64
	// JobDownloadConcurrency bounds the fleet's downloads at a time
	// (DefaultJobDownloadConcurrency when 0).
	JobDownloadConcurrency int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// FleetStats counts what a fleet did since it started.
type FleetStats struct {
	Devices, Connected int
	// Connects counts successful connections, the first of each device
	// included; ConnectFailures the attempts that failed.
	Connects, ConnectFailures uint64
	// Telemetry messages published, and the samples they carried; Acked
	// counts the broker's PUBACKs for everything the devices published
	// (telemetry, reports and shadow requests).
	Telemetry, Acked, Samples uint64
	// Deltas received, Reports of reported state published.
	Deltas, Reports uint64
	// Job executions started (IN_PROGRESS sent) and ended; downloads of
	// job files, their bytes, and the downloads that failed.
	JobsStarted, JobsSucceeded, JobsFailed     uint64
	Downloads, DownloadBytes, DownloadFailures uint64
}

// Fleet is a running set of simulated devices.
type Fleet struct {
	cfg    FleetConfig
	logger *slog.Logger
	cancel context.CancelFunc
	done   sync.WaitGroup

	connected                 atomic.Int64
	connects, connectFailures atomic.Uint64
	telemetry, acked, samples atomic.Uint64
	deltas, reports           atomic.Uint64

	jobs                                       *fleetJobs
	jobsStarted, jobsSucceeded, jobsFailed     atomic.Uint64
	downloads, downloadBytes, downloadFailures atomic.Uint64
}

// StartFleet starts every device of cfg, each on its own goroutine, and
// returns at once: devices connect in the background, at most
// ConnectConcurrency at a time, and reconnect with a doubling, jittered
// backoff (1 s to 1 min) whenever their connection ends. Each device
// publishes its model's readings every Interval with QoS 1, keeps its
// settings in its classic shadow (it asks for the shadow when it
// connects, applies desired values and deltas within its limits, and
// reports what it holds), and follows its operating program. Stop ends
// them.
func StartFleet(ctx context.Context, cfg FleetConfig, logger *slog.Logger) (*Fleet, error) {
	if cfg.Broker == "" {
		return nil, errors.New("start fleet: no broker address")
	}
	if len(cfg.Devices) == 0 {
		return nil, errors.New("start fleet: no devices")
	}
	if cfg.Interval < 0 || cfg.Backfill < 0 {
		return nil, fmt.Errorf("start fleet: interval %s and backfill %s must not be negative", cfg.Interval, cfg.Backfill)
	}
	if cfg.JobFailureRate < 0 || cfg.JobFailureRate > 1 || cfg.JobDuration < 0 || cfg.JobDownloadMax < 0 {
		return nil, fmt.Errorf("start fleet: job failure rate %v must be 0 to 1, job duration %s and download bound %d not negative",
			cfg.JobFailureRate, cfg.JobDuration, cfg.JobDownloadMax)
	}
	if cfg.JobDownloadConcurrency <= 0 {
		cfg.JobDownloadConcurrency = DefaultJobDownloadConcurrency
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultFleetInterval
	}
	if cfg.BackfillStep <= 0 {
		cfg.BackfillStep = cfg.Interval
	}
	if cfg.BackfillBatch <= 0 {
		cfg.BackfillBatch = DefaultBackfillBatch
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.ConnectConcurrency <= 0 {
		cfg.ConnectConcurrency = DefaultConnectConcurrency
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for i, d := range cfg.Devices {
		if d.Name == "" {
			return nil, fmt.Errorf("start fleet: device %d has no name", i)
		}
		if _, err := ParseKind(string(d.Kind)); err != nil {
			return nil, fmt.Errorf("start fleet: device %s: %w", d.Name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &Fleet{cfg: cfg, logger: logger, cancel: cancel, jobs: newFleetJobs(cfg)}
	dials := make(chan struct{}, cfg.ConnectConcurrency)
	epoch := time.Now()
	for i, d := range cfg.Devices {
		b := d.Building
		if b == "" {
			b = model.Office
		}
		sd := &simDevice{
			f: f, i: i, spec: d, eq: newEquipment(d.Kind, b, d.Seed, d.Location, d.History...),
			dial:     fleetDial{cfg: LoadConfig{Broker: cfg.Broker, TLS: cfg.TLS, Devices: []Credentials{d.Credentials}, KeepAlive: cfg.KeepAlive, ConnectTimeout: cfg.ConnectTimeout}, readBuf: fleetReadBuffer, maxBody: fleetMaxBody}.dialConfig(0, epoch),
			dials:    dials,
			backfill: cfg.Backfill,
			jobs:     newJobQueue(),
		}
		if d.FaultAfter > 0 {
			sd.eq.planFault(epoch.Add(d.FaultAfter))
		}
		f.done.Go(func() { sd.run(ctx) })
	}
	return f, nil
}

// Stats returns the fleet's counters.
func (f *Fleet) Stats() FleetStats {
	return FleetStats{
		Devices: len(f.cfg.Devices), Connected: int(f.connected.Load()),
		Connects: f.connects.Load(), ConnectFailures: f.connectFailures.Load(),
		Telemetry: f.telemetry.Load(), Acked: f.acked.Load(), Samples: f.samples.Load(),
		Deltas: f.deltas.Load(), Reports: f.reports.Load(),
		JobsStarted: f.jobsStarted.Load(), JobsSucceeded: f.jobsSucceeded.Load(), JobsFailed: f.jobsFailed.Load(),
		Downloads: f.downloads.Load(), DownloadBytes: f.downloadBytes.Load(), DownloadFailures: f.downloadFailures.Load(),
	}
}

// Stop disconnects every device and waits for them, bounded by ctx.
func (f *Fleet) Stop(ctx context.Context) error {
	f.cancel()
	done := make(chan struct{})
	go func() { f.done.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop fleet: %w", ctx.Err())
	}
}

// simDevice is one device of a fleet: its equipment and its connection.
type simDevice struct {
	f        *Fleet
	i        int
	spec     FleetDevice
	eq       *equipment
	dial     dialConfig
	dials    chan struct{} // bounds concurrent dials across the fleet
	backfill time.Duration // history to send on the first connection; zero once sent
	// backfillFrom is where the history still to send starts: set on the
	// first connection and moved on with each batch written, so a
	// back-fill cut short by a lost connection resumes there instead of
	// stepping the model back in time.
	backfillFrom time.Time
	nextID       atomic.Uint32
	jobs         *jobQueue // the next job execution Hearth named
}

func (d *simDevice) topic(suffix string) string {
	return protocol.ShadowTopic(d.spec.Name, "") + "/" + suffix
}

// run connects, serves the connection until it ends, and connects again,
// until ctx ends.
func (d *simDevice) run(ctx context.Context) {
	rnd := rand.New(rand.NewPCG(uint64(d.i), d.spec.Seed))
	// Spread the first connects over a second, so a large fleet does not
	// knock all at once.
	wait := time.Duration(rnd.Int64N(int64(time.Second)))
	backoff := reconnectFirst
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		s, err := d.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.f.connectFailures.Add(1)
			d.f.logger.Debug("simulated device cannot connect", "device", d.spec.Name, "error", err)
		} else {
			began := time.Now()
			d.f.connects.Add(1)
			d.f.connected.Add(1)
			err = d.serve(ctx, s)
			d.f.connected.Add(-1)
			if ctx.Err() != nil {
				return
			}
			d.f.logger.Debug("simulated device lost its connection", "device", d.spec.Name, "error", err)
			if time.Since(began) > reconnectMax {
				backoff = reconnectFirst
			}
		}
		// Full jitter over the current backoff, which doubles up to the cap.
		wait = backoff/2 + time.Duration(rnd.Int64N(int64(backoff/2)+1))
		backoff = min(2*backoff, reconnectMax)
	}
}

func (d *simDevice) connect(ctx context.Context) (*session, error) {
	select {
	case d.dials <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-d.dials }()
	s, err := dial(ctx, d.dial)
	if err != nil {
		return nil, err
	}
	// Ask for the shadow's deltas, and for the whole shadow once; and be
	// told of jobs.
	jobs := protocol.JobsTopic(d.spec.Name)
	if err := subscribe(ctx, s, 1, d.dial.timeout, d.topic("update/delta"), d.topic("get/accepted"), d.topic("update/accepted"),
		jobs+"/notify-next", jobs+"/"+protocol.JobsNext+"/get/accepted"); err != nil {
		s.close(nil)
		return nil, err
	}
	return s, nil
}

// serve runs one connection: a reader goroutine answers what the broker
// sends, while this one sends telemetry and program steps on time.
func (d *simDevice) serve(ctx context.Context, s *session) error {
	readErr := make(chan error, 1)
	gotShadow := make(chan struct{})
	go func() { readErr <- d.readLoop(s, gotShadow) }()
	stopWatch := context.AfterFunc(ctx, func() { s.disconnect() })
	defer stopWatch()
	defer s.close(nil)

	// Report what it holds, which also makes the shadow exist, then ask
	// for the whole shadow: the broker handles the two in this order.
	if err := d.report(s, d.eq.reported(), nil); err != nil {
		return err
	}
	if err := d.publish(s, d.topic("get"), []byte(`{"clientToken":"sim-get"}`)); err != nil {
		return err
	}
	// The job pending, if any, comes in the answer; the next ones on
	// notify-next. What the last session was offered may be over, and
	// the answer says what is not.
	d.jobs.drain()
	stopJobs := make(chan struct{})
	jobsDone := make(chan struct{})
	go func() { defer close(jobsDone); d.workJobs(s, stopJobs) }()
	defer func() {
		// A job's publish blocked on the connection returns once it is
		// closed.
		close(stopJobs)
		s.close(nil)
		<-jobsDone
	}()
	if err := d.publish(s, protocol.JobRequestTopic(d.spec.Name, protocol.JobsNext, protocol.JobsGet), []byte(`{"clientToken":"sim-next"}`)); err != nil {
		return err
	}
	if d.backfill > 0 {
		// The history follows the program, which comes with the shadow.
		select {
		case <-gotShadow:
		case <-time.After(d.dial.timeout):
		case err := <-readErr:
			return err
		}
		if d.backfillFrom.IsZero() {
			d.backfillFrom = d.f.cfg.Now().Add(-d.backfill).Truncate(d.f.cfg.BackfillStep)
		}
		if err := d.sendBackfill(s); err != nil {
			return err
		}
		d.backfill = 0
	}

	interval := d.f.cfg.Interval
	first := offset(interval, d.i, len(d.f.cfg.Devices))
	tick := time.NewTimer(first)
	defer tick.Stop()
	step := idleTimer()
	defer step.Stop()
	for {
		if at := d.eq.nextStep(); !at.IsZero() {
			step.Reset(max(0, at.Sub(d.f.cfg.Now())))
		}
		select {
		case err := <-readErr:
			return err
		case <-s.closed:
			return s.reason()
		case <-tick.C:
			tick.Reset(interval)
			if err := d.sendTelemetry(s, d.f.cfg.Now()); err != nil {
				return err
			}
		case <-step.C:
			if report, clear := d.eq.stepDue(d.f.cfg.Now()); report != nil {
				if err := d.report(s, report, clear); err != nil {
					return err
				}
			}
		}
	}
}

// sendTelemetry publishes one sample of the model at t, and reports a
// change of running state or fault.
func (d *simDevice) sendTelemetry(s *session, t time.Time) error {
	values, report := d.eq.sample(t)
	b, err := json.Marshal(protocol.Sample{TS: t.UnixMilli(), Values: values})
	if err != nil {
		return fmt.Errorf("encode telemetry: %w", err)
	}
	if err := d.publish(s, protocol.TelemetryTopic(d.spec.Name), b); err != nil {
		return err
	}
	d.f.telemetry.Add(1)
	d.f.samples.Add(1)
	if report != nil {
		return d.report(s, report, nil)
	}
	return nil
}

// sendBackfill publishes the history from backfillFrom to now, oldest
// first, in batches, stepping the model through it.
func (d *simDevice) sendBackfill(s *session) error {
	now := d.f.cfg.Now()
	step := d.f.cfg.BackfillStep
	size := d.f.cfg.BackfillBatch
	batch := make([]protocol.Sample, 0, size)
	flush := func(next time.Time) error {
		if len(batch) == 0 {
			return nil
		}
		b, err := json.Marshal(batch)
		if err != nil {
			return fmt.Errorf("encode back-fill: %w", err)
		}
		if err := d.publish(s, protocol.TelemetryTopic(d.spec.Name), b); err != nil {
			return err
		}
		d.f.telemetry.Add(1)
		d.f.samples.Add(uint64(len(batch)))
		batch = batch[:0]
		d.backfillFrom = next
		return nil
	}
	t := d.backfillFrom
	for ; t.Before(now); t = t.Add(step) {
		batch = append(batch, protocol.Sample{TS: t.UnixMilli(), Values: d.eq.sampleFollowing(t)})
		if len(batch) == size {
			if err := flush(t.Add(step)); err != nil {
				return err
			}
		}
	}
	return flush(t)
}

// report publishes reported state, and removes the keys of clear from
// desired in the same update.
func (d *simDevice) report(s *session, reported map[string]any, clear []string) error {
	state := map[string]any{"reported": reported}
	if len(clear) > 0 {
		desired := make(map[string]any, len(clear))
		for _, k := range clear {
			desired[k] = nil
		}
		state["desired"] = desired
	}
	b, err := json.Marshal(map[string]any{"state": state})
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := d.publish(s, d.topic("update"), b); err != nil {
		return err
	}
	d.f.reports.Add(1)
	return nil
}

// publish sends payload with QoS 1; the reader counts the PUBACK.
func (d *simDevice) publish(s *session, topic string, payload []byte) error {
	id := uint16(d.nextID.Add(1)%65535 + 1)
	if err := s.write(func(b []byte) []byte { return appendPublish(b, topic, payload, 1, id) }); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// readLoop reads until the connection ends: acknowledgements are counted,
// and desired state (a delta, or the whole shadow) is applied and the
// result reported.
func (d *simDevice) readLoop(s *session, gotShadow chan<- struct{}) error {
	deltaTopic, getTopic, acceptedTopic := d.topic("update/delta"), d.topic("get/accepted"), d.topic("update/accepted")
	notifyNext := protocol.JobsNotifyNextTopic(d.spec.Name)
	nextAccepted := protocol.JobRequestTopic(d.spec.Name, protocol.JobsNext, protocol.JobsGet) + "/accepted"
	var once sync.Once
	defer once.Do(func() { close(gotShadow) })
	for {
		p, err := s.read()
		if err != nil {
			s.close(nil)
			return err
		}
		switch p.kind {
		case packetPuback:
			d.f.acked.Add(1)
			continue
		case packetPublish:
		default:
			continue
		}
		if err := s.acknowledge(p); err != nil {
			return err
		}
		var doc struct {
			State struct {
				Desired map[string]any `json:"desired"`
			} `json:"state"`
		}
		var desired map[string]any
		switch string(p.topic) {
		case notifyNext, nextAccepted:
			d.offerJob(p.payload, string(p.topic) == notifyNext)
			continue
		case deltaTopic:
			d.f.deltas.Add(1)
			var delta struct {
				State map[string]any `json:"state"`
			}
			if decodeJSON(p.payload, &delta) != nil {
				continue
			}
			desired = delta.State
		case getTopic:
			if decodeJSON(p.payload, &doc) != nil {
				continue
			}
			desired = doc.State.Desired
			if _, ok := desired[program.Key]; !ok && d.eq.hasProgram() {
				// Removed while the device was away.
				desired = maps.Clone(desired)
				if desired == nil {
					desired = map[string]any{}
				}
				desired[program.Key] = nil
			}
		case acceptedTopic:
			// A delta never says that a desired key was removed; an
			// accepted update that sets the program to null does.
			if decodeJSON(p.payload, &doc) != nil {
				continue
			}
			v, ok := doc.State.Desired[program.Key]
			if !ok || v != nil {
				continue
			}
			desired = map[string]any{program.Key: nil}
		default:
			continue
		}
		report := d.eq.applyDesired(desired, d.f.cfg.Now())
		if string(p.topic) == getTopic {
			once.Do(func() { close(gotShadow) })
		}
		if report != nil {
			if err := d.report(s, report, nil); err != nil {
				return err
			}
		}
	}
}

// decodeJSON decodes a shadow document, keeping numbers exact. A document
// the device cannot read is ignored, as firmware would.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// String is a one-line summary for progress logs.
func (s FleetStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d connected, %d telemetry messages (%d acknowledged, %d samples), %d deltas, %d reports",
		s.Connected, s.Devices, s.Telemetry, s.Acked, s.Samples, s.Deltas, s.Reports)
	if s.JobsStarted > 0 {
		fmt.Fprintf(&b, ", %d jobs started (%d succeeded, %d failed)", s.JobsStarted, s.JobsSucceeded, s.JobsFailed)
	}
	if s.Downloads > 0 || s.DownloadFailures > 0 {
		fmt.Fprintf(&b, ", %d downloads (%d bytes, %d failed)", s.Downloads, s.DownloadBytes, s.DownloadFailures)
	}
	if s.ConnectFailures > 0 {
		fmt.Fprintf(&b, ", %d failed connects", s.ConnectFailures)
	}
	return b.String()
}
