package sim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// counterReadBuffer is large because a counter receives every message of a
// run on one connection.
const counterReadBuffer = 256 << 10

// counterMaxBody bounds one message a counter accepts.
const counterMaxBody = 16 << 20

// CountOptions are the optional settings of Count.
type CountOptions struct {
	// ClientID defaults to "loadgen-counter-" and a random suffix.
	ClientID string
	// Credentials authenticate the subscriber: Name and Secret are sent as
	// username and password when Secret is set, Certificate is presented in
	// the TLS handshake. Its Name is the client id when ClientID is empty.
	Credentials Credentials
	// QoS of the subscription, 0 (the default) or 1. QoS 0 costs the broker
	// least, so that the counter disturbs the measured broker least.
	QoS byte
	// KeepAlive defaults to DefaultKeepAlive.
	KeepAlive time.Duration
	// ConnectTimeout defaults to DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// OnMessage, when set, is called from the reading goroutine for every
	// message; topic and payload are only valid during the call.
	OnMessage func(topic string, payload []byte)
}

// Counter is a subscriber that counts what a broker delivers on a topic
// filter: the delivered side of a load run against a plain broker, where
// nothing else shows what got through.
type Counter struct {
	s         *session
	onMessage func(string, []byte)

	received atomic.Uint64
	bytes    atomic.Uint64
	first    atomic.Int64 // nanoseconds since the session epoch, 0 = none yet
	last     atomic.Int64

	err          error // why the reader ended; valid after done is closed
	done         chan struct{}
	stopOnCancel func() bool
}

// CountStats is a snapshot of a Counter.
type CountStats struct {
	Received uint64 // messages
	Bytes    uint64 // payload bytes
	// First and Last are when the first and the latest message arrived;
	// zero before the first.
	First, Last time.Time
}

// PerSecond returns messages per second between the first and the latest
// message, or 0 with fewer than two messages.
func (s CountStats) PerSecond() float64 {
	d := s.Last.Sub(s.First)
	if s.Received < 2 || d <= 0 {
		return 0
	}
	return float64(s.Received-1) / d.Seconds()
}

// Count connects to broker, subscribes to filter and counts the messages
// delivered until ctx ends or Close is called. It returns once the broker
// acknowledged the subscription, so a load started afterwards is counted in
// full.
func Count(ctx context.Context, broker string, tlsConf *tls.Config, filter string, opts CountOptions) (*Counter, error) {
	if filter == "" {
		return nil, fmt.Errorf("count: empty topic filter")
	}
	if opts.QoS > 1 {
		return nil, fmt.Errorf("count: subscription QoS %d not offered, only 0 or 1", opts.QoS)
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.KeepAlive < time.Second || opts.KeepAlive > 65535*time.Second {
		// MQTT counts keepalive in whole seconds.
		return nil, fmt.Errorf("count: keepalive %v outside 1s..65535s", opts.KeepAlive)
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	clientID := opts.ClientID
	if clientID == "" {
		clientID = opts.Credentials.Name
	}
	if clientID == "" {
		clientID = "loadgen-counter-" + rand.Text()[:8]
	}
	dc := dialConfig{
		broker:  broker,
		connect: connectOptions{clientID: clientID, keepAlive: uint16(opts.KeepAlive / time.Second)},
		timeout: opts.ConnectTimeout,
		readBuf: counterReadBuffer,
		maxBody: counterMaxBody,
	}
	if c := opts.Credentials; c.Secret != "" {
		dc.connect.username, dc.connect.password = c.Name, c.Secret
	}
	if tlsConf != nil {
		dc.tls = tlsConf.Clone()
		if dc.tls.ServerName == "" {
			host, _, err := net.SplitHostPort(broker)
			if err != nil {
				return nil, fmt.Errorf("count: broker %q is not host:port: %w", broker, err)
			}
			dc.tls.ServerName = host
		}
		if c := opts.Credentials.Certificate; c != nil {
			dc.tls.Certificates = []tls.Certificate{*c}
		}
	}
	s, err := dial(ctx, dc)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	if err := subscribe(ctx, s, opts.QoS, opts.ConnectTimeout, filter); err != nil {
		s.close(nil)
		return nil, fmt.Errorf("count %q: %w", filter, err)
	}
	c := &Counter{s: s, onMessage: opts.OnMessage, done: make(chan struct{})}
	go c.readLoop()
	c.stopOnCancel = context.AfterFunc(ctx, s.disconnect)
	return c, nil
}

// subscribe sends one SUBSCRIBE for filters and waits for its SUBACK,
// which must grant every one of them.
func subscribe(ctx context.Context, s *session, qos byte, timeout time.Duration, filters ...string) error {
	const id = 1
	if err := s.write(func(b []byte) []byte { return appendSubscribe(b, id, qos, filters...) }); err != nil {
		return fmt.Errorf("send SUBSCRIBE: %w", err)
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := s.conn.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("set SUBACK deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { s.conn.SetReadDeadline(time.Now()) })
	defer stop()
	p, err := s.read()
	if err != nil {
		return fmt.Errorf("read SUBACK: %w", err)
	}
	if p.kind != packetSuback || p.id != id {
		return fmt.Errorf("read SUBACK: got packet type %d id %d", p.kind, p.id)
	}
	if len(p.codes) != len(filters) {
		return fmt.Errorf("read SUBACK: %d return codes for %d filters", len(p.codes), len(filters))
	}
	for i, code := range p.codes {
		if code > 2 {
			return fmt.Errorf("subscription to %q refused (return code %#x)", filters[i], code)
		}
	}
	if !stop() {
		return context.Cause(ctx)
	}
	if err := s.conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear SUBACK deadline: %w", err)
	}
	return nil
}

func (c *Counter) readLoop() {
	defer close(c.done)
	for {
		p, err := c.s.read()
		if err != nil {
			c.err = err
			return
		}
		switch p.kind {
		case packetPublish:
			now := c.s.now()
			c.first.CompareAndSwap(0, now)
			c.last.Store(now)
			c.bytes.Add(uint64(len(p.payload)))
			c.received.Add(1)
			if c.onMessage != nil {
				c.onMessage(string(p.topic), p.payload)
			}
			if err := c.s.acknowledge(p); err != nil {
				c.err = err
				c.s.close(err)
				return
			}
		case packetPingresp, packetSuback:
		default:
			c.err = fmt.Errorf("unexpected packet type %d from broker", p.kind)
			c.s.close(c.err)
			return
		}
	}
}

// Stats returns the counts so far.
func (c *Counter) Stats() CountStats {
	st := CountStats{Received: c.received.Load(), Bytes: c.bytes.Load()}
	if f := c.first.Load(); f != 0 {
		st.First = c.s.epoch.Add(time.Duration(f))
		st.Last = c.s.epoch.Add(time.Duration(c.last.Load()))
	}
	return st
}

// Done is closed when the counter stopped receiving, after Close, when ctx
// ended, or when the connection was lost.
func (c *Counter) Done() <-chan struct{} { return c.done }

// Close disconnects and returns the final counts. The error says why the
// connection ended if it was lost before Close.
func (c *Counter) Close() (CountStats, error) {
	lost := false
	select {
	case <-c.done:
		lost = true
	default:
	}
	c.stopOnCancel()
	c.s.disconnect()
	<-c.done
	st := c.Stats()
	if !lost {
		return st, nil
	}
	if err := c.s.reason(); err != nil {
		return st, fmt.Errorf("counter connection lost: %w", err)
	}
	if c.err != nil && !errors.Is(c.err, net.ErrClosed) {
		return st, fmt.Errorf("counter connection lost: %w", c.err)
	}
	return st, nil
}
