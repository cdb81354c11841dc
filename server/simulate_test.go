package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/sim/model"
	"github.com/hearthiot/hearth/store"
)

// TestSimulatedFleet runs simulated chillers and sensors against the real
// server, provisioned through the API: their back-filled history and live
// readings are stored; a set-point PATCHed through the API reaches a
// chiller, which reports it and leaves no delta; a program makes it change
// its mode at once and report the program back.
func TestSimulatedFleet(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	ctx := context.Background()
	api := sim.APIClientConfig{BaseURL: h.https, Token: op, CA: h.caPool}
	var devices []sim.FleetDevice
	for _, k := range []sim.Kind{sim.KindChiller, sim.KindIAQ} {
		if err := sim.EnsureDeviceType(ctx, api, k); err != nil {
			t.Fatal(err)
		}
		creds, err := sim.ProvisionDevices(ctx, api, sim.ProvisionSpec{Customer: "acme", Site: "tower", Type: string(k), Prefix: "sim-" + string(k), N: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range creds {
			devices = append(devices, sim.FleetDevice{Credentials: c, Kind: k, Building: model.Office, Seed: uint64(i)})
		}
	}
	fleet, err := sim.StartFleet(ctx, sim.FleetConfig{
		Broker: h.mqtts, TLS: &tls.Config{RootCAs: h.caPool, ServerName: "localhost"},
		Devices: devices, Interval: 200 * time.Millisecond, Backfill: 10 * time.Minute, BackfillBatch: 40,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := fleet.Stop(stopCtx); err != nil {
			t.Error(err)
		}
	})

	chiller := "sim-chiller-00000"
	eventually(t, "readings of every simulated device", func() bool {
		for _, d := range devices {
			want := "co2_ppm"
			if d.Kind == sim.KindChiller {
				want = "chw_supply_c"
			}
			if _, ok := h.latest(op, d.Name)[want]; !ok {
				return false
			}
		}
		return true
	})
	// Ten minutes of history at 200 ms is 3,000 samples, all before the
	// live ones.
	eventually(t, "the back-filled history", func() bool {
		_, s := h.promQuery(op, fmt.Sprintf(`count_over_time(chw_supply_c{device=%q}[15m])`, chiller))
		return len(s) == 1 && s[0].Value >= 3000
	})

	shadow := func() (reported, delta map[string]any) {
		var doc struct {
			State struct {
				Reported map[string]any `json:"reported"`
				Delta    map[string]any `json:"delta"`
			} `json:"state"`
		}
		if st := h.apiCall(op, "GET", "/api/v1/devices/"+chiller+"/shadow", nil, &doc); st != http.StatusOK {
			t.Fatalf("get shadow: %d", st)
		}
		return doc.State.Reported, doc.State.Delta
	}
	eventually(t, "the chiller's first report", func() bool {
		r, _ := shadow()
		return r["firmware"] != nil && r["mode"] == "cooling"
	})

	if st := h.apiCall(op, "PATCH", "/api/v1/devices/"+chiller+"/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"chw_setpoint_c": 8.5}}}, nil); st != http.StatusOK {
		t.Fatalf("PATCH set-point: %d", st)
	}
	eventually(t, "the new set-point reported and no delta left", func() bool {
		r, d := shadow()
		return r["chw_setpoint_c"] == 8.5 && len(d) == 0
	})

	today := time.Now().In(time.UTC).Format(time.DateOnly)
	prog := map[string]any{"date": today, "tz": "UTC", "steps": []any{map[string]any{"at": "00:00", "set": map[string]any{"mode": "heating"}}}}
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/"+chiller+"/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"program": prog}}}, nil); st != http.StatusOK {
		t.Fatalf("PATCH program: %d", st)
	}
	eventually(t, "the program followed and reported", func() bool {
		r, d := shadow()
		p, _ := r["program"].(map[string]any)
		return r["mode"] == "heating" && p["date"] == today && len(d) == 0
	})

	// Removing the program stops it: the device reports it gone.
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/"+chiller+"/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"program": nil}}}, nil); st != http.StatusOK {
		t.Fatalf("PATCH program null: %d", st)
	}
	eventually(t, "the program gone from reported", func() bool {
		r, _ := shadow()
		_, has := r["program"]
		return !has
	})

	// History names the operator's changes and the device's reports.
	entries, _, err := h.srvStore().History(store.HistoryQuery{Device: chiller})
	if err != nil {
		t.Fatal(err)
	}
	var actors []string
	for _, e := range entries {
		actors = append(actors, e.Actor)
	}
	if s := strings.Join(actors, " "); !strings.Contains(s, "device:"+chiller) || !strings.Contains(s, "token:") {
		t.Errorf("history actors %v; want the device and the operator's token", actors)
	}
	if st := fleet.Stats(); st.Connected != len(devices) || st.Acked == 0 || st.Deltas == 0 {
		t.Errorf("fleet stats %+v", st)
	}
}
