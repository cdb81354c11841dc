package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// SubscribeInline subscribes the server's own inline client to filter, as a
// server-side consumer of presence events would.
func (b *Broker) SubscribeInline(filter string, fn func(topic string, payload []byte)) error {
	return b.server.Subscribe(filter, 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, pk.Payload)
	})
}

// AddHook attaches a test's own mochi hook beside the broker's, to hold a
// connection at a chosen point.
func (b *Broker) AddHook(h mqtt.Hook) error {
	return b.server.AddHook(h, nil)
}

// ChurnClients removes an unknown client from mochi's client list until
// done is closed, as ending connections do, so that the list's write lock
// is wanted all the time.
func (b *Broker) ChurnClients(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
			b.server.Clients.Delete("no-such-client")
		}
	}
}

// AckQueues counts the connections the broker keeps a telemetry
// acknowledgement queue for.
func (b *Broker) AckQueues() int {
	n := 0
	b.acks.Range(func(any, any) bool { n++; return true })
	return n
}
