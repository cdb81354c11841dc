package server_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/remotewrite/vmtest"
)

// TestRemoteWrite: a device's samples, published over MQTT, reach a real
// VictoriaMetrics through remote write with the labels Hearth stores them
// under and the box's extra label, equal to what Hearth's own query API
// answers; a receiver away while Hearth stops and starts again loses
// nothing; /metrics shows the progress. A receiver that refuses every
// batch (VictoriaMetrics answers 400 on a path it does not serve) has its
// batches dropped and counted, and a system alarm rule raises an alarm on
// it that operators see and customers do not.
func TestRemoteWrite(t *testing.T) {
	vm := vmtest.Start(t, "-dedup.minScrapeInterval=1ms")
	dir := t.TempDir()
	configure := func(c *server.Config) {
		c.RemoteWrite.URLs = []string{vm.WriteURL(), vm.URL + "/api/v1/nowhere"}
		c.RemoteWrite.Labels = map[string]string{"hearth_box": "tokyo-1"}
		c.RemoteWrite.MinBackoff, c.RemoteWrite.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	h := startHearthWith(t, dir, configure)
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "chiller-1", "acme")
	if st := h.apiCall(op, "POST", "/api/v1/alarm-rules", map[string]any{"id": "rw-dropped", "name": "Remote write dropped samples",
		"kind": "system", "event_code": "remote_write_dropped", "severity": "major"}, nil); st != http.StatusCreated {
		t.Fatalf("create the system rule: %d", st)
	}
	if st := h.apiCall(h.token(store.RoleCustomer, "acme"), "POST", "/api/v1/alarm-rules", map[string]any{"name": "mine",
		"kind": "system", "severity": "major"}, nil); st != http.StatusBadRequest && st != http.StatusForbidden {
		t.Errorf("a customer's system rule: %d, want 400 or 403", st)
	}
	c, rc, err := h.v3("chiller-1", d, true, "")
	if err != nil {
		t.Fatalf("connect: rc=%d %v", rc, err)
	}
	publish := func(p string) {
		t.Helper()
		tok := c.Publish("hearth/things/chiller-1/telemetry", 1, false, p)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", p, tok.Error())
		}
	}
	t0 := time.Now()
	publish(`{"chw_supply_c": 7.1, "co2_ppm": 612}`)
	// The contract: VictoriaMetrics answers the query with the value soon.
	// (nocache: VictoriaMetrics otherwise evaluates an instant query 30 s
	// back, -search.latencyOffset, and a sample younger than that is not
	// in the answer yet.)
	var got []vmtest.QueryResult
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if got, err = vm.Query(`chw_supply_c{device="chiller-1"}`, "nocache=1"); err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("VictoriaMetrics did not answer chw_supply_c{device=\"chiller-1\"} within 30 s")
		}
	}
	t.Logf("published to queryable in VictoriaMetrics: %s", time.Since(t0).Round(time.Millisecond))
	want := map[string]string{"__name__": "chw_supply_c", "device": "chiller-1", "customer": "acme", "site": "default", "hearth_box": "tokyo-1"}
	if !cmp.Equal(got[0].Metric, want) || got[0].Value[1] != "7.1" {
		t.Errorf("VictoriaMetrics answered %v %v, want %v 7.1", got[0].Metric, got[0].Value, want)
	}

	// Back-fill and more: both sides hold the same samples under the same
	// labels.
	now := time.Now().UnixMilli()
	for i := range 20 {
		publish(fmt.Sprintf(`[{"ts": %d, "values": {"co2_ppm": %d, "chw_supply_c": %g}}]`, now-int64(60-i)*1000, 600+i, 7+float64(i)/10))
	}
	compare := func(what string) {
		t.Helper()
		for _, m := range []string{"co2_ppm", "chw_supply_c"} {
			q := fmt.Sprintf(`sum_over_time(%s{device="chiller-1"}[10m])`, m)
			var theirs []vmtest.QueryResult
			var ours []promSample
			eventually(t, what+": the same "+m+" in Hearth and VictoriaMetrics", func() bool {
				_, ours = h.promQuery(op, q)
				vm.Flush()
				theirs, err = vm.Query(q, "nocache=1")
				if err != nil || len(theirs) != 1 || len(ours) != 1 {
					return false
				}
				return fmt.Sprint(theirs[0].Value[1]) == fmt.Sprint(ours[0].Value)
			})
			delete(theirs[0].Metric, "hearth_box")
			if !cmp.Equal(theirs[0].Metric, ours[0].Labels) {
				t.Errorf("%s: labels differ (-hearth +victoriametrics):\n%s", what, cmp.Diff(ours[0].Labels, theirs[0].Metric))
			}
		}
	}
	compare("sent at once")
	var alarms struct {
		Alarms []struct {
			Device, Customer, Message string
			Count                     int
		}
	}
	eventually(t, "the system alarm of the refused batches", func() bool {
		h.apiCall(op, "GET", "/api/v1/alarms?rule=rw-dropped", nil, &alarms)
		return len(alarms.Alarms) == 1
	})
	if a := alarms.Alarms[0]; a.Device != "" || a.Customer != "" || !strings.Contains(a.Message, "/api/v1/nowhere") || !strings.Contains(a.Message, "rejected") {
		t.Errorf("system alarm %+v", a)
	}
	var theirs struct{ Alarms []any }
	if h.apiCall(h.token(store.RoleCustomer, "acme"), "GET", "/api/v1/alarms", nil, &theirs); len(theirs.Alarms) != 0 {
		t.Errorf("a customer sees the system alarm: %v", theirs.Alarms)
	}

	// The receiver goes away; Hearth stores on, stops, and starts again.
	vm.Stop()
	now = time.Now().UnixMilli()
	for i := range 20 {
		publish(fmt.Sprintf(`[{"ts": %d, "values": {"co2_ppm": %d}}]`, now-int64(30-i)*1000, 900+i))
	}
	c.Disconnect(100)
	h.stop()
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if len(segs) == 0 {
		t.Fatal("the telemetry log's segments were removed at stop though the receiver had not been sent them")
	}
	vm.Restart()
	h = startHearthWith(t, dir, configure)
	op = h.token(store.RoleOperator, "")
	compare("after the outage and a restart")

	resp, err := h.client.Get(h.https + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	label := fmt.Sprintf(`{url=%q}`, vm.WriteURL())
	for _, want := range []string{"hearth_remote_write_samples_sent_total" + label, "hearth_remote_write_lag_samples" + label + " 0",
		"hearth_remote_write_bytes_sent_total" + label, "hearth_remote_write_retries_total" + label,
		`hearth_remote_write_dropped_samples_total{url="` + vm.WriteURL() + `",reason="backlog"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	bad := fmt.Sprintf(`{url=%q}`, vm.URL+"/api/v1/nowhere")
	for _, want := range []string{"hearth_remote_write_failed_batches_total" + bad + " ", `hearth_remote_write_dropped_samples_total{url="` + vm.URL + `/api/v1/nowhere",reason="rejected"} `} {
		i := strings.Index(string(body), want)
		if i < 0 || strings.HasPrefix(string(body[i+len(want):]), "0\n") {
			t.Errorf("/metrics lacks %s above 0", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "remotewrite")); err != nil {
		t.Errorf("no remote write position kept: %v", err)
	}
}
