package sim

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

// Defaults applied by RunLoad to zero fields of LoadConfig.
const (
	DefaultMetrics            = 10
	DefaultInflight           = 10
	DefaultConnectConcurrency = 16
	DefaultKeepAlive          = 60 * time.Second
	DefaultConnectTimeout     = 15 * time.Second
	DefaultDrainTimeout       = 10 * time.Second
)

// publisherReadBuffer is the read buffer of a publishing session: it only
// receives CONNACK, PUBACK and PINGRESP, a few bytes each.
const publisherReadBuffer = 512

// publisherMaxBody bounds a packet a publisher accepts from the broker.
const publisherMaxBody = 64 << 10

// maxPeriod caps one device's publish period so that a tiny Rate cannot
// overflow time.Duration; with a period this long a device sends at most once.
const maxPeriod = 24 * time.Hour

// LoadConfig describes one bounded load run.
type LoadConfig struct {
	// Broker is host:port of the MQTT listener.
	Broker string
	// TLS is the client configuration shared by all devices; each device
	// gets a clone with its own certificate. nil connects over plain TCP.
	// An empty ServerName is set to the host of Broker.
	TLS *tls.Config
	// Devices are the simulated devices; client id = username = Name.
	Devices []Credentials
	// Metrics is the number of values per message (DefaultMetrics when 0).
	Metrics int
	// Rate is the total messages per second across all devices, spread
	// evenly over devices and time. 0 sends as fast as the inflight windows
	// allow.
	Rate float64
	// Duration is how long messages are sent, counted from the moment all
	// devices are connected. Required.
	Duration time.Duration
	// QoS of each PUBLISH: 1, also when left 0. QoS 0 is not offered:
	// Hearth's devices publish telemetry with QoS 1, and without PUBACKs a
	// run has neither latency nor backpressure to report.
	QoS byte
	// Inflight is the most unacknowledged publishes per device
	// (DefaultInflight when 0, at most 65535).
	Inflight int
	// ConnectConcurrency is how many devices connect at the same time
	// (DefaultConnectConcurrency when 0); TLS handshakes cost the broker
	// far more than publishes do.
	ConnectConcurrency int
	// Topic returns a device's telemetry topic (protocol.TelemetryTopic
	// when nil).
	Topic func(device string) string
	// KeepAlive is the MQTT keepalive (DefaultKeepAlive when 0).
	KeepAlive time.Duration
	// ConnectTimeout bounds one device's dial, handshake and CONNACK
	// (DefaultConnectTimeout when 0).
	ConnectTimeout time.Duration
	// DrainTimeout bounds the wait for outstanding PUBACKs after Duration
	// (DefaultDrainTimeout when 0); what is still unacknowledged then counts
	// as failed.
	DrainTimeout time.Duration
	// Progress is the interval of progress log lines; 0 logs none.
	Progress time.Duration
}

// LoadResult is what a run measured.
type LoadResult struct {
	// Connected is how many devices connected; ConnectFailed how many did
	// not; Dropped how many lost their connection before the run ended.
	Connected, ConnectFailed, Dropped int
	// Sent counts PUBLISH packets handed to the connection, Acked those
	// acknowledged,
	// Failed those never acknowledged; Sent = Acked + Failed.
	Sent, Acked, Failed uint64
	// Elapsed runs from the start of sending to the stop of sending or the
	// last PUBACK, whichever came later.
	Elapsed time.Duration
	// MsgsPerSec and SamplesPerSec are acknowledged messages and values
	// per second of Elapsed.
	MsgsPerSec, SamplesPerSec float64
	// Latencies from writing a PUBLISH to reading its PUBACK; quantiles
	// are upper bounds with about 3% resolution.
	LatencyP50, LatencyP99, LatencyMax time.Duration
	// ConnectTime is how long connecting all devices took.
	ConnectTime time.Duration
}

// RunLoad connects every device, publishes telemetry at cfg.Rate for
// cfg.Duration, waits up to cfg.DrainTimeout for outstanding PUBACKs and
// disconnects. Devices that fail to connect are counted, not fatal; an error
// is returned when none connects or the configuration is invalid. A device
// whose connection is lost is counted as dropped and not reconnected, so
// that a broker in trouble shows in the result instead of being hidden by
// retries; the run ends early when every connection is lost. When ctx is
// cancelled the run stops early and returns what it measured together with
// ctx's error. A nil logger logs nothing.
func RunLoad(ctx context.Context, cfg LoadConfig, logger *slog.Logger) (LoadResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return LoadResult{}, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &loadRun{cfg: cfg, logger: logger, runClock: newRunClock()}
	r.period = r.devicePeriod()

	fd := fleetDial{cfg: cfg, readBuf: publisherReadBuffer, maxBody: publisherMaxBody}
	connected, failed, took, err := connectFleet(ctx, fd, r.epoch, logger, r.open)
	r.connectFailed, r.connectTime = failed, took
	if err != nil {
		r.closeAll(connected)
		return r.result(nil), err
	}
	logger.Info("devices connected", "connected", len(connected), "failed", r.connectFailed,
		"connect_time", r.connectTime)

	wait := r.launch(len(connected), func(i int) {
		connected[i].publishLoop(r, offset(r.period, i, len(connected)))
	})
	stopDrain := r.supervise(ctx, cfg.Duration, cfg.DrainTimeout, cfg.Progress, func(elapsed time.Duration) {
		var sent, acked uint64
		for _, d := range connected {
			sent += d.sent.Load()
			acked += d.acked.Load()
		}
		logger.Info("load progress", "elapsed", elapsed, "sent", sent, "acked", acked)
	})
	wait()
	stopDrain()
	res := r.result(connected)
	if res.Dropped > 0 {
		logger.Warn("connections lost during the run", "dropped", res.Dropped, "first_error", r.firstDrop(connected))
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("load run stopped early: %w", err)
	}
	return res, nil
}

func (c LoadConfig) withDefaults() (LoadConfig, error) {
	if c.Broker == "" {
		return c, fmt.Errorf("load config: no broker address")
	}
	if _, _, err := net.SplitHostPort(c.Broker); err != nil {
		return c, fmt.Errorf("load config: broker %q is not host:port: %w", c.Broker, err)
	}
	if len(c.Devices) == 0 {
		return c, fmt.Errorf("load config: no devices")
	}
	seen := make(map[string]bool, len(c.Devices))
	for i, d := range c.Devices {
		if d.Name == "" {
			return c, fmt.Errorf("load config: device %d has no name", i)
		}
		if seen[d.Name] {
			// Two connections with one client id take each other over.
			return c, fmt.Errorf("load config: device %q appears twice", d.Name)
		}
		seen[d.Name] = true
	}
	if c.Duration <= 0 {
		return c, fmt.Errorf("load config: duration %v must be positive", c.Duration)
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return c, fmt.Errorf("load config: rate %v must be a finite number >= 0", c.Rate)
	}
	if c.Metrics < 0 {
		return c, fmt.Errorf("load config: metrics %d must be >= 0", c.Metrics)
	}
	if c.QoS > 1 {
		return c, fmt.Errorf("load config: QoS %d not offered, only 1", c.QoS)
	}
	if c.Inflight < 0 || c.Inflight > math.MaxUint16 {
		return c, fmt.Errorf("load config: inflight %d outside 1..%d", c.Inflight, math.MaxUint16)
	}
	if c.ConnectConcurrency < 0 {
		return c, fmt.Errorf("load config: connect concurrency %d must be >= 0", c.ConnectConcurrency)
	}
	if c.KeepAlive < 0 || c.KeepAlive > 0 && c.KeepAlive < time.Second || c.KeepAlive > math.MaxUint16*time.Second {
		// MQTT counts keepalive in whole seconds.
		return c, fmt.Errorf("load config: keepalive %v outside 1s..%v", c.KeepAlive, math.MaxUint16*time.Second)
	}
	if c.ConnectTimeout < 0 || c.DrainTimeout < 0 || c.Progress < 0 {
		return c, fmt.Errorf("load config: negative timeout or interval")
	}
	c.QoS = 1
	if c.Metrics == 0 {
		c.Metrics = DefaultMetrics
	}
	if c.Inflight == 0 {
		c.Inflight = DefaultInflight
	}
	if c.ConnectConcurrency == 0 {
		c.ConnectConcurrency = DefaultConnectConcurrency
	}
	if c.Topic == nil {
		c.Topic = protocol.TelemetryTopic
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	return c, nil
}

// loadRun is the shared state of one RunLoad call.
type loadRun struct {
	runClock
	cfg    LoadConfig
	logger *slog.Logger
	period time.Duration

	connectFailed int
	connectTime   time.Duration
}

// devicePeriod is the interval between two messages of one device; 0 means
// no pacing.
func (r *loadRun) devicePeriod() time.Duration {
	if r.cfg.Rate == 0 {
		return 0
	}
	sec := float64(len(r.cfg.Devices)) / r.cfg.Rate
	if sec >= maxPeriod.Seconds() {
		return maxPeriod
	}
	return max(time.Duration(sec*float64(time.Second)), 1)
}

// open makes a connected session device i of the run and starts its reader.
func (r *loadRun) open(_ context.Context, i int, s *session) (*loadDevice, error) {
	d := &loadDevice{
		name:       r.cfg.Devices[i].Name,
		s:          s,
		topic:      r.cfg.Topic(r.cfg.Devices[i].Name),
		gen:        newPayloadGen(r.cfg.Metrics, uint64(i)),
		ids:        make(chan uint16, r.cfg.Inflight),
		sentAt:     make([]atomic.Int64, r.cfg.Inflight+1),
		inflight:   r.cfg.Inflight,
		readerDone: make(chan struct{}),
	}
	for id := 1; id <= r.cfg.Inflight; id++ {
		d.ids <- uint16(id)
	}
	go d.readLoop()
	return d, nil
}

func (r *loadRun) closeAll(devices []*loadDevice) {
	for _, d := range devices {
		d.s.disconnect()
		<-d.readerDone
	}
}

func (r *loadRun) result(devices []*loadDevice) LoadResult {
	res := LoadResult{
		Connected:     len(devices),
		ConnectFailed: r.connectFailed,
		ConnectTime:   r.connectTime,
	}
	var h histogram
	last := r.stopped
	for _, d := range devices {
		res.Sent += d.sent.Load()
		res.Acked += d.acked.Load()
		if d.dropped {
			res.Dropped++
		}
		h.merge(&d.hist)
		last = max(last, d.lastAck)
	}
	res.Failed = res.Sent - res.Acked
	if len(devices) > 0 {
		res.Elapsed = last - r.start
	}
	if res.Elapsed > 0 {
		res.MsgsPerSec = float64(res.Acked) / res.Elapsed.Seconds()
		res.SamplesPerSec = res.MsgsPerSec * float64(r.cfg.Metrics)
	}
	res.LatencyP50 = h.quantile(0.50)
	res.LatencyP99 = h.quantile(0.99)
	res.LatencyMax = time.Duration(h.max)
	return res
}

func (r *loadRun) firstDrop(devices []*loadDevice) error {
	for _, d := range devices {
		if d.dropped {
			return fmt.Errorf("device %q: %w", d.name, d.dropErr)
		}
	}
	return nil
}

// loadDevice is one connected simulated device. Its publishLoop goroutine
// writes; its readLoop goroutine reads PUBACKs. Packet ids come from ids,
// which holds exactly the ids not in flight, so it is both the inflight
// limit and the id allocator, and an id is never reused while unacknowledged.
type loadDevice struct {
	name     string
	s        *session
	topic    string
	gen      *payloadGen
	pbuf     []byte
	ids      chan uint16
	inflight int
	// sentAt[id] is when the PUBLISH with that id was written, in
	// nanoseconds since the run's epoch; 0 when the id is not in flight.
	sentAt []atomic.Int64

	sent, acked atomic.Uint64

	// Owned by readLoop until readerDone is closed.
	hist       histogram
	lastAck    time.Duration
	readErr    error
	readerDone chan struct{}

	// Set by publishLoop before it returns.
	dropped bool
	dropErr error
}

// publishLoop sends until the run stops, then waits for the outstanding
// PUBACKs until the drain ends, and disconnects. Message k is due at
// offset + k*period after the start of the run; a device that fell behind,
// because the broker was slow to acknowledge or the process did not get the
// CPU, sends what is due at once, so that a short stall does not lower the
// rate that was asked for.
func (d *loadDevice) publishLoop(r *loadRun, offset time.Duration) {
	defer d.finish()
	begin := r.epoch.Add(r.start + offset)
	timer := idleTimer()
	defer timer.Stop()
	for k := time.Duration(0); ; k++ {
		w := waitedDue
		if r.period > 0 {
			w = r.waitUntil(timer, begin.Add(k*r.period), d.readerDone)
		}
		var id uint16
		if w == waitedDue {
			id, w = r.takeID(d.ids, d.readerDone)
		}
		switch w {
		case waitedStop:
			d.awaitAcks(r)
			return
		case waitedGone:
			return
		}
		select {
		case <-r.stop:
			d.ids <- id
			d.awaitAcks(r)
			return
		default:
		}
		d.pbuf = d.gen.next(d.pbuf[:0])
		d.sentAt[id].Store(d.s.now())
		d.sent.Add(1)
		err := d.s.write(func(b []byte) []byte { return appendPublish(b, d.topic, d.pbuf, 1, id) })
		if err != nil {
			d.dropped = true
			d.s.close(fmt.Errorf("publish: %w", err))
			return
		}
	}
}

// awaitAcks waits until every packet id is back, that is every PUBLISH is
// acknowledged, or the drain ends, or the connection is gone.
func (d *loadDevice) awaitAcks(r *loadRun) {
	for held := 0; held < d.inflight; held++ {
		select {
		case <-d.ids:
		case <-r.drain:
			return
		case <-d.readerDone:
			return
		}
	}
}

// finish records whether the connection was lost before the device chose
// to leave, then disconnects and waits for the reader.
func (d *loadDevice) finish() {
	select {
	case <-d.readerDone:
		d.dropped = true
	default:
	}
	if !d.dropped {
		d.s.disconnect()
	}
	<-d.readerDone
	if d.dropped {
		d.s.close(nil)
		d.dropErr = d.s.reason()
		if d.dropErr == nil {
			d.dropErr = d.readErr
		}
	}
}

// readLoop handles what the broker sends until the connection ends.
func (d *loadDevice) readLoop() {
	defer close(d.readerDone)
	for {
		p, err := d.s.read()
		if err != nil {
			d.readErr = err
			return
		}
		switch p.kind {
		case packetPuback:
			if int(p.id) >= len(d.sentAt) {
				d.fail(fmt.Errorf("PUBACK for packet id %d, never sent", p.id))
				return
			}
			at := d.sentAt[p.id].Swap(0)
			if at == 0 {
				d.fail(fmt.Errorf("PUBACK for packet id %d, not in flight", p.id))
				return
			}
			now := d.s.now()
			d.hist.record(now - at)
			d.lastAck = time.Duration(now)
			d.acked.Add(1)
			d.ids <- p.id
		case packetPingresp:
		case packetPublish:
			// Nothing subscribes for a load device, but a broker may still
			// deliver; acknowledge so that it does not resend.
			if err := d.s.acknowledge(p); err != nil {
				d.fail(err)
				return
			}
		default:
			d.fail(fmt.Errorf("unexpected packet type %d from broker", p.kind))
			return
		}
	}
}

func (d *loadDevice) fail(err error) {
	d.readErr = err
	d.s.close(err)
}
