package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/store"
)

// serve --demo seeds a customer with simulated equipment that the API
// shows within seconds: live readings, a week of back-filled history and
// chillers following their programs. A restart reuses everything.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	demo := func(c *server.Config) {
		c.Demo.Enabled = true
		c.Demo.Interval = 200 * time.Millisecond
	}
	h := startHearthWith(t, dir, demo)
	if !strings.Contains(h.console.String(), "demo@hearth.local") || !strings.Contains(h.console.String(), "16 simulated devices") {
		t.Errorf("console does not name the demo account and devices:\n%s", h.console)
	}
	op := h.token(store.RoleOperator, "")
	online := func() int {
		var devs []struct {
			Name   string `json:"name"`
			Online bool   `json:"online"`
		}
		if st := h.apiCall(op, "GET", "/api/v1/devices?customer=demo&online=true", nil, &devs); st != http.StatusOK {
			t.Fatalf("list devices: %d", st)
		}
		return len(devs)
	}
	eventually(t, "16 demo devices online", func() bool { return online() == 16 })
	eventually(t, "live readings", func() bool {
		_, co2 := h.latest(op, "marunouchi-office-iaq-meeting-a")["co2_ppm"]
		_, chw := h.latest(op, "shinjuku-hotel-chiller")["chw_supply_c"]
		return co2 && chw
	})
	// A week at one minute is 10,080 samples.
	eventually(t, "a week of history", func() bool {
		_, s := h.promQuery(op, `count_over_time(chw_supply_c{device="kyoto-school-chiller"}[8d])`)
		return len(s) == 1 && s[0].Value >= 10000
	})
	var doc struct {
		State struct {
			Desired  map[string]any `json:"desired"`
			Reported map[string]any `json:"reported"`
			Delta    map[string]any `json:"delta"`
		} `json:"state"`
	}
	eventually(t, "the chiller reporting its program", func() bool {
		if st := h.apiCall(op, "GET", "/api/v1/devices/shinjuku-hotel-chiller/shadow", nil, &doc); st != http.StatusOK {
			t.Fatalf("shadow: %d", st)
		}
		return doc.State.Reported["program"] != nil && len(doc.State.Delta) == 0
	})
	if doc.State.Desired["program"] == nil || doc.State.Reported["firmware"] == nil {
		t.Errorf("demo chiller shadow: %+v", doc.State)
	}

	// A facility manager's overview: a card for each of the four sites
	// (not the empty default one), with the rooms' highest CO2 and average
	// temperature and the chiller's supply water.
	const email, password = "fm@sakura.example", "a week of simulated weather"
	if st := h.adminCall("POST", "/api/v1/users", map[string]string{"email": email, "role": "customer", "customer": "demo", "password": password}, nil); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	page := getPage(t, signIn(t, h.https, h.caPool, email, password), h.https+"/")
	if n := strings.Count(page, `class="card site"`); n != 4 {
		t.Errorf("the overview shows %d site cards, want 4", n)
	}
	for _, want := range []string{"CO2, highest", "Temperature, average", "water supply", "Hotel Sakura Shinjuku"} {
		if strings.Count(page, want) < 1 {
			t.Errorf("the overview lacks %q", want)
		}
	}

	// A site's chiller shows its supply, return and their difference, its
	// mode and whether it runs; its rooms their air.
	site := getPage(t, signIn(t, h.https, h.caPool, email, password), h.https+"/sites/demo/marunouchi-office")
	for _, want := range []string{"Supply–return difference", "Mode", "State", "CO2", "marunouchi-office-iaq-meeting-a"} {
		if !strings.Contains(site, want) {
			t.Errorf("the office's site page lacks %q", want)
		}
	}

	h.stop()
	h = startHearthWith(t, dir, demo)
	if strings.Contains(h.console.String(), "demo@hearth.local") {
		t.Error("the demo account's password was printed again after a restart")
	}
	op = h.token(store.RoleOperator, "")
	eventually(t, "16 demo devices online after a restart", func() bool { return online() == 16 })
}

// getPage fetches a page with c and fails on anything but 200.
func getPage(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(b)
}

// The demo never takes over a real customer or device that has one of its
// names.
func TestDemoLeavesRealRecordsAlone(t *testing.T) {
	demo := func(c *server.Config) { c.Demo.Enabled = true }
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "demo")
	dir := h.dir
	h.stop()
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTP.Addr, cfg.MQTT.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.TSDB.MemoryBytes = 64 << 20
	demo(&cfg)
	srv, err := server.New(cfg, "test", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "did not create") {
		t.Errorf("start with a real customer named demo: %v, want a refusal", err)
	}

	h = startHearth(t, t.TempDir())
	op = h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	h.addDevice(op, "kyoto-school-chiller", "acme")
	dir = h.dir
	h.stop()
	cfg.DataDir = dir
	srv, err = server.New(cfg, "test", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil || !strings.Contains(err.Error(), `belongs to customer "acme"`) {
		t.Errorf("start with acme's device named like a demo device: %v, want a refusal", err)
	}
}

// TestBuiltinTypesFitTheSimulator: the demo's equipment is of the built-in
// types, and `hearth simulate` defines the same types where they are
// missing; both must take the same settings with the same rules, or the
// simulated fleet would be checked differently on one server than on
// another.
func TestBuiltinTypesFitTheSimulator(t *testing.T) {
	builtin, err := device.BuiltinTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []sim.Kind{sim.KindChiller, sim.KindIAQ} {
		name, doc := sim.DeviceType(k)
		var simulated store.DeviceType
		if err := json.Unmarshal(doc, &simulated); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(builtin, func(dt store.DeviceType) bool { return dt.Name == name })
		if i < 0 {
			t.Errorf("the simulator's type %q is not built in", name)
			continue
		}
		shipped := map[string]store.Setting{}
		for _, st := range builtin[i].Settings {
			shipped[st.Key] = st
		}
		for _, want := range simulated.Settings {
			got, ok := shipped[want.Key]
			if !ok {
				t.Errorf("built-in %s lacks the simulator's setting %q", name, want.Key)
				continue
			}
			// What the simulator does not set: labels, and descriptions
			// written for operators.
			got.Labels, got.ValueLabels, got.Description, want.Description = nil, nil, "", ""
			if diff := cmp.Diff(want, got, cmp.Comparer(sameJSON)); diff != "" {
				t.Errorf("built-in %s.%s differs from the simulator's (-simulator +built-in):\n%s", name, want.Key, diff)
			}
		}
	}
}

// sameJSON compares JSON values, not their spelling.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(x, y)
}
