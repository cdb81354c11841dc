package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/hearthiot/hearth/notify"

	"github.com/hearthiot/hearth/store"
)

// A fleet that keeps its own topics and payloads: its device type declares
// "dt/{site}/{name}/data", a rule written in AWS IoT SQL maps what arrives
// there, and real MQTT clients publish through the whole path — the ACL
// (a device's own expansion only), the rule, each action (telemetry read
// back, the shadow's reported state, a republished message), and the error
// action for what cannot be mapped, counted on the rule.
func TestMessageRules(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	if st := h.apiCall(op, "PUT", "/api/v1/device-types/legacy-chiller", map[string]any{
		"settings": []any{}, "topics": []string{"dt/{site}/{name}/data"},
	}, nil); st != http.StatusCreated {
		t.Fatalf("device type: %d", st)
	}
	if st := h.apiCall(op, "PUT", "/api/v1/device-types/bad", map[string]any{
		"settings": []any{}, "topics": []string{"dt/{site}/data"},
	}, nil); st != http.StatusBadRequest {
		t.Fatalf("a template without {name}: %d; want 400", st)
	}
	gw1 := h.addTypedDevice(op, "gw-1", "acme", "legacy-chiller")
	h.addTypedDevice(op, "gw-2", "acme", "legacy-chiller")

	var rule struct {
		ID    string `json:"id"`
		Stats struct {
			Matched, Succeeded, Failed int
			LastError                  *struct{ Error, Payload string } `json:"last_error"`
		} `json:"stats"`
	}
	if st := h.apiCall(op, "POST", "/api/v1/rules", map[string]any{
		"name": "legacy chillers", "sql": "SELECT temp AS chw_supply_c, ts FROM 'dt/+/+/data'",
		"actions":      []map[string]any{{"kind": "telemetry"}},
		"error_action": map[string]any{"kind": "republish", "topic": "hearth/things/${device}/rule-errors"},
	}, &rule); st != http.StatusCreated {
		t.Fatalf("create rule: %d", st)
	}
	if st := h.apiCall(op, "POST", "/api/v1/rules", map[string]any{
		"name": "fan-out", "topic": "dt/+/+/data", "condition": "temp > 10",
		"select":  []map[string]any{{"name": "alarm_temp", "expr": "temp"}, {"name": "site", "expr": "topic(2)"}},
		"actions": []map[string]any{{"kind": "shadow"}, {"kind": "republish", "topic": "hearth/things/${device}/hot"}},
	}, nil); st != http.StatusCreated {
		t.Fatalf("create the second rule: %d", st)
	}

	c, _, err := h.v5("gw-1", gw1, true, "")
	if err != nil {
		t.Fatal(err)
	}
	c.subscribe(t, "hearth/things/gw-1/#")
	// Its own topic: stored through the rule, with the payload's time.
	if code, err := c.publish("dt/default/gw-1/data", []byte(`{"temp": 7.1, "ts": "2026-12-07T10:00:00+09:00"}`)); code != 0 || err != nil {
		t.Fatalf("publish on its own topic: %#x %v", code, err)
	}
	eventually(t, "the mapped value stored", func() bool {
		return h.latest(op, "gw-1")["chw_supply_c"] == 7.1
	})
	// Another device's expansion, or a site it is not on: refused.
	for _, topic := range []string{"dt/default/gw-2/data", "dt/tower/gw-1/data", "dt/default/gw-1/other"} {
		if code, _ := c.publish(topic, []byte(`{"temp": 1}`)); code != 0x87 {
			t.Errorf("publish on %s: %#x; want 0x87", topic, code)
		}
	}
	// Hot: the second rule reports it in the shadow and republishes it.
	if code, err := c.publish("dt/default/gw-1/data", []byte(`{"temp": 12.5}`)); code != 0 || err != nil {
		t.Fatalf("publish: %#x %v", code, err)
	}
	var hot map[string]any
	receive(t, c, "hearth/things/gw-1/hot", &hot)
	if hot["alarm_temp"] != 12.5 || hot["site"] != "default" || hot["device"] != "gw-1" {
		t.Fatalf("republished: %v", hot)
	}
	var shadow struct {
		State struct {
			Reported map[string]any `json:"reported"`
		} `json:"state"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/devices/gw-1/shadow", nil, &shadow); st != http.StatusOK || shadow.State.Reported["alarm_temp"] != 12.5 {
		t.Fatalf("shadow: %d %+v", st, shadow.State)
	}
	// Not JSON: the error action tells the device, and the rule counts it.
	if code, err := c.publish("dt/default/gw-1/data", []byte(`temp=7`)); code != 0 || err != nil {
		t.Fatalf("publish: %#x %v", code, err)
	}
	var fault map[string]any
	receive(t, c, "hearth/things/gw-1/rule-errors", &fault)
	if fault["rule"] != rule.ID || !strings.Contains(fault["error"].(string), "not a JSON object") || fault["payload"] != "temp=7" {
		t.Fatalf("error action: %v", fault)
	}
	if st := h.apiCall(op, "GET", "/api/v1/rules/"+rule.ID, nil, &rule); st != http.StatusOK ||
		rule.Stats.Matched != 3 || rule.Stats.Succeeded != 2 || rule.Stats.Failed != 1 || rule.Stats.LastError == nil || rule.Stats.LastError.Payload != "temp=7" {
		t.Fatalf("rule counters: %d %+v", st, rule.Stats)
	}
	// The sample was stored at the payload's time, 10:00 in Tokyo.
	eventually(t, "the sample at the payload's time", func() bool {
		st, res := h.promQuery(op, `count_over_time(chw_supply_c{device="gw-1"}[1m] @ 1796605230)`)
		return st == http.StatusOK && len(res) == 1 && res[0].Value == 1
	})

	// A customer's rule sends to its webhook as a CloudEvent and raises a
	// device event, which an alarm rule on events turns into an alarm.
	events := make(chan map[string]any, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil || ev.Type() != "io.hearth.rule.result" || ev.Subject() != "gw-1" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var m notify.Message
		if err := ev.DataAs(&m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		events <- m.Data
	}))
	t.Cleanup(rcv.Close)
	if st := h.apiCall(op, "POST", "/api/v1/notification-channels", map[string]any{"name": "ops", "customer": "acme", "kind": "webhook", "url": rcv.URL + "/in"}, nil); st != http.StatusCreated {
		t.Fatalf("create channel: %d", st)
	}
	if st := h.apiCall(op, "POST", "/api/v1/alarm-rules", map[string]any{"name": "chiller too hot", "customer": "acme", "device": "gw-1",
		"kind": "event", "severity": "major", "event_code": "rule.too-hot"}, nil); st != http.StatusCreated {
		t.Fatalf("create alarm rule: %d", st)
	}
	if st := h.apiCall(op, "POST", "/api/v1/rules", map[string]any{
		"name": "too hot", "customer": "acme", "sql": "SELECT temp AS supply_c, topic(2) AS site FROM 'dt/+/+/data' WHERE temp > 20",
		"actions": []map[string]any{{"kind": "webhook", "channels": []string{"ops"}}, {"kind": "event", "code": "rule.too-hot", "level": "warning"}},
	}, nil); st != http.StatusCreated {
		t.Fatalf("create the webhook rule: %d", st)
	}
	if code, err := c.publish("dt/default/gw-1/data", []byte(`{"temp": 25}`)); code != 0 || err != nil {
		t.Fatalf("publish: %#x %v", code, err)
	}
	select {
	case data := <-events:
		if data["supply_c"] != 25.0 || data["site"] != "default" || data["device"] != "gw-1" {
			t.Fatalf("the webhook's data: %v", data)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no CloudEvent reached the webhook")
	}
	eventually(t, "the alarm the rule's event raised", func() bool {
		var res struct {
			Alarms []struct {
				Device   string `json:"device"`
				RuleName string `json:"rule_name"`
			} `json:"alarms"`
		}
		return h.apiCall(op, "GET", "/api/v1/alarms?device=gw-1", nil, &res) == http.StatusOK && len(res.Alarms) == 1 && res.Alarms[0].RuleName == "chiller too hot"
	})
	// A gateway that names another device it does not speak for is
	// refused, counted on the rule; one whose gateway attribute names it
	// is taken.
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/gw-2", map[string]any{"attributes": map[string]string{"gateway": "gw-1"}}, nil); st != http.StatusOK {
		t.Fatalf("name gw-1 gw-2's gateway: %d", st)
	}
	h.addTypedDevice(op, "gw-3", "acme", "legacy-chiller")
	var sensors struct {
		ID string `json:"id"`
	}
	if st := h.apiCall(op, "POST", "/api/v1/rules", map[string]any{
		"name": "sensors behind a gateway", "topic": "dt/+/+/data", "condition": "sensor != nil",
		"select":  []map[string]any{{"name": "device", "expr": "sensor"}, {"name": "co2_ppm", "expr": "co2"}},
		"actions": []map[string]any{{"kind": "telemetry"}},
	}, &sensors); st != http.StatusCreated {
		t.Fatalf("create the gateway rule: %d", st)
	}
	for _, sensor := range []string{"gw-2", "gw-3"} {
		if code, err := c.publish("dt/default/gw-1/data", []byte(`{"sensor": "`+sensor+`", "co2": 612}`)); code != 0 || err != nil {
			t.Fatalf("publish for %s: %#x %v", sensor, code, err)
		}
	}
	eventually(t, "gw-2's reading through its gateway", func() bool { return h.latest(op, "gw-2")["co2_ppm"] == 612 })
	var sr struct {
		Stats struct {
			Succeeded, Failed int
			LastError         *struct{ Error string } `json:"last_error"`
		} `json:"stats"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/rules/"+sensors.ID, nil, &sr); st != http.StatusOK || sr.Stats.Succeeded != 1 || sr.Stats.Failed != 1 ||
		sr.Stats.LastError == nil || !strings.Contains(sr.Stats.LastError.Error, `device "gw-3"`) {
		t.Fatalf("the gateway rule: %d %+v", st, sr.Stats)
	}
	if _, ok := h.latest(op, "gw-3")["co2_ppm"]; ok {
		t.Fatal("gw-1 stored a reading for gw-3, which it does not speak for")
	}
}
