package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/time/rate"

	"github.com/hearthiot/hearth/protocol"
)

// testBroker is a mochi-mqtt broker on loopback standing in for Hearth's:
// it takes any client, checks device events with Hearth's own rules
// (device.ParseEvent) and with a quota as Hearth's broker does, and keeps
// what came.
type testBroker struct {
	mqtt.HookBase
	addr string

	mu              sync.Mutex
	connects        int
	events          []protocol.Event // accepted
	refused         map[byte]int
	telemetry       []byte // the last telemetry message
	quota           *rate.Limiter
	refuseSubscribe bool
}

func startBroker(t *testing.T, eventBurst int, refuseSubscribe bool) *testBroker {
	t.Helper()
	b := &testBroker{refused: map[byte]int{}, quota: rate.NewLimiter(rate.Limit(1e-6), eventBurst), refuseSubscribe: refuseSubscribe}
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(b, nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := srv.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	b.addr = tcp.Address()
	return b
}

func (b *testBroker) ID() string { return "hearth-test" }

func (b *testBroker) Provides(h byte) bool {
	return slices.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnConnect, mqtt.OnPublish}, h)
}

func (b *testBroker) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (b *testBroker) OnACLCheck(_ *mqtt.Client, _ string, write bool) bool {
	return write || !b.refuseSubscribe
}

func (b *testBroker) OnConnect(*mqtt.Client, packets.Packet) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.connects++
	return nil
}

func (b *testBroker) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch pk.TopicName {
	case protocol.TelemetryTopic(cl.ID):
		b.telemetry = pk.Payload
	case protocol.EventsTopic(cl.ID):
		if !b.quota.Allow() {
			b.refused[packets.ErrQuotaExceeded.Code]++
			return pk, packets.ErrQuotaExceeded
		}
		if _, err := protocol.ParseEvent(pk.Payload, time.Now()); err != nil {
			b.refused[packets.ErrPayloadFormatInvalid.Code]++
			return pk, packets.Code{Code: packets.ErrPayloadFormatInvalid.Code, Reason: err.Error()}
		}
		var e protocol.Event
		if err := json.Unmarshal(pk.Payload, &e); err != nil {
			return pk, packets.ErrPayloadFormatInvalid
		}
		b.events = append(b.events, e)
	}
	return pk, nil
}

// logRecords keeps every log record, for tests that check what the agent
// said.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// find returns the attributes of the records with message msg.
func (l *logRecords) find(msg string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, attrs)
	}
	return out
}

// startAgent runs an agent for the fake equipment against addr until the
// test ends.
func startAgent(t *testing.T, addr string, eq Equipment, logs *logRecords, before func(*Agent)) *Agent {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Device = "gw-1"
	cfg.Hearth.Address, cfg.Hearth.Plain, cfg.Hearth.Secret = addr, true, "s3cret"
	cfg.Hearth.Reconnect = Backoff{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond}
	cfg.Spool.Dir = t.TempDir()
	cfg.Telemetry.Interval = 50 * time.Millisecond
	a, err := New(cfg, eq, slog.New(logs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent run: %v", err)
		}
	})
	return a
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEventsRefusedAreDropped: an event Hearth refuses as malformed (0x99)
// or over the quota (0x97) is dropped and counted, and the session goes on:
// the events after it are sent on the same connection, not after a
// reconnect that would send the refused one first again. A message longer
// than Hearth takes is clipped when the event is raised, so Hearth takes
// it.
func TestEventsRefusedAreDropped(t *testing.T) {
	b := startBroker(t, 4, false)
	logs := &logRecords{}
	long := strings.Repeat("é\x01", 700) // 2100 bytes, with control characters
	a := startAgent(t, b.addr, newFake(), logs, func(a *Agent) {
		now := time.Now()
		for _, e := range []protocol.Event{
			{Level: protocol.LevelWarning, Code: "test_old", Message: "three weeks old", TS: now.Add(-21 * 24 * time.Hour).UnixMilli()},
			{Level: protocol.LevelWarning, Code: "test_long", Message: long, TS: now.UnixMilli()},
			{Level: protocol.LevelInfo, Code: "test_1", Message: "one", TS: now.UnixMilli()},
			{Level: protocol.LevelInfo, Code: "test_2", Message: "two", TS: now.UnixMilli()},
			{Level: protocol.LevelInfo, Code: "test_3", Message: "three: over the quota", TS: now.UnixMilli()},
		} {
			a.ctl.out.event(e)
		}
	})
	waitFor(t, "every event to be sent or refused", func() bool {
		_, _, waiting := a.ctl.out.nextEvent()
		return !waiting && a.link.counts.eventsRefused.Load() == 3
	})
	waitFor(t, "a sample that counts the refused events", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		var s struct{ Values map[string]float64 }
		return json.Unmarshal(b.telemetry, &s) == nil && s.Values[MetricEventsRefused] == 3
	})

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.connects != 1 {
		t.Errorf("%d connections; want the first one only", b.connects)
	}
	var got []string
	for _, e := range b.events {
		got = append(got, e.Code)
	}
	if !slices.Equal(got, []string{"test_long", "test_1", "test_2"}) {
		t.Errorf("events taken %v; want test_long, test_1, test_2", got)
	}
	// test_old is refused as malformed; test_3 and agent_started, raised
	// at start after the events above, over the quota.
	if b.refused[0x99] != 1 || b.refused[0x97] != 2 {
		t.Errorf("refused %v; want one 0x99 and two 0x97", b.refused)
	}
	if n := len(logs.find("hearth connection lost")); n != 0 {
		t.Errorf("the connection was lost %d times over refused events", n)
	}
	// One log line for the burst of refusals, not one each.
	if lines := logs.find("device event refused by hearth and dropped"); len(lines) != 1 || lines[0]["code"] != "test_old" {
		t.Errorf("refusals logged %v; want one line, for test_old", lines)
	}
	for _, e := range b.events {
		if e.Code == "test_long" && (len(e.Message) > protocol.MaxEventMessage || !utf8.ValidString(e.Message) ||
			!strings.HasPrefix(e.Message, "é é ") || !strings.HasSuffix(e.Message, "…")) {
			t.Errorf("long message of %d bytes %q…; want it clipped to %d bytes of valid text", len(e.Message), e.Message[:20], protocol.MaxEventMessage)
		}
	}
}

// TestSessionEndsWithTheAgentsReason: when the agent ends a session itself
// (here: Hearth refuses its shadow subscription), the log says why, not
// that paho's reader found the connection closed under it.
func TestSessionEndsWithTheAgentsReason(t *testing.T) {
	b := startBroker(t, 100, true)
	logs := &logRecords{}
	startAgent(t, b.addr, newFake(), logs, nil)
	waitFor(t, "sessions to end", func() bool { return len(logs.find("hearth connection lost")) >= 50 })
	for _, l := range logs.find("hearth connection lost")[:50] {
		if !strings.Contains(l["error"], "refused with reason 0x87") {
			t.Errorf("session ended with %q; want the refused subscription", l["error"])
		}
	}
}

// TestConnectTimeout: connect_timeout bounds TCP, TLS and the CONNACK
// together, not each of them. The server takes most of the timeout for
// the TLS handshake and then never answers the CONNECT.
func TestConnectTimeout(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const timeout, handshakeAfter = time.Second, 700 * time.Millisecond
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				time.Sleep(handshakeAfter)
				tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{cert}})
				if tc.Handshake() != nil {
					return
				}
				buf := make([]byte, 1024)
				for {
					if _, err := tc.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	l := &link{
		name:   "gw-1",
		cfg:    HearthConfig{Address: ln.Addr().String(), KeepAlive: 30 * time.Second, ConnectTimeout: timeout},
		tls:    &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
		logger: slog.New(slog.DiscardHandler),
	}
	start := time.Now()
	up, err := l.session(context.Background())
	took := time.Since(start)
	if up != 0 || err == nil {
		t.Fatalf("session up %s, %v; want it to fail", up, err)
	}
	if took < timeout-50*time.Millisecond || took > timeout+400*time.Millisecond {
		t.Errorf("connecting gave up after %s (%v); want about the timeout of %s for TCP, TLS and CONNACK together", took.Round(time.Millisecond), err, timeout)
	}
}

// selfSigned is a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hearth-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
