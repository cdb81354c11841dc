package broker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/device"
)

// presenceMsg is an AWS lifecycle event as a server-side subscriber gets it.
type presenceMsg struct {
	Topic                     string
	ClientID                  string `json:"clientId"`
	Timestamp                 int64  `json:"timestamp"`
	EventType                 string `json:"eventType"`
	SessionIdentifier         string `json:"sessionIdentifier"`
	PrincipalIdentifier       string `json:"principalIdentifier"`
	IPAddress                 string `json:"ipAddress"`
	VersionNumber             uint64 `json:"versionNumber"`
	ClientInitiatedDisconnect *bool  `json:"clientInitiatedDisconnect"`
	DisconnectReason          string `json:"disconnectReason"`
}

type presenceFixture struct {
	*fixture
	presence *device.Presence
	events   chan presenceMsg
}

func newPresenceFixture(t *testing.T) *presenceFixture {
	t.Helper()
	e := newEnv(t)
	stored := &memWriter{}
	spy := &spyIngester{next: device.NewTelemetry(device.TelemetryLimits{}, e.reg, stored)}
	logs := newLogSink()
	p := device.NewPresence(nil)
	b := startBroker(t, e, broker.Config{TLSAddr: "127.0.0.1:0", TLS: e.serverTLS},
		broker.Deps{Ingest: spy, Presence: p}, slog.New(logs))
	pf := &presenceFixture{
		fixture:  &fixture{env: e, broker: b, ingest: spy, stored: stored, logs: logs},
		presence: p,
		events:   make(chan presenceMsg, 100),
	}
	tlsAddr, _ := b.Addrs()
	pf.tlsAddr = tlsAddr.String()
	if err := b.SubscribeInline("$aws/events/presence/#", func(topic string, payload []byte) {
		m := presenceMsg{Topic: topic}
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Errorf("presence event %s: %v: %s", topic, err, payload)
		}
		pf.events <- m
	}); err != nil {
		t.Fatal(err)
	}
	return pf
}

func (f *presenceFixture) nextEvent(t *testing.T) presenceMsg {
	t.Helper()
	select {
	case m := <-f.events:
		return m
	case <-time.After(wait):
		t.Fatal("no presence event")
		return presenceMsg{}
	}
}

func (f *presenceFixture) get(t *testing.T, name string) device.PresenceInfo {
	t.Helper()
	info, ok := f.presence.Get(name)
	if !ok {
		t.Fatalf("presence of %s unknown", name)
	}
	return info
}

// ignoreVarying drops what differs from run to run.
var ignoreVarying = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".Timestamp", ".SessionIdentifier", ".VersionNumber", ".PrincipalIdentifier":
		return true
	}
	return false
}, cmp.Ignore())

func boolPtr(b bool) *bool { return &b }

func TestPresenceCleanDisconnect(t *testing.T) {
	f := newPresenceFixture(t)
	d := f.newDevice(t, "boiler-1")
	before := time.Now()
	c := f.mustV5(t, f.secretOpts(d))

	conn := f.nextEvent(t)
	want := presenceMsg{Topic: "$aws/events/presence/connected/boiler-1", ClientID: "boiler-1", EventType: "connected", IPAddress: "127.0.0.1"}
	if diff := cmp.Diff(want, conn, ignoreVarying); diff != "" {
		t.Errorf("connected event (-want +got):\n%s", diff)
	}
	if conn.PrincipalIdentifier != d.secretID || conn.SessionIdentifier == "" || conn.Timestamp < before.UnixMilli() {
		t.Errorf("connected event = %+v; want principal %s, a session id and a timestamp from now", conn, d.secretID)
	}
	info := f.get(t, "boiler-1")
	if !info.Online || info.Protocol != 5 || info.ConnectedAt.Before(before) || info.Remote == "" {
		t.Errorf("after connect: %+v; want online over MQTT 5", info)
	}

	time.Sleep(10 * time.Millisecond)
	if _, err := c.publish(t, "hearth/things/boiler-1/telemetry", `{"t":1}`, 1); err != nil {
		t.Fatal(err)
	}
	if seen := f.get(t, "boiler-1").LastSeen; !seen.After(info.ConnectedAt) {
		t.Errorf("last seen %s not after connect %s", seen, info.ConnectedAt)
	}

	if err := c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	disc := f.nextEvent(t)
	want = presenceMsg{
		Topic: "$aws/events/presence/disconnected/boiler-1", ClientID: "boiler-1", EventType: "disconnected", IPAddress: "127.0.0.1",
		ClientInitiatedDisconnect: boolPtr(true), DisconnectReason: "CLIENT_INITIATED_DISCONNECT",
	}
	if diff := cmp.Diff(want, disc, ignoreVarying); diff != "" {
		t.Errorf("disconnected event (-want +got):\n%s", diff)
	}
	if disc.SessionIdentifier != conn.SessionIdentifier {
		t.Errorf("disconnect session %q, connect session %q; want the same", disc.SessionIdentifier, conn.SessionIdentifier)
	}
	info = f.get(t, "boiler-1")
	if info.Online || info.Reason != device.ReasonClean || info.DisconnectedAt.IsZero() {
		t.Errorf("after disconnect: %+v; want offline, clean", info)
	}
}

func TestPresenceTakeover(t *testing.T) {
	f := newPresenceFixture(t)
	d := f.newDevice(t, "boiler-1")
	first := f.mustV3(t, f.secretOpts(d))
	c1 := f.nextEvent(t)
	f.mustV3(t, f.certOpts(d))

	// The new connection's connect and the old one's disconnect may come
	// in either order.
	got := map[string]presenceMsg{}
	for range 2 {
		m := f.nextEvent(t)
		got[m.EventType] = m
	}
	first.waitLost(t)
	if m := got["disconnected"]; m.SessionIdentifier != c1.SessionIdentifier || m.DisconnectReason != "DUPLICATE_CLIENTID" || *m.ClientInitiatedDisconnect {
		t.Errorf("disconnected event = %+v; want the first session, DUPLICATE_CLIENTID", m)
	}
	c2 := got["connected"]
	if c2.SessionIdentifier == c1.SessionIdentifier || c2.PrincipalIdentifier != d.certID {
		t.Errorf("second connected event = %+v; want a new session with the certificate", c2)
	}
	if info := f.get(t, "boiler-1"); !info.Online || info.Protocol != 4 {
		t.Errorf("after takeover: %+v; want online", info)
	}
}

func TestPresenceRevoked(t *testing.T) {
	f := newPresenceFixture(t)
	d := f.newDevice(t, "boiler-1")
	c := f.mustV3(t, f.secretOpts(d))
	f.nextEvent(t)
	if _, err := f.reg.RevokeCredentials("boiler-1", d.secretID); err != nil {
		t.Fatal(err)
	}
	c.waitLost(t)
	m := f.nextEvent(t)
	if m.EventType != "disconnected" || m.DisconnectReason != "AUTHORIZATION_FAILURE" {
		t.Errorf("event = %+v; want disconnected, AUTHORIZATION_FAILURE", m)
	}
	if info := f.get(t, "boiler-1"); info.Online || info.Reason != device.ReasonCredentialRevoked {
		t.Errorf("after revocation: %+v; want offline, credential_revoked", info)
	}
}

func TestPresenceServerShutdown(t *testing.T) {
	f := newPresenceFixture(t)
	d := f.newDevice(t, "boiler-1")
	f.mustV5(t, f.secretOpts(d))
	f.nextEvent(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := f.broker.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "offline", func() bool { info, _ := f.presence.Get("boiler-1"); return !info.Online })
	if info := f.get(t, "boiler-1"); info.Reason != device.ReasonServerShutdown {
		t.Errorf("after shutdown: %+v; want server_shutdown", info)
	}
}

// TestPresenceTopicsRefused: a device may not read other devices' (nor its
// own) presence events.
func TestPresenceTopicsRefused(t *testing.T) {
	f := newPresenceFixture(t)
	d := f.newDevice(t, "boiler-1")
	c := f.mustV5(t, f.secretOpts(d))
	f.nextEvent(t)
	codes := c.subscribe(t, "$aws/events/presence/connected/boiler-1", "$aws/events/presence/#")
	for i, code := range codes {
		if code < 0x80 {
			t.Errorf("subscription %d granted with 0x%02x; want refused", i, code)
		}
	}
}
