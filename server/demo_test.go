package server_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/hearthiot/hearth/sim/model"
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
		c.Demo.FaultAfter = 3 * time.Second
	}
	h := startHearthWith(t, dir, demo)
	if !strings.Contains(h.console.String(), "demo@hearth.local") || !strings.Contains(h.console.String(), "16 simulated devices") {
		t.Errorf("console does not name the demo account and devices:\n%s", h.console)
	}
	op := h.token(store.RoleOperator, "")
	online := func() int {
		var page struct {
			Devices []struct {
				Name   string `json:"name"`
				Online bool   `json:"online"`
			}
		}
		if st := h.apiCall(op, "GET", "/api/v1/devices?customer=demo&online=true", nil, &page); st != http.StatusOK {
			t.Fatalf("list devices: %d", st)
		}
		return len(page.Devices)
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
	// Every site used gas on every day of the back-filled week (the
	// office's and the school's closed winter days warm through at dawn).
	for _, site := range []string{"shinjuku-hotel", "marunouchi-office", "yokohama-clinic", "kyoto-school"} {
		var e struct {
			TimeZone string `json:"time_zone"`
			Points   []struct {
				Time  string   `json:"time"`
				GasM3 *float64 `json:"gas_m3"`
			} `json:"points"`
		}
		eventually(t, site+"'s daily gas", func() bool {
			e.Points = nil
			if st := h.apiCall(op, "GET", "/api/v1/customers/demo/sites/"+site+"/energy?step=1d", nil, &e); st != http.StatusOK {
				t.Fatalf("energy of %s: %d", site, st)
			}
			for _, p := range e.Points[1 : len(e.Points)-1] { // the first and last days are partial
				if p.GasM3 == nil || *p.GasM3 <= 0 {
					return false
				}
			}
			return e.TimeZone == "Asia/Tokyo" && len(e.Points) == 8
		})
	}
	type shadowDoc struct {
		State struct {
			Desired  map[string]any `json:"desired"`
			Reported map[string]any `json:"reported"`
			Delta    map[string]any `json:"delta"`
		} `json:"state"`
	}
	var doc shadowDoc
	// Each poll decodes into an empty document: decoding into the last
	// one would keep a delta the server no longer sends.
	eventually(t, "the chiller reporting its program", func() bool {
		doc = shadowDoc{}
		if st := h.apiCall(op, "GET", "/api/v1/devices/shinjuku-hotel-chiller/shadow", nil, &doc); st != http.StatusOK {
			t.Fatalf("shadow: %d", st)
		}
		return doc.State.Reported["program"] != nil && len(doc.State.Delta) == 0
	})
	if doc.State.Desired["program"] == nil || doc.State.Reported["firmware"] == nil {
		t.Errorf("demo chiller shadow: %+v", doc.State)
	}

	// The office chiller's program comes from its site's calendar: today's,
	// in Tokyo, written by the scheduler; the calendar closes the office on
	// Japan's national holidays and over the new year.
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	today := time.Now().In(tokyo).Format(time.DateOnly)
	const office = "marunouchi-office-chiller"
	eventually(t, "the office chiller given today's program", func() bool {
		doc = shadowDoc{}
		if st := h.apiCall(op, "GET", "/api/v1/devices/"+office+"/shadow", nil, &doc); st != http.StatusOK {
			t.Fatalf("shadow: %d", st)
		}
		p, _ := doc.State.Desired["program"].(map[string]any)
		return p["date"] == today
	})
	var hist struct {
		Entries []struct {
			Actor   string `json:"actor"`
			Channel string `json:"channel"`
		} `json:"entries"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/devices/"+office+"/shadow/history?limit=50", nil, &hist); st != http.StatusOK {
		t.Fatalf("history: %d", st)
	}
	if !slices.ContainsFunc(hist.Entries, func(e struct {
		Actor   string `json:"actor"`
		Channel string `json:"channel"`
	}) bool {
		return e.Actor == "scheduler" && e.Channel == "scheduler"
	}) {
		t.Errorf("no change by the scheduler in the office chiller's history: %+v", hist.Entries)
	}
	var sched struct {
		Calendar string `json:"calendar"`
		Days     []struct {
			Date    string `json:"date"`
			DayType string `json:"day_type"`
			Source  string `json:"source"`
			Reason  string `json:"reason"`
		} `json:"days"`
	}
	year := time.Now().In(tokyo).Year()
	from, to := fmt.Sprintf("%d-01-01", year), fmt.Sprintf("%d-12-31", year)
	if st := h.apiCall(op, "GET", "/api/v1/devices/"+office+"/schedule?from="+from+"&to="+to, nil, &sched); st != http.StatusOK {
		t.Fatalf("schedule: %d", st)
	}
	if len(sched.Days) < 365 {
		t.Fatalf("a year of the office's schedule has %d days", len(sched.Days))
	}
	for _, d := range sched.Days {
		switch {
		case d.Date[5:] == "01-01" && (d.DayType != "closed" || d.Source != "closure" || d.Reason != "closure: 年末年始"):
			t.Errorf("new year's day: %+v; want closed for 年末年始", d)
		case d.Date[5:] == "11-23" && (d.DayType != "closed" || !strings.HasPrefix(d.Reason, "national holiday: ")):
			t.Errorf("勤労感謝の日: %+v; want closed as a national holiday", d)
		}
	}
	// The back-filled week followed each day's program: the office's
	// chiller ran at noon on its last open day and stood still at noon on
	// its last closed one.
	ranAtNoon := func(date string) (float64, bool) {
		noon, err := time.ParseInLocation(time.DateTime, date+" 12:00:00", tokyo)
		if err != nil {
			t.Fatal(err)
		}
		_, s := h.promQuery(op, fmt.Sprintf(`max_over_time(running{device=%q}[10m] @ %d)`, office, noon.Unix()))
		if len(s) != 1 {
			return 0, false
		}
		return s[0].Value, true
	}
	lastOpen, lastClosed := "", ""
	var week struct {
		Days []struct {
			Date    string `json:"date"`
			DayType string `json:"day_type"`
		} `json:"days"`
	}
	now := time.Now().In(tokyo)
	if st := h.apiCall(op, "GET", "/api/v1/devices/"+office+"/schedule?from="+now.AddDate(0, 0, -7).Format(time.DateOnly)+"&to="+now.AddDate(0, 0, -1).Format(time.DateOnly), nil, &week); st != http.StatusOK {
		t.Fatalf("last week's schedule: %d", st)
	}
	for _, d := range week.Days {
		if noon, _ := time.ParseInLocation(time.DateTime, d.Date+" 12:00:00", tokyo); noon.Before(now.Add(-demoWeek + time.Hour)) {
			continue // before the back-fill began
		}
		if strings.HasPrefix(d.DayType, "closed") {
			lastClosed = d.Date
		} else {
			lastOpen = d.Date
		}
	}
	if lastOpen == "" || lastClosed == "" {
		t.Fatalf("no open and closed day in the office's last week: %q %q", lastOpen, lastClosed)
	}
	if v, ok := ranAtNoon(lastOpen); !ok || v != 1 {
		t.Errorf("the office chiller at noon on %s, an open day: running %v (found %v)", lastOpen, v, ok)
	}
	if v, ok := ranAtNoon(lastClosed); !ok || v != 0 {
		t.Errorf("the office chiller at noon on %s, a closed day: running %v (found %v)", lastClosed, v, ok)
	}
	// The demo's alarm rules, and the hotel chiller's fault raising one.
	var rules struct {
		Rules []struct {
			ID string `json:"id"`
		} `json:"rules"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/alarm-rules?customer=demo", nil, &rules); st != http.StatusOK || len(rules.Rules) != 7 {
		t.Errorf("the demo's alarm rules: %d %+v", st, rules.Rules)
	}
	eventually(t, "the hotel chiller's fault raising an alarm", func() bool {
		var as struct {
			Alarms []struct {
				Rule, State, Severity string
			} `json:"alarms"`
		}
		if st := h.apiCall(op, "GET", "/api/v1/alarms?device=shinjuku-hotel-chiller", nil, &as); st != http.StatusOK {
			t.Fatalf("alarms: %d", st)
		}
		return slices.ContainsFunc(as.Alarms, func(a struct{ Rule, State, Severity string }) bool { return a.Rule == "demo-chiller-fault" })
	})
	var school struct {
		Days []struct {
			DayType string `json:"day_type"`
			Reason  string `json:"reason"`
		} `json:"days"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/devices/kyoto-school-chiller/schedule?from="+fmt.Sprint(year)+"-08-03&to="+fmt.Sprint(year)+"-08-03", nil, &school); st != http.StatusOK || len(school.Days) != 1 || school.Days[0].DayType != "closed" || school.Days[0].Reason != "closure: 夏休み" {
		t.Errorf("the school on a summer-holiday weekday: %d %+v", st, school.Days)
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

// demoWeek is what a fresh demo back-fills.
const demoWeek = 7 * 24 * time.Hour

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
		// Every metric the simulated equipment sends is declared, so alarm
		// rules on the demo's devices can name it.
		at := time.Date(2026, 8, 5, 14, 0, 0, 0, time.UTC)
		sent := model.NewIAQ(1, model.Office).Step(at).Values()
		if k == sim.KindChiller {
			sent = model.NewChiller(1, model.Office).Step(at, model.DefaultChillerSettings).Values()
		}
		declared := builtin[i].MetricNames()
		for m := range sent {
			if !slices.Contains(declared, m) {
				t.Errorf("built-in %s does not declare the metric %q the simulator sends", name, m)
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
