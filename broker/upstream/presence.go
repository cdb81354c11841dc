package upstream

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

// Lifecycle event topics Hearth subscribes to. A broker that publishes
// neither (mosquitto) leaves presence to the last message seen.
const (
	awsPresenceFilter  = "$aws/events/presence/+/+"
	emqxPresenceFilter = "$SYS/brokers/+/clients/+/+"
)

// lifecycle is one connect or disconnect the upstream broker reported.
type lifecycle struct {
	thing     string
	connected bool
	at        time.Time // when the broker says it happened; zero: unknown
	reason    string    // of a disconnect
	remote    string
	protocol  byte
}

// maxLifecyclePayload bounds what is decoded of an event: the documented
// ones are a few hundred bytes.
const maxLifecyclePayload = 16 << 10

// parseLifecycle reads a lifecycle event: AWS IoT's
// $aws/events/presence/{connected|disconnected}/{clientId} with
// {"clientId", "timestamp" (ms), "disconnectReason", "ipAddress"}, or
// EMQX's $SYS/brokers/{node}/clients/{clientid}/{connected|disconnected}
// with {"clientid", "connected_at" | "disconnected_at" (ms), "reason",
// "ipaddress", "proto_ver"}. ok is false for any other topic, a client id
// that is no valid thing name, or a payload that is not such a document;
// an empty payload is accepted with the time unknown.
func parseLifecycle(topic string, payload []byte) (ev lifecycle, ok bool) {
	var kind string
	switch {
	case strings.HasPrefix(topic, "$aws/events/presence/"):
		rest := strings.TrimPrefix(topic, "$aws/events/presence/")
		kind, ev.thing, ok = strings.Cut(rest, "/")
	case strings.HasPrefix(topic, "$SYS/brokers/"):
		// $SYS / brokers / node / clients / id / kind
		levels := strings.Split(topic, "/")
		if len(levels) == 6 && levels[3] == "clients" && levels[2] != "" {
			ev.thing, kind, ok = levels[4], levels[5], true
		}
	}
	if !ok || !protocol.IsValidName(ev.thing) {
		return lifecycle{}, false
	}
	switch kind {
	case "connected":
		ev.connected = true
	case "disconnected":
	default:
		return lifecycle{}, false
	}
	if len(payload) == 0 {
		return ev, true
	}
	if len(payload) > maxLifecyclePayload {
		return lifecycle{}, false
	}
	var doc struct {
		Timestamp      *int64 `json:"timestamp"`
		ConnectedAt    *int64 `json:"connected_at"`
		DisconnectedAt *int64 `json:"disconnected_at"`
		AWSReason      string `json:"disconnectReason"`
		EMQXReason     any    `json:"reason"`
		AWSAddress     string `json:"ipAddress"`
		EMQXAddress    string `json:"ipaddress"`
		ProtoVer       *int   `json:"proto_ver"`
	}
	if err := json.Unmarshal(payload, &doc); err != nil {
		return lifecycle{}, false
	}
	for _, ms := range []*int64{doc.Timestamp, doc.ConnectedAt, doc.DisconnectedAt} {
		if ms != nil && *ms > 0 && *ms < 1<<53 {
			ev.at = time.UnixMilli(*ms)
			break
		}
	}
	ev.reason = clean(doc.AWSReason)
	if r, isString := doc.EMQXReason.(string); isString && ev.reason == "" {
		ev.reason = clean(r)
	}
	ev.remote = clean(doc.AWSAddress + doc.EMQXAddress)
	if doc.ProtoVer != nil && *doc.ProtoVer > 0 && *doc.ProtoVer < 256 {
		ev.protocol = byte(*doc.ProtoVer)
	}
	return ev, true
}

// clean keeps an outside string short and printable for the presence
// record and the logs.
func clean(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return -1
		}
		return r
	}, s)
}
