package device

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameLength is the longest thing name AWS IoT Core accepts, kept so that
// firmware and tooling written for it work unchanged.
const MaxNameLength = 128

// ErrInvalid marks a value that breaks a rule of the device model (a bad
// name, type or attribute). Failures wrap it, so callers check errors.Is and
// can answer "400 Bad Request" without parsing messages.
var ErrInvalid = errors.New("invalid")

// Topic prefixes a device may use under its own name.
const (
	PrefixAWS    = "$aws/things"
	PrefixHearth = "hearth/things"
)

// sharePrefix introduces an MQTT 5 shared subscription ($share/{group}/{filter}).
// The broker matches it without regard to case, so this package does too.
const sharePrefix = "$share"

// ValidName reports whether name may be a thing name: 1 to 128 characters of
// ASCII letters, digits, ':', '_' and '-', as AWS IoT Core allows. The rule
// keeps names safe as a single MQTT topic level (no '/', '+', '#') and in URLs
// and file names. The error wraps ErrInvalid and says what is wrong.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("name is empty: %w", ErrInvalid)
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("name is %d characters long; at most %d are allowed: %w", len(name), MaxNameLength, ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			r, _ := utf8.DecodeRuneInString(name[i:])
			return fmt.Errorf("name %q has %q at byte %d; only letters, digits, ':', '_' and '-' are allowed: %w", name, r, i, ErrInvalid)
		}
	}
	return nil
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '-'
}

// validNameFast is ValidName without building an error, for the per-message
// paths.
func validNameFast(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return false
		}
	}
	return true
}

const (
	telemetrySuffix         = "/telemetry"
	telemetryRejectedSuffix = "/telemetry/rejected"
	eventsSuffix            = "/events"
)

// EventsTopic is the topic a device publishes its events on: faults,
// refused settings, recoveries ({"level", "code", "message"}).
func EventsTopic(thing string) string {
	return PrefixHearth + "/" + thing + eventsSuffix
}

// IsEventsTopic reports whether topic is exactly the events topic of
// thing.
func IsEventsTopic(thing, topic string) bool {
	return topic == EventsTopic(thing) && validNameFast(thing)
}

// TelemetryTopic is the topic a device publishes its measurements on.
func TelemetryTopic(thing string) string {
	return PrefixHearth + "/" + thing + telemetrySuffix
}

// TelemetryRejectedTopic is the topic on which Hearth tells a device why a
// telemetry message was refused.
func TelemetryRejectedTopic(thing string) string {
	return PrefixHearth + "/" + thing + telemetryRejectedSuffix
}

// IsTelemetryTopic reports whether topic is exactly the telemetry topic of
// thing. It does not allocate: the broker calls it for every publish.
func IsTelemetryTopic(thing, topic string) bool {
	const p = PrefixHearth + "/"
	return len(topic) == len(p)+len(thing)+len(telemetrySuffix) &&
		validNameFast(thing) &&
		strings.HasPrefix(topic, p) &&
		topic[len(p):len(p)+len(thing)] == thing &&
		strings.HasSuffix(topic, telemetrySuffix)
}

// Topic is a topic name or filter under one thing: Prefix is PrefixAWS or
// PrefixHearth, Thing the thing name, Rest the part after "{thing}/" ("" when
// the topic ends at the thing name).
type Topic struct {
	Prefix string
	Thing  string
	Rest   string
}

// ParseTopic splits a topic under "$aws/things/{thing}" or
// "hearth/things/{thing}". It reports false when the topic has neither
// prefix, when the thing level is not a valid name (a wildcard, for example),
// or when the topic has an empty level after the thing ("…/me/", "…/me//x"):
// MQTT allows empty levels, but no Hearth or AWS topic has one, and refusing
// them keeps one spelling per topic.
func ParseTopic(topic string) (Topic, bool) {
	var prefix string
	switch {
	case strings.HasPrefix(topic, PrefixHearth+"/"):
		prefix = PrefixHearth
	case strings.HasPrefix(topic, PrefixAWS+"/"):
		prefix = PrefixAWS
	default:
		return Topic{}, false
	}
	tail := topic[len(prefix)+1:]
	thing, rest, hasRest := strings.Cut(tail, "/")
	if !validNameFast(thing) {
		return Topic{}, false
	}
	if hasRest && !nonEmptyLevels(rest) {
		return Topic{}, false
	}
	return Topic{Prefix: prefix, Thing: thing, Rest: rest}, true
}

// nonEmptyLevels reports whether s is one or more '/'-separated levels, none
// of them empty.
func nonEmptyLevels(s string) bool {
	if s == "" || s[0] == '/' || s[len(s)-1] == '/' {
		return false
	}
	return !strings.Contains(s, "//")
}

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
	if !validNameFast(thing) || !validMQTTString(topic) || strings.ContainsAny(topic, "+#") {
		return false
	}
	t, ok := ParseTopic(topic)
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
	if !validNameFast(thing) || !validMQTTString(filter) {
		return false
	}
	if first, rest, ok := strings.Cut(filter, "/"); ok && strings.EqualFold(first, sharePrefix) {
		group, f, ok := strings.Cut(rest, "/")
		if !ok || group == "" || strings.ContainsAny(group, "+#") {
			return false
		}
		filter = f
	}
	t, ok := ParseTopic(filter)
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
