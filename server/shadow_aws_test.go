package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// v3inbox subscribes an MQTT 3.1.1 client, as AWS IoT Device SDKs speak
// it, to filter and collects what arrives.
type v3inbox struct {
	t  *testing.T
	ch chan mqtt.Message
}

func subscribeV3(t *testing.T, c mqtt.Client, filter string) *v3inbox {
	t.Helper()
	in := &v3inbox{t: t, ch: make(chan mqtt.Message, 64)}
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { in.ch <- m })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	if rc := tok.(*mqtt.SubscribeToken).Result()[filter]; rc != 1 {
		t.Fatalf("subscribe %s: granted %#x, want QoS 1", filter, rc)
	}
	return in
}

// next returns the next message, which must be on topic.
func (in *v3inbox) next(topic string) map[string]any {
	in.t.Helper()
	select {
	case m := <-in.ch:
		if m.Topic() != topic {
			in.t.Fatalf("message on %s (%s), want one on %s", m.Topic(), m.Payload(), topic)
		}
		var doc map[string]any
		if err := json.Unmarshal(m.Payload(), &doc); err != nil {
			in.t.Fatalf("%s: %s is not JSON: %v", topic, m.Payload(), err)
		}
		return doc
	case <-time.After(10 * time.Second):
		in.t.Fatalf("nothing on %s", topic)
		return nil
	}
}

// quiet checks that nothing more arrives for a moment.
func (in *v3inbox) quiet() {
	in.t.Helper()
	select {
	case m := <-in.ch:
		in.t.Errorf("unexpected message on %s: %s", m.Topic(), m.Payload())
	case <-time.After(300 * time.Millisecond):
	}
}

func publishV3(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// without drops the keys that vary with time, so documents compare whole.
func without(doc map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		delete(doc, k)
	}
	return doc
}

func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

// TestShadowAWSExamplesOverMQTT plays the examples of AWS's Device Shadow
// documentation through the real server with an MQTT 3.1.1 client:
// myLightBulb's report, desired change, delta and documents; get with its
// clientToken; null deletion; a version conflict; the size and depth
// limits; a named shadow beside the classic one; and delete.
func TestShadowAWSExamplesOverMQTT(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "myLightBulb", "acme")
	c, _, err := h.v3("myLightBulb", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	base := "$aws/things/myLightBulb/shadow"
	in := subscribeV3(t, c, base+"/#")

	// The device reports red: accepted with version 1, then documents
	// whose previous state is empty at version 0; no delta, as nothing is
	// desired.
	publishV3(t, c, base+"/update", `{"state":{"reported":{"color":"red"}}}`)
	acc := in.next(base + "/update/accepted")
	if diff := cmp.Diff(jsonMap(t, `{"state":{"reported":{"color":"red"}},"version":1}`), without(acc, "metadata", "timestamp")); diff != "" {
		t.Errorf("accepted (-want +got):\n%s", diff)
	}
	docs := in.next(base + "/update/documents")
	prev, _ := docs["previous"].(map[string]any)
	if st, ok := prev["state"].(map[string]any); !ok || len(st) != 0 || prev["version"] != 0.0 || docs["current"] == nil {
		t.Errorf("documents of the first update: %v", docs)
	}

	// An app sets desired green: accepted, delta and documents, in that
	// order, accepted and delta with the same version.
	publishV3(t, c, base+"/update", `{"state":{"desired":{"color":"green"}},"clientToken":"app-1"}`)
	acc = in.next(base + "/update/accepted")
	delta := in.next(base + "/update/delta")
	docs = in.next(base + "/update/documents")
	if acc["version"] != 2.0 || delta["version"] != 2.0 || acc["clientToken"] != "app-1" {
		t.Errorf("accepted %v and delta %v: want version 2 in both and the clientToken", acc, delta)
	}
	if diff := cmp.Diff(jsonMap(t, `{"color":"green"}`), delta["state"]); diff != "" {
		t.Errorf("delta state (-want +got):\n%s", diff)
	}
	prev, _ = docs["previous"].(map[string]any)
	cur, _ := docs["current"].(map[string]any)
	if prev["version"] != 1.0 || cur["version"] != 2.0 {
		t.Errorf("documents: previous version %v, current %v; want 1 and 2", prev["version"], cur["version"])
	}
	if diff := cmp.Diff(jsonMap(t, `{"desired":{"color":"green"},"reported":{"color":"red"}}`), cur["state"]); diff != "" {
		t.Errorf("documents current state (-want +got):\n%s", diff)
	}

	// get/accepted holds the delta and echoes the clientToken.
	publishV3(t, c, base+"/get", `{"clientToken":"g-1"}`)
	got := in.next(base + "/get/accepted")
	if diff := cmp.Diff(jsonMap(t, `{"desired":{"color":"green"},"reported":{"color":"red"},"delta":{"color":"green"}}`), got["state"]); diff != "" || got["clientToken"] != "g-1" {
		t.Errorf("get/accepted state (-want +got):\n%s\nclientToken %v", diff, got["clientToken"])
	}

	// The light turns green and reports it: the delta is gone, and no
	// delta message is sent.
	publishV3(t, c, base+"/update", `{"state":{"reported":{"color":"green"}}}`)
	in.next(base + "/update/accepted")
	in.next(base + "/update/documents")
	in.quiet()

	// A null deletes a key.
	publishV3(t, c, base+"/update", `{"state":{"desired":{"color":null}}}`)
	acc = in.next(base + "/update/accepted")
	if acc["version"] != 4.0 {
		t.Errorf("deletion accepted %v, want version 4", acc)
	}
	in.next(base + "/update/documents")

	// A stale version, an oversized state and a too deep one are rejected
	// with AWS's codes, and change nothing.
	for _, tc := range []struct {
		payload string
		code    float64
		msg     string
	}{
		{`{"state":{"desired":{"color":"blue"}},"version":2,"clientToken":"stale"}`, 409, "Version conflict"},
		{`{"state":{"desired":{"blob":"` + strings.Repeat("x", 9000) + `"}},"clientToken":"big"}`, 413, "The payload exceeds the maximum size allowed"},
		{`{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}},"clientToken":"deep"}`, 400, "JSON contains too many levels of nesting; maximum is 6"},
	} {
		publishV3(t, c, base+"/update", tc.payload)
		rej := in.next(base + "/update/rejected")
		if rej["code"] != tc.code || rej["message"] != tc.msg || rej["clientToken"] == nil {
			t.Errorf("rejected %v, want code %v %q with the clientToken", rej, tc.code, tc.msg)
		}
	}

	// A named shadow has its own topics and versions.
	named := base + "/name/schedule"
	publishV3(t, c, named+"/update", `{"state":{"desired":{"start":"06:00"}}}`)
	acc = in.next(named + "/update/accepted")
	in.next(named + "/update/delta")
	in.next(named + "/update/documents")
	if acc["version"] != 1.0 {
		t.Errorf("named shadow accepted %v, want version 1", acc)
	}

	// Delete answers with the deleted version; a get then is a 404.
	publishV3(t, c, base+"/delete", `{"clientToken":"del"}`)
	del := in.next(base + "/delete/accepted")
	if del["version"] != 4.0 || del["clientToken"] != "del" {
		t.Errorf("delete/accepted %v, want version 4 and the clientToken", del)
	}
	publishV3(t, c, base+"/get", `{}`)
	rej := in.next(base + "/get/rejected")
	if rej["code"] != 404.0 || rej["message"] != "No shadow exists with name: 'myLightBulb'" {
		t.Errorf("get after delete: %v", rej)
	}
	publishV3(t, c, named+"/get", `{}`)
	if got := in.next(named + "/get/accepted"); got["version"] != 1.0 {
		t.Errorf("named shadow after the classic one's delete: %v", got)
	}
}

// TestShadowSettingsOverMQTT: the device type's settings hold on the MQTT
// path too. A device that sets a desired value out of range is rejected
// with the key and the rule; its report of a value out of range is stored
// and flagged; a customer changes an editable setting through the API and
// the device receives the delta.
func TestShadowSettingsOverMQTT(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addTypedDevice(op, "chiller-3", "acme", "chiller")
	// The built-in chiller, replaced by one of two settings.
	chiller := map[string]any{"settings": []map[string]any{
		{"key": "chw_setpoint", "type": "number", "unit": "°C", "minimum": 5, "maximum": 12, "step": 0.5, "customer_editable": true},
		{"key": "max_load", "type": "integer", "minimum": 0, "maximum": 100},
	}}
	if st := h.apiCall(op, "PUT", "/api/v1/device-types/chiller", chiller, nil); st != http.StatusOK {
		t.Fatalf("define the device type: status %d", st)
	}
	c, _, err := h.v3("chiller-3", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	base := "$aws/things/chiller-3/shadow"
	in := subscribeV3(t, c, base+"/update/#")

	publishV3(t, c, base+"/update", `{"state":{"desired":{"chw_setpoint":3}},"clientToken":"low"}`)
	rej := in.next(base + "/update/rejected")
	if rej["code"] != 400.0 || rej["message"] != "desired.chw_setpoint: 3 is below the minimum 5 °C" || rej["clientToken"] != "low" {
		t.Errorf("rejected %v", rej)
	}

	publishV3(t, c, base+"/update", `{"state":{"reported":{"chw_setpoint":14,"max_load":80}}}`)
	if acc := in.next(base + "/update/accepted"); acc["version"] != 1.0 {
		t.Errorf("report out of range: accepted %v, want version 1", acc)
	}
	in.next(base + "/update/documents")
	var shadowDoc map[string]any
	if st := h.apiCall(op, "GET", "/api/v1/devices/chiller-3/shadow", nil, &shadowDoc); st != http.StatusOK {
		t.Fatalf("get shadow: status %d", st)
	}
	vs, _ := shadowDoc["violations"].([]any)
	if len(vs) != 1 || !strings.Contains(vs[0].(map[string]any)["message"].(string), "14 is above the maximum 12") {
		t.Errorf("violations beside the shadow: %v", shadowDoc["violations"])
	}

	cust := h.token(store.RoleCustomer, "acme")
	upd := map[string]any{"state": map[string]any{"desired": map[string]any{"chw_setpoint": 7.5}}}
	if st := h.apiCall(cust, "PATCH", "/api/v1/devices/chiller-3/shadow", upd, nil); st != http.StatusOK {
		t.Fatalf("customer PATCH of an editable setting: status %d", st)
	}
	in.next(base + "/update/accepted")
	delta := in.next(base + "/update/delta")
	if diff := cmp.Diff(jsonMap(t, `{"chw_setpoint":7.5}`), delta["state"]); diff != "" {
		t.Errorf("delta of the customer's change (-want +got):\n%s", diff)
	}
	upd = map[string]any{"state": map[string]any{"desired": map[string]any{"max_load": 50}}}
	if st := h.apiCall(cust, "PATCH", "/api/v1/devices/chiller-3/shadow", upd, nil); st != http.StatusForbidden {
		t.Errorf("customer PATCH of an operator's setting: status %d, want 403", st)
	}
	entries, _, err := h.srvStore().History(store.HistoryQuery{Device: "chiller-3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || !strings.HasPrefix(entries[0].Actor, "token:") || entries[1].Actor != "device:chiller-3" || len(entries[1].Flags) != 1 {
		t.Errorf("history: %+v", entries)
	}
}
