package server_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/sim/model"
	"github.com/hearthiot/hearth/store"
)

// scheduleCalendar is an office calendar whose push time, 00:00, has
// always passed: assigning it pushes today's program at once.
func scheduleCalendar(exception string) map[string]any {
	on := []any{map[string]any{"at": "07:00", "set": map[string]any{"mode": "cooling", "chw_setpoint_c": 7}},
		map[string]any{"at": "19:00", "set": map[string]any{"mode": "off"}}}
	off := []any{map[string]any{"at": "00:00", "set": map[string]any{"mode": "off"}}}
	week := map[string]any{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		week[d] = "weekday"
	}
	c := map[string]any{"customer": "acme", "name": "Office", "device_type": "chiller", "time_zone": "Asia/Tokyo", "push_at": "00:00",
		"day_types": []any{map[string]any{"name": "weekday", "steps": on}, map[string]any{"name": "closed", "steps": off}},
		"weekly":    week}
	if exception != "" {
		c["exceptions"] = []any{map[string]any{"date": exception, "name": "maintenance", "day_type": "closed"}}
	}
	return c
}

// pushes is a calendar's push records of today, by device.
func (h *hearth) pushes(op, calendar string) map[string]store.PushRecord {
	h.t.Helper()
	var sum struct {
		Devices []store.PushRecord `json:"devices"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/calendars/"+calendar+"/pushes", nil, &sum); st != http.StatusOK {
		h.t.Fatalf("pushes: %d", st)
	}
	out := map[string]store.PushRecord{}
	for _, r := range sum.Devices {
		out[r.Device] = r
	}
	return out
}

// startChillers connects simulated chillers, which follow the program they are
// sent and report it back, as the firmware does.
func startChillers(t *testing.T, h *hearth, creds ...sim.Credentials) {
	t.Helper()
	var devices []sim.FleetDevice
	for i, c := range creds {
		devices = append(devices, sim.FleetDevice{Credentials: c, Kind: sim.KindChiller, Building: model.Office, Seed: uint64(i)})
	}
	fleet, err := sim.StartFleet(context.Background(), sim.FleetConfig{
		Broker: h.mqtts, TLS: &tls.Config{RootCAs: h.caPool, ServerName: "localhost"},
		Devices: devices, Interval: time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = fleet.Stop(ctx)
	})
}

// TestScheduleOverMQTT runs the scheduler against simulated chillers over
// MQTT/TLS: today's program reaches an online device and is verified from
// its report; a device offline at push time is verified when it comes
// back; a device that never reports fails after its checks; a restart
// between a push and its verification resumes it; a change of today's
// program pushes it at once.
func TestScheduleOverMQTT(t *testing.T) {
	dir := t.TempDir()
	configure := func(c *server.Config) {
		c.Schedule = scheduler.Config{CheckDelay: 400 * time.Millisecond, Backoff: 1.2, MaxChecks: 5}
	}
	h := startHearthWith(t, dir, configure)
	op := h.token(store.RoleOperator, "")
	ctx := context.Background()
	api := sim.APIClientConfig{BaseURL: h.https, Token: op, CA: h.caPool}
	if err := sim.EnsureDeviceType(ctx, api, sim.KindChiller); err != nil {
		t.Fatal(err)
	}
	creds, err := sim.ProvisionDevices(ctx, api, sim.ProvisionSpec{Customer: "acme", Type: "chiller", Prefix: "sched", N: 3})
	if err != nil {
		t.Fatal(err)
	}
	online, away, restarted := creds[0], creds[1], creds[2]
	silent := h.addDevice(op, "sched-silent", "acme")
	startChillers(t, h, online)
	client, rc, err := h.v3("sched-silent", silent, true, "")
	if err != nil {
		t.Fatalf("the silent device: rc %d, %v", rc, err)
	}
	defer client.Disconnect(0)
	if tok := client.Subscribe("$aws/things/sched-silent/shadow/update/delta", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	if st := h.apiCall(op, "PUT", "/api/v1/calendars/office", scheduleCalendar(""), nil); st != http.StatusCreated {
		t.Fatalf("create the calendar: %d", st)
	}
	all := []string{online.Name, away.Name, restarted.Name, "sched-silent"}
	if st := h.apiCall(op, "POST", "/api/v1/calendars/office/assignments", map[string]any{"devices": all}, nil); st != http.StatusOK {
		t.Fatalf("assign: %d", st)
	}
	today := time.Now().In(mustLoad(t, "Asia/Tokyo")).Format(time.DateOnly)
	eventually(t, "the online device verified", func() bool {
		r := h.pushes(op, "office")[online.Name]
		return r.Status == store.PushVerified && r.Date == today
	})
	entries, _, err := h.srvStore().History(store.HistoryQuery{Device: online.Name})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(historyActors(entries), "scheduler/scheduler") {
		t.Errorf("the push is not in the history as the scheduler's: %s", historyActors(entries))
	}
	if r := h.pushes(op, "office")[away.Name]; r.Status != store.PushOffline {
		t.Errorf("the device away at push time: %+v", r)
	}
	eventually(t, "the silent device failed after its checks", func() bool {
		r := h.pushes(op, "office")["sched-silent"]
		return r.Status == store.PushFailed && r.Checks == 5
	})

	startChillers(t, h, away)
	eventually(t, "the device back verified", func() bool { return h.pushes(op, "office")[away.Name].Status == store.PushVerified })

	// A restart between the push and the verification resumes it.
	h.stop()
	h = startHearthWith(t, dir, configure)
	op = h.token(store.RoleOperator, "")
	if r := h.pushes(op, "office")[restarted.Name]; r.Status != store.PushOffline || r.Pushes != 1 {
		t.Fatalf("after the restart: %+v", r)
	}
	startChillers(t, h, restarted)
	eventually(t, "the device verified after the restart", func() bool {
		r := h.pushes(op, "office")[restarted.Name]
		return r.Status == store.PushVerified && r.Pushes == 1
	})

	// Today closed for maintenance: pushed at once, taken by the device.
	if st := h.apiCall(op, "PUT", "/api/v1/calendars/office", scheduleCalendar(today), nil); st != http.StatusOK {
		t.Fatalf("change the calendar: %d", st)
	}
	eventually(t, "today's new program verified", func() bool {
		var doc struct {
			State struct {
				Reported map[string]any `json:"reported"`
			} `json:"state"`
		}
		if h.apiCall(op, "GET", "/api/v1/devices/"+restarted.Name+"/shadow", nil, &doc) != http.StatusOK {
			return false
		}
		p, _ := doc.State.Reported["program"].(map[string]any)
		steps, _ := p["steps"].([]any)
		return len(steps) == 1 && h.pushes(op, "office")[restarted.Name].Status == store.PushVerified
	})
}

func historyActors(entries []store.HistoryEntry) string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Actor+"/"+e.Channel)
	}
	return strings.Join(out, " ")
}

func mustLoad(t *testing.T, zone string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
