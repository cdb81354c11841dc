package broker_test

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/device"
)

// gatedIngester accepts every message at once and stores each only when
// the test opens its gate, as the telemetry log stores a message only
// once a group commit covering it is done.
type gatedIngester struct {
	mu       sync.Mutex
	gates    []chan struct{}
	accepted atomic.Int64
}

func (g *gatedIngester) Accept(string, []byte, time.Time) (device.Storing, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gate := make(chan struct{})
	g.gates = append(g.gates, gate)
	g.accepted.Add(1)
	return gatedStoring(gate), nil
}

// open lets the i-th accepted message (from 0) be stored.
func (g *gatedIngester) open(i int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gates[i])
}

type gatedStoring chan struct{}

func (s gatedStoring) Wait() (int, error) {
	<-s
	return 1, nil
}

// rawV5 is an MQTT 5 connection written and read packet by packet, to see
// the order of what the broker sends.
type rawV5 struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRawV5(t *testing.T, addr, name, secret string) *rawV5 {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawV5{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.send(mochi.Packet{
		FixedHeader: mochi.FixedHeader{Type: mochi.Connect}, ProtocolVersion: 5,
		Connect: mochi.ConnectParams{
			ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: name,
			UsernameFlag: true, Username: []byte(name), PasswordFlag: true, Password: []byte(secret),
		},
	})
	if typ, body := c.read(wait); typ != mochi.Connack || len(body) < 2 || body[1] != 0 {
		t.Fatalf("CONNACK: packet type %d, body %x", typ, body)
	}
	return c
}

func (c *rawV5) send(pk mochi.Packet) {
	c.t.Helper()
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case mochi.Connect:
		err = pk.ConnectEncode(&buf)
	case mochi.Publish:
		err = pk.PublishEncode(&buf)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawV5) publish(id uint16, topic, payload string) {
	c.t.Helper()
	c.send(mochi.Packet{
		FixedHeader: mochi.FixedHeader{Type: mochi.Publish, Qos: 1}, ProtocolVersion: 5,
		PacketID: id, TopicName: topic, Payload: []byte(payload),
	})
}

// read returns the type and body of the next packet, or type 0 when none
// came within d.
func (c *rawV5) read(d time.Duration) (byte, []byte) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	first, err := c.r.ReadByte()
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return 0, nil
		}
		c.t.Fatalf("read: %v", err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	n, _, err := mochi.DecodeLength(c.r)
	if err != nil {
		c.t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatal(err)
	}
	return first >> 4, body
}

// puback reads the next packet, which must be a PUBACK, and returns its
// packet identifier and reason code.
func (c *rawV5) puback() (uint16, byte) {
	c.t.Helper()
	typ, body := c.read(wait)
	if typ != mochi.Puback || len(body) < 2 {
		c.t.Fatalf("got packet type %d (%x), want a PUBACK", typ, body)
	}
	code := byte(0)
	if len(body) > 2 {
		code = body[2]
	}
	return uint16(body[0])<<8 | uint16(body[1]), code
}

// A connection's telemetry is read on while earlier messages are still
// being stored, each message is acknowledged only once it is stored, and
// the PUBACKs leave in the order the messages came, also when a later
// message is stored first and when another PUBACK follows them.
func TestTelemetryAcknowledgedOnceStoredInOrder(t *testing.T) {
	e := newEnv(t)
	ing := &gatedIngester{}
	b := startBroker(t, e, broker.Config{PlainAddr: "127.0.0.1:0"}, broker.Deps{Ingest: ing}, slog.New(slog.DiscardHandler))
	_, plainAddr := b.Addrs()
	d := e.newDevice(t, "chiller-7")
	c := dialRawV5(t, plainAddr.String(), d.name, d.secret)

	for id := uint16(1); id <= 3; id++ {
		c.publish(id, "hearth/things/chiller-7/telemetry", `{"chw_supply_c": 7}`)
	}
	c.publish(4, "hearth/things/someone-else/telemetry", `{"chw_supply_c": 7}`) // refused at once
	waitFor(t, "three messages accepted before any is stored", func() bool { return ing.accepted.Load() == 3 })
	if typ, body := c.read(100 * time.Millisecond); typ != 0 {
		t.Fatalf("got packet type %d (%x) before any message was stored", typ, body)
	}

	ing.open(1) // the second is stored first: still no PUBACK
	if typ, body := c.read(100 * time.Millisecond); typ != 0 {
		t.Fatalf("got packet type %d (%x) while the first message is not stored", typ, body)
	}
	ing.open(0)
	ing.open(2)
	want := []struct {
		id   uint16
		code byte
	}{{1, 0}, {2, 0}, {3, 0}, {4, mochi.ErrNotAuthorized.Code}}
	for _, w := range want {
		if id, code := c.puback(); id != w.id || code != w.code {
			t.Fatalf("PUBACK %d with reason %#x; want %d with %#x", id, code, w.id, w.code)
		}
	}
}

// A device with ReceiveMaximum messages waiting to be stored is read no
// further until one of them is: the broker's memory per connection stays
// bounded however fast it sends.
func TestTelemetryQueueBounded(t *testing.T) {
	e := newEnv(t)
	ing := &gatedIngester{}
	b := startBroker(t, e, broker.Config{PlainAddr: "127.0.0.1:0", ReceiveMaximum: 2}, broker.Deps{Ingest: ing}, slog.New(slog.DiscardHandler))
	_, plainAddr := b.Addrs()
	d := e.newDevice(t, "iaq-3")
	c := dialRawV5(t, plainAddr.String(), d.name, d.secret)

	for id := uint16(1); id <= 4; id++ {
		c.publish(id, "hearth/things/iaq-3/telemetry", `{"co2_ppm": 600}`)
	}
	// Two are queued; the third is accepted and waits for room.
	waitFor(t, "three messages accepted", func() bool { return ing.accepted.Load() == 3 })
	time.Sleep(100 * time.Millisecond)
	if n := ing.accepted.Load(); n != 3 {
		t.Fatalf("%d messages accepted with two queued and ReceiveMaximum 2; want 3", n)
	}
	ing.open(0)
	waitFor(t, "the fourth message accepted once the first is stored", func() bool { return ing.accepted.Load() == 4 })
	for i := 1; i < 4; i++ {
		ing.open(i)
	}
	for want := uint16(1); want <= 4; want++ {
		if id, code := c.puback(); id != want || code != 0 {
			t.Fatalf("PUBACK %d with reason %#x; want %d with 0", id, code, want)
		}
	}
}

// A connection's acknowledgement queue goes with it: a device that
// reconnects all day does not leave one behind, with its client, each
// time.
func TestTelemetryQueueForgottenAtDisconnect(t *testing.T) {
	e := newEnv(t)
	ing := &gatedIngester{}
	b := startBroker(t, e, broker.Config{PlainAddr: "127.0.0.1:0"}, broker.Deps{Ingest: ing}, slog.New(slog.DiscardHandler))
	_, plainAddr := b.Addrs()
	d := e.newDevice(t, "ahu-9")
	for i := range 3 {
		c := dialRawV5(t, plainAddr.String(), d.name, d.secret)
		c.publish(1, "hearth/things/ahu-9/telemetry", `{"co2_ppm": 600}`)
		waitFor(t, "the message accepted", func() bool { return ing.accepted.Load() == int64(i+1) })
		ing.open(i)
		if id, code := c.puback(); id != 1 || code != 0 {
			t.Fatalf("connection %d: PUBACK %d with reason %#x", i, id, code)
		}
		if n := b.AckQueues(); n != 1 {
			t.Errorf("connection %d: %d queues while connected; want 1", i, n)
		}
		c.conn.Close()
		waitFor(t, "the queue forgotten after the disconnect", func() bool { return b.AckQueues() == 0 })
	}
}
