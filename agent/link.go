package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/hearthiot/hearth/protocol"
)

const (
	// defaultMaxPacket is assumed when Hearth's CONNACK names no maximum
	// packet size: Hearth's default payload limit.
	defaultMaxPacket = 128 << 10
	// serverHeadroom is the least that Hearth's maximum packet size keeps
	// for what a PUBLISH carries besides the payload; the payload of a
	// message is kept below the maximum by this, or by an eighth of the
	// maximum when that is more.
	serverHeadroom = 8 << 10
	// packetTimeout bounds the wait for a PUBACK or SUBACK.
	packetTimeout = 30 * time.Second
	// retryAfterRefusal is the longest wait before sending samples again
	// that Hearth could not store for now.
	retryAfterRefusal = time.Minute
	// rejectedEventEvery bounds how often samples refused for good raise an
	// event; the counter metric counts every one.
	rejectedEventEvery = 10 * time.Minute
	// refusedLogEvery bounds how often device events Hearth refused are
	// logged; the counter metric counts every one.
	refusedLogEvery = time.Minute
)

// MQTT 5 reason codes the agent tells apart.
const (
	reasonQuotaExceeded        = 0x97
	reasonPayloadFormatInvalid = 0x99
)

// link is the connection to Hearth: it connects and reconnects with
// backoff, subscribes to the shadow, sends the spooled samples in order,
// the reported state and the events, and hands the shadow messages to the
// controller.
type link struct {
	name     string
	cfg      HearthConfig
	tls      *tls.Config // nil for plain MQTT
	username string
	password []byte
	spool    *Spool
	out      *outbox
	inbox    chan<- shadowMsg
	sampled  <-chan struct{}
	logger   *slog.Logger
	batch    int
	counts   *counters
	jobs     *jobsClient

	// current is the session's client while it is up, for the jobs
	// client's requests.
	mu      sync.Mutex
	current *paho.Client

	limit     int // samples per message now; halved when Hearth refuses
	lastEvent time.Time
	since     int // samples refused since the last telemetry_rejected event
	// lastEventRefusedLog and eventsRefusedSince rate-limit the log of
	// device events Hearth refused.
	lastEventRefusedLog time.Time
	eventsRefusedSince  int
	tokens              atomic.Uint64
	connected           atomic.Bool
}

// counters are what the link counts for the samples the controller takes.
type counters struct {
	rejected      atomic.Uint64 // samples Hearth refused for good
	eventsRefused atomic.Uint64 // device events Hearth refused
}

// run keeps a connection to Hearth until ctx ends.
func (l *link) run(ctx context.Context) {
	attempt := 0
	for ctx.Err() == nil {
		up, err := l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if up >= stableAfter {
			attempt = 0
		}
		wait := l.cfg.Reconnect.Delay(attempt, jitter())
		attempt++
		if up > 0 {
			l.logger.Warn("hearth connection lost", "error", err, "connected_for", up.Round(time.Millisecond).String(), "retry_in", wait.Round(time.Millisecond).String())
		} else {
			l.logger.Warn("hearth connection failed", "error", err, "attempt", attempt, "retry_in", wait.Round(time.Millisecond).String())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session is one connection: it returns how long it was up (0 when it
// never was) and why it ended.
func (l *link) session(ctx context.Context) (time.Duration, error) {
	// connect_timeout bounds TCP, TLS and the CONNACK together.
	cctx, cancel := context.WithTimeout(ctx, l.cfg.ConnectTimeout)
	defer cancel()
	conn, err := l.dial(cctx)
	if err != nil {
		return 0, err
	}
	var (
		mu        sync.Mutex
		endReason error // what paho reported: the server's DISCONNECT, or a broken connection
	)
	setEnd := func(err error) {
		mu.Lock()
		if endReason == nil {
			endReason = err
		}
		mu.Unlock()
	}
	c := paho.NewClient(paho.ClientConfig{
		ClientID:          l.name,
		Conn:              packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){l.received},
		OnServerDisconnect: func(d *paho.Disconnect) {
			reason := ""
			if d.Properties != nil {
				reason = d.Properties.ReasonString
			}
			setEnd(fmt.Errorf("hearth closed the connection: reason %#02x %s", d.ReasonCode, reason))
		},
		OnClientError: func(err error) { setEnd(err) },
		PacketTimeout: packetTimeout,
	})
	cp := &paho.Connect{ClientID: l.name, KeepAlive: uint16(l.cfg.KeepAlive / time.Second), CleanStart: true}
	if l.username != "" {
		cp.Username, cp.UsernameFlag = l.username, true
		cp.Password, cp.PasswordFlag = l.password, true
	}
	ack, err := c.Connect(cctx, cp)
	cancel()
	if err != nil {
		conn.Close()
		if ack != nil {
			return 0, fmt.Errorf("hearth refused the connection: %s", connackReason(ack))
		}
		return 0, fmt.Errorf("connect to hearth %s: %w", l.cfg.Address, err)
	}
	start := time.Now()
	maxPacket := defaultMaxPacket
	if ack.Properties != nil && ack.Properties.MaximumPacketSize != nil && *ack.Properties.MaximumPacketSize > 0 {
		maxPacket = int(*ack.Properties.MaximumPacketSize)
	}
	l.connected.Store(true)
	defer l.connected.Store(false)
	l.logger.Info("hearth connected", "address", l.cfg.Address, "max_packet_bytes", maxPacket)

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-c.Done():
			stop()
		case <-sctx.Done():
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	if err := l.subscribe(sctx, c); err != nil {
		errs <- err
	} else {
		jobs := l.subscribeJobs(sctx, c)
		l.mu.Lock()
		l.current = c
		l.mu.Unlock()
		l.jobs.up(jobs)
		defer func() {
			l.jobs.down()
			l.mu.Lock()
			l.current = nil
			l.mu.Unlock()
		}()
		wg.Add(2)
		go func() { defer wg.Done(); errs <- l.sendTelemetry(sctx, c, maxPacket) }()
		go func() { defer wg.Done(); errs <- l.sendOutbox(sctx, c) }()
	}
	select {
	case err = <-errs:
	case <-sctx.Done():
	}
	// The agent ends the session itself when it stops, or for a reason of
	// its own (Hearth refused what it must send). Its reason is then the
	// one: what paho reports after it is only the connection the agent
	// closed ("use of closed network connection", EOF). An error that the
	// connection going away caused leaves the reason to paho's report.
	var lost lostError
	own := ctx.Err() != nil || err != nil && !errors.Is(err, context.Canceled) && !errors.As(err, &lost)
	stop()
	// On a graceful stop this tells Hearth, so that the device shows
	// offline with reason clean; on a broken connection it only closes it.
	_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	wg.Wait()
	<-c.Done()
	mu.Lock()
	defer mu.Unlock()
	if endReason != nil && !own {
		err = endReason
	}
	if err == nil || errors.Is(err, context.Canceled) {
		err = errors.New("connection closed")
	}
	return time.Since(start), err
}

// lostError marks an error that the connection going away caused (a
// publish that got no PUBACK): paho's own report of why it went away says
// more, and wins over it.
type lostError struct{ err error }

func (e lostError) Error() string { return e.err.Error() }
func (e lostError) Unwrap() error { return e.err }

// dial opens the connection to Hearth, TLS included, within ctx.
func (l *link) dial(ctx context.Context) (net.Conn, error) {
	nd := &net.Dialer{KeepAlive: 30 * time.Second}
	if l.tls == nil {
		conn, err := nd.DialContext(ctx, "tcp", l.cfg.Address)
		if err != nil {
			return nil, fmt.Errorf("dial hearth %s: %w", l.cfg.Address, err)
		}
		return conn, nil
	}
	d := &tls.Dialer{NetDialer: nd, Config: l.tls}
	conn, err := d.DialContext(ctx, "tcp", l.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("dial hearth %s over TLS: %w", l.cfg.Address, err)
	}
	return conn, nil
}

func connackReason(ack *paho.Connack) string {
	text := map[byte]string{
		0x80: "unspecified error", 0x84: "unsupported protocol version", 0x85: "client identifier not valid",
		0x86: "bad user name or password: the device or its secret is not known", 0x87: "not authorized: the credential is revoked, or not this device's",
		0x89: "server busy", 0x8A: "banned", 0x8C: "bad authentication method",
	}[ack.ReasonCode]
	if ack.Properties != nil && ack.Properties.ReasonString != "" {
		text += " (" + ack.Properties.ReasonString + ")"
	}
	return fmt.Sprintf("reason %#02x %s", ack.ReasonCode, text)
}

func (l *link) shadowTopic(op string) string {
	return protocol.ShadowTopic(l.name, "") + "/" + op
}

// subscribe takes the shadow topics the agent listens on. Hearth sends a
// pending delta right after the SUBACK, so no setting made while the agent
// was away is missed.
func (l *link) subscribe(ctx context.Context, c *paho.Client) error {
	filters := []string{"update/delta", "get/accepted", "get/rejected", "update/rejected"}
	sub := &paho.Subscribe{}
	for _, f := range filters {
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: l.shadowTopic(f), QoS: 1})
	}
	sa, err := c.Subscribe(ctx, sub)
	if sa == nil {
		return lostError{fmt.Errorf("subscribe to the shadow: %w", err)}
	}
	for i, code := range sa.Reasons {
		if code >= 0x80 && i < len(filters) {
			return fmt.Errorf("subscribe to %s: refused with reason %#02x", l.shadowTopic(filters[i]), code)
		}
	}
	return nil
}

// subscribeJobs takes the jobs topics, in a subscription of their own: a
// Hearth that refuses them still gets telemetry and the shadow. It
// reports whether the jobs topics are subscribed.
func (l *link) subscribeJobs(ctx context.Context, c *paho.Client) bool {
	filters := l.jobs.filters()
	if len(filters) == 0 {
		return false
	}
	sub := &paho.Subscribe{}
	for _, f := range filters {
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	sa, err := c.Subscribe(ctx, sub)
	if sa == nil {
		l.logger.Warn("jobs topics not subscribed", "error", err)
		return false
	}
	for i, code := range sa.Reasons {
		if code >= 0x80 && i < len(filters) {
			l.logger.Warn("jobs topics refused by hearth; no jobs taken on this connection", "topic", filters[i], "reason_code", fmt.Sprintf("%#02x", code))
			return false
		}
	}
	return true
}

// publishJobs sends a job request on the session that is up.
func (l *link) publishJobs(ctx context.Context, topic string, payload []byte) error {
	l.mu.Lock()
	c := l.current
	l.mu.Unlock()
	if c == nil {
		return errors.New("not connected to hearth")
	}
	pr, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload})
	if pr == nil {
		return fmt.Errorf("publish on %s: %w", topic, err)
	}
	if pr.ReasonCode >= 0x80 {
		return refusedError(topic, pr)
	}
	return nil
}

// received handles a message from Hearth. It never blocks paho's reader:
// when the controller is busy, a delta is replaced by a request for the
// whole shadow, which carries it too.
func (l *link) received(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	if strings.HasPrefix(p.Topic, protocol.JobsTopic(l.name)+"/") {
		l.jobs.deliver(p.Topic, p.Payload)
		return true, nil
	}
	switch p.Topic {
	case l.shadowTopic("update/delta"):
		d, err := ParseDelta(p.Payload)
		if err != nil {
			l.logger.Warn("shadow delta not read", "error", err)
			return true, nil
		}
		l.hand(shadowMsg{delta: &d})
	case l.shadowTopic("get/accepted"):
		st, err := ParseShadowGet(p.Payload)
		if err != nil {
			l.logger.Warn("shadow not read", "error", err)
			return true, nil
		}
		l.hand(shadowMsg{get: &st})
	case l.shadowTopic("get/rejected"):
		e, err := ParseShadowError(p.Payload)
		switch {
		case err != nil:
			l.logger.Warn("shadow rejection not read", "error", err)
		case e.Code == 404:
			// No shadow yet: report what the equipment holds.
			l.hand(shadowMsg{get: &ShadowState{}})
		default:
			l.logger.Warn("shadow get rejected", "code", e.Code, "message", e.Message)
		}
	case l.shadowTopic("update/rejected"):
		e, err := ParseShadowError(p.Payload)
		if err != nil {
			l.logger.Warn("shadow rejection not read", "error", err)
			return true, nil
		}
		l.logger.Warn("shadow update rejected", "code", e.Code, "message", e.Message, "client_token", e.ClientToken)
	}
	return true, nil
}

func (l *link) hand(m shadowMsg) {
	select {
	case l.inbox <- m:
	default:
		l.logger.Warn("shadow message deferred: the agent is busy; the whole shadow will be fetched")
		l.out.requestGet()
	}
}

func (l *link) token() string {
	return "agent-" + strconv.FormatUint(l.tokens.Add(1), 10)
}

// sendOutbox sends what the controller left for Hearth: first the report
// waiting (settings applied while Hearth could not be reached, so that the
// shadow read next already shows them), then a shadow get, then reports
// and events as they come.
func (l *link) sendOutbox(ctx context.Context, c *paho.Client) error {
	if err := l.sendReport(ctx, c); err != nil {
		return err
	}
	if err := l.publish(ctx, c, l.shadowTopic("get"), fmt.Appendf(nil, `{"clientToken":%q}`, l.token())); err != nil {
		return err
	}
	for {
		if l.out.takeGet() {
			if err := l.publish(ctx, c, l.shadowTopic("get"), fmt.Appendf(nil, `{"clientToken":%q}`, l.token())); err != nil {
				l.out.requestGet()
				return err
			}
		}
		if err := l.sendReport(ctx, c); err != nil {
			return err
		}
		if err := l.sendEvents(ctx, c); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.out.wake:
		}
	}
}

func (l *link) sendReport(ctx context.Context, c *paho.Client) error {
	reported, clears, gen := l.out.pendingReport()
	if reported == nil && clears == nil {
		return nil
	}
	state := map[string]any{}
	if len(reported) > 0 {
		state["reported"] = reported
	}
	if len(clears) > 0 {
		desired := map[string]any{}
		for _, k := range clears {
			desired[k] = nil
		}
		state["desired"] = desired
	}
	b, err := json.Marshal(map[string]any{"state": state, "clientToken": l.token()})
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := l.publish(ctx, c, l.shadowTopic("update"), b); err != nil {
		return err
	}
	l.out.reportSent(reported, clears, gen)
	l.logger.Debug("shadow reported", "state", string(b))
	return nil
}

func (l *link) sendEvents(ctx context.Context, c *paho.Client) error {
	topic := protocol.EventsTopic(l.name)
	for {
		e, dropped, ok := l.out.nextEvent()
		if !ok {
			return nil
		}
		if dropped > 0 {
			d := protocol.Event{Level: protocol.LevelWarning, Code: CodeEventsDropped, TS: e.TS,
				Message: fmt.Sprintf("%d events were dropped while Hearth could not be reached; the %d newest were kept", dropped, maxQueuedEvents)}
			if err := l.sendEvent(ctx, c, topic, d); err != nil {
				return err
			}
		}
		if err := l.sendEvent(ctx, c, topic, e); err != nil {
			return err
		}
		l.out.eventSent(e)
	}
}

// sendEvent publishes one event. An event Hearth refuses for what it is
// (0x99: its message, level, code or time is not accepted) or for how many
// came (0x97: more than a device may send) is dropped and counted: sending
// it again would be refused again, and ending the session over it would
// only send it first after the reconnect.
func (l *link) sendEvent(ctx context.Context, c *paho.Client, topic string, e protocol.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	pr, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: b})
	if pr == nil {
		return lostError{fmt.Errorf("publish on %s: %w", topic, err)}
	}
	switch pr.ReasonCode {
	case reasonPayloadFormatInvalid, reasonQuotaExceeded:
		l.counts.eventsRefused.Add(1)
		l.eventRefused(e, pr)
		return nil
	}
	if pr.ReasonCode >= 0x80 {
		return refusedError(topic, pr)
	}
	l.logger.Info("device event sent", "level", e.Level, "code", e.Code, "message", e.Message)
	return nil
}

// eventRefused logs an event Hearth refused: the first one, then at most
// one line every refusedLogEvery with the count since, so that an agent
// over its quota does not flood its own log.
func (l *link) eventRefused(e protocol.Event, pr *paho.PublishResponse) {
	l.eventsRefusedSince++
	now := time.Now()
	if now.Sub(l.lastEventRefusedLog) < refusedLogEvery {
		return
	}
	l.logger.Warn("device event refused by hearth and dropped", "code", e.Code, "reason_code", fmt.Sprintf("%#02x", pr.ReasonCode),
		"reason", reasonString(pr), "refused", l.eventsRefusedSince, "refused_total", l.counts.eventsRefused.Load())
	l.lastEventRefusedLog, l.eventsRefusedSince = now, 0
}

// publish sends one message with QoS 1 and waits for the PUBACK.
func (l *link) publish(ctx context.Context, c *paho.Client, topic string, payload []byte) error {
	pr, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload})
	if pr == nil {
		return lostError{fmt.Errorf("publish on %s: %w", topic, err)}
	}
	if pr.ReasonCode >= 0x80 {
		// Hearth takes shadow requests from the device on its own
		// topics; a refusal is a bug or a revoked device, and retrying
		// on a new connection is all that can be done.
		return refusedError(topic, pr)
	}
	return nil
}

func refusedError(topic string, pr *paho.PublishResponse) error {
	return fmt.Errorf("publish on %s: refused with reason %#02x %s", topic, pr.ReasonCode, reasonString(pr))
}

func reasonString(pr *paho.PublishResponse) string {
	if pr.Properties == nil {
		return ""
	}
	return pr.Properties.ReasonString
}

// sendTelemetry sends the spooled samples in order, oldest first, as
// back-fill arrays, and acknowledges them in the spool once Hearth's PUBACK
// says they are stored. It returns when the connection ends.
func (l *link) sendTelemetry(ctx context.Context, c *paho.Client, maxPacket int) error {
	topic := protocol.TelemetryTopic(l.name)
	maxPayload := maxPacket - max(serverHeadroom, maxPacket/8)
	if maxPayload < 1024 {
		maxPayload = maxPacket - len(topic) - 64
	}
	if l.limit <= 0 {
		l.limit = l.batch
	}
	retries := 0
	for {
		recs, err := l.spool.Peek(l.limit, maxPayload-l.limit-2)
		if err != nil {
			return fmt.Errorf("read spool: %w", err)
		}
		if len(recs) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-l.sampled:
				continue
			}
		}
		payload := batchPayload(recs)
		if len(recs) == 1 && len(payload) > maxPayload {
			// Hearth would end the connection over it, every time.
			if err := l.ack(recs[0].Seq); err != nil {
				return err
			}
			l.counts.rejected.Add(1)
			l.sampleRejected(recs[0], fmt.Sprintf("the sample is %d bytes; Hearth takes messages of at most %d", len(payload), maxPayload))
			continue
		}
		pr, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload})
		if pr == nil {
			if len(recs) > 1 && ctx.Err() == nil {
				// A connection that ends on a large message may have
				// ended because of it: send less at once next time.
				l.limit = max(1, len(recs)/2)
			}
			return lostError{fmt.Errorf("publish telemetry: %w", err)}
		}
		switch {
		case pr.ReasonCode < 0x80:
			if err := l.ack(recs[len(recs)-1].Seq); err != nil {
				return err
			}
			retries = 0
			l.limit = min(l.batch, l.limit*2)
		case pr.ReasonCode == reasonPayloadFormatInvalid && len(recs) > 1:
			// Too many entries for Hearth, or one of them is refused:
			// halving finds out either way, and a refused sample ends up
			// alone.
			l.limit = max(1, len(recs)/2)
			l.logger.Info("telemetry batch refused; sending fewer samples at once", "samples", len(recs), "limit", l.limit, "reason", reasonString(pr))
		case pr.ReasonCode == reasonPayloadFormatInvalid:
			// Hearth will never store this sample: drop it, count it, say so.
			if err := l.ack(recs[0].Seq); err != nil {
				return err
			}
			l.counts.rejected.Add(1)
			l.sampleRejected(recs[0], reasonString(pr))
		default:
			// Hearth could not store them now (0x80), or does not know
			// the device yet (0x83): keep them and try again later.
			wait := min(l.cfg.Reconnect.Delay(retries, jitter()), retryAfterRefusal)
			retries++
			l.logger.Warn("telemetry not stored by hearth; sending again later", "reason_code", fmt.Sprintf("%#02x", pr.ReasonCode),
				"reason", reasonString(pr), "samples", len(recs), "retry_in", wait.Round(time.Millisecond).String())
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

// ack removes the samples up to seq from the spool. A head the spool could
// not write (a full disk) is logged and sending goes on: the samples are
// out of the spool all the same, and the head on disk lagging behind costs
// only samples sent again after a restart. Ending the session over it
// would send the same samples again at once.
func (l *link) ack(seq uint64) error {
	err := l.spool.Ack(seq)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errSpoolClosed):
		return fmt.Errorf("acknowledge samples in the spool: %w", err)
	}
	l.logger.Warn("spool head not saved; acknowledged samples may be sent again after a restart", "error", err)
	return nil
}

// sampleRejected logs a sample Hearth refused for good, and raises an event
// at most every rejectedEventEvery.
func (l *link) sampleRejected(r Record, reason string) {
	l.logger.Warn("telemetry sample refused by hearth and dropped", "ts", r.TS, "reason", reason)
	l.since++
	if now := time.Now(); now.Sub(l.lastEvent) >= rejectedEventEvery {
		msg := fmt.Sprintf("Hearth refused the sample of %s and it was dropped: %s", time.UnixMilli(r.TS).UTC().Format(time.RFC3339), reason)
		if l.since > 1 {
			msg += fmt.Sprintf(" (%d samples refused since the last such event)", l.since)
		}
		l.out.event(protocol.Event{Level: protocol.LevelError, Code: CodeTelemetryRejected, Message: msg, TS: now.UnixMilli()})
		l.lastEvent, l.since = now, 0
	}
}

// batchPayload is the telemetry message for records: the entry itself for
// one, an array of entries for more.
func batchPayload(recs []Record) []byte {
	if len(recs) == 1 {
		return recs[0].Payload
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r.Payload)
	}
	b.WriteByte(']')
	return b.Bytes()
}
