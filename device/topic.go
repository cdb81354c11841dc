package device

import (
	"strings"
	"unicode/utf8"

	"github.com/hearthiot/hearth/protocol"
)

// ErrInvalid marks a value that breaks a rule of the device model (a bad
// name, type or attribute). Failures wrap it, so callers check errors.Is and
// can answer "400 Bad Request" without parsing messages. It is
// protocol.ErrInvalid, so a name that protocol.ValidName refuses is one too.
var ErrInvalid = protocol.ErrInvalid

// The names and topics themselves are protocol's (package protocol, shared
// with the gateway agent and the simulator); the broker reaches them
// through these.

// ValidName is protocol.ValidName: whether name may be a thing name.
func ValidName(name string) error { return protocol.ValidName(name) }

// IsTelemetryTopic is protocol.IsTelemetryTopic; it does not allocate.
func IsTelemetryTopic(thing, topic string) bool { return protocol.IsTelemetryTopic(thing, topic) }

// TelemetryRejectedTopic is protocol.TelemetryRejectedTopic.
func TelemetryRejectedTopic(thing string) string { return protocol.TelemetryRejectedTopic(thing) }

// IsEventsTopic is protocol.IsEventsTopic.
func IsEventsTopic(thing, topic string) bool { return protocol.IsEventsTopic(thing, topic) }

// sharePrefix introduces an MQTT 5 shared subscription ($share/{group}/{filter}).
// The broker matches it without regard to case, so this package does too.
const sharePrefix = "$share"

// validMQTTString rejects what MQTT forbids in any topic or filter: invalid
// UTF-8, U+0000, and more than 65535 bytes.
func validMQTTString(s string) bool {
	return len(s) <= 65535 && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// MayPublish reports whether device thing may publish to topic: only to
// topics below its own name, "$aws/things/{thing}/…" or
// "hearth/things/{thing}/…", with at least one level after the name, no empty
// levels and no wildcards. This keeps one device from speaking for another.
func MayPublish(thing, topic string) bool {
	if !protocol.IsValidName(thing) || !validMQTTString(topic) || strings.ContainsAny(topic, "+#") {
		return false
	}
	t, ok := protocol.ParseTopic(topic)
	return ok && t.Thing == thing && t.Rest != ""
}

// MaySubscribe reports whether device thing may subscribe to filter. The same
// rule as MayPublish holds, except that wildcards may appear after
// "{prefix}/{thing}/": "hearth/things/me/#" and
// "$aws/things/me/shadow/+/accepted" are allowed, while
// "hearth/things/+/telemetry", "#" or "hearth/#" would let a device read
// other devices' traffic and are refused. A shared subscription
// "$share/{group}/{filter}" is judged by its filter.
func MaySubscribe(thing, filter string) bool {
	if !protocol.IsValidName(thing) || !validMQTTString(filter) {
		return false
	}
	if first, rest, ok := strings.Cut(filter, "/"); ok && strings.EqualFold(first, sharePrefix) {
		group, f, ok := strings.Cut(rest, "/")
		if !ok || group == "" || strings.ContainsAny(group, "+#") {
			return false
		}
		filter = f
	}
	t, ok := protocol.ParseTopic(filter)
	if !ok || t.Thing != thing || t.Rest == "" {
		return false
	}
	levels := t.Rest
	for levels != "" {
		level, more, hasMore := strings.Cut(levels, "/")
		switch {
		case level == "#":
			if hasMore {
				return false
			}
		case level == "+":
		case strings.ContainsAny(level, "+#"):
			return false
		}
		levels = more
	}
	return true
}
