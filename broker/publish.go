package broker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/device"
)

// packetRead refuses, before mochi processes it, a PUBLISH the broker does
// not take at all: QoS 2 (not offered) and a payload over MaxPayload. Both
// end the connection, as MQTT 5 prescribes: DISCONNECT 0x9B or 0x95 for
// MQTT 5 clients; 3.1.1 has no way to say why. A PUBLISH on a topic mochi
// drops unanswered ($SYS/…, $share/…) is renamed to be refused in
// publish (reservedTopicRead).
func (b *Broker) packetRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	if b.presence != nil {
		b.presence.Seen(cl.ID, time.Now())
	}
	switch pk.FixedHeader.Type {
	case packets.Connect:
		return b.connectRead(cl, pk)
	case packets.Subscribe:
		b.freePacketID(cl, &pk)
		return b.subscribeRead(cl, pk)
	case packets.Unsubscribe:
		b.freePacketID(cl, &pk)
		return pk, nil
	}
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	var code packets.Code
	switch {
	case pk.FixedHeader.Qos > 1:
		code = packets.ErrQosNotSupported
	case len(pk.Payload) > b.cfg.MaxPayload:
		code = packets.ErrPacketTooLarge
	default:
		return b.reservedTopicRead(pk)
	}
	b.refusedPublishes.Add(1)
	b.warnLimited("mqtt publish refused", code.Reason,
		"device", cl.ID, "remote", cl.Net.Remote, "topic", clip(pk.TopicName),
		"qos", pk.FixedHeader.Qos, "payload_bytes", len(pk.Payload), "max_payload_bytes", b.cfg.MaxPayload)
	b.disconnect(cl, code)
	return pk, packets.ErrRejectPacket
}

// reservedTopicPrefix is put in front of a reserved topic name by
// reservedTopicRead. No device may publish under it, and mochi takes it.
const reservedTopicPrefix = "$hearth/reserved/"

// reservedTopicRead makes sure a PUBLISH on a topic name mochi (v2.7.9)
// drops without an acknowledgement ($SYS/…, $share/…) is answered. No
// device may publish there, so it is refused as any other topic outside
// the device's own: an MQTT 5 client at QoS 1 gets PUBACK 0x87, a 3.1.1
// client a plain PUBACK, and the message is dropped. Without the PUBACK a
// device waits for it until it gives up on the connection. A hook cannot
// drop a packet here without ending the connection, so the name is moved
// under reservedTopicPrefix, which mochi passes on to publish to refuse.
// A malformed PUBLISH (a wildcard in the name, no packet identifier) is
// left to mochi, which ends the connection.
func (b *Broker) reservedTopicRead(pk packets.Packet) (packets.Packet, error) {
	if !mqtt.IsValidFilter(pk.TopicName, true) &&
		pk.PublishValidate(b.server.Options.Capabilities.TopicAliasMaximum) == packets.CodeSuccess {
		pk.TopicName = reservedTopicPrefix + pk.TopicName
	}
	return pk, nil
}

// maxSubscriptionsPerClient bounds the topic filters one connection may hold.
// Every filter lives in the broker's topic tree, and a device's own topic
// space alone offers endless distinct filters.
const maxSubscriptionsPerClient = 100

// subscribeRead ends the connection of a client whose SUBSCRIBE would take
// it past maxSubscriptionsPerClient filters (MQTT 5: DISCONNECT 0x97 quota
// exceeded). A device that needs that many is misbehaving.
func (b *Broker) subscribeRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	n := cl.State.Subscriptions.Len()
	for _, sub := range pk.Filters {
		if _, ok := cl.State.Subscriptions.Get(sub.Filter); !ok {
			n++
		}
	}
	if n <= maxSubscriptionsPerClient {
		return pk, nil
	}
	b.refusedSubscribes.Add(uint64(len(pk.Filters)))
	b.warnLimited("mqtt subscribe refused", packets.ErrQuotaExceeded.Reason,
		"device", cl.ID, "remote", cl.Net.Remote, "subscriptions", n, "max_subscriptions", maxSubscriptionsPerClient)
	b.disconnect(cl, packets.ErrQuotaExceeded)
	return pk, packets.ErrRejectPacket
}

// disconnected forgets a connection; expire is mochi's word that the
// session ends with it. A packet larger than MaxPayload plus
// headroom ends the connection inside mochi before any hook sees it; it is
// counted and logged here.
func (b *Broker) disconnected(cl *mqtt.Client, err error, expire bool) {
	if expire {
		// Marked before the connection leaves conns, so that a
		// reconnecting device always finds one of the two (see
		// settlePredecessor).
		b.markEnding(cl)
	}
	b.sessionEnded(cl, err)
	b.untrack(cl)
	b.deltaWaits.Delete(cl)
	b.eventLimits.Delete(cl)
	// A queue still being drained is held by its goroutine; nothing of
	// the connection adds to it any more.
	b.acks.Delete(cl)
	b.packetIDs.Range(func(k, _ any) bool {
		if k.(packetIDKey).cl == cl {
			b.packetIDs.Delete(k)
		}
		return true
	})
	if errors.Is(err, packets.ErrPacketTooLarge) {
		b.refusedPublishes.Add(1)
		b.warnLimited("mqtt publish refused", packets.ErrPacketTooLarge.Reason,
			"device", cl.ID, "remote", cl.Net.Remote, "max_payload_bytes", b.cfg.MaxPayload)
	}
}

func (b *Broker) packetEncode(cl *mqtt.Client, pk *packets.Packet) {
	switch pk.FixedHeader.Type {
	case packets.Connack:
		b.connackSent(cl, pk)
	case packets.Suback, packets.Unsuback:
		if id, ok := b.packetIDs.LoadAndDelete(packetIDKey{cl, pk.PacketID}); ok {
			pk.PacketID = id.(uint16)
		}
	}
}

// packetIDKey names a SUBSCRIBE or UNSUBSCRIBE whose packet identifier
// freePacketID replaced.
type packetIDKey struct {
	cl *mqtt.Client
	id uint16
}

// freePacketID works around mochi (v2.7.9) refusing a SUBSCRIBE or
// UNSUBSCRIBE with 0x91 "packet identifier in use" when its identifier is
// that of a QoS 1 message the server sent and the device has not
// acknowledged yet. Client and server number their packets independently
// (MQTT 5 section 2.2.1), so such a request is valid, and common: a pending
// shadow delta goes out right after the first SUBACK, and an SDK that
// numbers from 1 sends its next SUBSCRIBE with the same identifier. mochi
// keeps only the server's messages under those numbers here, since QoS 2,
// whose incoming identifiers it would also keep, is refused. So the request
// is handed to mochi under a free identifier, and its SUBACK or UNSUBACK
// goes out with the device's own again (packetEncode).
func (b *Broker) freePacketID(cl *mqtt.Client, pk *packets.Packet) {
	if _, inUse := cl.State.Inflight.Get(pk.PacketID); !inUse {
		return
	}
	id, err := cl.NextPacketID()
	if err != nil {
		return // every identifier is in use; mochi refuses the request
	}
	b.packetIDs.Store(packetIDKey{cl, uint16(id)}, pk.PacketID)
	pk.PacketID = uint16(id)
}

// publish applies the topic rules to a device's PUBLISH and stores
// telemetry. A telemetry message is acknowledged only once it is stored
// (see ackQueue), so a PUBACK for telemetry means the readings are stored.
//
// A refusal is answered the way each protocol allows: an MQTT 5 client
// with QoS 1 gets a PUBACK with the reason code; at QoS 0, or with MQTT
// 3.1.1, which has no negative acknowledgement, a message that can never be
// stored is acknowledged as usual and not delivered, so that a device does
// not resend it forever. A message that could not be stored for a passing
// reason (CodeInternal, CodeStorageFull, CodeRateLimited) is never acknowledged: a 3.1.1
// client is disconnected instead and resends it.
func (b *Broker) publish(cl *mqtt.Client, pk *packets.Packet) error {
	if cl.Net.Inline {
		return nil
	}
	b.messagesIn.Add(1)
	negativeAck := cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos > 0
	if !device.IsTelemetryTopic(cl.ID, pk.TopicName) {
		return b.publishOther(cl, pk, negativeAck)
	}
	return b.publishTelemetry(cl, pk, negativeAck)
}

// publishOther decides a PUBLISH that is not telemetry. The functions it
// calls take the packet by value; publish and publishTelemetry, the path
// of nearly every message, pass a pointer, so that the reading goroutine's
// stack holds fewer copies of it.
func (b *Broker) publishOther(cl *mqtt.Client, p *packets.Packet, negativeAck bool) error {
	thing, pk := cl.ID, *p
	if owner, ok := b.ownTopic(pk.TopicName); ok && owner == thing && !device.MayPublish(thing, pk.TopicName) {
		return b.ownTopicPublish(cl, pk, negativeAck)
	}
	if pk.FixedHeader.Qos > 0 {
		// mochi acknowledges this one as soon as it returns.
		b.waitAcks(cl)
	}
	if !device.MayPublish(thing, pk.TopicName) {
		return b.refusePublish(cl, pk, "topic not allowed", negativeAck)
	}
	if handled, err := b.shadowPublish(cl, pk, negativeAck); handled {
		return err
	}
	if handled, err := b.jobsPublish(cl, pk, negativeAck); handled {
		return err
	}
	if device.IsEventsTopic(thing, pk.TopicName) {
		if err := b.eventPublish(cl, pk, negativeAck); err != nil {
			return err
		}
	}
	return b.runRules(cl, pk, negativeAck)
}

// publishTelemetry accepts a telemetry message and queues it to be
// acknowledged once stored.
func (b *Broker) publishTelemetry(cl *mqtt.Client, pk *packets.Packet, negativeAck bool) error {
	thing := cl.ID
	now := time.Now()
	stored, err := b.ingest.Accept(thing, pk.Payload, now)
	if err != nil {
		b.waitAcks(cl)
		return b.telemetryRefused(cl, pk.FixedHeader.Qos, negativeAck, err, now)
	}
	if b.rules != nil {
		// What rules make of telemetry is stored with it; their failures
		// are theirs, counted on the rule: the message itself is stored.
		if extra, _ := b.rules.Handle(thing, pk.TopicName, pk.Payload, now); len(extra) > 0 {
			stored = allStored{main: stored, extra: extra}
		}
	}
	b.queueTelemetry(cl, queuedTelemetry{
		stored: stored, packetID: pk.PacketID, qos: pk.FixedHeader.Qos, negativeAck: negativeAck,
		topic: pk.TopicName, payload: pk.Payload, at: now,
	})
	// Answered and delivered once stored.
	return packets.ErrRejectPacket
}

// telemetryRejected logs why telemetry was refused and returns the error to
// tell the device. An error that is not a *device.TelemetryError breaks the
// Ingester's contract; the device is told only that storing failed.
func (b *Broker) telemetryRejected(thing string, err error) *device.TelemetryError {
	var te *device.TelemetryError
	if !errors.As(err, &te) {
		te = &device.TelemetryError{Code: device.CodeInternal, Message: "the readings could not be stored; send the message again later"}
	}
	if te.Code == device.CodeInternal {
		b.logLimit.Log(context.Background(), slog.LevelError, "mqtt telemetry not stored", "device", thing, "error", err)
		return te
	}
	b.warnLimited("mqtt telemetry rejected", te.Code, "device", thing, "message", te.Message)
	return te
}

// telemetryReasonCode is the MQTT 5 PUBACK reason code for a telemetry
// rejection: 0x99 when the payload is wrong, 0x83 when the device is not
// registered (the broker will not take telemetry for it), 0x80 when storing
// failed and the device may retry, 0x97 (quota exceeded) while Hearth's
// disk is below its free-space floor, 0x96 (message rate too high) for a
// device past its sample rate.
func telemetryReasonCode(code string) byte {
	switch code {
	case device.CodeInternal:
		return packets.ErrUnspecifiedError.Code
	case device.CodeStorageFull:
		return packets.ErrQuotaExceeded.Code
	case device.CodeRateLimited:
		return packets.ErrMessageRateTooHigh.Code
	case device.CodeUnknownDevice:
		return packets.ErrImplementationSpecificError.Code
	default:
		return packets.ErrPayloadFormatInvalid.Code
	}
}

// rejectionMessage is the JSON document published on
// hearth/things/{thing}/telemetry/rejected.
type rejectionMessage struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Timestamp int64  `json:"timestamp"` // unix milliseconds
}

// sendRejection tells the device why its telemetry was refused, on the one
// channel MQTT 3.1.1 devices and QoS 0 publishers have.
func (b *Broker) sendRejection(thing string, te *device.TelemetryError, now time.Time) {
	payload, err := json.Marshal(rejectionMessage{Code: te.Code, Message: te.Message, Timestamp: now.UnixMilli()})
	if err == nil {
		err = b.send(device.TelemetryRejectedTopic(thing), payload, 1)
	}
	if err != nil {
		b.logLimit.Log(context.Background(), slog.LevelError, "mqtt telemetry rejection not sent", "device", thing, "error", err)
	}
}

// maySubscribe answers mochi's read checks: a subscription filter when a
// device subscribes, a topic name when a message is about to be delivered.
func (b *Broker) maySubscribe(cl *mqtt.Client, filter string) bool {
	return device.MaySubscribe(cl.ID, filter)
}

// subscribed counts and logs the filters the topic rules refused; mochi
// has already answered them with 0x87 (MQTT 5) or 0x80 (3.1.1). Granted
// filters that cover a shadow's delta topic get its pending delta.
func (b *Broker) subscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	if cl.Net.Inline {
		return
	}
	b.subscribedShadows(cl, pk, reasonCodes)
	for i, sub := range pk.Filters {
		if i >= len(reasonCodes) || reasonCodes[i] < packets.ErrUnspecifiedError.Code ||
			!mqtt.IsValidFilter(sub.Filter, false) || b.maySubscribe(cl, sub.Filter) {
			continue
		}
		b.refusedSubscribes.Add(1)
		b.warnLimited("mqtt subscribe refused", "topic filter not allowed",
			"device", cl.ID, "remote", cl.Net.Remote, "filter", clip(sub.Filter))
	}
}

// ownTopic is the device whose type declares topic, if any.
func (b *Broker) ownTopic(topic string) (string, bool) {
	if b.ownTopics == nil {
		return "", false
	}
	return b.ownTopics.Owner(topic)
}

// runRules runs the message rules on a message the topic rules let
// through, which is then delivered to subscribers as usual; readings the
// rules store are waited for here (these topics are not telemetry's).
// When they could not be stored for a passing reason, the message is not
// acknowledged, as telemetry would not be.
func (b *Broker) runRules(cl *mqtt.Client, pk packets.Packet, negativeAck bool) error {
	if b.rules == nil {
		return nil
	}
	now := time.Now()
	storing, err := b.rules.Handle(cl.ID, pk.TopicName, pk.Payload, now)
	if err == nil && len(storing) > 0 {
		_, err = allStored{extra: storing}.Wait()
	}
	if err != nil {
		if code := b.telemetryRefused(cl, pk.FixedHeader.Qos, negativeAck, err, now); code != packets.CodeSuccessIgnore {
			return code
		}
	}
	return nil
}

// ownTopicPublish runs the rules on a message on the device's type's own
// topic. Readings they store are acknowledged as telemetry is, from the
// connection's queue once stored, and the message delivered then; a
// message no rule stores anything of is answered at once.
func (b *Broker) ownTopicPublish(cl *mqtt.Client, pk packets.Packet, negativeAck bool) error {
	var storing []device.Storing
	var err error
	now := time.Now()
	if b.rules != nil {
		storing, err = b.rules.Handle(cl.ID, pk.TopicName, pk.Payload, now)
	}
	if err != nil || len(storing) == 0 {
		if pk.FixedHeader.Qos > 0 {
			b.waitAcks(cl)
		}
		if err != nil {
			return b.telemetryRefused(cl, pk.FixedHeader.Qos, negativeAck, err, now)
		}
		return nil
	}
	b.queueTelemetry(cl, queuedTelemetry{
		stored: allStored{extra: storing}, packetID: pk.PacketID, qos: pk.FixedHeader.Qos, negativeAck: negativeAck,
		topic: pk.TopicName, payload: pk.Payload, at: now,
	})
	return packets.ErrRejectPacket
}

// allStored waits for a message's readings: main's (nil on a topic that is
// not telemetry's), whose result it returns, and extra ones rules took,
// whose first failure it returns when there is no main.
type allStored struct {
	main  device.Storing
	extra []device.Storing
}

func (a allStored) Wait() (int, error) {
	n := 0
	var first error
	for _, s := range a.extra {
		k, err := s.Wait()
		n += k
		if err != nil && first == nil {
			first = err
		}
	}
	if a.main != nil {
		return a.main.Wait()
	}
	return n, first
}
