package shadow

import (
	"strings"

	"github.com/hearthiot/hearth/protocol"
)

const (
	topicPrefix = protocol.PrefixAWS + "/"
	shadowLevel = "shadow"
	nameLevel   = "name"
)

// ParseTopic splits a shadow request topic into its parts: exactly
// "$aws/things/{thing}/shadow/{op}" (classic shadow, shadowName "") or
// "$aws/things/{thing}/shadow/name/{shadowName}/{op}", where op is
// protocol.ShadowGet, ShadowUpdate or ShadowDelete, thing follows
// protocol.ValidName and shadowName follows ValidName. Reply
// topics (…/accepted, …/rejected, …/update/delta, …/update/documents) and
// anything else report false: only requests are answered, so a reply can
// never be taken for a request.
func ParseTopic(topic string) (thing, shadowName, op string, ok bool) {
	rest, found := strings.CutPrefix(topic, topicPrefix)
	if !found {
		return "", "", "", false
	}
	thing, rest, found = strings.Cut(rest, "/")
	if !found || !protocol.IsValidName(thing) {
		return "", "", "", false
	}
	rest, found = strings.CutPrefix(rest, shadowLevel+"/")
	if !found {
		return "", "", "", false
	}
	if named, isNamed := strings.CutPrefix(rest, nameLevel+"/"); isNamed {
		shadowName, rest, found = strings.Cut(named, "/")
		if !found || !validLevel(shadowName, MaxNameLength) {
			return "", "", "", false
		}
	}
	switch rest {
	case protocol.ShadowGet, protocol.ShadowUpdate, protocol.ShadowDelete:
		return thing, shadowName, rest, true
	}
	return "", "", "", false
}

// InShadowSpace reports whether topic lies under
// "$aws/things/{thing}/shadow", the topics of the Device Shadow service.
// Besides the requests ParseTopic accepts, only the service itself may
// publish there: a device that could publish on …/update/accepted or
// …/update/delta could forge the service's answers, even to itself.
func InShadowSpace(topic string) bool {
	rest, found := strings.CutPrefix(topic, topicPrefix)
	if !found {
		return false
	}
	_, rest, found = strings.Cut(rest, "/")
	if !found {
		return false
	}
	return rest == shadowLevel || strings.HasPrefix(rest, shadowLevel+"/")
}

// DeltaTopic is protocol.ShadowDeltaTopic, the topic on which a device is
// sent the difference between the desired and the reported state of one of
// its shadows; shadowName is "" for the classic shadow.
func DeltaTopic(thing, shadowName string) string {
	return protocol.ShadowDeltaTopic(thing, shadowName)
}

// validLevel is the rule of shadow names (ASCII letters, digits, ':', '_',
// '-'; at most max bytes), the same as thing names', without building an
// error: it runs for every message a device publishes under $aws/things.
func validLevel(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
