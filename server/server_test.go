package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
)

// The server tests share the process-wide time-series engine, so they run one
// after another (no t.Parallel).

func TestTelemetryEndToEnd(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "chiller-1", "acme")

	// MQTT 3.1.1 with the client certificate: every accepted payload form.
	c, rc, err := h.v3("chiller-1", d, true, "")
	if err != nil {
		t.Fatalf("connect with certificate: rc=%d %v", rc, err)
	}
	now := time.Now().UnixMilli()
	payloads := []string{
		`{"chw_supply_c": 7.1, "co2_ppm": 612, "running": true}`,
		fmt.Sprintf(`{"ts": %d, "values": {"chw_return_c": 12.25}}`, now-60_000),
		fmt.Sprintf(`[{"ts": %d, "values": {"backfill": 1}}, {"ts": %d, "backfill": 2}]`, now-120_000, now-90_000),
	}
	for _, p := range payloads {
		tok := c.Publish("hearth/things/chiller-1/telemetry", 1, false, p)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", p, tok.Error())
		}
	}
	want := map[string]float64{"chw_supply_c": 7.1, "co2_ppm": 612, "running": 1, "chw_return_c": 12.25, "backfill": 2}
	if got := h.latest(op, "chiller-1"); !cmp.Equal(got, want) {
		t.Errorf("latest values (-want +got):\n%s", cmp.Diff(want, got))
	}

	// Back-filled samples are queryable with exact values and labels.
	var res struct {
		Points []struct {
			TS  int64   `json:"ts"`
			Avg float64 `json:"avg"`
			Min float64 `json:"min"`
			Max float64 `json:"max"`
		} `json:"points"`
	}
	q := fmt.Sprintf("/api/v1/devices/chiller-1/telemetry?metric=backfill&from=%d&to=%d&step=60s", now-180_000, now)
	eventually(t, "back-filled samples to be queryable", func() bool {
		res.Points = nil
		h.apiCall(op, "GET", q, nil, &res)
		sum := 0.0
		for _, p := range res.Points {
			sum += p.Max
		}
		return sum == 3 // 1 and 2, each in its own step
	})
	eventually(t, "prometheus count of back-filled samples", func() bool {
		st, s := h.promQuery(op, `count_over_time(backfill{device="chiller-1"}[10m])`)
		return st == http.StatusOK && len(s) == 1 && s[0].Value == 2 &&
			s[0].Labels["customer"] == "acme" && s[0].Labels["site"] == "default"
	})

	// MQTT 5 with username and secret.
	v, ack, err := h.v5("chiller-1", d, false, d.Secret)
	if err != nil {
		t.Fatalf("connect v5 with secret: %v (%+v)", err, ack)
	}
	if code, err := v.publish("hearth/things/chiller-1/telemetry", []byte(`{"hw_supply_c": 55.5}`)); err != nil || code != 0 {
		t.Fatalf("v5 publish: code %#x %v", code, err)
	}
	if got := h.latest(op, "chiller-1")["hw_supply_c"]; got != 55.5 {
		t.Errorf("latest hw_supply_c = %v, want 55.5", got)
	}
}

func TestRejectedTelemetryStoresNothing(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "sensor-1", "acme")
	sub := h.srv.Events().Subscribe(100)
	defer sub.Close()
	v, _, err := h.v5("sensor-1", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if rc := v.subscribe(t, "hearth/things/sensor-1/telemetry/rejected"); rc != 1 {
		t.Fatalf("subscribe to rejected topic: reason %#x", rc)
	}
	future := time.Now().Add(time.Hour).UnixMilli()
	old := time.Now().Add(-4 * 365 * 24 * time.Hour).UnixMilli()
	var batch []string
	for i := range 51 {
		batch = append(batch, fmt.Sprintf(`{"ts": %d, "values": {"bad_batch": %d}}`, time.Now().UnixMilli()-int64(i)*1000, i))
	}
	cases := []struct {
		name, payload, code string
	}{
		{"bad json", `{"bad_json": 1`, "bad_json"},
		{"string value", `{"bad_string": 1, "other": "x"}`, "bad_value"},
		{"null value", `{"bad_null": null}`, "bad_value"},
		{"future", fmt.Sprintf(`{"ts": %d, "values": {"bad_future": 1}}`, future), "bad_timestamp"},
		{"outside retention", fmt.Sprintf(`{"ts": %d, "values": {"bad_old": 1}}`, old), "bad_timestamp"},
		{"oversized batch", "[" + strings.Join(batch, ",") + "]", "batch_too_large"},
		{"partly bad array", fmt.Sprintf(`[{"bad_partial": 1}, {"ts": %d, "values": {"bad_partial": 2}}]`, future), "bad_timestamp"},
	}
	for _, tc := range cases {
		code, _ := v.publish("hearth/things/sensor-1/telemetry", []byte(tc.payload))
		if code != 0x99 {
			t.Errorf("%s: PUBACK reason %#x, want 0x99 (payload format invalid)", tc.name, code)
		}
		select {
		case m := <-v.received:
			var e struct{ Code, Message string }
			if err := json.Unmarshal(m.Payload, &e); err != nil || e.Code != tc.code || e.Message == "" {
				t.Errorf("%s: rejection %s, want code %q with a message", tc.name, m.Payload, tc.code)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: no message on the rejected topic", tc.name)
		}
	}
	// A valid marker after the rejected ones: once it is visible, nothing of
	// the rejected messages may be.
	// Every rejection was also published on the event bus.
	var codes []string
	for len(codes) < len(cases) {
		select {
		case e := <-sub.C():
			if r, ok := e.(events.TelemetryRejected); ok && r.Device == "sensor-1" {
				codes = append(codes, r.Code)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("events: got %v, want %d rejections", codes, len(cases))
		}
	}
	if codes[0] != "bad_json" || codes[len(codes)-1] != "bad_timestamp" {
		t.Errorf("rejection events %v", codes)
	}
	if code, err := v.publish("hearth/things/sensor-1/telemetry", []byte(`{"marker": 1}`)); err != nil || code != 0 {
		t.Fatalf("marker: %#x %v", code, err)
	}
	eventually(t, "marker to be queryable", func() bool {
		_, s := h.promQuery(op, `marker{device="sensor-1"}`)
		return len(s) == 1
	})
	_, s := h.promQuery(op, `count({device="sensor-1", __name__=~"bad_.*|other"})`)
	if len(s) != 0 {
		t.Errorf("rejected messages left samples: %+v", s)
	}
	if got := h.latest(op, "sensor-1"); !cmp.Equal(got, map[string]float64{"marker": 1}) {
		t.Errorf("latest values after rejections: %v", got)
	}
	resp, err := h.client.Get(h.https + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics := readAll(resp)
	if !strings.Contains(metrics, `hearth_telemetry_rejected_total{code="bad_timestamp"} 3`) {
		t.Errorf("/metrics does not count 3 bad_timestamp rejections:\n%s", grep(metrics, "rejected"))
	}
}

func TestDeviceAuthAndACL(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d1 := h.addDevice(op, "dev-1", "acme")
	d2 := h.addDevice(op, "dev-2", "acme")

	// Wrong secret: 3.1.1 return code 4, MQTT 5 reason 0x86.
	if _, rc, err := h.v3("dev-1", d1, false, "wrong"); err == nil || rc != 4 {
		t.Errorf("v3 wrong secret: rc=%d err=%v, want rc 4", rc, err)
	}
	if _, ack, err := h.v5("dev-1", d1, false, "wrong"); err == nil || ack == nil || ack.ReasonCode != 0x86 {
		t.Errorf("v5 wrong secret: ack=%+v err=%v, want 0x86", ack, err)
	}
	// Another device's secret or certificate under this client id.
	if _, rc, err := h.v3("dev-1", d2, false, d2.Secret); err == nil {
		t.Errorf("dev-1 with dev-2's secret connected (rc=%d)", rc)
	}
	if _, ack, err := h.v5("dev-1", d2, true, ""); err == nil {
		t.Errorf("dev-1 with dev-2's certificate connected: %+v", ack)
	}

	// Topics of another device are refused.
	v, _, err := h.v5("dev-1", d1, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if rc := v.subscribe(t, "hearth/things/dev-2/#"); rc != 0x87 {
		t.Errorf("subscribe to another device's topics: reason %#x, want 0x87", rc)
	}
	if rc := v.subscribe(t, "#"); rc != 0x87 {
		t.Errorf("subscribe to #: reason %#x, want 0x87", rc)
	}
	if code, _ := v.publish("hearth/things/dev-2/telemetry", []byte(`{"x":1}`)); code != 0x87 {
		t.Errorf("publish to another device's telemetry: reason %#x, want 0x87", code)
	}
	if rc := v.subscribe(t, "$aws/things/dev-1/shadow/#"); rc != 1 {
		t.Errorf("subscribe to own shadow topics: reason %#x, want 1", rc)
	}
	// Oversized payload (the test server allows 16 KiB).
	big := fmt.Sprintf(`{"x": 1, "pad_%s": 1}`, strings.Repeat("a", 20<<10))
	if code, err := v.publish("hearth/things/dev-1/telemetry", []byte(big)); err == nil && code < 0x80 {
		t.Errorf("oversized publish accepted: %#x", code)
	}

	// Revocation: a live session is dropped and the certificate refused.
	v3c, _, err := h.v3("dev-2", d2, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if st := h.apiCall(op, "POST", "/api/v1/devices/dev-2/credentials/revoke", map[string]string{}, nil); st != http.StatusOK {
		t.Fatalf("revoke: status %d", st)
	}
	eventually(t, "revoked session to be dropped", func() bool { return !v3c.IsConnectionOpen() })
	if _, rc, err := h.v3("dev-2", d2, true, ""); err == nil {
		t.Errorf("revoked certificate connected (rc=%d)", rc)
	}
	if _, rc, err := h.v3("dev-2", d2, false, d2.Secret); err == nil {
		t.Errorf("revoked secret connected (rc=%d)", rc)
	}
	// Rotation issues working credentials again.
	var rot issuedDevice
	if st := h.apiCall(op, "POST", "/api/v1/devices/dev-2/credentials/rotate", map[string]string{}, &rot); st != http.StatusOK {
		t.Fatalf("rotate: status %d", st)
	}
	if _, rc, err := h.v3("dev-2", rot, true, ""); err != nil {
		t.Errorf("rotated certificate refused: rc=%d %v", rc, err)
	}

	// The plain listener takes the secret.
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + h.plain).SetClientID("dev-1").SetUsername("dev-1").SetPassword(d1.Secret).SetAutoReconnect(false)
	pc := mqtt.NewClient(opts)
	if tok := pc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Errorf("plain listener with secret: %v", tok.Error())
	} else {
		pc.Disconnect(100)
	}
}

func TestTenancy(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "alpha")
	h.addCustomer(op, "beta")
	da := h.addDevice(op, "alpha-dev", "alpha")
	db := h.addDevice(op, "beta-dev", "beta")
	for _, x := range []struct {
		name string
		d    issuedDevice
	}{{"alpha-dev", da}, {"beta-dev", db}} {
		c, _, err := h.v3(x.name, x.d, true, "")
		if err != nil {
			t.Fatal(err)
		}
		c.Publish("hearth/things/"+x.name+"/telemetry", 1, false, `{"tenant_metric": 1}`).Wait()
	}
	ta := h.token(store.RoleCustomer, "alpha")
	eventually(t, "both series to be queryable", func() bool {
		_, s := h.promQuery(op, "tenant_metric")
		return len(s) == 2
	})
	for _, path := range []string{
		"/api/v1/devices/beta-dev",
		"/api/v1/devices/beta-dev/telemetry/latest",
		"/api/v1/devices/beta-dev/telemetry?metric=tenant_metric",
		"/api/v1/customers/beta",
		"/api/v1/customers/beta/sites",
	} {
		var body map[string]any
		st := h.apiCall(ta, "GET", path, nil, &body)
		if st != http.StatusNotFound && st != http.StatusForbidden {
			t.Errorf("GET %s as alpha: status %d, want 403 or 404", path, st)
		}
		if b, _ := json.Marshal(body); strings.Contains(string(b), "beta-dev") {
			t.Errorf("GET %s as alpha leaks beta's device: %s", path, b)
		}
	}
	var page struct{ Devices []map[string]any }
	h.apiCall(ta, "GET", "/api/v1/devices", nil, &page)
	if list := page.Devices; len(list) != 1 || list[0]["name"] != "alpha-dev" {
		t.Errorf("alpha's device list: %v", list)
	}
	for _, q := range []struct {
		query string
		want  int // series alpha must get
	}{{"tenant_metric", 1}, {`tenant_metric{customer="beta"}`, 0}, {`{__name__=~".+"}`, 1}} {
		st, s := h.promQuery(ta, q.query)
		if st != http.StatusOK || len(s) != q.want {
			t.Errorf("query %s as alpha: status %d, %d series, want %d", q.query, st, len(s), q.want)
		}
		for _, x := range s {
			if c, ok := x.Labels["customer"]; ok && c != "alpha" {
				t.Errorf("query %s as alpha returned %v", q.query, x.Labels)
			}
		}
	}
	if st := h.apiCall(ta, "POST", "/api/v1/devices", map[string]string{"name": "x", "customer": "alpha"}, nil); st != http.StatusForbidden {
		t.Errorf("customer token creating a device: status %d, want 403", st)
	}
	if st := h.apiCall("hth_wrong", "GET", "/api/v1/devices", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d, want 401", st)
	}
}

// TestRestartKeepsEverything stops and starts Hearth on the same data
// directory: devices, credentials, latest values and series are still there.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	h := startHearth(t, dir)
	if !strings.Contains(h.console.String(), "password:") || !strings.Contains(h.console.String(), "ca.pem") {
		t.Errorf("first start console lacks the one-time password or CA path:\n%s", h.console)
	}
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "boiler-1", "acme")
	c, _, err := h.v3("boiler-1", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Add(-time.Minute).UnixMilli()
	for i := range 10 {
		p := fmt.Sprintf(`{"ts": %d, "values": {"hw_supply_c": %d.5}}`, ts+int64(i)*1000, 60+i)
		if tok := c.Publish("hearth/things/boiler-1/telemetry", 1, false, p); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	c.Disconnect(100)
	h.stop() // acknowledged samples must survive a graceful stop

	h2 := startHearth(t, dir)
	if strings.Contains(h2.console.String(), "password:") {
		t.Errorf("second start printed a password again:\n%s", h2.console)
	}
	if got := h2.latest(op, "boiler-1"); got["hw_supply_c"] != 69.5 {
		t.Errorf("latest after restart: %v, want hw_supply_c 69.5", got)
	}
	st, s := h2.promQuery(op, `count_over_time(hw_supply_c{device="boiler-1"}[5m])`)
	if st != http.StatusOK || len(s) != 1 || s[0].Value != 10 {
		t.Errorf("samples after restart: status %d %+v, want a count of 10", st, s)
	}
	if _, rc, err := h2.v3("boiler-1", d, true, ""); err != nil {
		t.Errorf("certificate after restart: rc=%d %v", rc, err)
	}
	if _, rc, err := h2.v3("boiler-1", d, false, d.Secret); err != nil {
		t.Errorf("secret after restart: rc=%d %v", rc, err)
	}
}

// TestMosquittoPub publishes with Debian's mosquitto_pub and the issued
// certificate, as the README shows.
func TestMosquittoPub(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
			t.Fatal("mosquitto_pub not found and HEARTH_REQUIRE_TOOLS is set: apt-get install mosquitto-clients")
		}
		t.Skip("mosquitto_pub not found: apt-get install mosquitto-clients to run this test")
	}
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "ahu-1", "acme")
	dir := t.TempDir()
	files := map[string]string{"certificate.pem": d.CertificatePEM, "private-key.pem": d.PrivateKeyPEM, "ca.pem": d.CAPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, port, _ := strings.Cut(h.mqtts, ":")
	cmd := exec.Command(bin, "-h", "localhost", "-p", port, "-V", "mqttv311", "-q", "1",
		"--cafile", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "certificate.pem"), "--key", filepath.Join(dir, "private-key.pem"),
		"-i", "ahu-1", "-t", "hearth/things/ahu-1/telemetry", "-m", `{"supply_air_c": 16.5, "fan_on": true}`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	if got := h.latest(op, "ahu-1"); !cmp.Equal(got, map[string]float64{"supply_air_c": 16.5, "fan_on": 1}) {
		t.Errorf("latest after mosquitto_pub: %v", got)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	h := startHearth(t, t.TempDir())
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := h.client.Get(h.https + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	resp, err := h.client.Get(h.https + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp)
	for _, name := range []string{"hearth_mqtt_connected_clients", "hearth_mqtt_messages_received_total", "hearth_telemetry_samples_stored_total", "hearth_telemetry_log_syncs_total", `hearth_store_size_bytes{store="bbolt"}`, "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// Plain HTTP to the TLS port is refused, not served.
	if r, err := http.Get("http://" + h.srv.HTTPAddr().String() + "/healthz"); err == nil {
		r.Body.Close()
		if r.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the HTTPS port")
		}
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestBurstIsStoredWhole: back-to-back messages without timestamps, as a
// device sends when it empties its queue, are all stored, none overwriting
// another within the same millisecond.
func TestBurstIsStoredWhole(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "burst-1", "acme")
	c, _, err := h.v3("burst-1", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	toks := make([]mqtt.Token, n)
	for i := range n {
		toks[i] = c.Publish("hearth/things/burst-1/telemetry", 1, false, fmt.Sprintf(`{"burst": %d}`, i))
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	eventually(t, "every burst sample to be queryable", func() bool {
		_, s := h.promQuery(op, `count_over_time(burst{device="burst-1"}[5m])`)
		return len(s) == 1 && s[0].Value == n
	})
	_, s := h.promQuery(op, `sum_over_time(burst{device="burst-1"}[5m])`)
	if len(s) != 1 || s[0].Value != n*(n-1)/2 {
		t.Errorf("sum of burst values = %+v, want %d", s, n*(n-1)/2)
	}
}

// TestReusedDeviceName: a device deleted and registered again under the same
// name for another customer shows the new owner nothing of the old one's
// telemetry.
func TestReusedDeviceName(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "xcorp")
	h.addCustomer(op, "ycorp")
	d := h.addDevice(op, "boiler-1", "xcorp")
	c, _, err := h.v3("boiler-1", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if tok := c.Publish("hearth/things/boiler-1/telemetry", 1, false, `{"secret_reading": 42}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	eventually(t, "x's reading to be queryable", func() bool {
		_, s := h.promQuery(op, `secret_reading`)
		return len(s) == 1
	})
	if st := h.apiCall(op, "DELETE", "/api/v1/devices/boiler-1", nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: status %d", st)
	}
	if st := h.apiCall(op, "POST", "/api/v1/devices", map[string]string{"name": "boiler-1", "customer": "ycorp"}, nil); st != http.StatusCreated {
		t.Fatalf("recreate for ycorp: status %d", st)
	}
	ty := h.token(store.RoleCustomer, "ycorp")
	if got := h.latest(ty, "boiler-1"); len(got) != 0 {
		t.Errorf("ycorp sees xcorp's latest values: %v", got)
	}
	var res struct {
		Points []map[string]any `json:"points"`
	}
	if st := h.apiCall(ty, "GET", "/api/v1/devices/boiler-1/telemetry?metric=secret_reading", nil, &res); st != http.StatusOK || len(res.Points) != 0 {
		t.Errorf("ycorp's history of boiler-1: status %d, %d points, want none", st, len(res.Points))
	}
	if _, s := h.promQuery(ty, `secret_reading`); len(s) != 0 {
		t.Errorf("ycorp's Prometheus query sees %v", s)
	}
}

// TestEndpointsFromConfiguration: what Hearth tells people and devices —
// the banner, the public URL single sign-on redirects are built from, the
// MQTT address of credential bundles — comes from the running
// configuration: the names of --tls-hosts and the ports the listeners
// bound, not a fixed 8443 or 8883.
func TestEndpointsFromConfiguration(t *testing.T) {
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.TLS.Hosts = []string{"hearth.test", "10.0.0.5"}
	})
	_, httpPort, _ := net.SplitHostPort(h.https[len("https://"):])
	_, mqttPort, _ := net.SplitHostPort(h.mqtts)
	_, plainPort, _ := net.SplitHostPort(h.plain)
	ep := h.srv.Endpoints()
	want := server.Endpoints{
		PublicURL: "https://hearth.test:" + httpPort,
		Host:      "hearth.test",
		MQTT:      "hearth.test:" + mqttPort,
		MQTTPlain: "hearth.test:" + plainPort,
	}
	if ep != want {
		t.Errorf("endpoints %+v, want %+v", ep, want)
	}
	for _, line := range []string{"Dashboard:         https://hearth.test:" + httpPort + "/", "MQTT over TLS:     mqtts://hearth.test:" + mqttPort} {
		if !strings.Contains(h.console.String(), line) {
			t.Errorf("the banner lacks %q:\n%s", line, h.console.String())
		}
	}

	// --public-url wins, and names the host everything else uses.
	h.stop() // one time-series store per process
	h2 := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.TLS.Hosts = []string{"hearth.test"}
		c.Web.PublicURL = "https://hearth.example.net/"
	})
	_, mqttPort2, _ := net.SplitHostPort(h2.mqtts)
	if ep := h2.srv.Endpoints(); ep.PublicURL != "https://hearth.example.net" || ep.MQTT != "hearth.example.net:"+mqttPort2 {
		t.Errorf("with --public-url: %+v", ep)
	}
}
