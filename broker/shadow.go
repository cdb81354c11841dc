package broker

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/device/shadow"
)

// ShadowService answers device shadow requests (AWS IoT Device Shadow MQTT API).
type ShadowService interface {
	// HandleShadowRequest answers one request a device published on
	// $aws/things/{thing}/shadow[/name/{shadowName}]/{op} (op: "get", "update", "delete");
	// the service publishes the reply on .../{op}/accepted or .../{op}/rejected itself,
	// and for accepted updates .../update/delta and .../update/documents.
	HandleShadowRequest(thing, shadowName, op string, payload []byte)
	// PendingDelta returns the delta message to send when a device subscribes to
	// .../update/delta while desired differs from reported; ok false when none is pending.
	PendingDelta(thing, shadowName string) (payload []byte, ok bool)
}

// shadowPublish routes a PUBLISH a device made under
// $aws/things/{thing}/shadow. A request (get, update, delete) goes to the
// shadow service, synchronously so that the device's requests are answered
// in the order it sent them, and is not delivered to subscribers: AWS
// does not echo requests, and a device subscribed to its own request topic
// must not take it for an answer. Everything else there (the accepted,
// rejected, delta and documents replies above all) is the service's to
// publish; the device is refused as for another device's topic. handled
// is false for topics outside the shadow topics.
func (b *Broker) shadowPublish(cl *mqtt.Client, pk packets.Packet, negativeAck bool) (handled bool, err error) {
	if !shadow.InShadowSpace(pk.TopicName) {
		return false, nil
	}
	thing, name, op, ok := shadow.ParseTopic(pk.TopicName)
	switch {
	case !ok || thing != cl.ID:
		return true, b.refusePublish(cl, pk, "not a shadow request topic", negativeAck)
	case b.shadows == nil:
		return true, b.refusePublish(cl, pk, "no shadow service", negativeAck)
	}
	b.shadows.HandleShadowRequest(thing, name, op, pk.Payload)
	return true, packets.CodeSuccessIgnore
}

// refusePublish counts and logs a refused PUBLISH and returns what tells
// mochi how to answer: PUBACK 0x87 for an MQTT 5 client at QoS 1, or an
// ordinary acknowledgement without delivery, which is all MQTT 3.1.1 and
// QoS 0 allow and keeps the device from sending the message forever.
func (b *Broker) refusePublish(cl *mqtt.Client, pk packets.Packet, reason string, negativeAck bool) error {
	b.refusedPublishes.Add(1)
	b.warnLimited("mqtt publish refused", reason,
		"device", cl.ID, "remote", cl.Net.Remote, "topic", clip(pk.TopicName))
	if negativeAck {
		return packets.ErrNotAuthorized
	}
	return packets.CodeSuccessIgnore
}

// deltaWait is the shadows whose pending delta a client is sent once the
// SUBACK answering packet id has been written.
type deltaWait struct {
	packetID uint16
	shadows  []string // shadow names; "" is the classic shadow
}

// subscribedShadows notes which shadows' delta topics the filters a device
// was just granted cover. Their pending deltas are sent from sentSuback:
// mochi calls OnSubscribed before it writes the SUBACK, and a message
// published now could reach the device first.
func (b *Broker) subscribedShadows(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	if b.shadows == nil {
		return
	}
	var names []string
	for i, sub := range pk.Filters {
		if i >= len(reasonCodes) || reasonCodes[i] >= packets.ErrUnspecifiedError.Code {
			continue
		}
		for _, name := range deltaShadows(cl.ID, sub.Filter) {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	if len(names) > 0 {
		id := pk.PacketID // as the SUBACK will carry it
		if orig, ok := b.packetIDs.Load(packetIDKey{cl, id}); ok {
			id = orig.(uint16)
		}
		b.deltaWaits.Store(cl, deltaWait{packetID: id, shadows: names})
	}
}

// sentSuback sends the pending deltas noted for the SUBACK just written,
// through the topic tree like any delta, so that they reach the device
// after the SUBACK and at the QoS it subscribed with. A device that was
// offline while its desired state changed learns of it this way.
func (b *Broker) sentSuback(cl *mqtt.Client, packetID uint16) {
	v, ok := b.deltaWaits.Load(cl)
	if !ok || v.(deltaWait).packetID != packetID {
		return
	}
	b.deltaWaits.Delete(cl)
	for _, name := range v.(deltaWait).shadows {
		payload, ok := b.shadows.PendingDelta(cl.ID, name)
		if !ok {
			continue
		}
		if err := b.send(shadow.DeltaTopic(cl.ID, name), payload, 1); err != nil {
			b.logLimit.Log(context.Background(), slog.LevelError, "mqtt pending delta not sent", "device", cl.ID, "shadow", name, "error", err)
		}
	}
}

// deltaShadows returns the shadows of thing whose delta topic filter
// matches: "" for the classic shadow, and the named shadow the filter
// spells out, if any. A filter with a wildcard in place of the shadow name
// ("$aws/things/me/shadow/#", "…/shadow/name/+/update/delta") covers named
// shadows the broker cannot list; their deltas come with the next update,
// or when the device subscribes to them by name.
func deltaShadows(thing, filter string) []string {
	if first, rest, ok := strings.Cut(filter, "/"); ok && strings.EqualFold(first, "$share") {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			filter = f
		}
	}
	var out []string
	if filterMatches(filter, shadow.DeltaTopic(thing, "")) {
		out = append(out, "")
	}
	// $aws / things / {thing} / shadow / name / {shadowName} / …
	levels := strings.SplitN(filter, "/", 7)
	if len(levels) == 7 && levels[4] == "name" && levels[5] != "+" && levels[5] != "#" &&
		shadow.ValidName(levels[5]) == nil && filterMatches(filter, shadow.DeltaTopic(thing, levels[5])) {
		out = append(out, levels[5])
	}
	return out
}

// filterMatches reports whether MQTT topic filter matches topic name. mochi
// matches filters only against its topic tree, not one against another.
// Topics here start with "$aws", which no leading wildcard matches.
func filterMatches(filter, topic string) bool {
	for {
		f, fMore, fHas := strings.Cut(filter, "/")
		if f == "#" {
			return !fHas
		}
		t, tMore, tHas := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !fHas || !tHas {
			// "a/#" also matches "a".
			return fHas == tHas || (fHas && fMore == "#")
		}
		filter, topic = fMore, tMore
	}
}
