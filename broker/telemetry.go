package broker

import (
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/device"
)

// Telemetry is acknowledged once it is stored, which with the telemetry
// log means once a group commit has made it durable. Waiting for that on
// the connection's own goroutine would let a connection have one message
// per commit in flight, whatever the device sends; instead a message that
// was accepted is queued on its connection's ackQueue, and the connection
// reads on. A goroutine, started while the queue has messages, waits for
// each in turn and sends its PUBACK, so acknowledgements leave in the
// order the messages came (MQTT 5 section 4.6). Any other acknowledgement
// of the connection waits for the queue to empty first (waitAcks), for the
// same order.

// ackQueue is one connection's accepted telemetry, oldest first.
type ackQueue struct {
	mu      sync.Mutex
	cond    sync.Cond // signalled when a message leaves the queue or it empties
	items   []queuedTelemetry
	running bool // a goroutine drains the queue
}

// queuedTelemetry is an accepted message waiting to be stored.
type queuedTelemetry struct {
	stored      device.Storing
	packetID    uint16
	qos         byte
	negativeAck bool
	topic       string
	payload     []byte
	at          time.Time
}

// queueTelemetry queues an accepted message on its connection, waiting
// while the connection has ReceiveMaximum messages queued already: a
// device past the limit the broker announced is slowed down, as it was
// when every message was stored before the next was read.
func (b *Broker) queueTelemetry(cl *mqtt.Client, m queuedTelemetry) {
	v, ok := b.acks.Load(cl)
	if !ok {
		q := &ackQueue{}
		q.cond.L = &q.mu
		v, _ = b.acks.LoadOrStore(cl, q)
	}
	q := v.(*ackQueue)
	q.mu.Lock()
	for len(q.items) >= b.cfg.ReceiveMaximum {
		q.cond.Wait()
	}
	q.items = append(q.items, m)
	if !q.running {
		q.running = true
		b.ackers.Add(1)
		go b.drainAcks(cl, q)
	}
	q.mu.Unlock()
}

// drainAcks finishes the queued messages in order until the queue is
// empty. A message leaves the queue once it is answered, so the queue
// holds at most ReceiveMaximum messages not yet answered.
func (b *Broker) drainAcks(cl *mqtt.Client, q *ackQueue) {
	defer b.ackers.Add(-1)
	q.mu.Lock()
	for len(q.items) > 0 {
		m := q.items[0]
		q.mu.Unlock()
		b.finishTelemetry(cl, m)
		q.mu.Lock()
		q.items[0] = queuedTelemetry{}
		q.items = q.items[1:]
		q.cond.Broadcast()
	}
	q.running = false
	q.items = nil // a burst's memory is not kept for an idle connection
	q.cond.Broadcast()
	q.mu.Unlock()
}

// waitAcks returns once every telemetry message the connection sent so far
// has been answered.
func (b *Broker) waitAcks(cl *mqtt.Client) {
	v, ok := b.acks.Load(cl)
	if !ok {
		return
	}
	q := v.(*ackQueue)
	q.mu.Lock()
	for q.running {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// waitAckers returns true once no queue is being drained, or false when
// done is closed first. Stop calls it after the connections are closed, so
// that nothing is stored after the store's owner goes on to close it.
func (b *Broker) waitAckers(done <-chan struct{}) bool {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for b.ackers.Load() > 0 {
		select {
		case <-t.C:
		case <-done:
			return false
		}
	}
	return true
}

// finishTelemetry waits for a queued message to be stored and answers it:
// a PUBACK at QoS 1, and the message delivered to whoever subscribed to the
// device's telemetry topic; or the refusal telemetryRefused decides.
func (b *Broker) finishTelemetry(cl *mqtt.Client, m queuedTelemetry) {
	_, err := m.stored.Wait()
	code := packets.CodeSuccess
	if err != nil {
		if code = b.telemetryRefused(cl, m.qos, m.negativeAck, err, m.at); code == packets.ErrRejectPacket {
			return
		}
	}
	if m.qos > 0 {
		ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: m.packetID, ReasonCode: code.Code}
		if code.Code >= packets.ErrUnspecifiedError.Code {
			ack.Properties.ReasonString = code.Reason
		}
		// A connection that ended meanwhile gets no PUBACK; its device
		// sends the message again, and storing it twice keeps one sample.
		_ = cl.WritePacket(ack)
	}
	if err == nil && b.hasSubscribers(m.topic) {
		// Delivered as mochi delivers any publish, minus retaining, which
		// the broker does not offer.
		_ = b.server.Publish(m.topic, m.payload, false, m.qos)
	}
}

// hasSubscribers reports whether any subscription matches topic. Telemetry
// usually has no subscriber, and looking is a fraction of what handing a
// message to mochi's publish path costs (a copy of the packet through its
// checks and hooks) only to find none.
func (b *Broker) hasSubscribers(topic string) bool {
	s := b.server.Topics.Subscribers(topic)
	return len(s.Subscriptions) > 0 || len(s.Shared) > 0 || len(s.InlineSubscriptions) > 0
}

// telemetryRefused logs and answers a telemetry message that was not
// stored, the way each protocol allows, and returns what is left to do
// with the message, in mochi's terms: the reason code of an MQTT 5
// PUBACK, packets.CodeSuccessIgnore to acknowledge it without delivering
// it, or packets.ErrRejectPacket when the connection was ended instead.
func (b *Broker) telemetryRefused(cl *mqtt.Client, qos byte, negativeAck bool, err error, now time.Time) packets.Code {
	thing := cl.ID
	te := b.telemetryRejected(thing, err)
	b.sendRejection(thing, te, now)
	if (te.Code == device.CodeInternal || te.Code == device.CodeStorageFull || te.Code == device.CodeRateLimited) && !negativeAck && qos > 0 {
		// Nothing was stored, so nothing may be acknowledged: an MQTT 3.1.1
		// client has no negative PUBACK, so it is disconnected without one
		// and sends the message again after reconnecting.
		b.disconnect(cl, packets.ErrUnspecifiedError)
		return packets.ErrRejectPacket
	}
	if negativeAck {
		// The reason string repeats the code, which also keeps it from
		// ever equalling one of mochi's sentinel codes.
		return packets.Code{Code: telemetryReasonCode(te.Code), Reason: te.Code + ": " + te.Message}
	}
	return packets.CodeSuccessIgnore
}
