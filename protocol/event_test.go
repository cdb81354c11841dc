package protocol_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

func TestParseEvent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	ts := now.Add(-3 * 24 * time.Hour) // kept by a gateway while offline
	e, err := protocol.ParseEvent([]byte(`{"level": "warning", "code": "modbus_timeout", "message": "read input register 5 of unit 1: timeout", "ts": `+strconv.FormatInt(ts.UnixMilli(), 10)+`}`), now)
	if err != nil {
		t.Fatal(err)
	}
	want := protocol.Event{Level: "warning", Code: "modbus_timeout", Message: "read input register 5 of unit 1: timeout", TS: ts.UnixMilli()}
	if e != want {
		t.Errorf("got %+v\nwant %+v", e, want)
	}
	if e, err := protocol.ParseEvent([]byte(`{"level": "info", "code": "agent_started"}`), now); err != nil || e.TS != 0 {
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
		{`{"level": "info", "code": "x", "message": "` + strings.Repeat("m", 5000) + `"}`, "at most 4096 are accepted"},
	} {
		_, err := protocol.ParseEvent([]byte(tt.payload), now)
		var ee *protocol.EventError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.40s: %v, want an EventError saying %q", tt.payload, err, tt.want)
		}
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"level": "warning", "code": "modbus_crc", "message": "bad CRC", "ts": 1796184000000}`))
	f.Add([]byte(`{"level": "info", "code": "a"}`))
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := protocol.ParseEvent(b, now)
		if err != nil {
			var ee *protocol.EventError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v is not an *EventError", err)
			}
			return
		}
		if e.Code == "" || e.Level == "" || len(e.Message) > protocol.MaxEventMessage ||
			e.TS != 0 && time.UnixMilli(e.TS).Sub(now).Abs() > protocol.EventSkew {
			t.Fatalf("accepted %+v", e)
		}
	})
}
