package sim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

// Defaults applied by RunShadowLoad to zero fields of ShadowLoadConfig.
const (
	DefaultShadowUpdateInterval  = time.Second
	DefaultShadowDesiredInterval = 10 * time.Second
)

// desiredKey is the key of desired the run sets through the API; devices report
// the value they last received under the same key, so each delta clears.
const desiredKey = "setpoint"

// Client token prefixes tell a device's own update requests ("u" and a
// sequence number) from the API's ("d" and the desired value), whose
// accepted messages a device receives too.
const (
	tokenUpdate  = 'u'
	tokenDesired = 'd'
)

// shadowReadBuffer and shadowMaxBody size a shadow device's reader: it
// receives accepted and delta documents of a few hundred bytes.
const (
	shadowReadBuffer = 4 << 10
	shadowMaxBody    = 64 << 10
)

// shadowInflight is the most unacknowledged update requests per device; at
// one update a second more than a few means the broker has stalled.
const shadowInflight = 4

// replyPoll is how often the drain checks for outstanding replies.
const replyPoll = 20 * time.Millisecond

// ShadowLoadConfig describes one bounded run of device shadow traffic. The
// connection fields (Broker to Progress) mean what they mean in LoadConfig
// and have its defaults.
type ShadowLoadConfig struct {
	Broker             string
	TLS                *tls.Config
	Devices            []Credentials
	Duration           time.Duration
	ConnectConcurrency int
	KeepAlive          time.Duration
	ConnectTimeout     time.Duration
	// DrainTimeout bounds the wait for outstanding replies (accepted,
	// rejected, delta) after Duration; what is still missing then is
	// counted as missing.
	DrainTimeout time.Duration
	Progress     time.Duration

	// UpdateInterval is how often each device publishes a reported update
	// (DefaultShadowUpdateInterval when 0); the devices are spread evenly
	// over one interval.
	UpdateInterval time.Duration
	// API is Hearth's HTTP API, to which the desired values are PATCHed;
	// its Concurrency bounds the PATCHes in flight (DefaultAPIConcurrency
	// when 0).
	API APIClientConfig
	// DesiredInterval is how often each device's desired value is PATCHed
	// (DefaultShadowDesiredInterval when 0), spread evenly over devices and
	// time; a negative interval sends no PATCHes and needs no API.
	DesiredInterval time.Duration
}

// RoundTrips is what a run measured of one kind of round trip.
type RoundTrips struct {
	// Sent requests; each ends Answered, Failed or Missing.
	Sent uint64
	// Answered requests got the awaited reply; each is a latency sample.
	Answered uint64
	// Failed requests were refused: update/rejected, or an API error.
	Failed uint64
	// Missing requests had no reply by the end of the drain.
	Missing uint64
	// PerSec is Answered per second of the run's Elapsed.
	PerSec float64
	// Quantiles are upper bounds with about 3% resolution.
	P50, P90, P99, Max time.Duration
}

// ShadowLoadResult is what a shadow run measured.
type ShadowLoadResult struct {
	// Connected is how many devices connected and subscribed;
	// ConnectFailed how many did not; Dropped how many lost their
	// connection before the run ended.
	Connected, ConnectFailed, Dropped int
	ConnectTime                       time.Duration
	// Elapsed runs from the start of sending to the stop of sending or the
	// last reply, whichever came later.
	Elapsed time.Duration
	// Updates: a device publishes a reported update with a clientToken →
	// it receives the update/accepted carrying that token.
	Updates RoundTrips
	// Desired: the API client sends a PATCH of a desired value → the
	// device receives the update/delta carrying that value.
	Desired RoundTrips
	// OtherDeltas are deltas no PATCH of this run explains, such as a
	// delta left pending by an earlier run, sent when a device subscribes.
	OtherDeltas uint64
	// FirstError says why the first request failed, if one did.
	FirstError string `json:",omitempty"`
}

// RunShadowLoad connects every device, subscribes it to its classic
// shadow's update/accepted, update/rejected and update/delta topics, and
// for cfg.Duration lets each device publish a reported update every
// UpdateInterval while an API client PATCHes each device's desired value
// every DesiredInterval. It measures two round trips on loopback: update →
// accepted, matched by clientToken, and PATCH → delta, matched by the
// desired value, which is unique in the run and differs from the values
// of earlier runs. Each device reports the last desired value it received,
// as a device that applies its settings does, so every delta clears.
//
// After Duration it waits up to DrainTimeout for the outstanding replies
// and disconnects. Devices that fail to connect are counted, not fatal; a
// lost connection is counted as dropped and not reconnected. When ctx is
// cancelled the run stops early and returns what it measured together with
// ctx's error. A nil logger logs nothing.
func RunShadowLoad(ctx context.Context, cfg ShadowLoadConfig, logger *slog.Logger) (ShadowLoadResult, error) {
	conn, cfg, err := cfg.withDefaults()
	if err != nil {
		return ShadowLoadResult{}, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &shadowRun{cfg: cfg, runClock: newRunClock()}
	// Seconds of the clock, modulo 10^6, times 10^6: a run PATCHes far
	// fewer than 10^6 values a second, so a later run, which starts at
	// least the earlier one's duration later, never sends one of its
	// values, and a PATCH never repeats the desired value a run left.
	r.valueBase = time.Now().Unix() % 1_000_000 * 1_000_000

	fd := fleetDial{cfg: conn, readBuf: shadowReadBuffer, maxBody: shadowMaxBody}
	devices, failed, took, err := connectFleet(ctx, fd, r.epoch, logger, r.open)
	r.connectFailed, r.connectTime = failed, took
	if err != nil {
		r.finishAll(devices)
		return r.result(nil), err
	}
	logger.Info("devices connected", "connected", len(devices), "failed", failed, "connect_time", took)

	apiCtx, cancelAPI := context.WithCancel(ctx)
	defer cancelAPI()
	wait := r.launch(len(devices), func(i int) {
		devices[i].updateLoop(r, offset(cfg.UpdateInterval, i, len(devices)))
	})
	desiredDone := make(chan struct{})
	go func() {
		defer close(desiredDone)
		if cfg.DesiredInterval > 0 {
			r.desiredLoop(apiCtx, devices)
		}
	}()
	release := r.supervise(ctx, cfg.Duration, cfg.DrainTimeout, cfg.Progress, func(elapsed time.Duration) {
		var sent, accepted, deltas uint64
		for _, d := range devices {
			sent += d.sent.Load()
			accepted += d.accepted.Load()
			deltas += d.deltas.Load()
		}
		logger.Info("shadow load progress", "elapsed", elapsed, "updates_sent", sent, "updates_accepted", accepted,
			"patches_sent", r.patchesSent.Load(), "deltas", deltas)
	})
	// PATCHes end when the drain ends, so that a hung request cannot
	// outlive the run.
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-r.drain:
		case <-finished:
		}
		cancelAPI()
	}()
	wait()
	<-desiredDone
	r.awaitReplies(devices)
	release()
	r.finishAll(devices)
	res := r.result(devices)
	if res.Dropped > 0 {
		logger.Warn("connections lost during the run", "dropped", res.Dropped, "first_error", r.firstDrop(devices))
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("shadow load run stopped early: %w", err)
	}
	return res, nil
}

// withDefaults checks the configuration and fills in defaults; the
// connection settings go through LoadConfig's rules, and come back also as
// the LoadConfig that connectFleet takes.
func (c ShadowLoadConfig) withDefaults() (LoadConfig, ShadowLoadConfig, error) {
	conn, err := LoadConfig{
		Broker: c.Broker, TLS: c.TLS, Devices: c.Devices, Duration: c.Duration,
		ConnectConcurrency: c.ConnectConcurrency, KeepAlive: c.KeepAlive,
		ConnectTimeout: c.ConnectTimeout, DrainTimeout: c.DrainTimeout, Progress: c.Progress,
	}.withDefaults()
	if err != nil {
		return conn, c, fmt.Errorf("shadow %w", err)
	}
	c.ConnectConcurrency, c.KeepAlive = conn.ConnectConcurrency, conn.KeepAlive
	c.ConnectTimeout, c.DrainTimeout = conn.ConnectTimeout, conn.DrainTimeout
	if c.UpdateInterval < 0 {
		return conn, c, fmt.Errorf("shadow load config: update interval %v must be >= 0", c.UpdateInterval)
	}
	if c.UpdateInterval == 0 {
		c.UpdateInterval = DefaultShadowUpdateInterval
	}
	if c.DesiredInterval == 0 {
		c.DesiredInterval = DefaultShadowDesiredInterval
	}
	if c.DesiredInterval > 0 && c.API.BaseURL == "" {
		return conn, c, fmt.Errorf("shadow load config: no API base URL to PATCH desired values to (a negative desired interval sends none)")
	}
	if c.API.Concurrency < 0 {
		return conn, c, fmt.Errorf("shadow load config: API concurrency %d must be >= 0", c.API.Concurrency)
	}
	if c.API.Concurrency == 0 {
		c.API.Concurrency = DefaultAPIConcurrency
	}
	return conn, c, nil
}

// shadowRun is the shared state of one RunShadowLoad call.
type shadowRun struct {
	runClock
	cfg       ShadowLoadConfig
	valueBase int64

	connectFailed int
	connectTime   time.Duration

	patchesSent, patchesFailed atomic.Uint64
	errOnce                    sync.Once
	firstErr                   string
}

// fail notes the first failed request of the run.
func (r *shadowRun) fail(msg string) {
	r.errOnce.Do(func() { r.firstErr = msg })
}

// open subscribes device i's session to its replies and starts its reader.
// The delta topic comes last in the SUBSCRIBE: Hearth sends a pending delta
// right after the SUBACK, which the reader then takes like any other.
func (r *shadowRun) open(ctx context.Context, i int, s *session) (*shadowDevice, error) {
	name := r.cfg.Devices[i].Name
	base := protocol.ShadowTopic(name, "") + "/" + protocol.ShadowUpdate
	d := &shadowDevice{
		name:          name,
		s:             s,
		update:        base,
		acceptedTopic: []byte(base + "/accepted"),
		rejectedTopic: []byte(base + "/rejected"),
		deltaTopic:    []byte(base + "/delta"),
		ids:           make(chan uint16, shadowInflight),
		inFlight:      make([]atomic.Bool, shadowInflight+1),
		updates:       make(map[uint64]int64),
		desired:       make(map[int64]int64),
		readerDone:    make(chan struct{}),
	}
	for id := 1; id <= shadowInflight; id++ {
		d.ids <- uint16(id)
	}
	if err := subscribe(ctx, s, 1, r.cfg.ConnectTimeout, string(d.acceptedTopic), string(d.rejectedTopic), string(d.deltaTopic)); err != nil {
		return nil, fmt.Errorf("device %q: %w", name, err)
	}
	go d.readLoop(r)
	return d, nil
}

// desiredLoop PATCHes desired values until sending stops: request k goes
// to device k mod n at k × DesiredInterval/n after the start, with a value
// of its own. Requests are handed to API.Concurrency workers, so that a slow
// answer delays neither the schedule nor the other requests; when all
// workers are busy the schedule waits, and the round trip is timed from
// the moment a request is really sent.
func (r *shadowRun) desiredLoop(ctx context.Context, devices []*shadowDevice) {
	hc := r.cfg.API.client()
	defer hc.CloseIdleConnections()
	type job struct {
		d     *shadowDevice
		value int64
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range r.cfg.API.Concurrency {
		wg.Go(func() {
			for j := range jobs {
				r.patch(ctx, hc, j.d, j.value)
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)
	step := r.cfg.DesiredInterval / time.Duration(len(devices))
	begin := r.epoch.Add(r.start)
	timer := idleTimer()
	defer timer.Stop()
	for k := int64(0); ; k++ {
		if r.waitUntil(timer, begin.Add(time.Duration(k)*step), nil) != waitedDue {
			return
		}
		j := job{d: devices[k%int64(len(devices))], value: r.valueBase + k + 1}
		select {
		case jobs <- j:
		case <-r.stop:
			return
		}
	}
}

// patchBody is the PATCH of one desired value. Its clientToken lets a
// device tell the accepted message of this update from its own.
type patchBody struct {
	State struct {
		Desired map[string]int64 `json:"desired"`
	} `json:"state"`
	ClientToken string `json:"clientToken"`
}

// patch sets device d's desired value through the API; the round trip ends
// when d receives the delta carrying value.
func (r *shadowRun) patch(ctx context.Context, hc *http.Client, d *shadowDevice, value int64) {
	var body patchBody
	body.State.Desired = map[string]int64{desiredKey: value}
	body.ClientToken = string(tokenDesired) + strconv.FormatInt(value, 10)
	d.mu.Lock()
	d.desired[value] = d.s.now()
	d.mu.Unlock()
	r.patchesSent.Add(1)
	_, err := r.cfg.API.do(ctx, hc, http.MethodPatch, "/api/v1/devices/"+url.PathEscape(d.name)+"/shadow", body, nil, http.StatusOK)
	if err == nil {
		return
	}
	// The update may have been stored before the error, and its delta
	// counted already; a failed PATCH is counted as failed either way.
	d.mu.Lock()
	delete(d.desired, value)
	d.mu.Unlock()
	r.patchesFailed.Add(1)
	r.fail(fmt.Sprintf("PATCH desired %d of %s: %v", value, d.name, err))
}

// awaitReplies waits until no device waits for a reply, or the drain ends.
func (r *shadowRun) awaitReplies(devices []*shadowDevice) {
	t := time.NewTicker(replyPoll)
	defer t.Stop()
	for {
		outstanding := 0
		for _, d := range devices {
			d.mu.Lock()
			outstanding += len(d.updates) + len(d.desired)
			d.mu.Unlock()
		}
		if outstanding == 0 {
			return
		}
		select {
		case <-t.C:
		case <-r.drain:
			return
		}
	}
}

// finishAll disconnects every device and waits for its reader, noting the
// devices whose connection was lost before.
func (r *shadowRun) finishAll(devices []*shadowDevice) {
	for _, d := range devices {
		select {
		case <-d.readerDone:
			d.dropped = true
			d.s.close(nil)
			d.dropErr = d.s.reason()
			if d.dropErr == nil {
				d.dropErr = d.readErr
			}
		default:
			d.s.disconnect()
			<-d.readerDone
		}
	}
}

func (r *shadowRun) firstDrop(devices []*shadowDevice) error {
	for _, d := range devices {
		if d.dropped {
			return fmt.Errorf("device %q: %w", d.name, d.dropErr)
		}
	}
	return nil
}

func (r *shadowRun) result(devices []*shadowDevice) ShadowLoadResult {
	res := ShadowLoadResult{
		Connected:     len(devices),
		ConnectFailed: r.connectFailed,
		ConnectTime:   r.connectTime,
		FirstError:    r.firstErr,
	}
	var upd, des histogram
	last := r.stopped
	for _, d := range devices {
		if d.dropped {
			res.Dropped++
		}
		res.Updates.Sent += d.sent.Load()
		res.Updates.Failed += d.rejected
		res.Updates.Missing += uint64(len(d.updates))
		res.Desired.Missing += uint64(len(d.desired))
		res.OtherDeltas += d.otherDeltas
		upd.merge(&d.updHist)
		des.merge(&d.desHist)
		last = max(last, d.lastReply)
	}
	res.Desired.Sent = r.patchesSent.Load()
	res.Desired.Failed = r.patchesFailed.Load()
	if len(devices) > 0 {
		res.Elapsed = last - r.start
	}
	res.Updates.summarize(&upd, res.Elapsed)
	res.Desired.summarize(&des, res.Elapsed)
	return res
}

// summarize fills in the latencies and the rate of h.
func (rt *RoundTrips) summarize(h *histogram, elapsed time.Duration) {
	rt.Answered = h.total
	if elapsed > 0 {
		rt.PerSec = float64(h.total) / elapsed.Seconds()
	}
	rt.P50 = h.quantile(0.50)
	rt.P90 = h.quantile(0.90)
	rt.P99 = h.quantile(0.99)
	rt.Max = time.Duration(h.max)
}

// shadowDevice is one connected simulated device. Its updateLoop goroutine
// publishes; its readLoop goroutine reads PUBACKs, accepted, rejected and
// delta messages; the API workers register the values they PATCH.
type shadowDevice struct {
	name   string
	s      *session
	update string // the update request topic
	// The reply topics, compared with the topic of what arrives.
	acceptedTopic, rejectedTopic, deltaTopic []byte
	pbuf                                     []byte
	// ids holds the packet ids not in flight; inFlight[id] is true while
	// the PUBLISH with that id awaits its PUBACK.
	ids      chan uint16
	inFlight []atomic.Bool

	sent, accepted, deltas atomic.Uint64 // read by progress lines

	mu sync.Mutex
	// updates maps the sequence number of each update awaiting its reply
	// to when it was sent, desired each PATCHed value awaiting its delta
	// to when the PATCH was sent, both in nanoseconds since the epoch.
	updates map[uint64]int64
	desired map[int64]int64
	// reported is the desired value last received, as JSON, reported back
	// with every update; nil before the first delta.
	reported []byte

	// Owned by readLoop until readerDone is closed.
	updHist, desHist histogram
	rejected         uint64
	otherDeltas      uint64
	lastReply        time.Duration
	readErr          error
	readerDone       chan struct{}

	// Set by finishAll.
	dropped bool
	dropErr error
}

// updateLoop publishes a reported update every UpdateInterval until the run
// stops. Update k is due at offset + k × UpdateInterval after the start; a
// device that fell behind sends what is due at once, as publishLoop does.
// It reports a sequence number and the desired value it last received,
// under a clientToken that names the sequence number.
func (d *shadowDevice) updateLoop(r *shadowRun, offset time.Duration) {
	begin := r.epoch.Add(r.start + offset)
	timer := idleTimer()
	defer timer.Stop()
	for k := uint64(0); ; k++ {
		if r.waitUntil(timer, begin.Add(time.Duration(k)*r.cfg.UpdateInterval), d.readerDone) != waitedDue {
			return
		}
		id, w := r.takeID(d.ids, d.readerDone)
		if w != waitedDue {
			return
		}
		seq := k + 1
		d.mu.Lock()
		d.pbuf = appendReport(d.pbuf[:0], d.reported, seq)
		d.updates[seq] = d.s.now()
		d.mu.Unlock()
		d.inFlight[id].Store(true)
		d.sent.Add(1)
		err := d.s.write(func(b []byte) []byte { return appendPublish(b, d.update, d.pbuf, 1, id) })
		if err != nil {
			d.s.close(fmt.Errorf("publish shadow update: %w", err))
			return
		}
	}
}

// appendReport appends the update request of sequence number seq:
// {"state":{"reported":{"setpoint":V,"seq":N}},"clientToken":"uN"}, without
// setpoint while the device has received no desired value.
func appendReport(b, reported []byte, seq uint64) []byte {
	b = append(b, `{"state":{"reported":{`...)
	if reported != nil {
		b = append(b, `"`+desiredKey+`":`...)
		b = append(b, reported...)
		b = append(b, ',')
	}
	b = append(b, `"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `}},"clientToken":"`...)
	b = append(b, tokenUpdate)
	b = strconv.AppendUint(b, seq, 10)
	return append(b, `"}`...)
}

// shadowReply holds the fields of accepted, rejected and delta messages
// that the run uses. A delta's state is the delta itself, so State.Setpoint
// is the desired value it carries; in an accepted message it is absent.
type shadowReply struct {
	ClientToken string `json:"clientToken"`
	Code        int    `json:"code"`
	Message     string `json:"message"`
	State       struct {
		Setpoint json.RawMessage `json:"setpoint"`
	} `json:"state"`
}

// readLoop handles what the broker sends until the connection ends.
func (d *shadowDevice) readLoop(r *shadowRun) {
	defer close(d.readerDone)
	for {
		p, err := d.s.read()
		if err != nil {
			d.readErr = err
			return
		}
		switch p.kind {
		case packetPuback:
			if int(p.id) >= len(d.inFlight) || !d.inFlight[p.id].Swap(false) {
				d.fail(fmt.Errorf("PUBACK for packet id %d, not in flight", p.id))
				return
			}
			d.ids <- p.id
		case packetPublish:
			if err := d.handle(r, p.topic, p.payload); err != nil {
				d.fail(err)
				return
			}
			if err := d.s.acknowledge(p); err != nil {
				d.fail(err)
				return
			}
		case packetPingresp:
		default:
			d.fail(fmt.Errorf("unexpected packet type %d from broker", p.kind))
			return
		}
	}
}

// handle takes one reply: it ends the round trip the reply answers, and a
// delta's value becomes what the device reports next. A reply the device
// cannot read ends the run for it, as it would for a real device.
func (d *shadowDevice) handle(r *shadowRun, topic, payload []byte) error {
	now := d.s.now()
	var msg shadowReply
	if err := json.Unmarshal(payload, &msg); err != nil {
		return fmt.Errorf("cannot parse message on %s: %w", topic, err)
	}
	switch {
	case bytes.Equal(topic, d.acceptedTopic), bytes.Equal(topic, d.rejectedTopic):
		seq, ok := parseToken(msg.ClientToken, tokenUpdate)
		if !ok {
			// The accepted message of an API update, or a reply to
			// an update of an earlier run.
			return nil
		}
		d.mu.Lock()
		at, ok := d.updates[seq]
		delete(d.updates, seq)
		d.mu.Unlock()
		if !ok {
			return nil
		}
		d.lastReply = time.Duration(now)
		if bytes.Equal(topic, d.rejectedTopic) {
			d.rejected++
			r.fail(fmt.Sprintf("update %d of %s rejected: %d %s", seq, d.name, msg.Code, msg.Message))
			return nil
		}
		d.updHist.record(now - at)
		d.accepted.Add(1)
	case bytes.Equal(topic, d.deltaTopic):
		if len(msg.State.Setpoint) == 0 {
			d.otherDeltas++
			return nil
		}
		value, err := strconv.ParseInt(string(msg.State.Setpoint), 10, 64)
		d.mu.Lock()
		d.reported = msg.State.Setpoint
		at, ok := d.desired[value]
		if ok && err == nil {
			delete(d.desired, value)
		}
		d.mu.Unlock()
		d.deltas.Add(1)
		if !ok || err != nil {
			d.otherDeltas++
			return nil
		}
		d.lastReply = time.Duration(now)
		d.desHist.record(now - at)
	}
	return nil
}

// parseToken returns the number of a clientToken made of prefix and a
// decimal number.
func parseToken(token string, prefix byte) (uint64, bool) {
	if len(token) < 2 || token[0] != prefix {
		return 0, false
	}
	n, err := strconv.ParseUint(token[1:], 10, 64)
	return n, err == nil
}

func (d *shadowDevice) fail(err error) {
	d.readErr = err
	d.s.close(err)
}
