package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// hook attaches the broker's rules to mochi. mochi calls it on the client's
// own goroutine, so a hook blocks only the client it serves.
type hook struct {
	mqtt.HookBase
	b *Broker
}

func (h *hook) ID() string { return "hearth" }

func (h *hook) Provides(event byte) bool {
	switch event {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnDisconnect,
		mqtt.OnPacketRead, mqtt.OnPacketEncode, mqtt.OnPacketSent, mqtt.OnPublish, mqtt.OnSubscribed,
		mqtt.OnSessionEstablish, mqtt.OnSessionEstablished:
		return true
	}
	return false
}

// OnConnect authenticates the client and, when it is refused, sends the
// CONNACK itself: mochi's own refusal always says "bad username or
// password", which is wrong for a busy server or a revoked device.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	return h.b.connect(cl, pk)
}

// OnConnectAuthenticate admits exactly the clients OnConnect accepted.
// Being the only auth hook, it is the only way in.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	return h.b.tracked(cl)
}

// OnSessionEstablish runs after authentication and before mochi looks for
// the device's previous session: a reconnecting device waits there until
// its previous connection has finished ending (see settlePredecessor).
func (h *hook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	h.b.settlePredecessor(cl)
}

// OnSessionEstablished records the device as connected once its CONNACK
// is written.
func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h.b.sessionEstablished(cl)
}

func (h *hook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.b.disconnected(cl, err, expire)
}

// OnACLCheck decides subscriptions and deliveries. Publishes are decided
// in OnPublish instead, where an MQTT 5 topic alias has been resolved to
// the topic name (mochi checks the ACL before resolving it) and where the
// answer to an MQTT 3.1.1 client can be an acknowledgement rather than a
// dropped connection. mochi asks about writes only from its publish path.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	return cl.Net.Inline || write || h.b.maySubscribe(cl, topic)
}

func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	return h.b.packetRead(cl, pk)
}

// OnPacketEncode and OnPublish hand the packet on by pointer. mochi gives
// every hook its own copy (a packets.Packet is about 800 bytes), and each
// copy a frame holds is stack its goroutine must have; these two are on
// the deepest paths of every telemetry message and its PUBACK, so that
// the reading goroutines and the ones that write PUBACKs grow their
// stacks less often.
func (h *hook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	h.b.packetEncode(cl, &pk)
	return pk
}

// OnPacketSent sends the pending shadow deltas a subscription asked for,
// once its SUBACK is on the wire.
func (h *hook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type == packets.Suback {
		h.b.sentSuback(cl, pk.PacketID)
	}
}

func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	err := h.b.publish(cl, &pk)
	return pk, err
}

func (h *hook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	h.b.subscribed(cl, pk, reasonCodes)
}
