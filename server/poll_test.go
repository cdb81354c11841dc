package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/sim/modbussim"
	"github.com/hearthiot/hearth/store"
)

// putMap sends a register map to the API as YAML and returns the status
// and body.
func (h *hearth) putMap(token, device, text string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest("PUT", h.https+"/api/v1/devices/"+device+"/modbus", strings.NewReader(text))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDirectPolling: an operator gives a device a register map, and
// Hearth polls the Modbus TCP equipment itself: readings are stored as the
// device's telemetry, its settings reported in its shadow, and it is
// online; a desired set-point is written to the register, read back and
// reported; a map that is wrong is refused with its lines; deleting the
// map stops polling and takes the device offline.
func TestDirectPolling(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	api := sim.APIClientConfig{BaseURL: h.https, Token: op, CA: h.caPool}
	if err := sim.EnsureDeviceType(context.Background(), api, sim.KindChiller); err != nil {
		t.Fatal(err)
	}
	h.addCustomer(op, "acme")
	if st := h.apiCall(op, "POST", "/api/v1/devices", map[string]string{"name": "plant-chiller", "customer": "acme", "type": "chiller"}, nil); st != http.StatusCreated {
		t.Fatalf("create device: %d", st)
	}
	equipment, err := modbussim.New(modbussim.Config{Addr: "127.0.0.1:0", Profile: modbussim.Chiller, Step: 100 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := equipment.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = equipment.Stop(context.Background()) })

	text := strings.Replace(modbussim.ChillerMap, "tcp: "+modbussim.DefaultAddr, "tcp: "+equipment.Addr(), 1)
	text = strings.Replace(text, "interval: 10s", "interval: 200ms", 1)
	if st, body := h.putMap(op, "plant-chiller", text); st != http.StatusCreated || !strings.Contains(body, `"polled":true`) {
		t.Fatalf("put the map: %d %s", st, body)
	}

	type doc struct {
		State struct {
			Reported map[string]any `json:"reported"`
			Delta    map[string]any `json:"delta"`
		} `json:"state"`
	}
	shadowOf := func() doc {
		var d doc
		if st := h.apiCall(op, "GET", "/api/v1/devices/plant-chiller/shadow", nil, &d); st != http.StatusOK && st != http.StatusNotFound {
			t.Fatalf("shadow: %d", st)
		}
		return d
	}
	online := func() bool {
		var d struct {
			Online bool `json:"online"`
		}
		h.apiCall(op, "GET", "/api/v1/devices/plant-chiller", nil, &d)
		return d.Online
	}
	eventually(t, "readings, reported settings and the device online", func() bool {
		_, ok := h.latest(op, "plant-chiller")["chw_supply_c"]
		r := shadowOf().State.Reported
		return ok && r["mode"] == "cooling" && r["chw_setpoint_c"] != nil && online()
	})

	// A set-point through the API reaches the register: int16 tenths.
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/plant-chiller/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"chw_setpoint_c": 8.5, "mode": "heating"}}}, nil); st != http.StatusOK {
		t.Fatalf("PATCH: %d", st)
	}
	eventually(t, "the set-point and mode written, read back and reported", func() bool {
		d := shadowOf()
		return d.State.Reported["chw_setpoint_c"] == 8.5 && d.State.Reported["mode"] == "heating" && len(d.State.Delta) == 0
	})
	if regs := equipment.Registers(modbus.Holding, 0, 2); regs[0] != 2 || regs[1] != 85 {
		t.Errorf("registers 0-1 hold %v, want mode 2 (heating) and 85 (8.5 °C)", regs)
	}
	entries, _, err := h.srvStore().History(store.HistoryQuery{Device: "plant-chiller"})
	if err != nil {
		t.Fatal(err)
	}
	var polled bool
	for _, e := range entries {
		polled = polled || e.Actor == "device:plant-chiller" && e.Channel == "modbus"
	}
	if !polled {
		t.Errorf("history has no entry by the device over modbus: %+v", entries)
	}

	// The equipment goes away: the device goes offline, with an event on
	// the bus; a set-point changed meanwhile is written when it is back.
	faults := h.srv.Events().Subscribe(64)
	defer faults.Close()
	if err := equipment.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the device offline while its equipment is away", func() bool { return !online() })
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/plant-chiller/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"chw_setpoint_c": 9}}}, nil); st != http.StatusOK {
		t.Fatalf("PATCH while away: %d", st)
	}
	if err := equipment.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "back online with the set-point written", func() bool {
		d := shadowOf()
		return online() && d.State.Reported["chw_setpoint_c"] == 9.0 && len(d.State.Delta) == 0
	})
	var codes []string
	for len(faults.C()) > 0 {
		if de, ok := (<-faults.C()).(events.DeviceEvent); ok && de.Device == "plant-chiller" {
			codes = append(codes, de.Code)
		}
	}
	if s := strings.Join(codes, " "); !strings.Contains(s, "modbus_connect") || !strings.Contains(s, "modbus_recovered") {
		t.Errorf("device events while the equipment was away: %v; want modbus_connect, then modbus_recovered", codes)
	}

	// Wrong maps are refused whole, with their lines; the good one stays.
	st, body := h.putMap(op, "plant-chiller", "source:\n  tcp: "+equipment.Addr()+"\npoints:\n  - metric: x\n    function: holding\n    address: 1\n    type: int17\n")
	var refusal struct {
		Error struct {
			Problems []struct {
				Line    int    `json:"line"`
				Message string `json:"message"`
			} `json:"problems"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &refusal); st != http.StatusBadRequest || err != nil || len(refusal.Error.Problems) == 0 || refusal.Error.Problems[0].Line != 7 {
		t.Errorf("a map with a bad type: %d %s; want 400 naming line 7", st, body)
	}
	if st, body := h.putMap(op, "plant-chiller", "source:\n  rtu: {device: /dev/ttyUSB0, baud: 9600}\npoints:\n  - metric: co2_ppm\n    function: input\n    address: 0\n    type: uint16\n"); st != http.StatusBadRequest || !strings.Contains(body, "gateway agent") {
		t.Errorf("a serial map: %d %s; want 400 pointing to the agent", st, body)
	}
	req, _ := http.NewRequest("GET", h.https+"/api/v1/devices/plant-chiller/modbus", nil)
	req.Header.Set("Authorization", "Bearer "+op)
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, []byte(text)) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/yaml") {
		t.Errorf("GET the map: %s, not the map as written", resp.Header.Get("Content-Type"))
	}
	cust := h.token(store.RoleCustomer, "acme")
	if st, _ := h.putMap(cust, "plant-chiller", text); st != http.StatusForbidden {
		t.Errorf("a customer putting a map: %d, want 403", st)
	}

	// Deleted: polling stops and the device goes offline.
	if st := h.apiCall(op, "DELETE", "/api/v1/devices/plant-chiller/modbus", nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete the map: %d", st)
	}
	eventually(t, "the device offline", func() bool { return !online() })
	before := equipment.Requests()
	time.Sleep(600 * time.Millisecond)
	if after := equipment.Requests(); after != before {
		t.Errorf("the equipment was asked %d more times after the map was deleted", after-before)
	}
}
