package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/api"
)

func TestDevicePresence(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	logger := slog.New(slog.DiscardHandler)
	authority, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), logger)
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistry(t, st, authority, logger)
	if _, err := reg.CreateCustomer(store.Customer{Name: acme}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"up-1", "down-1", "never-1"} {
		if _, err := reg.CreateDevice(device.DeviceSpec{Name: name, Customer: acme}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	p := device.NewPresence(nil)
	p.Connected("up-1", 1, "10.0.0.1:5000", 4, t0)
	p.Seen("up-1", t0.Add(time.Minute))
	p.Connected("down-1", 2, "10.0.0.2:5000", 5, t0)
	p.Disconnected("down-1", 2, device.ReasonKeepaliveTimeout, t0.Add(2*time.Minute))

	newAPI := func(d gate.Deps) http.Handler {
		g, err := gate.New(d)
		if err != nil {
			t.Fatal(err)
		}
		return api.New(g, api.Config{Logger: logger}).LocalHandler()
	}
	withPresence := newAPI(gate.Deps{Store: st, Registry: reg, Presence: p, Logger: logger})
	without := newAPI(gate.Deps{Store: st, Registry: reg, Logger: logger})

	type state struct {
		Name           string     `json:"name"`
		Online         *bool      `json:"online"`
		LastSeen       *time.Time `json:"last_seen"`
		ConnectedAt    *time.Time `json:"connected_at"`
		DisconnectedAt *time.Time `json:"disconnected_at"`
		Reason         string     `json:"disconnect_reason"`
		Remote         string     `json:"remote_address"`
		MQTTVersion    string     `json:"mqtt_version"`
	}
	yes, no := true, false
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	up := state{Name: "up-1", Online: &yes, LastSeen: at(time.Minute), ConnectedAt: at(0), Remote: "10.0.0.1:5000", MQTTVersion: "3.1.1"}
	down := state{Name: "down-1", Online: &no, LastSeen: at(0), ConnectedAt: at(0), DisconnectedAt: at(2 * time.Minute),
		Reason: device.ReasonKeepaliveTimeout, Remote: "10.0.0.2:5000", MQTTVersion: "5"}
	never := state{Name: "never-1", Online: &no}

	tests := []struct {
		name    string
		handler http.Handler
		path    string
		status  int
		want    any
	}{
		{"list", withPresence, "/api/v1/devices", 200, []state{down, never, up}},
		{"online", withPresence, "/api/v1/devices?online=true", 200, []state{up}},
		{"offline", withPresence, "/api/v1/devices?online=false", 200, []state{down, never}},
		{"one", withPresence, "/api/v1/devices/down-1", 200, down},
		{"bad filter", withPresence, "/api/v1/devices?online=maybe", 400, nil},
		{"no presence: fields omitted", without, "/api/v1/devices/up-1", 200, state{Name: "up-1"}},
		{"no presence: filter unavailable", without, "/api/v1/devices?online=true", 503, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveChecked(t, tt.handler, httptest.NewRequest(http.MethodGet, tt.path, nil), true)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.want == nil {
				return
			}
			var got any
			switch tt.want.(type) {
			case []state:
				var page struct{ Devices []state }
				err = json.Unmarshal(rec.Body.Bytes(), &page)
				got = page.Devices
			default:
				var s state
				err = json.Unmarshal(rec.Body.Bytes(), &s)
				got = s
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
		})
	}
}
