package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/hearthiot/hearth/store"
)

// nextOn waits for a message on topic, skipping others.
func nextOn(t *testing.T, v *v5client, topic string) map[string]any {
	t.Helper()
	var doc map[string]any
	receive(t, v, topic, &doc)
	return doc
}

// receive waits for a message on topic, skipping others, and decodes it
// into out.
func receive(t *testing.T, v *v5client, topic string, out any) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-v.received:
			if m.Topic != topic {
				continue
			}
			if err := json.Unmarshal(m.Payload, out); err != nil {
				t.Fatalf("%s: %s is not JSON: %v", topic, m.Payload, err)
			}
			return
		case <-deadline:
			t.Fatalf("nothing on %s", topic)
		}
	}
}

func publishQoS1(t *testing.T, v *v5client, topic, payload string) {
	t.Helper()
	if code, err := v.publish(topic, []byte(payload)); err != nil || code != 0 {
		t.Fatalf("publish %s: reason %#x, %v", topic, code, err)
	}
}

// TestShadowOverMQTT drives the classic shadow through the real server the
// way an AWS IoT Device SDK does: an update of desired is accepted and its
// delta delivered; a device that was offline gets the pending delta when it
// subscribes again; its report clears the delta; a stale version is
// rejected with 409; every accepted update is in the history with the
// device as actor.
func TestShadowOverMQTT(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "chiller-7", "acme")
	base := "$aws/things/chiller-7/shadow"

	v, _, err := h.v5("chiller-7", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if rc := v.subscribe(t, base+"/update/#"); rc != 1 {
		t.Fatalf("subscribe: reason %#x", rc)
	}
	publishQoS1(t, v, base+"/update", `{"state": {"desired": {"chw_setpoint_c": 7, "mode": "cooling"}}, "clientToken": "t1"}`)
	acc := nextOn(t, v, base+"/update/accepted")
	if acc["version"] != float64(1) || acc["clientToken"] != "t1" {
		t.Errorf("accepted %v: want version 1 and clientToken t1", acc)
	}
	delta := nextOn(t, v, base+"/update/delta")
	if st, _ := delta["state"].(map[string]any); st["chw_setpoint_c"] != float64(7) || st["mode"] != "cooling" {
		t.Errorf("delta %v", delta)
	}

	// Offline: the device goes away, desired changes, it comes back.
	_ = v.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	other, _, err := h.v5("chiller-7", d, false, d.Secret)
	if err != nil {
		t.Fatal(err)
	}
	publishQoS1(t, other, base+"/update", `{"state": {"desired": {"chw_setpoint_c": 6.5}}}`)
	_ = other.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	v, _, err = h.v5("chiller-7", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if rc := v.subscribe(t, base+"/update/delta"); rc != 1 {
		t.Fatalf("subscribe delta: reason %#x", rc)
	}
	pending := nextOn(t, v, base+"/update/delta")
	if st, _ := pending["state"].(map[string]any); st["chw_setpoint_c"] != 6.5 || st["mode"] != "cooling" {
		t.Errorf("pending delta after reconnect %v, want chw_setpoint_c 6.5 and mode cooling", pending)
	}

	// The device applies and reports: nothing is pending any more.
	if rc := v.subscribe(t, base+"/update/+"); rc != 1 {
		t.Fatalf("subscribe: reason %#x", rc)
	}
	publishQoS1(t, v, base+"/update", `{"state": {"reported": {"chw_setpoint_c": 6.5, "mode": "cooling"}}}`)
	if acc := nextOn(t, v, base+"/update/accepted"); acc["version"] != float64(3) {
		t.Errorf("report accepted %v, want version 3", acc)
	}
	if rc := v.subscribe(t, base+"/get/+"); rc != 1 {
		t.Fatalf("subscribe: reason %#x", rc)
	}
	publishQoS1(t, v, base+"/get", `{"clientToken": "g"}`)
	got := nextOn(t, v, base+"/get/accepted")
	if st, _ := got["state"].(map[string]any); st["delta"] != nil {
		t.Errorf("get after the report still has a delta: %v", got)
	}

	// A stale version is rejected with AWS's 409, and changes nothing.
	publishQoS1(t, v, base+"/update", `{"state": {"desired": {"mode": "heating"}}, "version": 1, "clientToken": "stale"}`)
	rej := nextOn(t, v, base+"/update/rejected")
	if rej["code"] != float64(409) || rej["clientToken"] != "stale" {
		t.Errorf("rejected %v, want code 409 with the clientToken", rej)
	}

	// Another device's shadow is not reachable.
	if code, _ := v.publish("$aws/things/other/shadow/update", []byte(`{"state":{"desired":{"x":1}}}`)); code != 0x87 {
		t.Errorf("update of another device's shadow: reason %#x, want 0x87", code)
	}

	// Three accepted updates, newest first, each with its actor.
	entries, _, err := h.srvStore().History(store.HistoryQuery{Device: "chiller-7"})
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, e := range entries {
		versions = append(versions, e.Version)
		if !strings.HasPrefix(e.Actor, "device:chiller-7") || e.Channel != "mqtt" {
			t.Errorf("history entry %d: actor %q channel %q", e.Version, e.Actor, e.Channel)
		}
	}
	if len(versions) != 3 || versions[0] != 3 || versions[2] != 1 {
		t.Errorf("history versions %v, want [3 2 1]", versions)
	}
}

// TestShadowRESTAndMQTTAgree: an operator's PATCH produces the delta a
// subscribed device receives; the device's report clears it; the history
// lists both, each with its own actor and channel.
func TestShadowRESTAndMQTTAgree(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "ahu-3", "acme")
	base := "$aws/things/ahu-3/shadow"
	v, _, err := h.v5("ahu-3", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if rc := v.subscribe(t, base+"/update/delta"); rc != 1 {
		t.Fatalf("subscribe: reason %#x", rc)
	}
	var accepted map[string]any
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/ahu-3/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"supply_air_c": 16}}}, &accepted); st != 200 {
		t.Fatalf("PATCH: status %d %v", st, accepted)
	}
	delta := nextOn(t, v, base+"/update/delta")
	if st, _ := delta["state"].(map[string]any); st["supply_air_c"] != float64(16) || delta["version"] != accepted["version"] {
		t.Errorf("delta %v after PATCH %v: want supply_air_c 16 with the same version", delta, accepted)
	}
	publishQoS1(t, v, base+"/update", `{"state": {"reported": {"supply_air_c": 16}}}`)
	var got map[string]any
	eventually(t, "the report to clear the delta", func() bool {
		got = nil
		h.apiCall(op, "GET", "/api/v1/devices/ahu-3/shadow", nil, &got)
		st, _ := got["state"].(map[string]any)
		return st != nil && st["delta"] == nil && st["reported"] != nil
	})
	var hist struct {
		Entries []struct {
			Version int64  `json:"version"`
			Actor   string `json:"actor"`
			Channel string `json:"channel"`
		} `json:"entries"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/devices/ahu-3/shadow/history", nil, &hist); st != 200 || len(hist.Entries) != 2 {
		t.Fatalf("history: status %d, %+v", st, hist)
	}
	if e := hist.Entries[0]; e.Version != 2 || e.Actor != "device:ahu-3" || e.Channel != "mqtt" {
		t.Errorf("newest entry %+v, want version 2 by device:ahu-3 over mqtt", e)
	}
	if e := hist.Entries[1]; e.Version != 1 || !strings.HasPrefix(e.Actor, "token:") || e.Channel != "api" {
		t.Errorf("oldest entry %+v, want version 1 by a token over api", e)
	}
}
