package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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
