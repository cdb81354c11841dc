package device_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/protocol"
)

// TestParseEvent: an event the protocol accepts becomes a bus event of the
// device, at its own time or, without one, now. The rules themselves are
// tested in package protocol.
func TestParseEvent(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	ts := now.Add(-3 * 24 * time.Hour) // kept by a gateway while offline
	e, err := device.ParseEvent("gw-1", []byte(`{"level": "warning", "code": "modbus_timeout", "message": "read input register 5 of unit 1: timeout", "ts": `+strconv.FormatInt(ts.UnixMilli(), 10)+`}`), now)
	if err != nil {
		t.Fatal(err)
	}
	want := events.DeviceEvent{Device: "gw-1", At: time.UnixMilli(ts.UnixMilli()), Level: "warning", Code: "modbus_timeout", Message: "read input register 5 of unit 1: timeout", Source: "mqtt"}
	if e != want {
		t.Errorf("got %+v\nwant %+v", e, want)
	}
	if e, err := device.ParseEvent("gw-1", []byte(`{"level": "info", "code": "agent_started"}`), now); err != nil || !e.At.Equal(now) {
		t.Errorf("without ts: %+v %v", e, err)
	}
	_, err = device.ParseEvent("gw-1", []byte(`{"code": "x"}`), now)
	if ee := new(protocol.EventError); !errors.As(err, &ee) {
		t.Errorf("event without a level: %v, want a *protocol.EventError", err)
	}
}

func TestDeviceEventsPublish(t *testing.T) {
	bus := events.New()
	sub := bus.Subscribe(4)
	defer sub.Close()
	d := device.NewDeviceEvents(bus)
	if err := d.Ingest("gw-1", []byte(`{"level": "error", "code": "setting_not_applied", "message": "m"}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	if e := (<-sub.C()).(events.DeviceEvent); e.Device != "gw-1" || e.Code != "setting_not_applied" {
		t.Errorf("published %+v", e)
	}
	if err := d.Ingest("gw-1", []byte(`{}`), time.Now()); err == nil {
		t.Error("an empty event was taken")
	}
}
