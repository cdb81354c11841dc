package server_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/sim/model"
	"github.com/hearthiot/hearth/store"
)

// stormDevices is how many simulated devices lose the network together.
const stormDevices = 1000

// TestAlarmStorm: a building's 1,000 sensors, each on its own MQTT/TLS
// connection, go offline together, and later return. Each raises and then
// clears its own offline alarm, but the channel gets two messages for the
// storm — the first device's at once, then one carrying the other 999 when
// the group window closes — and two for the return: four in all, not
// 2,000. (The offline duration and the window are shortened to keep the
// test quick; the rule is the same at 10 minutes and 30 s.)
func TestAlarmStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 1,000 simulated devices")
	}
	// Wide enough that a busy machine, taking seconds to end 1,000
	// sessions, still has the storm fall in one window.
	const window = 10 * time.Second
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Alarms.MinOffline = time.Second
		c.Notify.GroupWindow = window
		c.MQTT.MaxClients = stormDevices + 100
		c.ShutdownTimeout = 2 * time.Minute // a busy machine takes a while to let 1,000 sessions go
	})
	op := h.token(store.RoleOperator, "")
	ctx := context.Background()
	api := sim.APIClientConfig{BaseURL: h.https, Token: op, CA: h.caPool}
	if err := sim.EnsureDeviceType(ctx, api, sim.KindIAQ); err != nil {
		t.Fatal(err)
	}
	h.addCustomer(op, "acme")
	if st := h.apiCall(op, "POST", "/api/v1/customers/acme/sites", map[string]string{"name": "tower", "display_name": "Marunouchi Office Tower"}, nil); st != http.StatusCreated {
		t.Fatalf("create site: %d", st)
	}
	creds, err := sim.ProvisionDevices(ctx, api, sim.ProvisionSpec{Customer: "acme", Site: "tower", Type: string(sim.KindIAQ), Prefix: "storm", N: stormDevices})
	if err != nil {
		t.Fatal(err)
	}
	hook := newWebhook(t)
	var channel struct {
		Secret string `json:"secret"`
	}
	if st := h.apiCall(op, "POST", "/api/v1/notification-channels", map[string]any{"name": "ops", "customer": "acme", "kind": "webhook", "url": hook.srv.URL}, &channel); st != http.StatusCreated {
		t.Fatalf("create channel: %d", st)
	}
	hook.setSecret(channel.Secret)
	if st := h.apiCall(op, "POST", "/api/v1/alarm-rules", map[string]any{"name": "Sensor offline", "customer": "acme", "site": "tower",
		"kind": "offline", "for": "2s", "severity": "major", "channels": []string{"ops"}}, nil); st != http.StatusCreated {
		t.Fatalf("create rule: %d", st)
	}
	devices := make([]sim.FleetDevice, 0, len(creds))
	for i, c := range creds {
		devices = append(devices, sim.FleetDevice{Credentials: c, Kind: sim.KindIAQ, Building: model.Office, Seed: uint64(i)})
	}
	fleetCfg := sim.FleetConfig{Broker: h.mqtts, TLS: &tls.Config{RootCAs: h.caPool, ServerName: "localhost"}, Devices: devices, Interval: time.Minute}
	online := func() int {
		var page struct{ Devices []struct{ Name string } }
		if st := h.apiCall(op, "GET", "/api/v1/devices?customer=acme&online=true&limit=1000", nil, &page); st != http.StatusOK {
			t.Fatalf("list devices: %d", st)
		}
		return len(page.Devices)
	}
	activeAlarms := func(state string) int {
		var as struct{ Alarms []struct{ ID string } }
		if st := h.apiCall(op, "GET", "/api/v1/alarms?customer=acme&limit=1000&state="+state, nil, &as); st != http.StatusOK {
			t.Fatalf("alarms: %d", st)
		}
		return len(as.Alarms)
	}
	messages := func() int { evs, _ := hook.received(); return len(evs) }
	run := func() *sim.Fleet {
		f, err := sim.StartFleet(ctx, fleetCfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "every device online", func() bool { return online() == stormDevices })
		return f
	}
	stop := func(f *sim.Fleet) {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := f.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}
	}

	stop(run()) // the network fails
	eventually(t, "1,000 offline alarms", func() bool { return activeAlarms("active") == stormDevices })
	eventually(t, "the storm's messages", func() bool { return messages() >= 2 })
	time.Sleep(window + time.Second)
	if n := messages(); n != 2 {
		t.Fatalf("1,000 devices offline made %d messages, want 2", n)
	}
	f := run() // and comes back
	t.Cleanup(func() { stop(f) })
	eventually(t, "1,000 alarms cleared", func() bool { return activeAlarms("cleared") == stormDevices })
	eventually(t, "the return's messages", func() bool { return messages() >= 4 })
	time.Sleep(window + time.Second)
	evs, failed := hook.received()
	if len(evs) != 4 || failed != 0 {
		t.Fatalf("the storm and the return made %d messages (%d failed their checks), want 4", len(evs), failed)
	}
	for i, want := range []struct {
		typ   string
		count float64
	}{{"io.hearth.alarm.active", 0}, {"io.hearth.alarm.group.active", stormDevices - 1}, {"io.hearth.alarm.cleared", 0}, {"io.hearth.alarm.group.cleared", stormDevices - 1}} {
		e := evs[i]
		if e.ev.Type() != want.typ {
			t.Errorf("message %d: %q, want %q", i, e.ev.Type(), want.typ)
		}
		if want.count > 0 && (e.msg.Data["count"] != want.count || e.msg.Site != "tower") {
			t.Errorf("message %d: %q carries %v of site %q, want %v of tower", i, e.msg.Title, e.msg.Data["count"], e.msg.Site, want.count)
		}
	}
	for i, want := range map[int]string{1: "Marunouchi Office Tower: 999 devices offline", 3: "Marunouchi Office Tower: 999 devices back online"} {
		if evs[i].msg.Title != want {
			t.Errorf("message %d: %q, want %q", i, evs[i].msg.Title, want)
		}
	}
	t.Logf("1,000 devices offline and back: %d alarms raised and cleared, %d messages: %q, %q", stormDevices, len(evs), evs[1].msg.Title, evs[3].msg.Title)
}
