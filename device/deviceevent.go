package device

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hearthiot/hearth/device/events"
)

// Device event levels.
const (
	LevelInfo    = "info"
	LevelWarning = "warning"
	LevelError   = "error"
)

// Limits of a device event.
const (
	maxEventPayload = 4 << 10
	maxEventCode    = 64
	maxEventMessage = 1024
	// eventSkew is how far from the server's clock an event's own time may
	// be: a gateway back from a week offline sends what it kept.
	eventSkew = 14 * 24 * time.Hour
)

// EventError says why a device event was refused.
type EventError struct{ Message string }

func (e *EventError) Error() string { return "device event: " + e.Message }

// ParseEvent reads a device event: {"level": "warning", "code":
// "modbus_timeout", "message": "…", "ts": unix_ms}. ts is optional (now
// when absent) and may be up to two weeks off now; level is info, warning
// or error; code is 1 to 64 of [a-z0-9_.-]; message up to 1 KiB of text.
func ParseEvent(thing string, payload []byte, now time.Time) (events.DeviceEvent, error) {
	refuse := func(format string, args ...any) (events.DeviceEvent, error) {
		return events.DeviceEvent{}, &EventError{Message: fmt.Sprintf(format, args...)}
	}
	if len(payload) > maxEventPayload {
		return refuse("%d bytes; at most %d are accepted", len(payload), maxEventPayload)
	}
	var in struct {
		Level   *string `json:"level"`
		Code    *string `json:"code"`
		Message string  `json:"message"`
		TS      *int64  `json:"ts"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return refuse(`cannot parse %q: %v; send {"level", "code", "message", "ts"?}`, truncate(string(payload), 64), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return refuse("text after the event object")
	}
	e := events.DeviceEvent{Device: thing, At: now, Source: "mqtt"}
	switch {
	case in.Level == nil:
		return refuse(`no "level"; use info, warning or error`)
	case *in.Level != LevelInfo && *in.Level != LevelWarning && *in.Level != LevelError:
		return refuse("level %q: use info, warning or error", truncate(*in.Level, 64))
	}
	e.Level = *in.Level
	if in.Code == nil || *in.Code == "" || len(*in.Code) > maxEventCode || !eventCode(*in.Code) {
		return refuse(`"code" must be 1 to %d of a-z, 0-9, '_', '.' and '-'`, maxEventCode)
	}
	e.Code = *in.Code
	if len(in.Message) > maxEventMessage || !utf8.ValidString(in.Message) {
		return refuse(`"message" must be valid UTF-8 of at most %d bytes`, maxEventMessage)
	}
	for _, r := range in.Message {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return refuse(`"message" contains the control character %U`, r)
		}
	}
	e.Message = in.Message
	if in.TS != nil {
		at := time.UnixMilli(*in.TS)
		if at.Before(now.Add(-eventSkew)) || at.After(now.Add(eventSkew)) {
			return refuse(`"ts" %d is more than two weeks from the server's clock; send unix milliseconds`, *in.TS)
		}
		e.At = at
	}
	return e, nil
}

func eventCode(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
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
// an *EventError saying what was wrong.
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
