package broker_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqttv3 "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/broker"
)

// MQTT 5 CONNACK reason codes and MQTT 3.1.1 return codes the tests expect.
const (
	v5BadCredentials     = 0x86
	v5NotAuthorized      = 0x87
	v5IdentifierInvalid  = 0x85
	v5ServerBusy         = 0x89
	v3IdentifierRejected = 2
	v3ServerUnavailable  = 3
	v3BadCredentials     = 4
	v3NotAuthorized      = 5
)

func TestConnect(t *testing.T) {
	f := newFixture(t, nil)
	boiler := f.newDevice(t, "boiler-1")
	other := f.newDevice(t, "boiler-2")
	revoked := f.newDevice(t, "boiler-3")
	if _, err := f.reg.RevokeCredentials(revoked.name, ""); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		proto int // 4 = MQTT 3.1.1, 5 = MQTT 5
		opts  connOpts
		want  byte // CONNACK code; 0 = accepted
	}{
		{"certificate v5", 5, f.certOpts(boiler), 0},
		{"certificate v3", 4, f.certOpts(boiler), 0},
		{"certificate and username = name", 5, withUser(f.certOpts(boiler), boiler.name, ""), 0},
		{"secret v5", 5, f.secretOpts(boiler), 0},
		{"secret v3", 4, f.secretOpts(boiler), 0},
		{"secret on plain listener v5", 5, plain(f, f.secretOpts(boiler)), 0},
		{"secret on plain listener v3", 4, plain(f, f.secretOpts(boiler)), 0},
		{"wrong secret v5", 5, withUser(f.secretOpts(boiler), boiler.name, other.secret), v5BadCredentials},
		{"wrong secret v3", 4, withUser(f.secretOpts(boiler), boiler.name, other.secret), v3BadCredentials},
		{"wrong secret on plain listener v3", 4, plain(f, withUser(f.secretOpts(boiler), boiler.name, "nope")), v3BadCredentials},
		{"unknown device v5", 5, connOpts{addr: f.tlsAddr, tls: true, id: "ghost", username: "ghost", password: boiler.secret}, v5BadCredentials},
		{"no credentials v5", 5, connOpts{addr: f.tlsAddr, tls: true, id: boiler.name}, v5BadCredentials},
		{"no credentials v3", 4, connOpts{addr: f.tlsAddr, tls: true, id: boiler.name}, v3BadCredentials},
		{"client id is not the certificate's device v5", 5, withID(f.certOpts(boiler), other.name), v5NotAuthorized},
		{"client id is not the certificate's device v3", 4, withID(f.certOpts(boiler), other.name), v3NotAuthorized},
		{"certificate and another device's username v5", 5, withUser(f.certOpts(boiler), other.name, ""), 0},
		{"certificate and an SDK metrics username v3", 4, withUser(f.certOpts(boiler), "?SDK=JavaScript&Version=2.2.16", ""), 0},
		{"certificate and an SDK metrics username v5", 5, withUser(f.certOpts(boiler), "?SDK=PythonV2&Version=1.21.0", ""), 0},
		{"certificate, a metrics username and a password v3", 4, withUser(f.certOpts(boiler), "?SDK=Java&Version=1.3.9", "unused"), 0},
		{"a metrics username alone is no credential v5", 5, connOpts{addr: f.tlsAddr, tls: true, id: boiler.name, username: "?SDK=JavaScript&Version=2.2.16"}, v5BadCredentials},
		{"username is not the client id v5", 5, withUser(f.secretOpts(boiler), other.name, other.secret), v5NotAuthorized},
		{"username is not the client id v3", 4, withUser(f.secretOpts(boiler), other.name, other.secret), v3NotAuthorized},
		{"revoked secret v5", 5, f.secretOpts(revoked), v5NotAuthorized},
		{"revoked secret v3", 4, f.secretOpts(revoked), v3NotAuthorized},
		{"revoked certificate v5", 5, f.certOpts(revoked), v5NotAuthorized},
		{"revoked certificate v3", 4, f.certOpts(revoked), v3NotAuthorized},
		{"client id is not a device name v5", 5, withID(f.secretOpts(boiler), "boiler/1"), v5IdentifierInvalid},
		{"client id is not a device name v3", 4, withID(f.secretOpts(boiler), "boiler/1"), v3IdentifierRejected},
		{"will on another device's topic v5", 5, withWill(f.certOpts(boiler), "hearth/things/boiler-2/state"), v5NotAuthorized},
		{"will on another device's topic v3", 4, withWill(f.certOpts(boiler), "hearth/things/boiler-2/state"), v3NotAuthorized},
		{"will on own topic v5", 5, withWill(f.certOpts(boiler), "hearth/things/boiler-1/state"), 0},
		// QoS 2 is not offered; mochi refuses before the auth hook runs,
		// and a 3.1.1 client gets a code it knows and does not take for
		// a passing fault.
		{"will with QoS 2 v5", 5, withWillQoS2(f.certOpts(boiler), "hearth/things/boiler-1/state"), 0x9b},
		{"will with QoS 2 v3", 4, withWillQoS2(f.certOpts(boiler), "hearth/things/boiler-1/state"), v3NotAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.broker.Stats().RefusedConnects
			got, err := connectCode(t, f, tt.proto, tt.opts)
			if got != tt.want {
				t.Fatalf("CONNACK code = %#x (error %v), want %#x", got, err, tt.want)
			}
			if (err == nil) != (tt.want == 0) {
				t.Fatalf("connect error = %v, want refused: %v", err, tt.want != 0)
			}
			refused := f.broker.Stats().RefusedConnects - before
			if want := uint64(min(tt.want, 1)); refused != want {
				t.Errorf("RefusedConnects went up by %d, want %d", refused, want)
			}
		})
	}
}

func withUser(o connOpts, user, pass string) connOpts {
	o.username, o.password = user, pass
	return o
}

func withID(o connOpts, id string) connOpts { o.id = id; return o }

func withWill(o connOpts, topic string) connOpts {
	o.willTopic, o.willQoS = topic, 1
	return o
}

func withWillQoS2(o connOpts, topic string) connOpts {
	o.willTopic, o.willQoS = topic, 2
	return o
}

func plain(f *fixture, o connOpts) connOpts {
	o.addr, o.tls, o.cert = f.plainAddr, false, nil
	return o
}

// connectCode connects with the given protocol version and returns the
// CONNACK code, disconnecting again when accepted.
func connectCode(t *testing.T, f *fixture, proto int, o connOpts) (byte, error) {
	t.Helper()
	if proto == 5 {
		c, ack, err := f.connectV5(t, o)
		if c != nil {
			_ = c.Disconnect(&paho.Disconnect{})
		}
		if ack == nil {
			if err == nil {
				t.Fatal("no CONNACK and no error")
			}
			return 0xff, err
		}
		return ack.ReasonCode, err
	}
	c, rc, err := f.connectV3(t, o)
	if c != nil {
		c.Disconnect(0)
	}
	return rc, err
}

// A TLS config that allows TLS 1.0 is raised to TLS 1.2.
func TestConnectOldTLSRefused(t *testing.T) {
	f := newFixture(t, func(c *broker.Config) {
		c.TLS = c.TLS.Clone()
		c.TLS.MinVersion = tls.VersionTLS10
	})
	d := f.newDevice(t, "sensor-1")
	o := f.secretOpts(d)
	o.tlsVersion = tls.VersionTLS11
	if _, _, err := f.connectV5(t, o); err == nil {
		t.Fatal("connected with TLS 1.1")
	}
	o.tlsVersion = tls.VersionTLS12
	f.mustV5(t, o)
}

// Revoking the credential a session connected with ends that session; a
// session on another credential of the same device stays.
func TestCredentialsChanged(t *testing.T) {
	f := newFixture(t, nil)
	bySecret := f.newDevice(t, "ahu-1")
	byCert := f.newDevice(t, "ahu-2")
	deleted := f.newDevice(t, "ahu-3")

	c5 := f.mustV5(t, f.secretOpts(bySecret))
	c3 := f.mustV3(t, f.certOpts(byCert))
	cDel := f.mustV5(t, f.certOpts(deleted))

	// Revoking ahu-2's secret leaves its certificate session alone.
	if _, err := f.reg.RevokeCredentials(byCert.name, byCert.secretID); err != nil {
		t.Fatal(err)
	}
	roundTripV3(t, c3, "hearth/things/ahu-2/ping")

	if _, err := f.reg.RevokeCredentials(bySecret.name, bySecret.secretID); err != nil {
		t.Fatal(err)
	}
	wantDisconnect(t, c5, v5NotAuthorized)

	if _, err := f.reg.RotateCredentials(byCert.name); err != nil {
		t.Fatal(err)
	}
	c3.waitLost(t)

	if err := f.reg.DeleteDevice(deleted.name); err != nil {
		t.Fatal(err)
	}
	wantDisconnect(t, cDel, v5NotAuthorized)

	waitFor(t, "no client connected", func() bool { return f.broker.Stats().Connected == 0 })
	if got := f.logs.matching("credential no longer active", "ahu-1"); len(got) != 1 {
		t.Errorf("log lines about ahu-1 = %q, want one", got)
	}
}

// When a device connects again while its old connection is open, the new
// connection takes over, and it is the new connection's credential that
// decides whether it may stay.
func TestCredentialsChangedAfterTakeover(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDevice(t, "meter-1")
	old := f.mustV5(t, f.certOpts(d))
	cur := f.mustV5(t, f.secretOpts(d))
	wantDisconnect(t, old, 0x8e) // session taken over

	if _, err := f.reg.RevokeCredentials(d.name, d.certID); err != nil {
		t.Fatal(err)
	}
	roundTripV5(t, cur, "hearth/things/meter-1/ping")

	if _, err := f.reg.RevokeCredentials(d.name, d.secretID); err != nil {
		t.Fatal(err)
	}
	wantDisconnect(t, cur, v5NotAuthorized)
}

func wantDisconnect(t *testing.T, c *v5, code byte) {
	t.Helper()
	select {
	case d := <-c.disconnects:
		if d.ReasonCode != code {
			t.Fatalf("DISCONNECT reason = %#x, want %#x", d.ReasonCode, code)
		}
	case <-time.After(wait):
		t.Fatalf("no DISCONNECT %#x received", code)
	}
}

// roundTripV5 proves a connection alive: a message to the device's own
// topic comes back.
func roundTripV5(t *testing.T, c *v5, topic string) {
	t.Helper()
	if codes := c.subscribe(t, topic); codes[0] != 1 {
		t.Fatalf("subscribe %s: %#x", topic, codes[0])
	}
	if _, err := c.publish(t, topic, "ping", 1); err != nil {
		t.Fatal(err)
	}
	if p := c.next(t); p.Topic != topic {
		t.Fatalf("received %s, want %s", p.Topic, topic)
	}
}

func roundTripV3(t *testing.T, c *v3, topic string) {
	t.Helper()
	if codes := c.subscribe(t, topic); codes[0] != 1 {
		t.Fatalf("subscribe %s: %#x", topic, codes[0])
	}
	if err := c.publish(t, topic, "ping", 1); err != nil {
		t.Fatal(err)
	}
	if m := c.next(t); m.Topic() != topic {
		t.Fatalf("received %s, want %s", m.Topic(), topic)
	}
}

func TestMaxClients(t *testing.T) {
	f := newFixture(t, func(c *broker.Config) { c.MaxClients = 2 })
	a, b, c := f.newDevice(t, "co2-1"), f.newDevice(t, "co2-2"), f.newDevice(t, "co2-3")
	f.mustV5(t, f.secretOpts(a))
	cb := f.mustV3(t, f.secretOpts(b))

	if code, _ := connectCode(t, f, 5, f.secretOpts(c)); code != v5ServerBusy {
		t.Errorf("MQTT 5 CONNACK over the limit = %#x, want %#x", code, v5ServerBusy)
	}
	if code, _ := connectCode(t, f, 4, f.certOpts(c)); code != v3ServerUnavailable {
		t.Errorf("MQTT 3.1.1 CONNACK over the limit = %#x, want %#x", code, v3ServerUnavailable)
	}
	// A connected device reconnecting takes its own place.
	f.mustV5(t, f.certOpts(a))

	cb.Disconnect(0)
	waitFor(t, "one client left", func() bool { return f.broker.Stats().Connected == 1 })
	f.mustV5(t, f.secretOpts(c))
	if got := f.broker.Stats().RefusedConnects; got != 2 {
		t.Errorf("RefusedConnects = %d, want 2", got)
	}
}

// The CONNACK of MQTT 5 tells the client the broker's limits.
func TestConnackProperties(t *testing.T) {
	f := newFixture(t, func(c *broker.Config) {
		c.MaxPayload = 1000
		c.ReceiveMaximum = 10
		c.KeepAliveMax = 20 * time.Second
	})
	d := f.newDevice(t, "valve-1")

	o := f.secretOpts(d)
	o.keepAlive = 10
	_, ack, err := f.connectV5(t, o)
	if err != nil {
		t.Fatal(err)
	}
	p := ack.Properties
	if p.MaximumPacketSize == nil || *p.MaximumPacketSize != 1000+8<<10 {
		t.Errorf("MaximumPacketSize = %v, want %d", deref(p.MaximumPacketSize), 1000+8<<10)
	}
	if p.ReceiveMaximum == nil || *p.ReceiveMaximum != 10 {
		t.Errorf("ReceiveMaximum = %v, want 10", deref(p.ReceiveMaximum))
	}
	if p.MaximumQoS == nil || *p.MaximumQoS != 1 {
		t.Errorf("MaximumQoS = %v, want 1", deref(p.MaximumQoS))
	}
	if p.TopicAliasMaximum == nil || *p.TopicAliasMaximum != 8 {
		t.Errorf("TopicAliasMaximum = %v, want 8", deref(p.TopicAliasMaximum))
	}
	if p.ServerKeepAlive != nil {
		t.Errorf("ServerKeepAlive = %d for a keepalive under the maximum, want none", *p.ServerKeepAlive)
	}

	for _, ka := range []int{noKeepAlive, 60} {
		o.keepAlive = ka
		_, ack, err := f.connectV5(t, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := ack.Properties.ServerKeepAlive; got == nil || *got != 20 {
			t.Errorf("keepalive %d: ServerKeepAlive = %v, want 20", ka, deref(got))
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// Refusals are logged at most ten times a minute per reason, then summed
// up; no log line ever carries a secret.
func TestRefusalLogsLimited(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDevice(t, "boiler-9")
	const wrong = "not-the-secret-0123456789"
	for range 25 {
		if code, _ := connectCode(t, f, 4, plain(f, withUser(f.secretOpts(d), d.name, wrong))); code != v3BadCredentials {
			t.Fatalf("CONNACK = %#x, want %#x", code, v3BadCredentials)
		}
	}
	f.mustV5(t, f.secretOpts(d))
	if got := f.broker.Stats().RefusedConnects; got != 25 {
		t.Errorf("RefusedConnects = %d, want 25", got)
	}
	lines := f.logs.matching("mqtt connect refused", `reason="bad secret"`, `device="boiler-9"`)
	if len(lines) != 10 {
		t.Errorf("%d refusal lines logged, want 10:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if err := f.broker.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := f.logs.matching("log lines held back", `message="mqtt connect refused: bad secret"`, `held="15"`); len(got) != 1 {
		t.Errorf("summary lines = %q, want one with held=15", got)
	}
	for _, secret := range []string{wrong, d.secret} {
		if got := f.logs.matching(secret); len(got) > 0 {
			t.Errorf("a secret was logged: %q", got)
		}
	}
}

// FuzzConnect sends CONNECT packets with arbitrary client ids, usernames
// and passwords, MQTT 3.1.1 and 5, to the plain listener: only the device's
// own name and secret may ever be accepted.
func FuzzConnect(f *testing.F) {
	fx := newFixture(f, nil)
	d := fx.newDevice(f, "fuzz-1")
	f.Add(d.name, d.name, d.secret, true)
	f.Add(d.name, d.name, d.secret, false)
	f.Add(d.name, d.name, d.secret+"x", false)
	f.Add(d.name, "", d.secret, true)
	f.Add("", d.name, d.secret, false)
	f.Add("fuzz-1/#", "fuzz-1/#", d.secret, true)
	f.Add(d.name, d.name+"\x00", d.secret, true)
	f.Add(strings.Repeat("a", 300), "a", "b", false)
	f.Fuzz(func(t *testing.T, id, user, pass string, v5 bool) {
		accepted, err := rawConnect(fx.plainAddr, id, user, pass, v5)
		if err != nil {
			t.Fatal(err)
		}
		want := id == d.name && user == d.name && pass == d.secret
		if accepted != want {
			t.Fatalf("connect(id %q, user %q, v5 %v) accepted = %v, want %v", id, user, v5, accepted, want)
		}
	})
}

// rawConnect sends one CONNECT, encoded by mochi's packet code, and reports
// whether the CONNACK accepted it. A connection closed without CONNACK is
// a refusal.
func rawConnect(addr, id, user, pass string, v5 bool) (bool, error) {
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	code, answered, err := rawConnack(conn, connectPacket(id, user, pass, v5))
	return answered && code == 0, err
}

// connectPacket is a CONNECT with the user name and password flags set
// when the user name or password is not empty.
func connectPacket(id, user, pass string, v5 bool) mochi.Packet {
	pk := mochi.Packet{
		FixedHeader:     mochi.FixedHeader{Type: mochi.Connect},
		ProtocolVersion: 4,
		Connect: mochi.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			Clean:            true,
			Keepalive:        30,
			ClientIdentifier: id,
			UsernameFlag:     user != "",
			Username:         []byte(user),
			PasswordFlag:     pass != "",
			Password:         []byte(pass),
		},
	}
	if v5 {
		pk.ProtocolVersion = 5
	}
	return pk
}

// rawConnack writes pk on conn and returns the CONNACK's code; answered is
// false when the broker closed the connection without one.
func rawConnack(conn net.Conn, pk mochi.Packet) (code byte, answered bool, err error) {
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		return 0, false, fmt.Errorf("encode connect: %w", err)
	}
	_, code, answered, err = sendConnect(conn, buf.Bytes())
	return code, answered, err
}

// sendConnect writes a CONNECT given as bytes on conn and returns the
// CONNACK's code; answered is false when the broker closed the connection
// without one. r reads what follows the CONNACK.
func sendConnect(conn net.Conn, raw []byte) (r *bufio.Reader, code byte, answered bool, err error) {
	_ = conn.SetDeadline(time.Now().Add(wait))
	r = bufio.NewReader(conn)
	if _, err := conn.Write(raw); err != nil {
		return r, 0, false, nil // the broker already closed: refused
	}
	first, err := r.ReadByte()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return r, 0, false, fmt.Errorf("read connack: %w", err)
	}
	if err != nil {
		return r, 0, false, nil // closed without CONNACK: refused
	}
	if first>>4 != mochi.Connack {
		return r, 0, false, fmt.Errorf("first packet type %d, want CONNACK", first>>4)
	}
	n, _, err := mochi.DecodeLength(r)
	if err != nil {
		return r, 0, false, fmt.Errorf("read connack length: %w", err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil || n < 2 {
		return r, 0, false, fmt.Errorf("read connack body (%d bytes): %w", n, err)
	}
	return r, body[1], true, nil
}

// MQTT allows a zero-length password. A CONNECT with a user name and an
// empty password is bad credentials, which firmware gives up on, not
// "server unavailable", which it retries for ever; beside a client
// certificate, which alone identifies the device, it is ignored.
func TestConnectEmptyPassword(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDevice(t, "pump-1")
	tests := []struct {
		name string
		opts connOpts
		v5   bool
		want byte
	}{
		{"secret v3", plain(f, f.secretOpts(d)), false, v3BadCredentials},
		{"secret v5", plain(f, f.secretOpts(d)), true, v5BadCredentials},
		{"certificate v3", f.certOpts(d), false, 0},
		{"certificate v5", f.certOpts(d), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := f.dial(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			pk := connectPacket(d.name, d.name, "", tt.v5)
			pk.Connect.PasswordFlag = true
			code, answered, err := rawConnack(conn, pk)
			if err != nil {
				t.Fatal(err)
			}
			if !answered || code != tt.want {
				t.Fatalf("CONNACK code = %#x (answered %v), want %#x", code, answered, tt.want)
			}
		})
	}
}

// A device deleted and registered again under the same name does not resume
// the old device's persistent session; a device whose credentials were only
// rotated does.
func TestSessionOfDeletedDeviceIsDiscarded(t *testing.T) {
	f := newFixture(t, nil)
	connect := func(d dev) (mqttv3.Client, bool) {
		t.Helper()
		o := f.certOpts(d)
		opts := mqttv3.NewClientOptions().AddBroker("tls://" + o.addr).SetClientID(o.id).
			SetProtocolVersion(4).SetCleanSession(false).SetAutoReconnect(false).
			SetConnectTimeout(wait).SetTLSConfig(f.clientTLS(o))
		c := mqttv3.NewClient(opts)
		tok := c.Connect()
		if !tok.WaitTimeout(wait) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		return c, tok.(*mqttv3.ConnectToken).SessionPresent()
	}
	d := f.newDevice(t, "keep-1")
	c, _ := connect(d)
	if tok := c.Subscribe("hearth/things/keep-1/cmd", 1, nil); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.Disconnect(100)
	c, present := connect(d)
	if !present {
		t.Fatal("a reconnect with clean session off did not resume the session")
	}
	c.Disconnect(100)

	if err := f.env.reg.DeleteDevice("keep-1"); err != nil {
		t.Fatal(err)
	}
	d2 := f.newDevice(t, "keep-1")
	if _, present := connect(d2); present {
		t.Error("the new device under a deleted device's name resumed the old session")
	}
}
