package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/internal/loglimit"
	"github.com/hearthiot/hearth/protocol"
)

// Ingester stores telemetry as the embedded broker's path does;
// *device.Telemetry implements it.
type Ingester interface {
	Accept(thing string, payload []byte, now time.Time) (device.Storing, error)
}

// Registry tells whether a device is registered on this box;
// *device.Registry implements it.
type Registry interface {
	Labels(name string) (customer, site string, ok bool)
}

// ShadowService answers a shadow request and publishes its replies itself;
// *device.Shadows implements it.
type ShadowService interface {
	HandleShadowRequest(thing, shadowName, op string, payload []byte)
}

// Presence keeps whether devices are online; *device.Presence implements it.
type Presence interface {
	Connected(name string, session uint64, remote string, protocol byte, at time.Time)
	Disconnected(name string, session uint64, reason string, at time.Time)
	Heard(name string, at time.Time)
}

// RuleRunner runs message rules on a device's message and returns what
// their telemetry actions store; *rules.Engine implements it.
type RuleRunner interface {
	Handle(thing, topic string, payload []byte, now time.Time) ([]device.Storing, error)
}

// Deps are what the client hands messages to.
type Deps struct {
	Ingest   Ingester
	Registry Registry
	Shadows  ShadowService // nil: no shadow requests are answered
	Presence Presence      // nil: no presence is kept
	Rules    RuleRunner    // nil: no message rules
}

// Stats are the client's counters, for /metrics.
type Stats struct {
	Connected        bool
	Connects         uint64 // connections made, the first included
	Messages         uint64 // PUBLISH packets received
	TelemetryStored  uint64 // telemetry messages stored
	SamplesStored    uint64
	TelemetryRefused uint64 // refused by decoding or limits, as on the embedded broker
	UnknownDevice    uint64 // telemetry or shadow requests of devices not registered here
	ShadowRequests   uint64 // shadow requests answered
	ShadowNotOwned   uint64 // shadow requests of registered devices of another partition
	ShadowDropped    uint64 // shadow requests dropped with the queue full
	PresenceEvents   uint64 // lifecycle events applied
	Published        uint64 // messages published upstream (shadow replies, rejections)
	PublishFailed    uint64
}

// Client is Hearth's connection to an upstream broker.
type Client struct {
	cfg    Config
	ep     endpoint
	deps   Deps
	logger *slog.Logger

	cm        *autopaho.ConnectionManager
	incoming  []chan pendingTelemetry // per shard: messages to decode and begin storing
	telemetry []chan pendingTelemetry // per shard: messages being stored, to acknowledge
	shadows   chan pendingShadow
	workers   sync.WaitGroup
	quit      chan struct{} // closed by Stop once the connection is closed
	draining  atomic.Int64  // telemetry messages received and not yet acknowledged
	connected atomic.Bool

	presMu   sync.Mutex
	sessions map[string]presenceSession
	session  uint64

	connects, messages, stored, samples, refused, unknown atomic.Uint64
	shadowDone, notOwned, shadowDropped, presenceEvents   atomic.Uint64
	published, publishFailed                              atomic.Uint64

	errLogs *loglimit.Limiter // see logLimited
}

type pendingTelemetry struct {
	pr      paho.PublishReceived
	thing   string
	at      time.Time
	storing device.Storing // nil: Accept failed for a passing reason, to be retried
}

type pendingShadow struct {
	pr              paho.PublishReceived
	thing, name, op string
}

// presenceSession is the session a device's last connect event opened.
type presenceSession struct {
	id uint64
	at time.Time
}

// sessionBase keeps upstream session numbers apart from the embedded
// broker's, which count from 1 in each process.
const sessionBase = 1 << 62

// shadowQueue bounds the shadow requests waiting to be answered.
const shadowQueue = 1024

// New checks cfg; nothing connects until Start.
func New(cfg Config, deps Deps, logger *slog.Logger) (*Client, error) {
	ep, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	if deps.Ingest == nil || deps.Registry == nil {
		return nil, errors.New("upstream: an ingester and a registry are needed")
	}
	if cfg.Inflight == 0 {
		cfg.Inflight = DefaultInflight
	}
	return &Client{cfg: cfg, ep: ep, deps: deps, logger: logger, sessions: map[string]presenceSession{},
		errLogs: loglimit.New(logger, 1, 30*time.Second, nil)}, nil
}

// Filters are the subscriptions the client makes: telemetry through the
// shared group, shadow requests (when it answers any) and lifecycle
// events on its own.
func (c *Client) Filters() []string {
	f := []string{telemetryFilter(c.cfg.Group)}
	if c.cfg.Shadows.Count > 0 && c.deps.Shadows != nil {
		f = append(f, shadowFilters...)
	}
	if c.deps.Presence != nil {
		f = append(f, awsPresenceFilter, emqxPresenceFilter)
	}
	return f
}

func telemetryFilter(group string) string {
	return "$share/" + group + "/" + protocol.PrefixHearth + "/+/telemetry"
}

// shadowFilters cover the request topics only: replies lie a level deeper.
var shadowFilters = []string{
	protocol.PrefixAWS + "/+/shadow/+",
	protocol.PrefixAWS + "/+/shadow/name/+/+",
}

// Start begins connecting and returns without waiting for the broker: the
// embedded broker's devices are served meanwhile, and the connection is
// retried with a backoff until Stop (Stats().Connected says when it is up).
func (c *Client) Start(ctx context.Context) error {
	c.shadows = make(chan pendingShadow, shadowQueue)
	c.quit = make(chan struct{})
	shards := min(max(runtime.GOMAXPROCS(0), 2), 8)
	for range shards {
		in := make(chan pendingTelemetry, c.cfg.Inflight/shards+1)
		out := make(chan pendingTelemetry, c.cfg.Inflight)
		c.incoming = append(c.incoming, in)
		c.telemetry = append(c.telemetry, out)
		c.workers.Add(2)
		go c.acceptTelemetry(in, out)
		go c.storeTelemetry(out)
	}
	c.workers.Add(1)
	go c.answerShadows()

	inflight := uint16(c.cfg.Inflight)
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{c.ep.url},
		TlsCfg:                        c.cfg.TLS,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         0,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(250*time.Millisecond, 30*time.Second, 2*time.Second, 2),
		ConnectTimeout:                10 * time.Second,
		ConnectUsername:               c.ep.username,
		ConnectPassword:               []byte(c.ep.password),
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if cp.Properties == nil {
				cp.Properties = &paho.ConnectProperties{}
			}
			cp.Properties.ReceiveMaximum = &inflight
			return cp, nil
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			c.connects.Add(1)
			go c.subscribe(cm)
		},
		OnConnectionDown: func() bool {
			if c.connected.Swap(false) {
				c.logger.Warn("mqtt upstream connection lost; reconnecting", "broker", c.ep.url.Host)
			}
			return true
		},
		OnConnectError: func(err error) {
			c.logLimited("mqtt upstream connect failed; retrying", "broker", c.ep.url.Host, "error", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID:                   c.cfg.ClientID,
			EnableManualAcknowledgment: true,
			OnPublishReceived:          []func(paho.PublishReceived) (bool, error){c.received},
			OnClientError: func(err error) {
				c.logLimited("mqtt upstream client error", "broker", c.ep.url.Host, "error", err)
			},
		},
	}
	cm, err := autopaho.NewConnection(context.WithoutCancel(ctx), cfg)
	if err != nil {
		close(c.quit)
		c.workers.Wait()
		return fmt.Errorf("mqtt upstream %s: %w", c.ep.url.Host, err)
	}
	c.cm = cm
	return nil
}

// subscribe makes the subscriptions on a new connection: the session
// starts clean each time, so none is left from the last. A subscription
// that fails is tried again every resubscribeEvery while the connection
// lasts; a refused telemetry filter (the broker's ACL) leaves the client
// not connected, as /metrics shows, and says so in the log.
func (c *Client) subscribe(cm *autopaho.ConnectionManager) {
	var subs []paho.SubscribeOptions
	for _, f := range c.Filters() {
		// NoLocal keeps Hearth's own replies from coming back; a shared
		// subscription must not set it (MQTT 5 section 3.8.3.1).
		subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: 1, NoLocal: f != telemetryFilter(c.cfg.Group)})
	}
	var ack *paho.Suback
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var err error
		ack, err = cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
		cancel()
		if err == nil {
			break
		}
		if errors.Is(err, autopaho.ConnectionDownError) {
			return // the next connection subscribes
		}
		c.logLimited("mqtt upstream subscribe failed; retrying", "broker", c.ep.url.Host, "error", err)
		select {
		case <-c.quit:
			return
		case <-time.After(resubscribeEvery):
		}
	}
	telemetryOK := true
	for i, code := range ack.Reasons {
		if code >= 0x80 && i < len(subs) {
			// A broker may refuse the $SYS or $aws filters: telemetry is
			// what matters, shadows next.
			c.logger.Warn("mqtt upstream subscription refused", "broker", c.ep.url.Host, "filter", subs[i].Topic, "reason_code", code)
			telemetryOK = telemetryOK && i != 0
		}
	}
	if !telemetryOK {
		c.logger.Error("mqtt upstream refuses the shared telemetry subscription; no telemetry is taken from it", "broker", c.ep.url.Host, "group", c.cfg.Group)
		return
	}
	c.connected.Store(true)
	c.logger.Info("mqtt upstream connected", "broker", c.ep.url.Host, "client_id", c.cfg.ClientID,
		"group", c.cfg.Group, "shadows", c.cfg.Shadows.String())
}

// resubscribeEvery spaces the attempts of a subscription that failed.
const resubscribeEvery = 5 * time.Second

// received routes one message; paho calls it in order, on one goroutine.
// Every QoS 1 message is acknowledged exactly once (paho sends the acks in
// the order the messages came, so one held back holds back the rest).
func (c *Client) received(pr paho.PublishReceived) (bool, error) {
	c.messages.Add(1)
	p := pr.Packet
	now := time.Now()
	if t, ok := protocol.ParseTopic(p.Topic); ok && t.Prefix == protocol.PrefixHearth && t.Rest == "telemetry" {
		c.telemetryReceived(pr, t.Thing, now)
		return true, nil
	}
	if thing, name, op, ok := shadow.ParseTopic(p.Topic); ok {
		c.shadowReceived(pr, thing, name, op)
		return true, nil
	}
	if ev, ok := parseLifecycle(p.Topic, p.Payload); ok {
		c.lifecycle(ev, now)
	}
	ack(pr)
	return true, nil
}

func ack(pr paho.PublishReceived) {
	// A connection that ended meanwhile takes no acknowledgement; the
	// broker sends the message again or to another member of the group.
	_ = pr.Client.Ack(pr.Packet)
}

// telemetryReceived hands one telemetry message to its device's shard:
// the shards decode and store on as many goroutines as there are cores,
// while each device's messages stay in order on one of them. With a
// shard's queue full the next message waits, and with Inflight messages
// not yet acknowledged the upstream broker holds its messages back.
func (c *Client) telemetryReceived(pr paho.PublishReceived, thing string, now time.Time) {
	c.draining.Add(1)
	h := fnv.New32a()
	_, _ = h.Write([]byte(thing))
	select {
	case c.incoming[h.Sum32()%uint32(len(c.incoming))] <- pendingTelemetry{pr: pr, thing: thing, at: now}:
	case <-c.quit:
		// Stopping: not acknowledged, so the broker sends it again or to
		// another member of the group.
		c.draining.Add(-1)
	}
}

// acceptTelemetry decodes a shard's messages and begins storing them, as
// the embedded broker does on each connection's goroutine, and queues them
// to be acknowledged once stored.
func (c *Client) acceptTelemetry(in, out chan pendingTelemetry) {
	defer c.workers.Done()
	for {
		var m pendingTelemetry
		select {
		case m = <-in:
		case <-c.quit:
			return
		}
		if _, _, ok := c.deps.Registry.Labels(m.thing); !ok {
			c.unknown.Add(1)
			ack(m.pr)
			c.draining.Add(-1)
			continue
		}
		if c.deps.Presence != nil {
			c.deps.Presence.Heard(m.thing, m.at)
		}
		st, err := c.deps.Ingest.Accept(m.thing, m.pr.Packet.Payload, m.at)
		if err != nil && !passing(err) {
			c.refusedTelemetry(m.thing, err, m.at)
			ack(m.pr)
			c.draining.Add(-1)
			continue
		}
		if st != nil && c.deps.Rules != nil {
			// As on the embedded broker: what rules make of telemetry is
			// stored with it; their failures are theirs, counted on the
			// rule.
			if extra, _ := c.deps.Rules.Handle(m.thing, m.pr.Packet.Topic, m.pr.Packet.Payload, m.at); len(extra) > 0 {
				st = withRules{main: st, extra: extra}
			}
		}
		m.storing = st
		select {
		case out <- m:
		case <-c.quit:
			c.draining.Add(-1)
			return
		}
	}
}

// withRules is a message stored with what its rules store.
type withRules struct {
	main  device.Storing
	extra []device.Storing
}

// Wait waits for the rules' readings, then returns the message's own
// result: a rule's failure does not refuse the message.
func (w withRules) Wait() (int, error) {
	for _, s := range w.extra {
		_, _ = s.Wait()
	}
	return w.main.Wait()
}

// passing reports whether storing failed for a reason that passes (the
// disk, the store): the message is tried again rather than dropped.
func passing(err error) bool {
	var te *device.TelemetryError
	return errors.As(err, &te) && (te.Code == device.CodeInternal || te.Code == device.CodeStorageFull)
}

// retryFor bounds how long one message is tried again while storing
// fails; the queue behind it, and the upstream broker, wait meanwhile.
const retryFor = time.Minute

// storeTelemetry waits for each queued message to be stored, in order, and
// acknowledges it. A message whose storing failed for a passing reason is
// tried again for up to retryFor: the upstream broker cannot be told "not
// now" as a device of the embedded broker is, by withholding the PUBACK,
// without holding back every later acknowledgement of the connection.
func (c *Client) storeTelemetry(in chan pendingTelemetry) {
	defer c.workers.Done()
	for {
		var m pendingTelemetry
		select {
		case m = <-in:
		case <-c.quit:
			return
		}
		deadline := time.Now().Add(retryFor)
		for {
			var n int
			err := errors.New("not accepted")
			if m.storing != nil {
				n, err = m.storing.Wait()
			}
			if err == nil {
				c.stored.Add(1)
				c.samples.Add(uint64(n))
				break
			}
			if (m.storing != nil && !passing(err)) || time.Now().After(deadline) {
				c.refusedTelemetry(m.thing, err, m.at)
				break
			}
			select {
			case <-time.After(time.Second):
			case <-c.quit:
				// Stopping: left unacknowledged, the broker hands the
				// message to the group again.
				c.draining.Add(-1)
				return
			}
			m.storing, err = c.deps.Ingest.Accept(m.thing, m.pr.Packet.Payload, m.at)
			if err != nil && !passing(err) {
				c.refusedTelemetry(m.thing, err, m.at)
				break
			}
		}
		ack(m.pr)
		c.draining.Add(-1)
	}
}

// rejection is what a device is told on …/telemetry/rejected, as by the
// embedded broker.
type rejection struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Timestamp int64  `json:"timestamp"`
}

// refusedTelemetry counts a refused message and tells its device why,
// through the upstream broker, at QoS 0: a QoS 1 publish would wait for an
// acknowledgement read by the goroutine that may be waiting for this one.
func (c *Client) refusedTelemetry(thing string, err error, now time.Time) {
	c.refused.Add(1)
	var te *device.TelemetryError
	if !errors.As(err, &te) {
		te = &device.TelemetryError{Code: device.CodeInternal, Message: "the readings could not be stored; send the message again later"}
	}
	if te.Code == device.CodeInternal {
		c.logLimited("mqtt upstream telemetry not stored", "device", thing, "error", err)
	}
	payload, _ := json.Marshal(rejection{Code: te.Code, Message: te.Message, Timestamp: now.UnixMilli()})
	_ = c.publish(device.TelemetryRejectedTopic(thing), payload, 0)
}

// Owns reports whether this box answers thing's shadow requests upstream:
// it is registered here and in the box's partition.
func (c *Client) Owns(thing string) bool {
	if c.deps.Shadows == nil || !c.cfg.Shadows.Has(thing) {
		return false
	}
	_, _, ok := c.deps.Registry.Labels(thing)
	return ok
}

// shadowReceived queues a shadow request of a device this box owns; the
// others are left to the box that owns them. Requests are answered on
// their own goroutine, since answering publishes and waits for the
// upstream broker's acknowledgement, which this goroutine must go on
// reading.
func (c *Client) shadowReceived(pr paho.PublishReceived, thing, name, op string) {
	switch {
	case c.Owns(thing):
	case !c.registered(thing):
		c.unknown.Add(1)
		ack(pr)
		return
	default:
		c.notOwned.Add(1)
		ack(pr)
		return
	}
	if c.deps.Presence != nil {
		c.deps.Presence.Heard(thing, time.Now())
	}
	select {
	case c.shadows <- pendingShadow{pr: pr, thing: thing, name: name, op: op}:
	case <-c.quit:
	default:
		c.shadowDropped.Add(1)
		c.logLimited("mqtt upstream shadow request dropped: too many waiting", "device", thing, "waiting", shadowQueue)
		ack(pr)
	}
}

func (c *Client) registered(thing string) bool {
	_, _, ok := c.deps.Registry.Labels(thing)
	return ok
}

func (c *Client) answerShadows() {
	defer c.workers.Done()
	for {
		var r pendingShadow
		select {
		case r = <-c.shadows:
		case <-c.quit:
			return
		}
		c.deps.Shadows.HandleShadowRequest(r.thing, r.name, r.op, r.pr.Packet.Payload)
		c.shadowDone.Add(1)
		ack(r.pr)
	}
}

// lifecycle applies a connect or disconnect of a registered device. The
// events of a broker cluster's nodes may arrive out of order: a disconnect
// that happened before the device's last connect is ignored.
func (c *Client) lifecycle(ev lifecycle, now time.Time) {
	if c.deps.Presence == nil || !c.registered(ev.thing) {
		return
	}
	at := ev.at
	if at.IsZero() || at.After(now) {
		at = now
	}
	c.presMu.Lock()
	defer c.presMu.Unlock()
	cur := c.sessions[ev.thing]
	if ev.connected {
		if at.Before(cur.at) {
			return
		}
		c.session++
		cur = presenceSession{id: sessionBase + c.session, at: at}
		c.sessions[ev.thing] = cur
		c.deps.Presence.Connected(ev.thing, cur.id, ev.remote, ev.protocol, at)
	} else {
		if cur.id == 0 || at.Before(cur.at) {
			return
		}
		reason := ev.reason
		if reason == "" {
			reason = "upstream_disconnected"
		}
		c.deps.Presence.Disconnected(ev.thing, cur.id, reason, at)
	}
	c.presenceEvents.Add(1)
}

// Publish sends a message from Hearth to the upstream broker: a shadow
// reply or delta for a device connected there. It fails at once while the
// connection is down; the device asks again (shadow get) when it is back.
func (c *Client) Publish(topic string, payload []byte, qos byte) error {
	return c.publish(topic, payload, qos)
}

func (c *Client) publish(topic string, payload []byte, qos byte) error {
	if c.cm == nil {
		return errors.New("mqtt upstream not started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: min(qos, 1), Payload: payload})
	if err != nil {
		c.publishFailed.Add(1)
		return fmt.Errorf("publish to %q upstream: %w", topic, err)
	}
	c.published.Add(1)
	return nil
}

// Stop takes no more telemetry, waits for what it took to be stored and
// acknowledged (bounded by ctx), and disconnects: a box that stops leaves
// its share of the group's messages to the others, and none it was given
// unstored.
func (c *Client) Stop(ctx context.Context) error {
	if c.cm == nil {
		return nil
	}
	var errs []error
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if _, err := c.cm.Unsubscribe(uctx, &paho.Unsubscribe{Topics: []string{telemetryFilter(c.cfg.Group)}}); err != nil && !errors.Is(err, autopaho.ConnectionDownError) {
		errs = append(errs, fmt.Errorf("unsubscribe from the shared group: %w", err))
	}
	cancel()
	if err := c.waitDrained(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := c.cm.Disconnect(ctx); err != nil {
		errs = append(errs, fmt.Errorf("disconnect: %w", err))
	}
	c.connected.Store(false)
	close(c.quit)
	c.workers.Wait()
	return errors.Join(errs...)
}

// waitDrained returns once every telemetry message taken is acknowledged.
func (c *Client) waitDrained(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for c.draining.Load() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("%d telemetry messages not acknowledged upstream: %w", c.draining.Load(), ctx.Err())
		}
	}
	return nil
}

// Stats reads the counters.
func (c *Client) Stats() Stats {
	return Stats{
		Connected: c.connected.Load(), Connects: c.connects.Load(), Messages: c.messages.Load(),
		TelemetryStored: c.stored.Load(), SamplesStored: c.samples.Load(), TelemetryRefused: c.refused.Load(),
		UnknownDevice: c.unknown.Load(), ShadowRequests: c.shadowDone.Load(), ShadowNotOwned: c.notOwned.Load(),
		ShadowDropped: c.shadowDropped.Load(), PresenceEvents: c.presenceEvents.Load(),
		Published: c.published.Load(), PublishFailed: c.publishFailed.Load(),
	}
}

// logLimited logs an error that can repeat every second (a broker that is
// down) once every 30 s for each message, and how many it held back.
func (c *Client) logLimited(msg string, attrs ...any) {
	c.errLogs.Log(context.Background(), slog.LevelWarn, msg, attrs...)
}
