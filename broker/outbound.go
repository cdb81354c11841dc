package broker

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// ErrNotRunning is what Outbound.Publish returns before its broker has
// started and after it has stopped. No device can be subscribed then, so
// nothing that could have been delivered is lost; a caller logs it at most.
var ErrNotRunning = errors.New("mqtt broker not running")

// Outbound is the broker's sending side: the server's own services (the
// shadow service, and any other that tells devices something) publish
// through it. It is made before the broker, so that those services can be
// built with it and handed to New; the broker routes device requests to
// them and they answer through the Outbound. This breaks the cycle between
// the shadow service and the broker by construction.
//
// One Outbound serves exactly one broker and any number of publishers; it
// is safe for concurrent use.
type Outbound struct {
	bound atomic.Bool
	// live is the broker while it runs: set just before it serves, cleared
	// once it has stopped.
	live atomic.Pointer[Broker]
}

// NewOutbound returns an Outbound for New to bind to a broker.
func NewOutbound() *Outbound { return &Outbound{} }

// Publish sends a message from the server itself to whoever subscribed,
// bypassing the topic rules that bind devices. Delivery is at most the
// subscriber's QoS; the broker offers QoS 0 and 1. While the broker is not
// running, the error wraps ErrNotRunning.
func (o *Outbound) Publish(topic string, payload []byte, qos byte) error {
	if err := checkPublish(topic, qos); err != nil {
		return err
	}
	b := o.live.Load()
	if b == nil {
		return fmt.Errorf("publish to %q: %w", clip(topic), ErrNotRunning)
	}
	return b.send(topic, payload, qos)
}

// bind gives the Outbound to one broker; a second broker is refused, as it
// would never receive what the first one's services publish.
func (o *Outbound) bind() error {
	if !o.bound.CompareAndSwap(false, true) {
		return errors.New("the outbound already serves another broker; make one with NewOutbound for each")
	}
	return nil
}

// checkPublish refuses what no server-side publish may send.
func checkPublish(topic string, qos byte) error {
	if topic == "" || strings.ContainsAny(topic, "+#") {
		return fmt.Errorf("publish to %q: a topic name must be non-empty and have no wildcards", clip(topic))
	}
	if qos > 1 {
		return fmt.Errorf("publish to %q: qos %d is not offered; use 0 or 1", clip(topic), qos)
	}
	return nil
}
