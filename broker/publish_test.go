package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/broker"
)

const (
	v5Granted       = 1 // SUBACK: granted QoS 1
	v5DeniedSub     = 0x87
	v3DeniedSub     = 0x80
	v5PubNotAllowed = 0x87
	v5PayloadFormat = 0x99
	v5Unspecified   = 0x80
)

// A device may publish and subscribe only under its own name. Refusals get
// the reason codes of each protocol version; refused messages reach nobody.
func TestTopicRules(t *testing.T) {
	f := newFixture(t, nil)
	a, b, c := f.newDevice(t, "ahu-1"), f.newDevice(t, "ahu-2"), f.newDevice(t, "ahu-3")
	ca := f.mustV5(t, f.certOpts(a))
	cb := f.mustV5(t, f.certOpts(b))
	cc := f.mustV3(t, f.secretOpts(c))

	if got := cb.subscribe(t, "hearth/things/ahu-2/#"); got[0] != v5Granted {
		t.Fatalf("own subscription refused: %#x", got[0])
	}

	t.Run("subscribe", func(t *testing.T) {
		filters := []string{
			"hearth/things/ahu-2/#",
			"hearth/things/+/telemetry",
			"#",
			"$share/g/hearth/things/ahu-2/cmd",
			"$aws/things/ahu-1/shadow/update/delta",
		}
		want5 := []byte{v5DeniedSub, v5DeniedSub, v5DeniedSub, v5DeniedSub, v5Granted}
		if diff := cmp.Diff(want5, ca.subscribe(t, filters...)); diff != "" {
			t.Errorf("MQTT 5 SUBACK codes (-want +got):\n%s", diff)
		}
		filters[4] = "$aws/things/ahu-3/shadow/update/delta"
		want3 := []byte{v3DeniedSub, v3DeniedSub, v3DeniedSub, v3DeniedSub, v5Granted}
		if diff := cmp.Diff(want3, cc.subscribe(t, filters...)); diff != "" {
			t.Errorf("MQTT 3.1.1 SUBACK codes (-want +got):\n%s", diff)
		}
	})

	t.Run("publish", func(t *testing.T) {
		before := f.broker.Stats().RefusedPublishes
		resp, err := ca.publish(t, "hearth/things/ahu-2/cmd", "from a", 1)
		if err == nil || resp == nil || resp.ReasonCode != v5PubNotAllowed {
			t.Errorf("MQTT 5 QoS 1 publish to another device: response %+v, error %v; want reason %#x", resp, err, v5PubNotAllowed)
		}
		if _, err := ca.publish(t, "hearth/things/ahu-2/cmd", "from a, qos 0", 0); err != nil {
			t.Fatal(err)
		}
		// MQTT 3.1.1 cannot refuse a publish: it is acknowledged and
		// dropped, and the connection stays.
		if err := cc.publish(t, "hearth/things/ahu-2/cmd", "from c", 1); err != nil {
			t.Errorf("MQTT 3.1.1 publish to another device: %v, want acknowledged", err)
		}
		if err := cc.publish(t, "hearth/things/ahu-2", "from c, no level after the name", 0); err != nil {
			t.Fatal(err)
		}
		// A publish a ran after its refused ones proves those were
		// processed; the marker is the first thing b may receive.
		if _, err := ca.publish(t, "hearth/things/ahu-1/state", "a is fine", 1); err != nil {
			t.Fatal(err)
		}
		if err := cc.publish(t, "hearth/things/ahu-3/state", "c is fine", 1); err != nil {
			t.Fatal(err)
		}
		if err := f.out.Publish("hearth/things/ahu-2/cmd", []byte("marker"), 1); err != nil {
			t.Fatal(err)
		}
		if p := cb.next(t); string(p.Payload) != "marker" {
			t.Errorf("ahu-2 received %q on %s, want only the marker", p.Payload, p.Topic)
		}
		if got := f.broker.Stats().RefusedPublishes - before; got != 4 {
			t.Errorf("RefusedPublishes went up by %d, want 4", got)
		}
	})

	// The rules judge the topic an MQTT 5 topic alias stands for.
	t.Run("topic alias", func(t *testing.T) {
		alias := uint16(1)
		ctx := t.Context()
		if _, err := ca.Publish(ctx, &paho.Publish{Topic: "hearth/things/ahu-1/state", QoS: 1, Payload: []byte("named"),
			Properties: &paho.PublishProperties{TopicAlias: &alias}}); err != nil {
			t.Fatal(err)
		}
		resp, err := ca.Publish(ctx, &paho.Publish{QoS: 1, Payload: []byte("aliased"),
			Properties: &paho.PublishProperties{TopicAlias: &alias}})
		if err != nil {
			t.Fatalf("publish by alias: %+v, %v", resp, err)
		}
	})

	if got := f.broker.Stats().RefusedSubscribes; got != 8 {
		t.Errorf("RefusedSubscribes = %d, want 8", got)
	}
	if got := f.logs.matching("mqtt publish refused", `reason="topic not allowed"`, `device="ahu-1"`, `topic="hearth/things/ahu-2/cmd"`); len(got) != 2 {
		t.Errorf("refused-publish log lines for ahu-1 = %q, want 2", got)
	}
}

// A PUBLISH on a reserved topic ($SYS/…, $share/…) is refused like any
// topic outside the device's own, with an acknowledgement: mochi drops it
// unanswered, and a device would wait for its PUBACK until it gave up on
// the connection.
func TestReservedTopicPublishAnswered(t *testing.T) {
	f := newFixture(t, nil)
	a, c := f.newDevice(t, "fan-1"), f.newDevice(t, "fan-3")
	ca := f.mustV5(t, f.certOpts(a))
	cc := f.mustV3(t, f.secretOpts(c))
	topics := []string{"$SYS/x", "$sys/broker/clients", "$share/g/hearth/things/fan-1/state"}
	before := f.broker.Stats().RefusedPublishes
	for _, topic := range topics {
		resp, err := ca.publish(t, topic, "v5", 1)
		if resp == nil || resp.ReasonCode != v5PubNotAllowed {
			t.Errorf("MQTT 5 QoS 1 publish to %s: response %+v, error %v; want reason %#x", topic, resp, err, v5PubNotAllowed)
		}
		if err := cc.publish(t, topic, "v3", 1); err != nil {
			t.Errorf("MQTT 3.1.1 QoS 1 publish to %s: %v, want acknowledged", topic, err)
		}
	}
	if _, err := ca.publish(t, "$SYS/x", "v5, qos 0", 0); err != nil {
		t.Fatal(err)
	}
	// Both connections are still there and still work.
	roundTripV5(t, ca, "hearth/things/fan-1/state")
	roundTripV3(t, cc, "hearth/things/fan-3/state")
	if got, want := f.broker.Stats().RefusedPublishes-before, uint64(2*len(topics)+1); got != want {
		t.Errorf("RefusedPublishes went up by %d, want %d", got, want)
	}
	if got := f.logs.matching("mqtt publish refused", `reason="topic not allowed"`, `topic="$hearth/reserved/$SYS/x"`); len(got) != 3 {
		t.Errorf("refused-publish log lines for $SYS/x = %q, want 3", got)
	}
}

// Retained messages are not kept, so no device can fill the memory with
// them: a PUBLISH with RETAIN set is acknowledged, and a later subscriber
// gets nothing before the next message.
func TestRetainedNotKept(t *testing.T) {
	f := newFixture(t, nil)
	a := f.newDevice(t, "rtu-1")
	ca := f.mustV3(t, f.certOpts(a))
	if tok := ca.Publish("hearth/things/rtu-1/config", 1, true, "not kept"); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("retained publish: %v", tok.Error())
	}
	ca2 := f.mustV5(t, f.secretOpts(a))
	ca2.subscribe(t, "hearth/things/rtu-1/config")
	if err := f.out.Publish("hearth/things/rtu-1/config", []byte("marker"), 1); err != nil {
		t.Fatal(err)
	}
	if p := ca2.next(t); string(p.Payload) != "marker" {
		t.Errorf("received %q, want no retained message before the marker", p.Payload)
	}
}

// The server's own publishes bypass the topic rules and reach the devices
// that subscribed.
func TestServerPublish(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDevice(t, "fcu-1")
	c := f.mustV5(t, f.certOpts(d))
	topic := "$aws/things/fcu-1/shadow/update/delta"
	c.subscribe(t, topic)
	if err := f.out.Publish(topic, []byte(`{"state":{"setpoint":21}}`), 1); err != nil {
		t.Fatal(err)
	}
	p := c.next(t)
	if p.Topic != topic || string(p.Payload) != `{"state":{"setpoint":21}}` || p.QoS != 1 {
		t.Errorf("received %s %q qos %d", p.Topic, p.Payload, p.QoS)
	}

	for _, tt := range []struct {
		topic string
		qos   byte
	}{{"", 0}, {"hearth/things/+/cmd", 0}, {"hearth/#", 1}, {topic, 2}} {
		if err := f.out.Publish(tt.topic, nil, tt.qos); err == nil {
			t.Errorf("Publish(%q, qos %d) succeeded, want an error", tt.topic, tt.qos)
		}
	}
}

// rejection is the JSON a device receives on .../telemetry/rejected.
type rejection struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Timestamp int64  `json:"timestamp"`
}

func decodeRejection(t *testing.T, payload []byte, since time.Time) rejection {
	t.Helper()
	var r rejection
	if err := json.Unmarshal(payload, &r); err != nil {
		t.Fatalf("rejection %q: %v", payload, err)
	}
	if r.Message == "" {
		t.Errorf("rejection %q has no message", payload)
	}
	if ts := time.UnixMilli(r.Timestamp); ts.Before(since.Add(-time.Millisecond)) || ts.After(time.Now()) {
		t.Errorf("rejection timestamp %v not between %v and now", ts, since)
	}
	return r
}

func TestTelemetry(t *testing.T) {
	f := newFixture(t, nil)
	d5, d3 := f.newDevice(t, "chiller-1"), f.newDevice(t, "chiller-2")
	c5 := f.mustV5(t, f.certOpts(d5))
	c3 := f.mustV3(t, f.certOpts(d3))
	c5.subscribe(t, "hearth/things/chiller-1/telemetry", "hearth/things/chiller-1/telemetry/rejected")
	c3.subscribe(t, "hearth/things/chiller-2/telemetry", "hearth/things/chiller-2/telemetry/rejected")
	const good = `{"chw_supply_c": 7.1, "co2_ppm": 612}`

	t.Run("accepted", func(t *testing.T) {
		resp, err := c5.publish(t, "hearth/things/chiller-1/telemetry", good, 1)
		if err != nil || resp.ReasonCode != 0 {
			t.Fatalf("publish: %+v, %v", resp, err)
		}
		// The PUBACK came after storing.
		want := []string{"acme/default/chiller-1 chw_supply_c=7.1", "acme/default/chiller-1 co2_ppm=612"}
		if diff := cmp.Diff(want, f.stored.all()); diff != "" {
			t.Errorf("stored readings (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"chiller-1 " + good}, f.ingest.calls()); diff != "" {
			t.Errorf("ingested payloads (-want +got):\n%s", diff)
		}
		if p := c5.next(t); p.Topic != "hearth/things/chiller-1/telemetry" || string(p.Payload) != good {
			t.Errorf("forwarded %s %q", p.Topic, p.Payload)
		}
	})

	t.Run("rejected MQTT 5 QoS 1", func(t *testing.T) {
		since := time.Now()
		resp, err := c5.publish(t, "hearth/things/chiller-1/telemetry", `{"chw_supply_c": "cold"}`, 1)
		if err == nil || resp == nil || resp.ReasonCode != v5PayloadFormat {
			t.Fatalf("publish: response %+v, error %v; want reason %#x", resp, err, v5PayloadFormat)
		}
		if !strings.HasPrefix(resp.Properties.ReasonString, "bad_value: ") {
			t.Errorf("reason string %q, want it to start with the code", resp.Properties.ReasonString)
		}
		p := c5.next(t)
		if p.Topic != "hearth/things/chiller-1/telemetry/rejected" {
			t.Fatalf("received %s %q, want the rejection", p.Topic, p.Payload)
		}
		if r := decodeRejection(t, p.Payload, since); r.Code != "bad_value" {
			t.Errorf("rejection code %q, want bad_value", r.Code)
		}
	})

	t.Run("rejected MQTT 5 QoS 0", func(t *testing.T) {
		since := time.Now()
		if _, err := c5.publish(t, "hearth/things/chiller-1/telemetry", `not json`, 0); err != nil {
			t.Fatal(err)
		}
		p := c5.next(t)
		if p.Topic != "hearth/things/chiller-1/telemetry/rejected" {
			t.Fatalf("received %s %q, want the rejection", p.Topic, p.Payload)
		}
		if r := decodeRejection(t, p.Payload, since); r.Code != "bad_json" {
			t.Errorf("rejection code %q, want bad_json", r.Code)
		}
	})

	t.Run("rejected MQTT 3.1.1", func(t *testing.T) {
		since := time.Now()
		if err := c3.publish(t, "hearth/things/chiller-2/telemetry", `[]`, 1); err != nil {
			t.Fatalf("publish: %v, want acknowledged", err)
		}
		m := c3.next(t)
		if m.Topic() != "hearth/things/chiller-2/telemetry/rejected" {
			t.Fatalf("received %s %q, want the rejection (and not the message itself)", m.Topic(), m.Payload())
		}
		if r := decodeRejection(t, m.Payload(), since); r.Code != "empty" {
			t.Errorf("rejection code %q, want empty", r.Code)
		}
	})

	t.Run("storage failed", func(t *testing.T) {
		f.stored.setFail(true)
		defer f.stored.setFail(false)
		since := time.Now()
		resp, err := c5.publish(t, "hearth/things/chiller-1/telemetry", good, 1)
		if err == nil || resp == nil || resp.ReasonCode != v5Unspecified {
			t.Fatalf("publish: response %+v, error %v; want reason %#x", resp, err, v5Unspecified)
		}
		p := c5.next(t)
		r := decodeRejection(t, p.Payload, since)
		if r.Code != "internal" || strings.Contains(r.Message, "disk full") {
			t.Errorf("rejection %+v: want code internal without the internal cause", r)
		}
		if got := f.logs.matching("ERROR", "mqtt telemetry not stored", "disk full"); len(got) != 1 {
			t.Errorf("error log lines = %q, want one with the cause", got)
		}
	})

	if got := len(f.stored.all()); got != 2 {
		t.Errorf("%d readings stored, want only the 2 of the accepted message", got)
	}
	if got := len(f.ingest.calls()); got != 5 {
		t.Errorf("Ingest called %d times, want 5", got)
	}
	// In: the five telemetry messages. Out: the accepted one forwarded to
	// its subscriber and four rejections; mochi counts a message sent once
	// its write returned, which can be after the client read it.
	waitFor(t, "5 messages sent", func() bool { return f.broker.Stats().MessagesOut == 5 })
	st := f.broker.Stats()
	if st.MessagesIn != 5 || st.MessagesOut != 5 || st.BytesIn == 0 || st.BytesOut == 0 || st.Connected != 2 {
		t.Errorf("stats %+v: want 5 messages in, 5 out, 2 connected", st)
	}
}

// A metric named like a series label, or starting with "__", is refused
// with bad_metric before anything is stored.
func TestTelemetryReservedMetric(t *testing.T) {
	f := newFixture(t, nil)
	c5 := f.mustV5(t, f.certOpts(f.newDevice(t, "chiller-1")))
	c5.subscribe(t, "hearth/things/chiller-1/telemetry/rejected")
	for _, payload := range []string{`{"co2_ppm": 600, "customer": 1}`, `{"values": {"__name__": 1}}`, `[{"site": 1}]`} {
		since := time.Now()
		resp, err := c5.publish(t, "hearth/things/chiller-1/telemetry", payload, 1)
		if err == nil || resp == nil || resp.ReasonCode != v5PayloadFormat {
			t.Fatalf("publish %s: response %+v, error %v; want reason %#x", payload, resp, err, v5PayloadFormat)
		}
		if !strings.HasPrefix(resp.Properties.ReasonString, "bad_metric: ") || !strings.Contains(resp.Properties.ReasonString, "is reserved") {
			t.Errorf("reason string %q, want bad_metric naming the reserved name", resp.Properties.ReasonString)
		}
		p := c5.next(t)
		if p.Topic != "hearth/things/chiller-1/telemetry/rejected" {
			t.Fatalf("received %s %q, want the rejection", p.Topic, p.Payload)
		}
		if r := decodeRejection(t, p.Payload, since); r.Code != "bad_metric" {
			t.Errorf("rejection code %q, want bad_metric", r.Code)
		}
	}
	if got := f.stored.all(); len(got) != 0 {
		t.Errorf("stored %v after refused messages, want nothing", got)
	}
}

// A payload over MaxPayload ends the connection: MQTT 5 clients are told
// 0x95 packet too large; nothing reaches the ingest path.
func TestOversizePayload(t *testing.T) {
	f := newFixture(t, func(c *broker.Config) { c.MaxPayload = 1024 })
	d5, d3 := f.newDevice(t, "meter-1"), f.newDevice(t, "meter-2")
	c5 := f.mustV5(t, f.certOpts(d5))
	topic := "hearth/things/meter-1/telemetry"

	if _, err := c5.publish(t, "hearth/things/meter-1/blob", strings.Repeat("x", 1024), 1); err != nil {
		t.Fatalf("payload of exactly MaxPayload: %v", err)
	}
	// paho waits for a PUBACK until its timeout even after DISCONNECT, so
	// the publish is sent without waiting.
	big := &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(`{"v":1}` + strings.Repeat(" ", 1018))}
	if _, err := c5.PublishWithOptions(t.Context(), big, paho.PublishOptions{Method: paho.PublishMethod_AsyncSend}); err != nil {
		t.Fatal(err)
	}
	wantDisconnect(t, c5, 0x95)

	// Far over the limit, the broker does not even read the packet.
	for _, size := range []int{1025, 64 << 10} {
		c3 := f.mustV3(t, f.certOpts(d3))
		c3.Publish(topic, 1, false, `{"v":1}`+strings.Repeat(" ", size-7))
		c3.waitLost(t)
	}
	if calls := f.ingest.calls(); len(calls) != 0 {
		t.Errorf("ingested %d oversize messages", len(calls))
	}
	waitFor(t, "3 refused publishes", func() bool { return f.broker.Stats().RefusedPublishes == 3 })
}

// QoS 2 is not offered: MQTT 5 clients are told so in CONNACK, and a QoS 2
// publish ends the connection.
func TestQoS2Refused(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDevice(t, "pump-1")
	c := f.mustV3(t, f.certOpts(d))
	c.Publish("hearth/things/pump-1/state", 2, false, "x")
	c.waitLost(t)

	c5 := f.mustV5(t, f.certOpts(d))
	if got := c5.subscribe(t, "hearth/things/pump-1/state"); got[0] != v5Granted {
		t.Errorf("subscription granted %#x, want QoS 1", got[0])
	}
}

// A message that could not be stored is never acknowledged: an MQTT 3.1.1
// client, which has no negative PUBACK, is disconnected without one so that
// it sends the message again after reconnecting.
func TestTelemetryNotStoredIsNotAcknowledgedV3(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDevice(t, "boiler-9")
	c := f.mustV3(t, f.certOpts(d))
	f.stored.setFail(true)
	tok := c.Publish("hearth/things/boiler-9/telemetry", 1, false, `{"hw_supply_c": 60}`)
	select {
	case <-c.lost:
	case <-time.After(wait):
		t.Fatal("the client was not disconnected after storing failed")
	}
	if tok.WaitTimeout(100*time.Millisecond) && tok.Error() == nil {
		t.Error("the publish was acknowledged though nothing was stored")
	}
	if got := len(f.stored.all()); got != 0 {
		t.Errorf("%d readings stored, want none", got)
	}
}

// A connection may hold at most 100 filters: a SUBSCRIBE beyond that ends
// it (MQTT 5: DISCONNECT 0x97 quota exceeded), so no device can grow the
// topic tree without bound.
func TestSubscriptionLimit(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDevice(t, "sub-1")
	c := f.mustV5(t, f.certOpts(d))
	filters := make([]string, 100)
	for i := range filters {
		filters[i] = fmt.Sprintf("hearth/things/sub-1/x/%d", i)
	}
	for _, rc := range c.subscribe(t, filters...) {
		if rc != 1 {
			t.Fatalf("subscribing to 100 filters: reason %#x", rc)
		}
	}
	// Subscribing again to a filter it holds adds nothing.
	if rc := c.subscribe(t, filters[0]); rc[0] != 1 {
		t.Fatalf("re-subscribe: reason %#x", rc[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	go func() {
		// No SUBACK comes: the answer is the DISCONNECT below.
		_, _ = c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "hearth/things/sub-1/y", QoS: 1}}})
	}()
	select {
	case d := <-c.disconnects:
		if d.ReasonCode != 0x97 {
			t.Errorf("DISCONNECT reason %#x, want 0x97 quota exceeded", d.ReasonCode)
		}
	case <-time.After(wait):
		t.Fatal("the 101st filter did not end the connection")
	}
}
