package server_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
)

// A device type's telemetry rate holds its devices to it: a burst passes
// at once, what follows is acknowledged at the rate, a message larger than
// the burst is refused with MQTT 5's 0x96, and /metrics counts both.
func TestTelemetryRateOverMQTT(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	if st := h.apiCall(op, "PUT", "/api/v1/device-types/slow-meter", map[string]any{
		"settings": []any{}, "telemetry_rate": map[string]any{"samples_per_second": 25, "burst": 30},
	}, nil); st != http.StatusCreated {
		t.Fatalf("device type: %d", st)
	}
	d := h.addTypedDevice(op, "meter-9", "acme", "slow-meter")
	c, _, err := h.v5("meter-9", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	batch := func(n int) []byte {
		var b strings.Builder
		b.WriteString("[")
		base := time.Now().Add(-time.Hour).UnixMilli()
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"ts": %d, "kwh": %d}`, base+int64(i), i)
		}
		return []byte(b.String() + "]")
	}
	topic := "hearth/things/meter-9/telemetry"
	if code, err := c.publish(topic, batch(30)); code != 0 || err != nil {
		t.Fatalf("the burst: %#x %v", code, err)
	}
	if code, _ := c.publish(topic, batch(31)); code != 0x96 {
		t.Fatalf("a message over the burst: %#x; want 0x96", code)
	}
	began := time.Now()
	for range 3 {
		if code, err := c.publish(topic, batch(20)); code != 0 || err != nil {
			t.Fatalf("publish: %#x %v", code, err)
		}
	}
	// 60 samples past the burst at 25 a second: about 2.4 s.
	if d := time.Since(began); d < 2*time.Second {
		t.Errorf("60 samples past the burst were acknowledged in %v; want them held to 25 a second", d)
	}
	resp, err := h.client.Get(h.https + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"hearth_telemetry_delayed_total 3", `hearth_telemetry_rejected_total{code="rate_limited"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
}

// A device held to its rate shows it on its page: the rate it has, and once
// its messages were held back or refused, how many and how long ago, to its
// customer and to operators, in the page's language; the API's device has
// the same counts. A device never slowed shows only its rates.
func TestDeviceRateOnPage(t *testing.T) {
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) { c.Telemetry.Rate, c.Telemetry.Burst = 20, 5 })
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "meter-5", "acme")
	h.addDevice(op, "meter-6", "acme")
	const customerEmail, operatorEmail, password = "fm@acme.test", "ops@hearth.test", "a long enough password"
	for _, u := range []map[string]string{
		{"email": customerEmail, "role": "customer", "customer": "acme", "password": password},
		{"email": operatorEmail, "role": "operator", "password": password},
	} {
		if st := h.adminCall("POST", "/api/v1/users", u, nil); st != http.StatusCreated {
			t.Fatalf("create user %s: status %d", u["email"], st)
		}
	}
	customer := signIn(t, h.https, h.caPool, customerEmail, password)
	operator := signIn(t, h.https, h.caPool, operatorEmail, password)
	page := func(c *http.Client, name, lang string) string {
		t.Helper()
		req, err := http.NewRequest("GET", h.https+"/devices/"+name, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Language", lang)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /devices/%s: %d %v", name, resp.StatusCode, err)
		}
		return html.UnescapeString(string(b))
	}
	const rateLine = "Telemetry: up to 20 samples a second, 5 at once."
	before := page(customer, "meter-5", "en")
	if !strings.Contains(before, rateLine) || !strings.Contains(before, "Shadow updates from the device: up to 20 a second, 40 at once.") {
		t.Errorf("the page of a device never slowed does not show its rates:\n%s", before)
	}
	if strings.Contains(before, "data-rate=") || strings.Contains(before, "Counted since Hearth last started") {
		t.Errorf("the page of a device never slowed shows counts")
	}

	c, _, err := h.v5("meter-5", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	batch := func(n int) []byte {
		var b strings.Builder
		b.WriteString("[")
		base := time.Now().Add(-time.Hour).UnixMilli()
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"ts": %d, "kwh": %d}`, base+int64(i), i)
		}
		return []byte(b.String() + "]")
	}
	topic := "hearth/things/meter-5/telemetry"
	// The burst passes; the next two wait a quarter and half a second
	// for the rate; one over the burst is refused.
	for i := range 3 {
		if code, err := c.publish(topic, batch(5)); code != 0 || err != nil {
			t.Fatalf("message %d: %#x %v", i, code, err)
		}
	}
	if code, _ := c.publish(topic, batch(6)); code != 0x96 {
		t.Fatalf("a message over the burst: %#x; want 0x96", code)
	}
	// Shadow updates past 20 a second, bursts of 40, are refused with
	// 429; the device sends a hundred at once, without waiting for
	// answers.
	for i := range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.c.Publish(ctx, &paho.Publish{Topic: "$aws/things/meter-5/shadow/update", QoS: 0,
			Payload: fmt.Appendf(nil, `{"state":{"reported":{"n":%d}}}`, i)})
		cancel()
		if err != nil {
			t.Fatalf("shadow update %d: %v", i, err)
		}
	}

	type rateUse struct {
		PerSecond   float64    `json:"per_second"`
		Burst       int        `json:"burst"`
		Delayed     uint64     `json:"delayed"`
		LastDelayed *time.Time `json:"last_delayed"`
		Refused     uint64     `json:"refused"`
		LastRefused *time.Time `json:"last_refused"`
	}
	var dev struct {
		RateLimits struct {
			Telemetry     rateUse `json:"telemetry"`
			ShadowUpdates rateUse `json:"shadow_updates"`
		} `json:"rate_limits"`
	}
	// The shadow updates are handled after their publishes return.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := h.apiCall(op, "GET", "/api/v1/devices/meter-5", nil, &dev); st != http.StatusOK {
			t.Fatalf("GET the device: %d", st)
		}
		if dev.RateLimits.ShadowUpdates.Refused > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	tel, sh := dev.RateLimits.Telemetry, dev.RateLimits.ShadowUpdates
	if tel.PerSecond != 20 || tel.Burst != 5 || tel.Delayed != 2 || tel.Refused != 1 || tel.LastDelayed == nil || tel.LastRefused == nil {
		t.Errorf("the API's telemetry rate of the device: %+v; want 20 a second, 5 at once, 2 held back, 1 refused, with times", tel)
	}
	if sh.PerSecond != 20 || sh.Burst != 40 || sh.Refused == 0 || sh.LastRefused == nil || sh.Delayed != 0 {
		t.Errorf("the API's shadow update rate of the device: %+v; want 20 a second, 40 at once, some refused", sh)
	}

	for _, who := range []struct {
		name string
		c    *http.Client
	}{{"customer", customer}, {"operator", operator}} {
		got := page(who.c, "meter-5", "en")
		for _, want := range []string{
			rateLine,
			"Messages held back to keep the device to its rate: 2 (the last just now).",
			"Messages refused for the rate (rate_limited): 1 (the last just now).",
			fmt.Sprintf("Shadow updates refused for the rate (429): %d (the last just now).", sh.Refused),
			"Counted since Hearth last started.",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("the %s's page of the device slowed does not say %q", who.name, want)
			}
		}
	}
	ja := page(operator, "meter-5", "ja")
	for _, want := range []string{"テレメトリ: 毎秒 20 サンプルまで、一度に 5 サンプルまで。", "レートに合わせて応答を遅らせたメッセージ: 2 件 (最後はたった今)。"} {
		if !strings.Contains(ja, want) {
			t.Errorf("the Japanese page does not say %q", want)
		}
	}
	// Another device's page counts nothing of meter-5's.
	if other := page(customer, "meter-6", "en"); !strings.Contains(other, rateLine) || strings.Contains(other, "data-rate=") {
		t.Errorf("the page of a device never slowed shows counts of another")
	}
}
