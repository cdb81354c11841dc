package broker_test

import (
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/device"
)

// memorySignal is the memory watch's answer, set by the test.
type memorySignal struct{ short atomic.Bool }

func (m *memorySignal) Shedding() bool { return m.short.Load() }

// shedFixture is a broker storing telemetry into memory whose memory
// signal the test sets.
func shedFixture(t *testing.T) (*env, *broker.Broker, *memWriter, *memorySignal, string) {
	t.Helper()
	e := newEnv(t)
	stored := &memWriter{}
	signal := &memorySignal{}
	b := startBroker(t, e, broker.Config{TLSAddr: "127.0.0.1:0", TLS: e.serverTLS},
		broker.Deps{Ingest: device.NewTelemetry(device.TelemetryLimits{}, e.reg, stored), Shed: signal}, slog.New(newLogSink()))
	addr, _ := b.Addrs()
	return e, b, stored, signal, addr.String()
}

// While memory is short, an MQTT 5 device's telemetry is answered with
// PUBACK 0x97 and not stored, a new connection gets CONNACK 0x89, and
// once memory is back both work again on the same connection.
func TestShedMQTT5(t *testing.T) {
	e, b, stored, signal, addr := shedFixture(t)
	f := &fixture{env: e, tlsAddr: addr}
	d := e.newDevice(t, "ahu-1")
	late := e.newDevice(t, "ahu-2")
	c := f.mustV5(t, f.certOpts(d))
	topic := "hearth/things/ahu-1/telemetry"

	if resp, err := c.publish(t, topic, `{"t":20}`, 1); err != nil || resp.ReasonCode != 0 {
		t.Fatalf("publish with memory to spare: %+v, %v", resp, err)
	}
	signal.short.Store(true)
	resp, err := c.publish(t, topic, `{"t":21}`, 1)
	if resp == nil || resp.ReasonCode != 0x97 {
		t.Fatalf("publish while memory is short: %+v, %v; want PUBACK 0x97 quota exceeded", resp, err)
	}
	if _, err := c.publish(t, topic, `{"t":22}`, 0); err != nil {
		t.Fatalf("QoS 0 publish while memory is short: %v", err)
	}
	// Nothing answers a QoS 0 publish: wait until it was read, or memory
	// may be back before the broker sees it.
	waitFor(t, "the QoS 0 publish refused", func() bool { return b.ShedStats().Publishes == 2 })
	_, ack, err := f.connectV5(t, f.certOpts(late))
	if err == nil || ack == nil || ack.ReasonCode != 0x89 {
		t.Fatalf("connect while memory is short: %+v, %v; want CONNACK 0x89 server busy", ack, err)
	}

	signal.short.Store(false)
	if resp, err := c.publish(t, topic, `{"t":23}`, 1); err != nil || resp.ReasonCode != 0 {
		t.Fatalf("publish once memory is back: %+v, %v", resp, err)
	}
	f.mustV5(t, f.certOpts(late))

	want := []string{"acme/default/ahu-1 t=20", "acme/default/ahu-1 t=23"}
	if got := stored.all(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("stored %q; want %q", got, want)
	}
	if s := b.ShedStats(); s.Connects != 1 || s.Publishes != 2 {
		t.Errorf("shed stats %+v; want 1 connect and 2 publishes", s)
	}
}

// MQTT 3.1.1 has no negative PUBACK or server busy code: a connect gets
// return code 3 (server unavailable), and a QoS 1 publish ends the
// connection without an acknowledgement, so the device sends it again.
func TestShedMQTT311(t *testing.T) {
	e, b, stored, signal, addr := shedFixture(t)
	f := &fixture{env: e, tlsAddr: addr}
	d := e.newDevice(t, "ahu-1")
	late := e.newDevice(t, "ahu-2")
	c := f.mustV3(t, f.certOpts(d))
	topic := "hearth/things/ahu-1/telemetry"

	signal.short.Store(true)
	if _, rc, err := f.connectV3(t, f.certOpts(late)); err == nil || rc != 3 {
		t.Fatalf("connect while memory is short: return code %d, %v; want 3 server unavailable", rc, err)
	}
	if err := c.publish(t, topic, `{"t":21}`, 1); err == nil {
		t.Error("QoS 1 publish while memory is short was acknowledged")
	}
	c.waitLost(t)
	if got := stored.all(); len(got) != 0 {
		t.Errorf("stored %q while memory was short", got)
	}

	signal.short.Store(false)
	c = f.mustV3(t, f.certOpts(d))
	if err := c.publish(t, topic, `{"t":21}`, 1); err != nil {
		t.Fatalf("publish again once memory is back: %v", err)
	}
	if got := stored.all(); len(got) != 1 || got[0] != "acme/default/ahu-1 t=21" {
		t.Errorf("stored %q; want the resent reading", got)
	}
	if s := b.ShedStats(); s.Connects != 1 || s.Publishes != 1 {
		t.Errorf("shed stats %+v; want 1 connect and 1 publish", s)
	}
}
