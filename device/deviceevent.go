package device

import (
	"time"

	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/protocol"
)

// ParseEvent reads a device event of thing with protocol.ParseEvent's
// rules: {"level": "warning", "code": "modbus_timeout", "message": "…",
// "ts": unix_ms}. Without ts the event happened now. The error is a
// *protocol.EventError saying what was wrong.
func ParseEvent(thing string, payload []byte, now time.Time) (events.DeviceEvent, error) {
	e, err := protocol.ParseEvent(payload, now)
	if err != nil {
		return events.DeviceEvent{}, err
	}
	at := now
	if e.TS != 0 {
		at = time.UnixMilli(e.TS)
	}
	return events.DeviceEvent{Device: thing, At: at, Level: e.Level, Code: e.Code, Message: e.Message, Source: "mqtt"}, nil
}

// DeviceEvents takes the events devices publish and hands them to the
// event bus, where rules and alarms listen. A bus without listeners drops
// them; nothing is stored.
type DeviceEvents struct {
	bus *events.Bus
}

// NewDeviceEvents publishes to bus.
func NewDeviceEvents(bus *events.Bus) *DeviceEvents { return &DeviceEvents{bus: bus} }

// Ingest checks one event payload of thing and publishes it; the error is
// a *protocol.EventError saying what was wrong.
func (d *DeviceEvents) Ingest(thing string, payload []byte, now time.Time) error {
	e, err := ParseEvent(thing, payload, now)
	if err != nil {
		return err
	}
	if d.bus != nil {
		d.bus.Publish(e)
	}
	return nil
}
