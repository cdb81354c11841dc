package broker

import (
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/protocol"
)

// JobService answers device job requests (AWS IoT Jobs device MQTT API).
type JobService interface {
	// HandleJobRequest answers one request a device published on
	// $aws/things/{thing}/jobs/…; the service publishes the reply on the
	// request's topic plus /accepted or /rejected itself.
	HandleJobRequest(thing string, req protocol.JobRequest, payload []byte)
}

// jobsPublish routes a PUBLISH a device made under $aws/things/{thing}/jobs,
// as shadowPublish does for shadows: a request goes to the job service,
// synchronously so that a device's requests are answered in order, and is
// not delivered to subscribers; the notifications and replies there are
// the service's to publish. handled is false for topics outside the jobs
// topics.
func (b *Broker) jobsPublish(cl *mqtt.Client, pk packets.Packet, negativeAck bool) (handled bool, err error) {
	if !strings.HasPrefix(pk.TopicName, protocol.JobsTopic(cl.ID)+"/") {
		return false, nil
	}
	req, ok := protocol.ParseJobRequest(cl.ID, pk.TopicName)
	switch {
	case !ok:
		return true, b.refusePublish(cl, pk, "not a jobs request topic", negativeAck)
	case b.jobs == nil:
		return true, b.refusePublish(cl, pk, "no job service", negativeAck)
	}
	b.jobs.HandleJobRequest(cl.ID, req, pk.Payload)
	return true, packets.CodeSuccessIgnore
}
