package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
)

// A full disk: on a small tmpfs (mounted here where the machine allows),
// filled past the free-space floor, telemetry is refused — MQTT 5 gets
// PUBACK 0x97, and 3.1.1 no acknowledgement — while shadows and the API
// keep working and /readyz and /metrics say so; freed, telemetry is
// accepted again by itself, and what was stored before is still there.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=400m"); err != nil {
		// Mounting needs privileges a container may not grant.
		t.Skipf("cannot mount a tmpfs here (%v); the full-disk test needs one", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	data := filepath.Join(dir, "data")
	h := startHearthWith(t, data, func(c *server.Config) {
		// Above the time-series store's own floor (100 MB), below which it
		// stops writing.
		c.MinFreeDisk = 160 << 20
		c.TSDB.MemoryBytes = 32 << 20
	})
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "meter-1", "acme")
	v, _, err := h.v5("meter-1", d, false, d.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := v.publish("hearth/things/meter-1/telemetry", []byte(`{"kwh": 1}`)); err != nil || code != 0 {
		t.Fatalf("before the disk fills: PUBACK %#x, %v", code, err)
	}

	// Fill the disk to below the floor.
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, free-(120<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "telemetry refused with 0x97", func() bool {
		code, _ := v.publish("hearth/things/meter-1/telemetry", []byte(`{"kwh": 2}`)) // a refusal is also an error
		return code == 0x97
	})
	// MQTT 3.1.1 has no negative acknowledgement: none at all, so the
	// device sends it again.
	d2 := h.addDevice(op, "meter-2", "acme")
	if c3, _, err := h.v3("meter-2", d2, true, ""); err == nil {
		tok := c3.Publish("hearth/things/meter-2/telemetry", 1, false, `{"kwh": 3}`)
		if tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
			t.Error("an MQTT 3.1.1 message was acknowledged while the disk was full")
		}
	} else {
		t.Fatal(err)
	}
	// Shadows and the API keep working.
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/meter-1/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"interval_s": 60}}}, nil); st != http.StatusOK {
		t.Errorf("a shadow change while the disk is full: %d", st)
	}
	resp, err := h.client.Get(h.https + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status string `json:"status"`
		Disk   struct {
			FreeBytes uint64 `json:"free_bytes"`
			Telemetry string `json:"telemetry"`
		} `json:"disk"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ready.Disk.Telemetry, "refused") {
		t.Errorf("/readyz while the disk is full: %d %+v", resp.StatusCode, ready)
	}
	resp, err = h.client.Get(h.https + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "hearth_disk_below_floor 1\n") || !strings.Contains(string(metrics), `hearth_telemetry_rejected_total{code="storage_full"}`) {
		t.Error("/metrics does not show the full disk and the refusals")
	}

	// Room again: accepted by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, "telemetry accepted again", func() bool {
		code, err := v.publish("hearth/things/meter-1/telemetry", []byte(`{"kwh": 4}`))
		return err == nil && code == 0
	})
	if got := h.latest(op, "meter-1")["kwh"]; got != 4 {
		t.Errorf("the latest reading after the disk was freed: %v, want 4", got)
	}
}
