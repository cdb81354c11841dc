package server_test

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// TestPresenceOverAPI: the API shows a device online while its MQTT
// connection is open, offline with the time it left once it is closed, and
// filters the list by it.
func TestPresenceOverAPI(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "ahu-1", "acme")
	h.addDevice(op, "ahu-2", "acme")

	type state struct {
		Name           string     `json:"name"`
		Online         bool       `json:"online"`
		LastSeen       *time.Time `json:"last_seen"`
		ConnectedAt    *time.Time `json:"connected_at"`
		DisconnectedAt *time.Time `json:"disconnected_at"`
	}
	get := func() state {
		var s state
		if st := h.apiCall(op, "GET", "/api/v1/devices/ahu-1", nil, &s); st != 200 {
			t.Fatalf("GET device: status %d", st)
		}
		return s
	}
	names := func(query string) []string {
		var list []state
		if st := h.apiCall(op, "GET", "/api/v1/devices"+query, nil, &list); st != 200 {
			t.Fatalf("GET devices%s: status %d", query, st)
		}
		out := []string{}
		for _, s := range list {
			out = append(out, s.Name)
		}
		return out
	}

	if s := get(); s.Online || s.ConnectedAt != nil || s.LastSeen != nil {
		t.Errorf("before connecting: %+v; want offline, no times", s)
	}
	v, _, err := h.v5("ahu-1", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	// The session is recorded once it is established, just after the
	// CONNACK is on its way.
	eventually(t, "the device to be online", func() bool { return get().Online })
	if s := get(); !s.Online || s.ConnectedAt == nil || s.LastSeen == nil || s.DisconnectedAt != nil {
		t.Errorf("while connected: %+v; want online with connected_at and last_seen", s)
	}
	if diff := cmp.Diff([]string{"ahu-1"}, names("?online=true")); diff != "" {
		t.Errorf("online devices (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ahu-2"}, names("?online=false")); diff != "" {
		t.Errorf("offline devices (-want +got):\n%s", diff)
	}

	if err := v.c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the device to be offline", func() bool { return !get().Online })
	if s := get(); s.DisconnectedAt == nil || s.ConnectedAt == nil || s.DisconnectedAt.Before(*s.ConnectedAt) {
		t.Errorf("after disconnect: %+v; want disconnected_at after connected_at", s)
	}
	if diff := cmp.Diff([]string{}, names("?online=true")); diff != "" {
		t.Errorf("online devices after disconnect (-want +got):\n%s", diff)
	}
}
