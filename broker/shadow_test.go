package broker_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/device/shadow"
)

// request is one shadow request as the service saw it.
type request struct {
	Thing, ShadowName, Op, Payload string
}

// fakeShadows stands in for the shadow service: it records requests,
// answers each on …/{op}/accepted through the broker, and has the pending
// deltas a test sets.
type fakeShadows struct {
	publish func(topic string, payload []byte, qos byte) error

	mu       sync.Mutex
	requests []request
	pending  map[string]string // shadow name → delta payload
	asked    []string          // shadow names PendingDelta was asked about
}

func (s *fakeShadows) HandleShadowRequest(thing, shadowName, op string, payload []byte) {
	s.mu.Lock()
	s.requests = append(s.requests, request{thing, shadowName, op, string(payload)})
	s.mu.Unlock()
	topic := "$aws/things/" + thing + "/shadow/" + op + "/accepted"
	if shadowName != "" {
		topic = "$aws/things/" + thing + "/shadow/name/" + shadowName + "/" + op + "/accepted"
	}
	if err := s.publish(topic, []byte("accepted "+string(payload)), 1); err != nil {
		panic(err)
	}
}

func (s *fakeShadows) PendingDelta(thing, shadowName string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, shadowName)
	d, ok := s.pending[shadowName]
	return []byte(d), ok
}

func (s *fakeShadows) seen() ([]request, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...), append([]string(nil), s.asked...)
}

// newShadowFixture is newFixture with svc as the shadow service, built
// before the broker and answering through its outbound, as the server wires
// it; a nil svc leaves the broker without one.
func newShadowFixture(t *testing.T, svc *fakeShadows) *fixture {
	t.Helper()
	e := newEnv(t)
	logs := newLogSink()
	out := broker.NewOutbound()
	deps := broker.Deps{Outbound: out, Ingest: &spyIngester{}}
	if svc != nil {
		svc.publish = out.Publish
		deps.Shadows = svc
	}
	b := startBroker(t, e, broker.Config{TLSAddr: "127.0.0.1:0", TLS: e.serverTLS}, deps, slog.New(logs))
	tlsAddr, _ := b.Addrs()
	return &fixture{env: e, broker: b, out: out, logs: logs, tlsAddr: tlsAddr.String()}
}

// A device's requests reach the shadow service with their parts and are
// acknowledged, answered, and never delivered to subscribers: the device,
// subscribed to all its shadow topics, receives the answer and nothing else.
func TestShadowRequest(t *testing.T) {
	svc := &fakeShadows{}
	f := newShadowFixture(t, svc)
	d := f.newDevice(t, "me")
	c := f.mustV5(t, f.certOpts(d))
	c.subscribe(t, "$aws/things/me/shadow/#", "$aws/things/me/shadow/update", "hearth/things/me/marker")

	tests := []struct {
		topic   string
		want    request
		replyOn string
	}{
		{"$aws/things/me/shadow/update", request{"me", "", "update", `{"state":{"reported":{"t":21}}}`}, "$aws/things/me/shadow/update/accepted"},
		{"$aws/things/me/shadow/get", request{"me", "", "get", `{"clientToken":"g"}`}, "$aws/things/me/shadow/get/accepted"},
		{"$aws/things/me/shadow/delete", request{"me", "", "delete", ""}, "$aws/things/me/shadow/delete/accepted"},
		{"$aws/things/me/shadow/name/cfg/update", request{"me", "cfg", "update", `{"state":{"desired":{"m":1}}}`}, "$aws/things/me/shadow/name/cfg/update/accepted"},
		{"$aws/things/me/shadow/name/cfg/get", request{"me", "cfg", "get", ""}, "$aws/things/me/shadow/name/cfg/get/accepted"},
	}
	for i, tt := range tests {
		resp, err := c.publish(t, tt.topic, tt.want.Payload, 1)
		if err != nil || resp.ReasonCode != 0 {
			t.Fatalf("publish %s: response %+v, error %v; want success", tt.topic, resp, err)
		}
		reqs, _ := svc.seen()
		if len(reqs) != i+1 {
			t.Fatalf("after %s the service saw %d requests, want %d", tt.topic, len(reqs), i+1)
		}
		if diff := cmp.Diff(tt.want, reqs[i]); diff != "" {
			t.Errorf("request on %s (-want +got):\n%s", tt.topic, diff)
		}
		// The device's own next message is delivered after anything its
		// request caused.
		if _, err := c.publish(t, "hearth/things/me/marker", "marker", 1); err != nil {
			t.Fatal(err)
		}
		var got []string
		for range 2 {
			p := c.next(t)
			got = append(got, p.Topic+" "+string(p.Payload))
		}
		want := []string{tt.replyOn + " accepted " + tt.want.Payload, "hearth/things/me/marker marker"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after %s the device received (-want +got):\n%s", tt.topic, diff)
		}
	}
}

// Only the service publishes replies: a device publishing on its own reply
// topics, or anywhere under …/shadow that is not a request, is refused like
// on another device's topic, and without a shadow service so are requests.
func TestShadowTopicsRefused(t *testing.T) {
	refused := []string{
		"$aws/things/me/shadow/update/accepted",
		"$aws/things/me/shadow/update/rejected",
		"$aws/things/me/shadow/update/delta",
		"$aws/things/me/shadow/update/documents",
		"$aws/things/me/shadow/name/cfg/get/accepted",
		"$aws/things/me/shadow/list",
	}
	requests := []string{"$aws/things/me/shadow/update", "$aws/things/me/shadow/name/cfg/get"}

	for _, tt := range []struct {
		name    string
		svc     *fakeShadows
		refused []string
	}{
		{"with service", &fakeShadows{}, refused},
		{"without service", nil, append(append([]string(nil), refused...), requests...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newShadowFixture(t, tt.svc)
			d := f.newDevice(t, "me")
			c5 := f.mustV5(t, f.certOpts(d))
			c5.subscribe(t, "$aws/things/me/shadow/#", "hearth/things/me/marker")
			before := f.broker.Stats().RefusedPublishes

			for _, topic := range tt.refused {
				resp, err := c5.publish(t, topic, "forged", 1)
				if err == nil || resp == nil || resp.ReasonCode != v5PubNotAllowed {
					t.Errorf("MQTT 5 publish on %s: response %+v, error %v; want reason %#x", topic, resp, err, v5PubNotAllowed)
				}
			}
			_ = c5.Disconnect(&paho.Disconnect{})
			// MQTT 3.1.1 has no negative PUBACK: acknowledged, dropped.
			c3 := f.mustV3(t, f.secretOpts(d))
			for _, topic := range tt.refused {
				if err := c3.publish(t, topic, "forged", 1); err != nil {
					t.Errorf("MQTT 3.1.1 publish on %s: %v, want acknowledged", topic, err)
				}
			}
			// The same device, subscribed to everything under its shadow,
			// receives the marker first: nothing was delivered.
			if got := c3.subscribe(t, "$aws/things/me/shadow/#", "hearth/things/me/marker"); got[0] != 1 || got[1] != 1 {
				t.Fatalf("SUBACK %v", got)
			}
			if err := c3.publish(t, "$aws/things/me/shadow/update/accepted", "forged after subscribing", 1); err != nil {
				t.Fatal(err)
			}
			if err := c3.publish(t, "hearth/things/me/marker", "marker", 1); err != nil {
				t.Fatal(err)
			}
			if m := c3.next(t); string(m.Payload()) != "marker" {
				t.Errorf("received %q on %s, want only the marker", m.Payload(), m.Topic())
			}
			if got, want := f.broker.Stats().RefusedPublishes-before, uint64(2*len(tt.refused)+1); got != want {
				t.Errorf("RefusedPublishes went up by %d, want %d", got, want)
			}
			if tt.svc != nil {
				if reqs, _ := tt.svc.seen(); len(reqs) != 0 {
					t.Errorf("the service saw %v, want nothing", reqs)
				}
			}
		})
	}
}

// A device that subscribes to a delta topic while a delta is pending gets
// it right after the SUBACK, for each shadow the filters name.
func TestShadowPendingDelta(t *testing.T) {
	tests := []struct {
		name    string
		filters []string
		want    []string // delta topics received, in order
		asked   []string // shadows the service was asked about
	}{
		{"classic", []string{"$aws/things/me/shadow/update/delta"},
			[]string{"$aws/things/me/shadow/update/delta"}, []string{""}},
		{"multi-level wildcard", []string{"$aws/things/me/shadow/#"},
			[]string{"$aws/things/me/shadow/update/delta"}, []string{""}},
		{"single-level wildcards", []string{"$aws/things/me/shadow/+/delta", "$aws/things/me/+/name/cfg/+/delta"},
			[]string{"$aws/things/me/shadow/update/delta", "$aws/things/me/shadow/name/cfg/update/delta"}, []string{"", "cfg"}},
		{"named", []string{"$aws/things/me/shadow/name/cfg/update/delta"},
			[]string{"$aws/things/me/shadow/name/cfg/update/delta"}, []string{"cfg"}},
		{"named, nothing pending", []string{"$aws/things/me/shadow/name/idle/#"}, nil, []string{"idle"}},
		{"shared subscription", []string{"$share/g/$aws/things/me/shadow/update/delta"},
			[]string{"$aws/things/me/shadow/update/delta"}, []string{""}},
		{"other topics", []string{"$aws/things/me/shadow/update/accepted", "$aws/things/me/shadow/name/+/update/delta", "hearth/things/me/#"}, nil, nil},
		{"refused filter", []string{"$aws/things/other/shadow/update/delta"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &fakeShadows{pending: map[string]string{"": `{"state":{"t":22}}`, "cfg": `{"state":{"m":2}}`}}
			f := newShadowFixture(t, svc)
			d := f.newDevice(t, "me")
			f.newDevice(t, "other")
			conn, err := f.dial(f.certOpts(d))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(wait))

			// Raw packets show the order on the wire.
			connect := packets.NewControlPacket(packets.CONNECT)
			connect.Content.(*packets.Connect).ClientID = "me"
			connect.Content.(*packets.Connect).CleanStart = true
			if _, err := connect.WriteTo(conn); err != nil {
				t.Fatal(err)
			}
			if p, err := packets.ReadPacket(conn); err != nil || p.Type != packets.CONNACK || p.Content.(*packets.Connack).ReasonCode != 0 {
				t.Fatalf("CONNACK: %v %v", p, err)
			}
			sub := packets.NewControlPacket(packets.SUBSCRIBE)
			sub.Content.(*packets.Subscribe).PacketID = 7
			for _, fl := range append([]string{"hearth/things/me/marker"}, tt.filters...) {
				sub.Content.(*packets.Subscribe).Subscriptions = append(sub.Content.(*packets.Subscribe).Subscriptions, packets.SubOptions{Topic: fl, QoS: 1})
			}
			if _, err := sub.WriteTo(conn); err != nil {
				t.Fatal(err)
			}
			// The device's own message, published after the SUBSCRIBE, is
			// delivered after whatever the subscription sent.
			marker := packets.NewControlPacket(packets.PUBLISH)
			marker.Content.(*packets.Publish).Topic = "hearth/things/me/marker"
			if _, err := marker.WriteTo(conn); err != nil {
				t.Fatal(err)
			}

			var got []string
			p, err := packets.ReadPacket(conn)
			if err != nil || p.Type != packets.SUBACK {
				t.Fatalf("first packet after SUBSCRIBE: %v %v, want SUBACK", p, err)
			}
			for {
				p, err := packets.ReadPacket(conn)
				if err != nil {
					t.Fatal(err)
				}
				pub, ok := p.Content.(*packets.Publish)
				if !ok {
					t.Fatalf("received %v, want PUBLISH", p)
				}
				if pub.Topic == "hearth/things/me/marker" {
					break
				}
				got = append(got, pub.Topic)
				name := deltaName(pub.Topic)
				if string(pub.Payload) != svc.pending[name] {
					t.Errorf("delta on %s is %q, want %q", pub.Topic, pub.Payload, svc.pending[name])
				}
				if pub.QoS > 0 {
					ack := packets.NewControlPacket(packets.PUBACK)
					ack.Content.(*packets.Puback).PacketID = pub.PacketID
					if _, err := ack.WriteTo(conn); err != nil {
						t.Fatal(err)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("deltas received (-want +got):\n%s", diff)
			}
			if _, asked := svc.seen(); !cmp.Equal(tt.asked, asked) {
				t.Errorf("PendingDelta asked about %q, want %q", asked, tt.asked)
			}
		})
	}
}

// deltaName is the shadow name in one of the delta topics the tests expect.
func deltaName(topic string) string {
	for _, n := range []string{"cfg", "idle"} {
		if topic == shadow.DeltaTopic("me", n) {
			return n
		}
	}
	return ""
}

// A device may number its SUBSCRIBE and UNSUBSCRIBE like a QoS 1 message
// the server sent it and it has not acknowledged yet: the two sides number
// their packets independently. It happens right after connecting, when a
// pending delta follows the first SUBACK; each request is answered under
// the device's own number, and a pending delta still follows its SUBACK.
func TestSubscribeWithIdentifierOfUnackedMessage(t *testing.T) {
	svc := &fakeShadows{pending: map[string]string{"": `{"state":{"t":22}}`, "cfg": `{"state":{"m":2}}`}}
	f := newShadowFixture(t, svc)
	d := f.newDevice(t, "me")
	conn, err := f.dial(f.certOpts(d))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(wait))
	write := func(p *packets.ControlPacket) {
		t.Helper()
		if _, err := p.WriteTo(conn); err != nil {
			t.Fatal(err)
		}
	}
	read := func(typ byte) *packets.ControlPacket {
		t.Helper()
		p, err := packets.ReadPacket(conn)
		if err != nil || p.Type != typ {
			t.Fatalf("read %v %v, want packet type %d", p, err, typ)
		}
		return p
	}
	subscribe := func(id uint16, filter string) *packets.Suback {
		t.Helper()
		sub := packets.NewControlPacket(packets.SUBSCRIBE)
		sub.Content.(*packets.Subscribe).PacketID = id
		sub.Content.(*packets.Subscribe).Subscriptions = []packets.SubOptions{{Topic: filter, QoS: 1}}
		write(sub)
		ack := read(packets.SUBACK).Content.(*packets.Suback)
		if ack.PacketID != id || len(ack.Reasons) != 1 || ack.Reasons[0] != 1 {
			t.Fatalf("SUBSCRIBE %d %s answered with SUBACK %d %v, want %d [1]", id, filter, ack.PacketID, ack.Reasons, id)
		}
		return ack
	}
	unacked := func(topic string) uint16 {
		t.Helper()
		pub := read(packets.PUBLISH).Content.(*packets.Publish)
		if pub.Topic != topic || pub.QoS != 1 {
			t.Fatalf("received %s at QoS %d, want %s at QoS 1", pub.Topic, pub.QoS, topic)
		}
		return pub.PacketID
	}

	connect := packets.NewControlPacket(packets.CONNECT)
	connect.Content.(*packets.Connect).ClientID = "me"
	connect.Content.(*packets.Connect).CleanStart = true
	write(connect)
	read(packets.CONNACK)

	subscribe(1, "$aws/things/me/shadow/update/delta")
	first := unacked("$aws/things/me/shadow/update/delta")
	// The next subscription reuses the number of the delta still unacked,
	// and is followed by its own pending delta.
	subscribe(first, "$aws/things/me/shadow/name/cfg/update/delta")
	second := unacked("$aws/things/me/shadow/name/cfg/update/delta")

	unsub := packets.NewControlPacket(packets.UNSUBSCRIBE)
	unsub.Content.(*packets.Unsubscribe).PacketID = second
	unsub.Content.(*packets.Unsubscribe).Topics = []string{"$aws/things/me/shadow/name/cfg/update/delta"}
	write(unsub)
	if ack := read(packets.UNSUBACK).Content.(*packets.Unsuback); ack.PacketID != second || len(ack.Reasons) != 1 || ack.Reasons[0] != 0 {
		t.Fatalf("UNSUBSCRIBE %d answered with UNSUBACK %d %v, want %d [0]", second, ack.PacketID, ack.Reasons, second)
	}

	// Acknowledged at last, both messages are done with: a message on the
	// first subscription arrives, and nothing is sent again.
	for _, id := range []uint16{first, second} {
		ack := packets.NewControlPacket(packets.PUBACK)
		ack.Content.(*packets.Puback).PacketID = id
		write(ack)
	}
	if err := f.out.Publish("$aws/things/me/shadow/update/delta", []byte(`{"state":{"t":23}}`), 1); err != nil {
		t.Fatal(err)
	}
	if pub := read(packets.PUBLISH).Content.(*packets.Publish); string(pub.Payload) != `{"state":{"t":23}}` {
		t.Errorf("received %s %q, want the new delta", pub.Topic, pub.Payload)
	}
}
