package broker_test

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/mochi-mqtt/server/v2"
	mochi "github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/device"
)

// endGate holds the first connection of a device that mochi discards at
// the point where the race lies: after mochi decided the connection was
// not taken over, before it removes the client id from its list.
type endGate struct {
	mqtt.HookBase
	device  string
	held    atomic.Bool
	holding chan struct{} // closed once the first end is held
	release chan struct{}
}

func (g *endGate) ID() string { return "end-gate" }

func (g *endGate) Provides(event byte) bool { return event == mqtt.OnUnsubscribed }

func (g *endGate) OnUnsubscribed(cl *mqtt.Client, _ mochi.Packet) {
	if cl.ID != g.device || !cl.Closed() {
		return
	}
	// Only the first call waits; the new connection's takeover of the
	// old one calls again, from its own goroutine.
	if g.held.CompareAndSwap(false, true) {
		close(g.holding)
		<-g.release
	}
}

// TestReconnectWhileOldConnectionEnds: a device that reconnects while its
// previous clean connection is still ending keeps receiving messages on
// the new connection. mochi removes a finished clean client from its list
// by id; had the new connection been added before that, the removal took
// its place, and it stayed open and deaf.
func TestReconnectWhileOldConnectionEnds(t *testing.T) {
	for _, proto := range []int{3, 5} {
		t.Run(map[int]string{3: "mqtt 3.1.1", 5: "mqtt 5"}[proto], func(t *testing.T) {
			e := newEnv(t)
			gate := &endGate{device: "ahu-1", holding: make(chan struct{}), release: make(chan struct{})}
			p := device.NewPresence(nil)
			out := broker.NewOutbound()
			b := startBroker(t, e, broker.Config{TLSAddr: "127.0.0.1:0", TLS: e.serverTLS},
				broker.Deps{Outbound: out, Ingest: &spyIngester{}, Presence: p}, slog.New(newLogSink()),
				func(b *broker.Broker) error { return b.AddHook(gate) })
			tlsAddr, _ := b.Addrs()
			f := &fixture{env: e, broker: b, logs: newLogSink(), tlsAddr: tlsAddr.String()}
			d := f.newDevice(t, "ahu-1")
			topic := "$aws/things/ahu-1/shadow/update/delta"

			if proto == 5 {
				if err := f.mustV5(t, f.secretOpts(d)).Disconnect(&paho.Disconnect{}); err != nil {
					t.Fatal(err)
				}
			} else {
				f.mustV3(t, f.secretOpts(d)).Disconnect(0)
			}
			select {
			case <-gate.holding:
			case <-time.After(wait):
				t.Fatal("the first connection never ended")
			}

			// The new connection gets as far as it will while the old one
			// is held; without the wait for the old one, that is connected.
			type client struct {
				v5  *v5
				v3  *v3
				err error
			}
			connected := make(chan client, 1)
			go func() {
				var c client
				if proto == 5 {
					c.v5, _, c.err = f.connectV5(t, f.certOpts(d))
				} else {
					c.v3, _, c.err = f.connectV3(t, f.certOpts(d))
				}
				connected <- c
			}()
			var c client
			select {
			case c = <-connected:
				close(gate.release)
			case <-time.After(300 * time.Millisecond):
				close(gate.release)
				c = <-connected
			}
			if c.err != nil {
				t.Fatalf("reconnect: %v", c.err)
			}

			var rc byte
			if proto == 5 {
				rc = c.v5.subscribe(t, topic)[0]
			} else {
				rc = c.v3.subscribe(t, topic)[0]
			}
			if rc != 1 {
				t.Fatalf("subscribe: reason %#x", rc)
			}
			if err := out.Publish(topic, []byte(`{"state":{"fan":"on"}}`), 1); err != nil {
				t.Fatal(err)
			}
			var got string
			if proto == 5 {
				got = string(c.v5.next(t).Payload)
			} else {
				got = string(c.v3.next(t).Payload())
			}
			if got != `{"state":{"fan":"on"}}` {
				t.Errorf("received %q", got)
			}
			if info, ok := p.Get("ahu-1"); !ok || !info.Online {
				t.Errorf("presence after the reconnect: %+v, want online", info)
			}
		})
	}
}
