package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/internal/loglimit"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxPayload        = 128 << 10
	DefaultMaxClients        = 10_000
	DefaultReceiveMaximum    = 64
	DefaultClientBufferBytes = 4 << 10
	DefaultConnectTimeout    = 10 * time.Second
	DefaultMaxSessionExpiry  = time.Hour
)

const (
	// packetHeadroom is what a PUBLISH may carry besides its payload (fixed
	// header, topic, packet id, MQTT 5 properties) before mochi refuses to
	// even read it. The exact payload limit is checked once the packet is
	// read, so that MQTT 5 clients get DISCONNECT 0x95 rather than a
	// dropped connection.
	packetHeadroom = 8 << 10
	// maxPayloadLimit keeps MaxPayload plus headroom inside MQTT's largest
	// packet (256 MiB).
	maxPayloadLimit = 255 << 20
	// pendingWritesPerClient bounds the queue of packets waiting to be
	// written to one client. mochi allocates the queue at full size for
	// every connection (8192 by default, 64 KiB of pointers), which would
	// cost 640 MB for 10,000 devices; a device receives a handful of
	// messages at a time.
	pendingWritesPerClient = 256
	// maxInflightPerClient bounds the QoS 1 messages kept for one client,
	// including those queued for a device that is offline with a
	// persistent session.
	maxInflightPerClient = 256
	// topicAliasMaximum is AWS IoT Core's limit, so firmware written for
	// it behaves the same; it also bounds the per-client alias table.
	topicAliasMaximum = 8
	// logBurst is how many lines of one kind are logged per logWindow.
	logBurst  = 10
	logWindow = time.Minute
	// disconnectWriteTimeout bounds the write of a DISCONNECT to a client
	// whose credential was revoked.
	disconnectWriteTimeout = 5 * time.Second
	// sysTopicInterval is how often mochi refreshes its $SYS topics, which
	// no device may read; each refresh stops the world to read memory
	// statistics, so it runs rarely.
	sysTopicInterval = 60
)

// Config configures the broker. Zero values take the defaults above.
type Config struct {
	// TLSAddr is the MQTT over TLS address, e.g. ":8883"; "" = no TLS
	// listener.
	TLSAddr string
	// TLS carries the server certificate and, in ClientCAs, the CA whose
	// client certificates are accepted. The broker works on a copy: it
	// raises MinVersion to TLS 1.2 and turns the unverified client
	// certificate modes into verified ones.
	TLS *tls.Config
	// PlainAddr is plain TCP for a trusted LAN, off unless set. Only
	// username and secret are accepted there.
	PlainAddr string
	// MaxPayload is the largest PUBLISH payload in bytes; a larger one
	// ends the connection (MQTT 5: DISCONNECT 0x95 packet too large).
	MaxPayload int
	// MaxClients is the most connected clients; a connection over it is
	// refused with 0x89 server busy (MQTT 3.1.1: 3 server unavailable).
	MaxClients int
	// ReceiveMaximum is how many QoS 1 messages one client may have
	// unacknowledged.
	ReceiveMaximum int
	// ClientBufferBytes sizes each client's read and write buffers. Small
	// buffers let 10,000 connections fit in little memory; device
	// messages are small.
	ClientBufferBytes int
	// KeepAliveMax, when set, is the longest keepalive an MQTT 5 client
	// may use; a client asking for 0 (none) or more is told this value in
	// CONNACK and disconnected when silent for 1.5 times as long. MQTT
	// 3.1.1 has no way to tell a client, so its keepalive is left alone.
	KeepAliveMax time.Duration
	// ConnectTimeout bounds the TLS handshake plus the CONNECT packet.
	ConnectTimeout time.Duration
	// MaxSessionExpiry is the longest a persistent session (MQTT 3.1.1
	// clean session off, MQTT 5 session expiry > 0) is kept for a
	// disconnected client, with its subscriptions and queued messages.
	MaxSessionExpiry time.Duration
}

// Authenticator checks device credentials; device.Registry implements it.
type Authenticator interface {
	// AuthenticateSecret checks a device's secret and returns the ID of
	// the credential that matched.
	AuthenticateSecret(name, secret string) (credentialID string, err error)
	// AuthenticateCertificate maps a verified client certificate to its
	// device and credential.
	AuthenticateCertificate(cert *x509.Certificate) (name, credentialID string, err error)
	// HasActiveCredential reports whether the device exists and has any
	// credential it may connect with.
	HasActiveCredential(name string) bool
	// CredentialActive reports whether the credential still lets the
	// device connect.
	CredentialActive(name, credentialID string) bool
}

// Ingester takes telemetry messages; device.Telemetry implements it. Accept
// checks a message and begins storing it; its error, and the one of
// Storing.Wait, is a *device.TelemetryError saying why the message was
// refused. Messages of one device must be stored in the order Accept took
// them.
type Ingester interface {
	Accept(thing string, payload []byte, now time.Time) (device.Storing, error)
}

// Stats are the broker's counters since New.
type Stats struct {
	Connected         int64  // clients connected now
	MessagesIn        uint64 // PUBLISH packets received from devices
	MessagesOut       uint64 // PUBLISH packets sent to clients
	BytesIn           uint64 // MQTT bytes received
	BytesOut          uint64 // MQTT bytes sent
	RefusedConnects   uint64 // CONNECTs answered with a failure CONNACK
	RefusedPublishes  uint64 // PUBLISHes refused by the topic rules or limits
	RefusedSubscribes uint64 // subscriptions refused by the topic rules
	// TLSHandshakeFailures counts connections that never completed TLS:
	// a client certificate from another CA, an expired one, a client that
	// does not trust the server, or a port scan.
	TLSHandshakeFailures uint64
}

// Deps are what the broker routes to, all built before it. Outbound, Auth
// and Ingest are required.
type Deps struct {
	// Outbound is the sending side New binds to the broker; the services
	// below answer devices through it.
	Outbound *Outbound
	Auth     Authenticator
	Ingest   Ingester
	// Shadows answers shadow requests; nil refuses them like a topic the
	// device may not use.
	Shadows ShadowService
	// Presence records connects, disconnects and messages; nil leaves only
	// the AWS lifecycle events published on $aws/events/presence/….
	Presence PresenceRecorder
	// DeviceEvents takes device events; nil delivers them to subscribers
	// only.
	DeviceEvents EventIngester
	// Jobs answers job requests; nil refuses them like a topic the device
	// may not use.
	Jobs JobService
	// OwnTopics says which device may publish on a topic its type
	// declares; nil: devices publish only on their Hearth and AWS topics.
	OwnTopics OwnTopics
	// Rules runs message rules on what devices publish; nil: none.
	Rules RuleRunner
	// Shed says when memory is short; while it is, new connections and
	// messages are refused (see shedHook). nil: never.
	Shed Shedder
}

// OwnTopics knows the topics device types declare for their devices;
// *device.OwnTopics implements it.
type OwnTopics interface {
	Owner(topic string) (device string, ok bool)
}

// RuleRunner runs message rules on a device's message; *rules.Engine
// implements it. It returns the readings its rules are storing, to be
// waited for before the message is acknowledged; an error is a
// *device.TelemetryError: readings could not be taken for a passing
// reason, and the device is to send the message again.
type RuleRunner interface {
	Handle(thing, topic string, payload []byte, now time.Time) ([]device.Storing, error)
}

// Broker is the embedded MQTT broker.
type Broker struct {
	cfg          Config
	out          *Outbound
	auth         Authenticator
	ingest       Ingester
	shadows      ShadowService    // nil: shadow requests refused
	presence     PresenceRecorder // nil: lifecycle events only
	deviceEvents EventIngester    // nil: delivered to subscribers only
	jobs         JobService       // nil: job requests refused
	ownTopics    OwnTopics        // nil: no topics of device types
	rules        RuleRunner       // nil: no message rules
	shed         *shedHook        // nil: nothing refused for want of memory
	// eventLimits bound each connection's device events.
	eventLimits sync.Map // *mqtt.Client → *rate.Limiter
	// ending marks connections whose session ended with them, until
	// mochi has dropped them (see settlePredecessor); endingSwept is when
	// old marks were last forgotten, in unix nanoseconds.
	ending      sync.Map // *mqtt.Client → time.Time
	endingSwept atomic.Int64
	log         *slog.Logger
	// logLimit keeps a storm of like lines, often from one misconfigured
	// device retrying in a loop, from burying every other line.
	logLimit *loglimit.Limiter
	server   *mqtt.Server

	tlsListener   *listener // nil when TLSAddr is ""
	plainListener *listener // nil when PlainAddr is ""

	// sessions maps a device name to each of its live connections and the
	// credential that connection authenticated with. A device can briefly
	// have two (a new connection taking over the session of the old one);
	// each is checked on its own when credentials change.
	sessionsMu sync.Mutex
	sessions   map[string]map[*mqtt.Client]string

	// refusing marks clients whose failure CONNACK is sent by this
	// package, which logs it with more detail than the reason code.
	refusing sync.Map // *mqtt.Client → struct{}

	// deltaWaits holds, per client, the shadows whose pending delta is
	// sent once its SUBACK is written.
	deltaWaits sync.Map // *mqtt.Client → deltaWait
	// packetIDs maps the packet identifiers freePacketID gave requests
	// to the ones their devices chose, until the answer is written.
	packetIDs sync.Map // packetIDKey → uint16
	// acks holds each connection's telemetry waiting to be stored and
	// acknowledged; ackers counts the goroutines draining them.
	acks   sync.Map // *mqtt.Client → *ackQueue
	ackers atomic.Int64

	// conns holds each established device connection's session number;
	// sessionSeq hands them out.
	conns      sync.Map // *mqtt.Client → conn
	sessionSeq atomic.Uint64
	// revoking marks connections closed because their credential stopped
	// being active, so that their end is reported with that reason.
	revoking sync.Map // *mqtt.Client → struct{}

	messagesIn        atomic.Uint64
	refusedConnects   atomic.Uint64
	refusedPublishes  atomic.Uint64
	refusedSubscribes atomic.Uint64
	tlsFailures       atomic.Uint64

	lifeMu    sync.Mutex
	started   bool
	stopped   bool
	stopping  atomic.Bool // set when Stop begins; read by the disconnect hook
	stopFlush chan struct{}
	flushDone chan struct{}
}

// New checks cfg, fills in defaults and builds a broker that is not yet
// listening, bound to deps.Outbound: what is published there reaches this
// broker's subscribers while it runs.
func New(cfg Config, deps Deps, logger *slog.Logger) (*Broker, error) {
	if deps.Outbound == nil || deps.Auth == nil || deps.Ingest == nil || logger == nil {
		return nil, errors.New("new mqtt broker: outbound, authenticator, ingester and logger are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new mqtt broker: %w", err)
	}

	b := &Broker{
		cfg:          cfg,
		out:          deps.Outbound,
		auth:         deps.Auth,
		ingest:       deps.Ingest,
		shadows:      deps.Shadows,
		presence:     deps.Presence,
		deviceEvents: deps.DeviceEvents,
		jobs:         deps.Jobs,
		ownTopics:    deps.OwnTopics,
		rules:        deps.Rules,
		log:          logger,
		logLimit:     loglimit.New(logger, logBurst, logWindow, nil),
		sessions:     make(map[string]map[*mqtt.Client]string),
	}

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClients = math.MaxInt64 // checked in OnConnect, to count and log refusals
	caps.MaximumPacketSize = uint32(cfg.MaxPayload + packetHeadroom)
	caps.ReceiveMaximum = uint16(cfg.ReceiveMaximum)
	caps.MaximumClientWritesPending = pendingWritesPerClient
	caps.MaximumInflight = maxInflightPerClient
	caps.MaximumSessionExpiryInterval = uint32(cfg.MaxSessionExpiry / time.Second)
	caps.TopicAliasMaximum = topicAliasMaximum
	// QoS 2 is not offered, as on AWS IoT Core. mochi also answers a
	// refused QoS 2 publish with a PUBACK instead of a PUBREC.
	caps.MaximumQos = 1
	// Retained messages are not kept: one device could otherwise fill the
	// memory with 128 KiB messages on any number of its own topics. State a
	// device needs on (re)connect lives in its shadow instead. A PUBLISH
	// with RETAIN set is delivered as usual; MQTT 5 clients are told in the
	// CONNACK.
	caps.RetainAvailable = 0

	b.server = mqtt.New(&mqtt.Options{
		Capabilities:             caps,
		ClientNetReadBufferSize:  cfg.ClientBufferBytes,
		ClientNetWriteBufferSize: cfg.ClientBufferBytes,
		Logger: slog.New(&mochiLogHandler{
			next:    logger.With("engine", "mochi").Handler(),
			limiter: b.logLimit,
		}),
		SysTopicResendInterval: sysTopicInterval,
		InlineClient:           true,
	})
	if err := b.addShedHook(deps.Shed); err != nil {
		return nil, fmt.Errorf("new mqtt broker: %w", err)
	}
	if err := b.server.AddHook(&hook{b: b}, nil); err != nil {
		return nil, fmt.Errorf("new mqtt broker: add hook: %w", err)
	}

	if cfg.TLSAddr != "" {
		b.tlsListener = newListener("tls", cfg.TLSAddr, cfg.TLS, cfg.ConnectTimeout, b)
	}
	if cfg.PlainAddr != "" {
		b.plainListener = newListener("plain", cfg.PlainAddr, nil, cfg.ConnectTimeout, b)
	}
	if err := deps.Outbound.bind(); err != nil {
		return nil, fmt.Errorf("new mqtt broker: %w", err)
	}
	return b, nil
}

// withDefaults fills zero values and refuses values that cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.TLSAddr == "" && c.PlainAddr == "" {
		return c, errors.New("neither TLSAddr nor PlainAddr is set")
	}
	if c.TLSAddr != "" {
		t, err := serverTLS(c.TLS)
		if err != nil {
			return c, err
		}
		c.TLS = t
	}
	var err error
	if c.MaxPayload, err = intSetting("MaxPayload", c.MaxPayload, DefaultMaxPayload, maxPayloadLimit); err != nil {
		return c, err
	}
	if c.MaxClients, err = intSetting("MaxClients", c.MaxClients, DefaultMaxClients, math.MaxInt32); err != nil {
		return c, err
	}
	if c.ReceiveMaximum, err = intSetting("ReceiveMaximum", c.ReceiveMaximum, DefaultReceiveMaximum, math.MaxUint16); err != nil {
		return c, err
	}
	if c.ClientBufferBytes, err = intSetting("ClientBufferBytes", c.ClientBufferBytes, DefaultClientBufferBytes, 1<<20); err != nil {
		return c, err
	}
	if c.KeepAliveMax < 0 || c.KeepAliveMax > math.MaxUint16*time.Second {
		return c, fmt.Errorf("KeepAliveMax is %s; it must be between 0 (no limit) and %ds", c.KeepAliveMax, math.MaxUint16)
	}
	if c.KeepAliveMax > 0 && c.KeepAliveMax < time.Second {
		return c, fmt.Errorf("KeepAliveMax is %s; MQTT counts keepalive in whole seconds", c.KeepAliveMax)
	}
	if c.ConnectTimeout < 0 {
		return c, fmt.Errorf("ConnectTimeout is %s; it must not be negative", c.ConnectTimeout)
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxSessionExpiry < 0 || c.MaxSessionExpiry > math.MaxUint32*time.Second {
		return c, fmt.Errorf("MaxSessionExpiry is %s; it must be between 0 (default) and %ds", c.MaxSessionExpiry, uint32(math.MaxUint32))
	}
	if c.MaxSessionExpiry == 0 {
		c.MaxSessionExpiry = DefaultMaxSessionExpiry
	}
	return c, nil
}

func intSetting(name string, v, def, limit int) (int, error) {
	switch {
	case v == 0:
		return def, nil
	case v < 0 || v > limit:
		return 0, fmt.Errorf("%s is %d; it must be between 1 and %d (0 means %d)", name, v, limit, def)
	}
	return v, nil
}

// serverTLS copies the caller's TLS config and makes it safe for devices:
// at least TLS 1.2, and client certificates, when asked for, verified
// against ClientCAs rather than merely requested.
func serverTLS(in *tls.Config) (*tls.Config, error) {
	if in == nil {
		return nil, errors.New("TLSAddr is set but TLS is nil")
	}
	if len(in.Certificates) == 0 && in.GetCertificate == nil && in.GetConfigForClient == nil {
		return nil, errors.New("TLS has no server certificate")
	}
	t := in.Clone()
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	switch t.ClientAuth {
	case tls.RequestClientCert:
		t.ClientAuth = tls.VerifyClientCertIfGiven
	case tls.RequireAnyClientCert:
		t.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if t.ClientAuth != tls.NoClientCert && t.ClientCAs == nil {
		// Verification would fall back to the system roots, so any
		// public CA could vouch for a device name.
		return nil, errors.New("TLS asks for client certificates but ClientCAs is nil")
	}
	return t, nil
}

// Start binds the configured listeners and serves them. It returns once
// both are accepting connections, or with the bind error.
func (b *Broker) Start(ctx context.Context) error {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if b.started {
		return errors.New("start mqtt broker: already started")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start mqtt broker: %w", err)
	}
	b.started = true

	var added []*listener
	for _, l := range []*listener{b.tlsListener, b.plainListener} {
		if l == nil {
			continue
		}
		if err := b.server.AddListener(l); err != nil {
			for _, a := range added {
				a.Close(func(string) {})
			}
			b.stopped = true
			return fmt.Errorf("start mqtt broker: listen %s on %q: %w", l.id, l.address, err)
		}
		added = append(added, l)
	}
	// The outbound goes live before the first device can connect, so that
	// no answer to its first request is refused; mochi publishes to its
	// (empty) topic tree before Serve as after.
	b.out.live.Store(b)
	if err := b.server.Serve(); err != nil {
		b.out.live.Store(nil)
		for _, a := range added {
			a.Close(func(string) {})
		}
		b.stopped = true
		return fmt.Errorf("start mqtt broker: %w", err)
	}

	b.stopFlush = make(chan struct{})
	b.flushDone = make(chan struct{})
	go b.flushLoop()

	attrs := []any{}
	if l := b.tlsListener; l != nil {
		attrs = append(attrs, "tls_addr", l.Address())
	}
	if l := b.plainListener; l != nil {
		attrs = append(attrs, "plain_addr", l.Address())
	}
	b.log.Info("mqtt broker listening", attrs...)
	return nil
}

// Stop stops accepting connections, sends DISCONNECT (server shutting down)
// to every client and waits for their sessions to end. When ctx ends first,
// every connection is closed at once and ctx's error is returned.
func (b *Broker) Stop(ctx context.Context) error {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if !b.started || b.stopped {
		return nil
	}
	b.stopped = true
	b.stopping.Store(true)

	done := make(chan struct{})
	go func() {
		_ = b.server.Close()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, l := range []*listener{b.tlsListener, b.plainListener} {
			if l != nil {
				l.abort()
			}
		}
		err = fmt.Errorf("stop mqtt broker: %w", ctx.Err())
	}
	// Telemetry accepted before the connections closed is stored before
	// Stop returns, so that its owner can close the store after it.
	if !b.waitAckers(ctx.Done()) && err == nil {
		err = fmt.Errorf("stop mqtt broker: telemetry still being stored: %w", ctx.Err())
	}
	// Ending sessions publish their lifecycle events until here; from now
	// on the services' publishes are refused with ErrNotRunning.
	b.out.live.Store(nil)
	close(b.stopFlush)
	<-b.flushDone
	return err
}

// flushLoop writes, once per window and at the stop, how many log lines
// the limiter held back, so that a storm's summary does not wait for the
// next line.
func (b *Broker) flushLoop() {
	defer close(b.flushDone)
	t := time.NewTicker(logWindow)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.logLimit.Flush(context.Background())
		case <-b.stopFlush:
			b.logLimit.Flush(context.Background())
			return
		}
	}
}

// warnLimited logs at warn level unless logBurst lines with this message
// and reason were already logged in the current window. reason, when not
// empty, is logged as an attribute.
func (b *Broker) warnLimited(msg, reason string, attrs ...any) {
	ctx := context.Background()
	if !b.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	kind := msg
	if reason != "" {
		kind += ": " + reason
		attrs = append([]any{"reason", reason}, attrs...)
	}
	if b.logLimit.Allow(ctx, kind) {
		b.log.Warn(msg, attrs...)
	}
}

// Addrs returns the bound addresses (nil for a listener that is off), so
// that ":0" can be used in tests.
func (b *Broker) Addrs() (tlsAddr, plainAddr net.Addr) {
	if b.tlsListener != nil {
		tlsAddr = b.tlsListener.addr()
	}
	if b.plainListener != nil {
		plainAddr = b.plainListener.addr()
	}
	return tlsAddr, plainAddr
}

// send publishes a message from the server itself through mochi's inline
// client. The broker's own messages (lifecycle events, pending deltas,
// telemetry rejections) use it directly: they are sent from device
// connections, which may still be ending while Stop runs; everyone else
// goes through the Outbound.
func (b *Broker) send(topic string, payload []byte, qos byte) error {
	if err := checkPublish(topic, qos); err != nil {
		return err
	}
	if err := b.server.Publish(topic, payload, false, qos); err != nil {
		return fmt.Errorf("publish to %q: %w", clip(topic), err)
	}
	return nil
}

// Stats returns the counters; mochi's own counters supply the traffic
// figures.
func (b *Broker) Stats() Stats {
	info := b.server.Info
	return Stats{
		Connected:            atomic.LoadInt64(&info.ClientsConnected),
		MessagesIn:           b.messagesIn.Load(),
		MessagesOut:          uint64(atomic.LoadInt64(&info.MessagesSent)),
		BytesIn:              uint64(atomic.LoadInt64(&info.BytesReceived)),
		BytesOut:             uint64(atomic.LoadInt64(&info.BytesSent)),
		RefusedConnects:      b.refusedConnects.Load(),
		RefusedPublishes:     b.refusedPublishes.Load(),
		RefusedSubscribes:    b.refusedSubscribes.Load(),
		TLSHandshakeFailures: b.tlsFailures.Load(),
	}
}

// CredentialsChanged closes every connection of device name whose
// credential is no longer active (revoked, rotated away, or the device
// deleted). Connect it to the registry's change callback.
func (b *Broker) CredentialsChanged(name string) {
	b.sessionsMu.Lock()
	conns := make(map[*mqtt.Client]string, len(b.sessions[name]))
	for cl, cred := range b.sessions[name] {
		conns[cl] = cred
	}
	b.sessionsMu.Unlock()

	for cl, cred := range conns {
		if cl.Closed() || b.auth.CredentialActive(name, cred) {
			continue
		}
		b.log.Info("mqtt session closed: credential no longer active",
			"device", name, "remote", cl.Net.Remote, "listener", cl.Net.Listener)
		// The registry calls this on its write path; a client that stopped
		// reading must not hold that up, nor keep its connection open for
		// long.
		b.revoking.Store(cl, struct{}{})
		go func() {
			_ = cl.Net.Conn.SetWriteDeadline(time.Now().Add(disconnectWriteTimeout))
			b.disconnect(cl, packets.ErrNotAuthorized)
		}()
	}
	if !b.auth.HasActiveCredential(name) {
		b.discardSession(name)
	}
}

// discardSession forgets the persistent session (subscriptions, queued
// messages) kept for client id name, so that a device registered again
// under a deleted device's name starts clean instead of resuming the old
// one's session.
func (b *Broker) discardSession(name string) {
	cl, ok := b.server.Clients.Get(name)
	if !ok {
		return
	}
	cl.ClearInflights()
	b.server.UnsubscribeClient(cl)
	b.server.Clients.Delete(name)
	b.log.Info("mqtt session discarded: device has no active credential", "device", name)
}

// disconnect ends a client's connection: with a DISCONNECT carrying code for
// MQTT 5, by closing the connection for MQTT 3.1.1, which has no
// server-sent DISCONNECT.
func (b *Broker) disconnect(cl *mqtt.Client, code packets.Code) {
	if cl.Properties.ProtocolVersion == 5 {
		_ = b.server.DisconnectClient(cl, code)
		return
	}
	cl.Stop(code)
}

// track records that cl authenticated as device name with credential
// cred. Entries of connections that ended without mochi reporting it (a
// CONNACK that could not be written) are pruned on the way, with their
// revoking mark, which sessionEnded never saw; so at most one such mark
// per device outlives its connection.
func (b *Broker) track(cl *mqtt.Client, name, cred string) {
	b.sessionsMu.Lock()
	defer b.sessionsMu.Unlock()
	m := b.sessions[name]
	if m == nil {
		m = make(map[*mqtt.Client]string, 1)
		b.sessions[name] = m
	}
	for old := range m {
		if old.Closed() {
			delete(m, old)
			b.revoking.Delete(old)
		}
	}
	m[cl] = cred
}

func (b *Broker) untrack(cl *mqtt.Client) {
	b.sessionsMu.Lock()
	defer b.sessionsMu.Unlock()
	m := b.sessions[cl.ID]
	delete(m, cl)
	if len(m) == 0 {
		delete(b.sessions, cl.ID)
	}
}

func (b *Broker) tracked(cl *mqtt.Client) bool {
	b.sessionsMu.Lock()
	defer b.sessionsMu.Unlock()
	_, ok := b.sessions[cl.ID][cl]
	return ok
}

// handshakeFailed counts a connection that did not complete TLS. A client
// that hangs up without starting a handshake (a port check) is not worth a
// warning.
func (b *Broker) handshakeFailed(listener string, remote net.Addr, err error) {
	b.tlsFailures.Add(1)
	if errors.Is(err, io.EOF) {
		b.log.Debug("mqtt tls handshake failed", "listener", listener, "remote", remote.String(), "error", err)
		return
	}
	b.warnLimited("mqtt tls handshake failed", "", "listener", listener, "remote", remote.String(), "error", err)
}
