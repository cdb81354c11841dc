package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqttv3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/store"
)

const (
	customer = "acme"
	wait     = 5 * time.Second // upper bound for anything a test waits for
)

// env is a registry with a real store file and a real CA, as the server
// builds it.
type env struct {
	reg   *device.Registry
	ca    *ca.CA
	roots *x509.CertPool
	// serverTLS is what the server hands the broker: a certificate for
	// 127.0.0.1 from Hearth's CA, client certificates verified if given.
	serverTLS *tls.Config
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	authority, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := device.NewRegistry(st, authority, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateCustomer(store.Customer{Name: customer}); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := authority.IssueServer(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &env{
		reg:   reg,
		ca:    authority,
		roots: authority.Pool(),
		serverTLS: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientCAs:    authority.Pool(),
			ClientAuth:   tls.VerifyClientCertIfGiven,
		},
	}
}

// dev is a registered device with its credentials.
type dev struct {
	name   string
	secret string
	cert   *tls.Certificate
	// secretID and certID are the IDs of its two credentials.
	secretID, certID string
}

func (e *env) newDevice(t testing.TB, name string) dev {
	t.Helper()
	iss, err := e.reg.CreateDevice(device.DeviceSpec{Name: name, Customer: customer})
	if err != nil {
		t.Fatal(err)
	}
	return issuedDevice(t, name, iss)
}

func issuedDevice(t testing.TB, name string, iss device.Issued) dev {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(iss.CertificatePEM), []byte(iss.PrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	d := dev{name: name, secret: iss.Secret, cert: &cert}
	for _, c := range iss.Device.Credentials {
		if !c.Active() {
			continue
		}
		switch c.Kind {
		case store.CredentialSecret:
			d.secretID = c.ID
		case store.CredentialCertificate:
			d.certID = c.ID
		}
	}
	return d
}

// fixture is a started broker on 127.0.0.1 with both listeners, wired to
// the registry like the server wires it, storing telemetry through the
// real device.Telemetry into memory.
type fixture struct {
	*env
	broker    *broker.Broker
	out       *broker.Outbound
	ingest    *spyIngester
	stored    *memWriter
	logs      *logSink
	tlsAddr   string
	plainAddr string
}

func newFixture(t testing.TB, edit func(*broker.Config)) *fixture {
	t.Helper()
	e := newEnv(t)
	stored := &memWriter{}
	spy := &spyIngester{next: device.NewTelemetry(device.TelemetryLimits{}, e.reg, stored)}
	logs := newLogSink()
	cfg := broker.Config{TLSAddr: "127.0.0.1:0", TLS: e.serverTLS, PlainAddr: "127.0.0.1:0"}
	if edit != nil {
		edit(&cfg)
	}
	out := broker.NewOutbound()
	b := startBroker(t, e, cfg, broker.Deps{Outbound: out, Ingest: spy}, slog.New(logs))
	f := &fixture{env: e, broker: b, out: out, ingest: spy, stored: stored, logs: logs}
	tlsAddr, plainAddr := b.Addrs()
	if tlsAddr != nil {
		f.tlsAddr = tlsAddr.String()
	}
	if plainAddr != nil {
		f.plainAddr = plainAddr.String()
	}
	return f
}

// startBroker starts a broker with deps, authenticating against e's
// registry and, unless deps names one, publishing through an outbound of its
// own; each setup runs before Start.
func startBroker(t testing.TB, e *env, cfg broker.Config, deps broker.Deps, logger *slog.Logger, setup ...func(*broker.Broker) error) *broker.Broker {
	t.Helper()
	deps.Auth = e.reg
	if deps.Outbound == nil {
		deps.Outbound = broker.NewOutbound()
	}
	b, err := broker.New(cfg, deps, logger)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range setup {
		if err := s(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.reg.OnChange(b.CredentialsChanged)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := b.Stop(ctx); err != nil {
			t.Errorf("stop broker: %v", err)
		}
	})
	return b
}

// waitFor polls cond until it holds or wait has passed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// spyIngester records every payload handed to the ingest path.
type spyIngester struct {
	next broker.Ingester

	mu       sync.Mutex
	payloads []string
}

func (s *spyIngester) Accept(thing string, payload []byte, now time.Time) (device.Storing, error) {
	s.mu.Lock()
	s.payloads = append(s.payloads, thing+" "+string(payload))
	s.mu.Unlock()
	return s.next.Accept(thing, payload, now)
}

func (s *spyIngester) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.payloads...)
}

// memWriter is the time-series store's stand-in: it keeps readings in
// memory, or fails when told to, once the broker waits for them, as a
// failing sync of the telemetry log does.
type memWriter struct {
	mu       sync.Mutex
	readings []string
	fail     bool
}

func (w *memWriter) WriteReadings(dev, customer, site string, rs []device.Reading) (func() error, error) {
	return func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.fail {
			return fmt.Errorf("disk full")
		}
		for _, r := range rs {
			w.readings = append(w.readings, fmt.Sprintf("%s/%s/%s %s=%g", customer, site, dev, r.Metric, r.Value))
		}
		return nil
	}, nil
}

func (w *memWriter) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.readings...)
}

func (w *memWriter) setFail(v bool) {
	w.mu.Lock()
	w.fail = v
	w.mu.Unlock()
}

// logSink keeps every log record, at every level, as one line of text.
type logSink struct {
	lines *logLines
	attrs string
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func newLogSink() *logSink { return &logSink{lines: &logLines{}} }

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }

func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q%s", r.Level, r.Message, s.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
		return true
	})
	s.lines.mu.Lock()
	s.lines.lines = append(s.lines.lines, b.String())
	s.lines.mu.Unlock()
	return nil
}

func (s *logSink) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(s.attrs)
	for _, a := range as {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
	}
	return &logSink{lines: s.lines, attrs: b.String()}
}

func (s *logSink) WithGroup(string) slog.Handler { return s }

// matching returns the lines that contain every one of parts.
func (s *logSink) matching(parts ...string) []string {
	s.lines.mu.Lock()
	defer s.lines.mu.Unlock()
	var out []string
next:
	for _, l := range s.lines.lines {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// noKeepAlive asks for keepalive 0, no keepalive at all.
const noKeepAlive = -1

// connOpts says how a test client connects.
type connOpts struct {
	addr       string
	tls        bool
	cert       *tls.Certificate
	id         string
	username   string
	password   string
	willTopic  string
	willQoS    byte
	keepAlive  int    // seconds; 0 = 30, noKeepAlive = none
	tlsVersion uint16 // highest TLS version the client offers; 0 = default
}

func (f *fixture) secretOpts(d dev) connOpts {
	return connOpts{addr: f.tlsAddr, tls: true, id: d.name, username: d.name, password: d.secret}
}

func (f *fixture) certOpts(d dev) connOpts {
	return connOpts{addr: f.tlsAddr, tls: true, id: d.name, cert: d.cert}
}

func (f *fixture) clientTLS(o connOpts) *tls.Config {
	c := &tls.Config{RootCAs: f.roots, ServerName: "127.0.0.1", MaxVersion: o.tlsVersion}
	if o.tlsVersion != 0 {
		c.MinVersion = tls.VersionTLS10
	}
	if o.cert != nil {
		c.Certificates = []tls.Certificate{*o.cert}
	}
	return c
}

func (f *fixture) dial(o connOpts) (net.Conn, error) {
	d := &net.Dialer{Timeout: wait}
	if !o.tls {
		return d.Dial("tcp", o.addr)
	}
	return tls.DialWithDialer(d, "tcp", o.addr, f.clientTLS(o))
}

// v5 is an MQTT 5 client (paho.golang) that keeps what the server sends.
type v5 struct {
	*paho.Client
	received    chan *paho.Publish
	disconnects chan *paho.Disconnect
}

// connectV5 connects an MQTT 5 client and returns the CONNACK. The error is
// set when the connection was refused or failed.
func (f *fixture) connectV5(t testing.TB, o connOpts) (*v5, *paho.Connack, error) {
	t.Helper()
	conn, err := f.dial(o)
	if err != nil {
		return nil, nil, err
	}
	c := &v5{received: make(chan *paho.Publish, 100), disconnects: make(chan *paho.Disconnect, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			c.received <- p.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { c.disconnects <- d },
		PacketTimeout:      wait,
	})
	cp := &paho.Connect{ClientID: o.id, KeepAlive: 30, CleanStart: true}
	switch {
	case o.keepAlive == noKeepAlive:
		cp.KeepAlive = 0
	case o.keepAlive > 0:
		cp.KeepAlive = uint16(o.keepAlive)
	}
	if o.username != "" {
		cp.Username, cp.UsernameFlag = o.username, true
	}
	if o.password != "" {
		cp.Password, cp.PasswordFlag = []byte(o.password), true
	}
	if o.willTopic != "" {
		cp.WillMessage = &paho.WillMessage{Topic: o.willTopic, Payload: []byte("gone"), QoS: o.willQoS}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		return nil, ack, err
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ack, nil
}

func (f *fixture) mustV5(t testing.TB, o connOpts) *v5 {
	t.Helper()
	c, _, err := f.connectV5(t, o)
	if err != nil {
		t.Fatalf("connect %s with MQTT 5: %v", o.id, err)
	}
	return c
}

func (c *v5) publish(t testing.TB, topic, payload string, qos byte) (*paho.PublishResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return c.Publish(ctx, &paho.Publish{Topic: topic, Payload: []byte(payload), QoS: qos})
}

func (c *v5) subscribe(t testing.TB, filters ...string) []byte {
	t.Helper()
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ack, err := c.Subscribe(ctx, s)
	if ack == nil {
		t.Fatalf("subscribe %v: %v", filters, err)
	}
	return ack.Reasons
}

// next returns the next message received, failing after wait.
func (c *v5) next(t testing.TB) *paho.Publish {
	t.Helper()
	select {
	case p := <-c.received:
		return p
	case <-time.After(wait):
		t.Fatal("no message received")
		return nil
	}
}

// v3 is an MQTT 3.1.1 client (paho.mqtt.golang) that keeps what the server
// sends.
type v3 struct {
	mqttv3.Client
	received chan mqttv3.Message
	lost     chan error
}

// connectV3 connects an MQTT 3.1.1 client and returns the CONNACK return
// code; the error is set when the connection was refused or failed.
func (f *fixture) connectV3(t testing.TB, o connOpts) (*v3, byte, error) {
	t.Helper()
	c := &v3{received: make(chan mqttv3.Message, 100), lost: make(chan error, 1)}
	scheme := "tcp://"
	opts := mqttv3.NewClientOptions().
		SetClientID(o.id).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(wait).
		SetWriteTimeout(wait).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqttv3.Client, m mqttv3.Message) { c.received <- m }).
		SetConnectionLostHandler(func(_ mqttv3.Client, err error) { c.lost <- err })
	if o.tls {
		scheme = "tls://"
		opts.SetTLSConfig(f.clientTLS(o))
	}
	opts.AddBroker(scheme + o.addr)
	if o.username != "" {
		opts.SetUsername(o.username)
	}
	if o.password != "" {
		opts.SetPassword(o.password)
	}
	if o.willTopic != "" {
		opts.SetWill(o.willTopic, "gone", o.willQoS, false)
	}
	c.Client = mqttv3.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		t.Fatalf("connect %s with MQTT 3.1.1: timed out", o.id)
	}
	rc := tok.(*mqttv3.ConnectToken).ReturnCode()
	if err := tok.Error(); err != nil {
		return nil, rc, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, rc, nil
}

func (f *fixture) mustV3(t testing.TB, o connOpts) *v3 {
	t.Helper()
	c, _, err := f.connectV3(t, o)
	if err != nil {
		t.Fatalf("connect %s with MQTT 3.1.1: %v", o.id, err)
	}
	return c
}

func (c *v3) publish(t testing.TB, topic, payload string, qos byte) error {
	t.Helper()
	tok := c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(wait) {
		return fmt.Errorf("publish to %s: timed out", topic)
	}
	return tok.Error()
}

// subscribe returns the SUBACK codes in the order of filters.
func (c *v3) subscribe(t testing.TB, filters ...string) []byte {
	t.Helper()
	m := make(map[string]byte, len(filters))
	for _, f := range filters {
		m[f] = 1
	}
	tok := c.SubscribeMultiple(m, nil)
	if !tok.WaitTimeout(wait) {
		t.Fatalf("subscribe %v: timed out", filters)
	}
	res := tok.(*mqttv3.SubscribeToken).Result()
	out := make([]byte, len(filters))
	for i, f := range filters {
		out[i] = res[f]
	}
	return out
}

func (c *v3) next(t testing.TB) mqttv3.Message {
	t.Helper()
	select {
	case m := <-c.received:
		return m
	case <-time.After(wait):
		t.Fatal("no message received")
		return nil
	}
}

// waitLost waits until the server has closed the connection.
func (c *v3) waitLost(t testing.TB) {
	t.Helper()
	select {
	case <-c.lost:
	case <-time.After(wait):
		t.Fatal("connection still open")
	}
}
