package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// An alarm through the whole path: a rule created over the API, a device
// over MQTT/TLS sending a value over its threshold, the alarm listed,
// acknowledged, and cleared by the next value; and a preview of a rule over
// the telemetry the device back-filled.
func TestAlarmOverMQTT(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addTypedDevice(op, "iaq-1", "acme", "iaq")

	var bad struct {
		Error struct{ Message string } `json:"error"`
	}
	if st := h.apiCall(op, "POST", "/api/v1/alarm-rules", map[string]any{"name": "x", "customer": "acme", "device_type": "iaq",
		"severity": "major", "condition": "co2 > 1000"}, &bad); st != http.StatusBadRequest || !strings.Contains(bad.Error.Message, "co2_ppm") {
		t.Errorf("a rule naming a metric the type lacks: %d %q", st, bad.Error.Message)
	}
	hook := newWebhook(t)
	var channel struct {
		Secret string `json:"secret"`
	}
	if st := h.apiCall(op, "POST", "/api/v1/notification-channels", map[string]any{"name": "ops", "customer": "acme", "kind": "webhook", "url": hook.srv.URL + "/hearth"}, &channel); st != http.StatusCreated {
		t.Fatalf("create channel: %d", st)
	}
	hook.setSecret(channel.Secret)
	var rule struct{ ID string }
	if st := h.apiCall(op, "POST", "/api/v1/alarm-rules", map[string]any{"name": "CO2 high", "customer": "acme", "device_type": "iaq",
		"severity": "major", "condition": "co2_ppm > 1000", "for": "0s", "clear_condition": "co2_ppm < 900", "channels": []string{"ops"}}, &rule); st != http.StatusCreated {
		t.Fatalf("create rule: %d", st)
	}

	c, _, err := h.v3("iaq-1", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	publish := func(payload string) {
		t.Helper()
		if tok := c.Publish("hearth/things/iaq-1/telemetry", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	// Two hours of back-filled history, 40 minutes of it over 1,000 ppm.
	start := time.Now().Add(-3 * time.Hour).Truncate(time.Minute)
	var batch []map[string]any
	for m := range 120 {
		v := 600.0
		if m >= 30 && m < 70 {
			v = 1250
		}
		batch = append(batch, map[string]any{"ts": start.Add(time.Duration(m) * time.Minute).UnixMilli(), "values": map[string]float64{"co2_ppm": v}})
	}
	for i := 0; i < len(batch); i += 40 { // within the test server's batch limit
		b, _ := json.Marshal(batch[i:min(i+40, len(batch))])
		publish(string(b))
	}

	type alarmJSON struct {
		ID           string `json:"id"`
		Rule         string `json:"rule"`
		State        string `json:"state"`
		Acknowledged bool   `json:"acknowledged"`
		Message      string `json:"message"`
	}
	alarms := func() []alarmJSON {
		var out struct{ Alarms []alarmJSON }
		if st := h.apiCall(op, "GET", "/api/v1/alarms?device=iaq-1", nil, &out); st != http.StatusOK {
			t.Fatalf("alarms: %d", st)
		}
		return out.Alarms
	}
	// The back-fill's newest value is 600: no alarm. A live value over
	// the threshold raises one.
	publish(`{"co2_ppm": 1300}`)
	eventually(t, "the alarm raised", func() bool { as := alarms(); return len(as) == 1 && as[0].State == "active" })
	a := alarms()[0]
	if a.Rule != rule.ID || !strings.Contains(a.Message, "co2_ppm = 1300") {
		t.Errorf("the alarm: %+v", a)
	}
	if st := h.apiCall(op, "POST", "/api/v1/alarms/"+a.ID+"/ack", map[string]string{"comment": "ventilating"}, nil); st != http.StatusOK {
		t.Errorf("acknowledge: %d", st)
	}
	publish(`{"co2_ppm": 850}`)
	eventually(t, "the alarm cleared", func() bool { as := alarms(); return len(as) == 1 && as[0].State == "cleared" && as[0].Acknowledged })

	// The channel got a signed CloudEvent of each change, naming the
	// device and the rule.
	eventually(t, "two webhook deliveries", func() bool { evs, _ := hook.received(); return len(evs) == 2 })
	evs, failed := hook.received()
	if failed != 0 {
		t.Errorf("%d webhook requests failed their checks", failed)
	}
	for i, want := range []string{"io.hearth.alarm.active", "io.hearth.alarm.cleared"} {
		e := evs[i]
		if e.ev.Type() != want || e.msg.Device != "iaq-1" || e.msg.Rule != "CO2 high" || e.msg.Severity != "major" || e.ev.Subject() != "iaq-1" {
			t.Errorf("webhook %d: type %q subject %q, data %+v", i, e.ev.Type(), e.ev.Subject(), e.msg)
		}
	}
	if v := evs[0].msg.Data["value"]; v != 1300.0 {
		t.Errorf("the active alarm's value %v, want 1300", v)
	}

	// The preview replays a rule with a 15-minute duration over the stored
	// week: the 40 minutes of the back-fill fire it once.
	var preview struct {
		Fired   int `json:"fired"`
		Devices []struct {
			Device  string `json:"device"`
			Firings []struct {
				Raised, Cleared time.Time
			} `json:"firings"`
		} `json:"devices"`
	}
	eventually(t, "the preview finding the back-filled excursion", func() bool {
		if st := h.apiCall(op, "POST", "/api/v1/alarm-rules/preview", map[string]any{"name": "p", "customer": "acme", "device_type": "iaq",
			"severity": "minor", "condition": "co2_ppm > 1000", "for": "15m"}, &preview); st != http.StatusOK {
			t.Fatalf("preview: %d", st)
		}
		return preview.Fired == 1
	})
	if len(preview.Devices) != 1 || preview.Devices[0].Device != "iaq-1" {
		t.Fatalf("preview devices: %+v", preview.Devices)
	}
	f := preview.Devices[0].Firings[0]
	if want := start.Add(45 * time.Minute); f.Raised.Sub(want).Abs() > 2*time.Minute {
		t.Errorf("the preview's alarm raised at %s, want about %s", f.Raised, want)
	}
	if st := h.apiCall(op, "POST", "/api/v1/alarm-rules/preview", map[string]any{"name": "p", "customer": "acme", "device_type": "iaq",
		"severity": "minor", "kind": "offline", "for": "10m"}, nil); st != http.StatusBadRequest {
		t.Errorf("previewing an offline rule: %d, want 400", st)
	}
}
