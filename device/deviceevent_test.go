package device_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
)

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
	for _, tt := range []struct{ payload, want string }{
		{`not json`, "cannot parse"},
		{`{"level": "info", "code": "x"} {}`, "text after"},
		{`{"code": "x"}`, `no "level"`},
		{`{"level": "fatal", "code": "x"}`, "use info, warning or error"},
		{`{"level": "info"}`, `"code" must be`},
		{`{"level": "info", "code": "Bad Code"}`, `"code" must be`},
		{`{"level": "info", "code": "x", "extra": 1}`, "unknown field"},
		{`{"level": "info", "code": "x", "message": "a\u0000b"}`, "control character"},
		{`{"level": "info", "code": "x", "ts": 1}`, "two weeks"},
		{`{"level": "info", "code": "x", "message": "` + strings.Repeat("m", 1025) + `"}`, "at most 1024"},
	} {
		_, err := device.ParseEvent("gw-1", []byte(tt.payload), now)
		var ee *device.EventError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.40s: %v, want an EventError saying %q", tt.payload, err, tt.want)
		}
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

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"level": "warning", "code": "modbus_crc", "message": "bad CRC", "ts": 1796184000000}`))
	f.Add([]byte(`{"level": "info", "code": "a"}`))
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := device.ParseEvent("gw-1", b, now)
		if err != nil {
			var ee *device.EventError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v is not an *EventError", err)
			}
			return
		}
		if e.Code == "" || e.Level == "" || len(e.Message) > 1024 || e.At.Sub(now).Abs() > 14*24*time.Hour {
			t.Fatalf("accepted %+v", e)
		}
	})
}
