package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"
)

// Device event levels.
const (
	LevelInfo    = "info"
	LevelWarning = "warning"
	LevelError   = "error"
)

// Limits of a device event.
const (
	MaxEventBytes   = 4 << 10
	MaxEventCode    = 64
	MaxEventMessage = 1024
	// EventSkew is how far from the receiver's clock an event's own time
	// may be: a gateway back from a week offline sends what it kept.
	EventSkew = 14 * 24 * time.Hour
)

// Event is a device event, the document a device publishes on its events
// topic (EventsTopic): a fault, a refused setting, a recovery.
//
//	{"level": "warning", "code": "modbus_timeout", "message": "…", "ts": 1796184000000}
type Event struct {
	Level   string `json:"level"`   // LevelInfo, LevelWarning or LevelError
	Code    string `json:"code"`    // 1 to 64 of [a-z0-9_.-], for rules to match
	Message string `json:"message"` // up to 1 KiB of text, for people
	// TS is when the event was raised, in unix milliseconds; 0 (left out)
	// means when it is received.
	TS int64 `json:"ts,omitempty"`
}

// EventError says why a device event was refused.
type EventError struct{ Message string }

func (e *EventError) Error() string { return "device event: " + e.Message }

// ParseEvent reads and checks a device event: level is info, warning or
// error; code is 1 to 64 of [a-z0-9_.-]; message up to 1 KiB of text
// without control characters other than newline and tab; ts is optional
// and may be up to two weeks off now; no other keys. The error is an
// *EventError saying what was wrong and what is accepted.
func ParseEvent(payload []byte, now time.Time) (Event, error) {
	refuse := func(format string, args ...any) (Event, error) {
		return Event{}, &EventError{Message: fmt.Sprintf(format, args...)}
	}
	if len(payload) > MaxEventBytes {
		return refuse("%d bytes; at most %d are accepted", len(payload), MaxEventBytes)
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
		return refuse(`cannot parse %q: %v; send {"level", "code", "message", "ts"?}`, clip(string(payload), 64), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return refuse("text after the event object")
	}
	var e Event
	switch {
	case in.Level == nil:
		return refuse(`no "level"; use info, warning or error`)
	case *in.Level != LevelInfo && *in.Level != LevelWarning && *in.Level != LevelError:
		return refuse("level %q: use info, warning or error", clip(*in.Level, 64))
	}
	e.Level = *in.Level
	if in.Code == nil || *in.Code == "" || len(*in.Code) > MaxEventCode || !eventCode(*in.Code) {
		return refuse(`"code" must be 1 to %d of a-z, 0-9, '_', '.' and '-'`, MaxEventCode)
	}
	e.Code = *in.Code
	if len(in.Message) > MaxEventMessage || !utf8.ValidString(in.Message) {
		return refuse(`"message" must be valid UTF-8 of at most %d bytes`, MaxEventMessage)
	}
	for _, r := range in.Message {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return refuse(`"message" contains the control character %U`, r)
		}
	}
	e.Message = in.Message
	if in.TS != nil {
		at := time.UnixMilli(*in.TS)
		if at.Before(now.Add(-EventSkew)) || at.After(now.Add(EventSkew)) {
			return refuse(`"ts" %d is more than two weeks from the server's clock; send unix milliseconds`, *in.TS)
		}
		e.TS = *in.TS
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

// clip shortens s to n bytes for a message, marking the cut.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
