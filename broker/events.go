package broker

import (
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/time/rate"
)

// EventIngester takes the events devices publish on
// hearth/things/{name}/events; device.DeviceEvents implements it. The
// error says what was wrong with the payload.
type EventIngester interface {
	Ingest(thing string, payload []byte, now time.Time) error
}

// A device may send events at eventRate a second on average, with bursts
// of eventBurst: enough for a gateway to send what it kept through an
// outage, not enough to crowd the event bus that rules and pollers read.
// Past it an event is refused (MQTT 5: 0x97 quota exceeded).
const (
	eventRate  = rate.Limit(5)
	eventBurst = 300
)

// eventPublish hands a device's event to the ingester. A malformed event
// is refused as telemetry is: an MQTT 5 client at QoS 1 gets PUBACK 0x99
// with the reason; otherwise it is acknowledged and dropped, so that a
// device does not send it forever.
func (b *Broker) eventPublish(cl *mqtt.Client, pk packets.Packet, negativeAck bool) error {
	if b.deviceEvents == nil {
		return nil
	}
	lim, _ := b.eventLimits.LoadOrStore(cl, rate.NewLimiter(eventRate, eventBurst))
	if !lim.(*rate.Limiter).Allow() {
		b.refusedPublishes.Add(1)
		b.warnLimited("mqtt device event refused", "more events than a device may send",
			"device", cl.ID, "rate_per_second", float64(eventRate), "burst", eventBurst)
		if negativeAck {
			return packets.ErrQuotaExceeded
		}
		return packets.CodeSuccessIgnore
	}
	err := b.deviceEvents.Ingest(cl.ID, pk.Payload, time.Now())
	if err == nil {
		return nil
	}
	b.refusedPublishes.Add(1)
	b.warnLimited("mqtt device event refused", "", "device", cl.ID, "error", err)
	if negativeAck {
		return packets.Code{Code: packets.ErrPayloadFormatInvalid.Code, Reason: err.Error()}
	}
	return packets.CodeSuccessIgnore
}
