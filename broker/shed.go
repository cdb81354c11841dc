package broker

import (
	"fmt"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Shedder says whether Hearth is short of memory and is to refuse new
// work rather than grow; *membudget.Watch implements it. Shedding is
// called for every CONNECT and PUBLISH, so it must be cheap: a watch
// reads the memory at an interval and answers from what it read.
type Shedder interface {
	Shedding() bool
}

// ShedStats count what was refused for want of memory.
type ShedStats struct {
	Connects  uint64 // CONNECTs answered 0x89 server busy (3.1.1: 3)
	Publishes uint64 // PUBLISHes refused: 0x97 quota exceeded, or dropped
}

// shedHook refuses new connections and messages while its Shedder says
// memory is short. It runs before the broker's own hook, so a refused
// message costs no decoding and no storing:
//
//   - a CONNECT gets CONNACK 0x89 server busy (3.1.1: 3 server
//     unavailable), and the device tries again later;
//   - a QoS 1 PUBLISH of an MQTT 5 client gets PUBACK 0x97 quota
//     exceeded, after the connection's earlier telemetry is answered, so
//     acknowledgements stay in order; the device keeps the message and
//     sends it again;
//   - MQTT 3.1.1 has no negative PUBACK: the connection is closed without
//     acknowledging the message, which the device sends again after
//     reconnecting (by then, or after further refusals, memory is back);
//   - a QoS 0 PUBLISH is dropped, as QoS 0 allows.
//
// Connections already open stay open, and their subscriptions, pings and
// acknowledgements go on.
type shedHook struct {
	mqtt.HookBase
	b         *Broker
	shed      Shedder
	connects  atomic.Uint64
	publishes atomic.Uint64
}

// addShedHook puts the shedding hook in front of the broker's own; a nil
// Shedder adds none.
func (b *Broker) addShedHook(s Shedder) error {
	if s == nil {
		return nil
	}
	b.shed = &shedHook{b: b, shed: s}
	if err := b.server.AddHook(b.shed, nil); err != nil {
		return fmt.Errorf("add shedding hook: %w", err)
	}
	return nil
}

// ShedStats returns what was refused for want of memory since New.
func (b *Broker) ShedStats() ShedStats {
	if b.shed == nil {
		return ShedStats{}
	}
	return ShedStats{Connects: b.shed.connects.Load(), Publishes: b.shed.publishes.Load()}
}

func (h *shedHook) ID() string { return "hearth-shed" }

func (h *shedHook) Provides(event byte) bool {
	return event == mqtt.OnConnect || event == mqtt.OnPublish
}

func (h *shedHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if !h.shed.Shedding() {
		return nil
	}
	h.connects.Add(1)
	return h.b.refuse(cl, pk.Connect.ClientIdentifier, &refusal{
		reason: "memory budget reached",
		v5:     packets.Code{Code: packets.ErrServerBusy.Code, Reason: "server busy: at its memory budget, try again later"},
		v3:     v3ServerUnavailable,
	})
}

// shedReason is the reason string of the PUBACK; it differs from mochi's
// sentinel packets.ErrQuotaExceeded, which mochi's hooks treat alike.
var shedReason = packets.Code{Code: packets.ErrQuotaExceeded.Code, Reason: "quota exceeded: Hearth is at its memory budget; send the message again later"}

func (h *shedHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !h.shed.Shedding() {
		return pk, nil
	}
	h.publishes.Add(1)
	if pk.FixedHeader.Qos == 0 {
		return pk, packets.ErrRejectPacket
	}
	// The PUBACKs of telemetry this connection sent before are written
	// by another goroutine once stored; this one must follow them.
	h.b.waitAcks(cl)
	if cl.Properties.ProtocolVersion == 5 {
		return pk, shedReason // mochi writes the PUBACK with it
	}
	h.b.warnLimited("mqtt publish refused", "memory budget reached", "device", clip(cl.ID), "protocol_version", cl.Properties.ProtocolVersion)
	h.b.disconnect(cl, packets.ErrServerBusy)
	return pk, packets.ErrRejectPacket
}
