package protocol

import "strings"

// Topic prefixes a device may use under its own name: AWS IoT Core's for
// shadows, jobs and the like, Hearth's own for telemetry and events.
const (
	PrefixAWS    = "$aws/things"
	PrefixHearth = "hearth/things"
)

const (
	telemetrySuffix         = "/telemetry"
	telemetryRejectedSuffix = "/telemetry/rejected"
	eventsSuffix            = "/events"
)

// TelemetryTopic is the topic a device publishes its measurements on:
// "hearth/things/{thing}/telemetry".
func TelemetryTopic(thing string) string {
	return PrefixHearth + "/" + thing + telemetrySuffix
}

// IsTelemetryTopic reports whether topic is exactly the telemetry topic of
// thing. It does not allocate: the broker calls it for every publish.
func IsTelemetryTopic(thing, topic string) bool {
	const p = PrefixHearth + "/"
	return len(topic) == len(p)+len(thing)+len(telemetrySuffix) &&
		IsValidName(thing) &&
		strings.HasPrefix(topic, p) &&
		topic[len(p):len(p)+len(thing)] == thing &&
		strings.HasSuffix(topic, telemetrySuffix)
}

// TelemetryRejectedTopic is the topic on which Hearth tells a device why a
// telemetry message was refused: "hearth/things/{thing}/telemetry/rejected".
func TelemetryRejectedTopic(thing string) string {
	return PrefixHearth + "/" + thing + telemetryRejectedSuffix
}

// EventsTopic is the topic a device publishes its events on (see Event):
// "hearth/things/{thing}/events".
func EventsTopic(thing string) string {
	return PrefixHearth + "/" + thing + eventsSuffix
}

// IsEventsTopic reports whether topic is exactly the events topic of
// thing.
func IsEventsTopic(thing, topic string) bool {
	return topic == EventsTopic(thing) && IsValidName(thing)
}

// Shadow operations, as AWS IoT Core's Device Shadow MQTT API names them:
// the last level of a request topic, and the level before "accepted" or
// "rejected" in its reply's.
const (
	ShadowGet    = "get"
	ShadowUpdate = "update"
	ShadowDelete = "delete"
)

// ShadowTopic is the prefix of one shadow's topics:
// "$aws/things/{thing}/shadow" for the classic shadow (shadowName ""), and
// "$aws/things/{thing}/shadow/name/{shadowName}" for a named one. A request
// adds "/" and an operation (…/update), its reply "/accepted" or
// "/rejected" after that (…/update/accepted), and the service sends
// …/update/delta and …/update/documents.
func ShadowTopic(thing, shadowName string) string {
	base := PrefixAWS + "/" + thing + "/shadow"
	if shadowName != "" {
		base += "/name/" + shadowName
	}
	return base
}

// ShadowDeltaTopic is the topic on which a device is sent the difference
// between the desired and the reported state of one of its shadows;
// shadowName is "" for the classic shadow.
func ShadowDeltaTopic(thing, shadowName string) string {
	return ShadowTopic(thing, shadowName) + "/" + ShadowUpdate + "/delta"
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
	if !IsValidName(thing) {
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
