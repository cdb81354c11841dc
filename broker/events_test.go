package broker_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
)

// A device's events go to the event bus; a malformed one is refused with
// the reason (MQTT 5) or acknowledged and dropped (3.1.1), and the
// connection stays.
func TestDeviceEvents(t *testing.T) {
	e := newEnv(t)
	bus := events.New()
	sub := bus.Subscribe(512)
	defer sub.Close()
	b := startBroker(t, e, broker.Config{TLSAddr: "127.0.0.1:0", TLS: e.serverTLS},
		broker.Deps{Ingest: &spyIngester{}, DeviceEvents: device.NewDeviceEvents(bus)}, slog.New(newLogSink()))
	tlsAddr, _ := b.Addrs()
	f := &fixture{env: e, broker: b, logs: newLogSink(), tlsAddr: tlsAddr.String()}
	gw := f.newDevice(t, "gw-1")
	c5 := f.mustV5(t, f.certOpts(gw))

	resp, err := c5.publish(t, "hearth/things/gw-1/events", `{"level": "warning", "code": "modbus_timeout", "message": "unit 1 did not answer"}`, 1)
	if err != nil || resp.ReasonCode != 0 {
		t.Fatalf("publish an event: %+v %v", resp, err)
	}
	select {
	case ev := <-sub.C():
		de, ok := ev.(events.DeviceEvent)
		if !ok || de.Device != "gw-1" || de.Code != "modbus_timeout" || de.Level != "warning" || de.Source != "mqtt" {
			t.Errorf("bus event %+v", ev)
		}
	case <-time.After(wait):
		t.Fatal("no event on the bus")
	}

	resp, err = c5.publish(t, "hearth/things/gw-1/events", `{"level": "loud"}`, 1)
	if resp == nil || resp.ReasonCode != 0x99 || !strings.Contains(resp.Properties.ReasonString, "use info, warning or error") {
		t.Errorf("a malformed event over MQTT 5: %+v %v; want 0x99 with the reason", resp, err)
	}
	c3 := f.mustV3(t, f.certOpts(f.newDevice(t, "gw-2")))
	if err := c3.publish(t, "hearth/things/gw-2/events", `not json`, 1); err != nil {
		t.Errorf("a malformed event over MQTT 3.1.1: %v, want acknowledged", err)
	}
	if !c3.IsConnected() {
		t.Error("the 3.1.1 device was disconnected for a malformed event")
	}
	select {
	case ev := <-sub.C():
		t.Errorf("a refused event reached the bus: %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}

	// A flood is cut off: past the burst, MQTT 5 gets 0x97.
	var quota bool
	for i := 0; i < 400 && !quota; i++ {
		resp, _ := c5.publish(t, "hearth/things/gw-1/events", `{"level": "info", "code": "flood"}`, 1)
		quota = resp != nil && resp.ReasonCode == 0x97
	}
	if !quota {
		t.Error("400 events at once were all taken; want the flood refused with 0x97")
	}
}
