package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/strategy"
)

// fakePlant is a device over a real MQTT client: it applies every delta
// and reports what it holds, as firmware does, and publishes telemetry
// every 50 ms from values the test sets.
type fakePlant struct {
	t    *testing.T
	name string
	c    mqtt.Client

	mu        sync.Mutex
	reported  map[string]any
	telemetry map[string]float64
	// follow names telemetry metrics that copy a reported setting.
	follow map[string]string
	// stopped is set when the test ends: the client's callbacks, which
	// may still run, report nothing then.
	stopped atomic.Bool
}

func startPlant(t *testing.T, h *hearth, name string, d issuedDevice, reported map[string]any, follow map[string]string) *fakePlant {
	t.Helper()
	c, rc, err := h.v3(name, d, true, "")
	if err != nil {
		t.Fatalf("connect %s: rc %d, %v", name, rc, err)
	}
	p := &fakePlant{t: t, name: name, c: c, reported: reported, telemetry: map[string]float64{}, follow: follow}
	tok := c.Subscribe("$aws/things/"+name+"/shadow/update/delta", 1, func(_ mqtt.Client, m mqtt.Message) {
		var doc struct {
			State map[string]any `json:"state"`
		}
		if json.Unmarshal(m.Payload(), &doc) != nil {
			return
		}
		p.mu.Lock()
		for k, v := range doc.State {
			p.reported[k] = v
		}
		p.mu.Unlock()
		p.report(doc.State)
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	p.report(reported)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				p.mu.Lock()
				vals := map[string]float64{}
				for k, v := range p.telemetry {
					vals[k] = v
				}
				for metric, key := range p.follow {
					if f, ok := p.reported[key].(float64); ok {
						vals[metric] = f
					}
				}
				p.mu.Unlock()
				b, _ := json.Marshal(vals)
				c.Publish("hearth/things/"+name+"/telemetry", 1, false, b).WaitTimeout(5 * time.Second)
			}
		}
	}()
	t.Cleanup(func() {
		p.stopped.Store(true)
		close(stop)
		<-done
		c.Disconnect(0)
	})
	return p
}

func (p *fakePlant) report(state map[string]any) {
	if p.stopped.Load() {
		return
	}
	b, _ := json.Marshal(map[string]any{"state": map[string]any{"reported": state}})
	if tok := p.c.Publish("$aws/things/"+p.name+"/shadow/update", 1, false, b); (!tok.WaitTimeout(5*time.Second) || tok.Error() != nil) && !p.stopped.Load() {
		p.t.Errorf("report: %v", tok.Error())
	}
}

func (p *fakePlant) set(vals map[string]float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range vals {
		p.telemetry[k] = v
	}
}

// desired is a device's desired value of key, through the API.
func (h *hearth) desired(op, dev, key string) any {
	h.t.Helper()
	var doc struct {
		State struct {
			Desired map[string]any `json:"desired"`
		} `json:"state"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/devices/"+dev+"/shadow", nil, &doc); st != http.StatusOK {
		h.t.Fatalf("shadow of %s: %d", dev, st)
	}
	return doc.State.Desired[key]
}

func (h *hearth) strategyChanges(op, dev string) []store.StrategyChange {
	h.t.Helper()
	var res struct {
		Changes []store.StrategyChange `json:"changes"`
	}
	if st := h.apiCall(op, "GET", "/api/v1/devices/"+dev+"/strategy-changes?limit=500", nil, &res); st != http.StatusOK {
		h.t.Fatalf("strategy changes of %s: %d", dev, st)
	}
	return res.Changes
}

func hasChange(cs []store.StrategyChange, strategy, action string) (store.StrategyChange, bool) {
	for _, c := range cs {
		if c.Strategy == strategy && c.Action == action {
			return c, true
		}
	}
	return store.StrategyChange{}, false
}

// noonZone is a fixed-offset zone where it is now about midday, so that a
// calendar's occupied time half an hour ahead falls on today.
func noonZone() string {
	off := 12 - time.Now().UTC().Hour()
	switch {
	case off > 14:
		off -= 24
	case off < -12:
		off += 24
	}
	switch {
	case off > 0:
		return fmt.Sprintf("Etc/GMT-%d", off)
	case off < 0:
		return fmt.Sprintf("Etc/GMT+%d", -off)
	}
	return "Etc/GMT"
}

// TestStrategiesOverMQTT runs the three strategies against devices over
// MQTT/TLS through the real server: set-points and the damper move within
// the type's ranges, one write per interval and not per sample; a person's
// change holds until the strategy's own value changes; the shadow history
// names the strategy; optimum start starts a plant that is off before the
// calendar's occupied time and records how long it took.
func TestStrategiesOverMQTT(t *testing.T) {
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Strategies = strategy.Config{ResetEvery: 250 * time.Millisecond, VentilationEvery: 250 * time.Millisecond, StartEvery: 100 * time.Millisecond}
	})
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "plant")
	chDev := h.addTypedDevice(op, "plant-chiller", "plant", "chiller")
	ahuDev := h.addTypedDevice(op, "plant-ahu", "plant", "ahu")
	site := "/api/v1/customers/plant/sites/default/strategies/"
	ch := startPlant(t, h, "plant-chiller", chDev, map[string]any{"mode": "cooling", "chw_setpoint_c": 7.0, "hw_setpoint_c": 55.0},
		map[string]string{"chw_supply_c": "chw_setpoint_c", "chw_setpoint_c": "chw_setpoint_c"})
	ch.set(map[string]float64{"load_pct": 0, "outside_temp_c": 20, "running": 1})

	// Set-point reset: at no load on a mild day, one step at a time to the
	// top of the type's range.
	if st := h.apiCall(op, "PUT", site+"setpoint_reset", map[string]bool{"enabled": true}, nil); st != http.StatusOK {
		t.Fatalf("switch on: %d", st)
	}
	eventually(t, "the chilled water reset to 12 °C", func() bool { return h.desired(op, "plant-chiller", "chw_setpoint_c") == 12.0 })
	entries, _, err := h.srvStore().History(store.HistoryQuery{Device: "plant-chiller"})
	if err != nil {
		t.Fatal(err)
	}
	var steps []float64
	for _, e := range entries {
		if e.Actor != "strategy:setpoint_reset" {
			continue
		}
		if e.Channel != "strategy" {
			t.Errorf("a strategy's write on channel %q", e.Channel)
		}
		var doc struct {
			State struct {
				Desired map[string]float64 `json:"desired"`
			} `json:"state"`
		}
		if err := json.Unmarshal(e.Update, &doc); err != nil {
			t.Fatalf("history update %s: %v", e.Update, err)
		}
		steps = append(steps, doc.State.Desired["chw_setpoint_c"])
	}
	if len(steps) != 10 {
		t.Errorf("the reset wrote %v: want the ten steps from 7.5 to 12 °C, one write per step", steps)
	}
	for _, v := range steps {
		if v < 5 || v > 12 || v*2 != float64(int(v*2)) {
			t.Errorf("a set-point of %v °C: outside 5–12 °C or off its 0.5 step", v)
		}
	}

	// A person's change wins while the strategy's goal stays the same.
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/plant-chiller/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"chw_setpoint_c": 8}}}, nil); st != http.StatusOK {
		t.Fatalf("a person's change: %d", st)
	}
	eventually(t, "the strategy yields", func() bool {
		_, ok := hasChange(h.strategyChanges(op, "plant-chiller"), "setpoint_reset", "yield")
		return ok
	})
	y, _ := hasChange(h.strategyChanges(op, "plant-chiller"), "setpoint_reset", "yield")
	if !strings.HasPrefix(y.By, "token:") || string(y.To) != "8" {
		t.Errorf("the yield: %+v", y)
	}
	time.Sleep(time.Second) // four intervals of the reset
	if v := h.desired(op, "plant-chiller", "chw_setpoint_c"); v != 8.0 {
		t.Fatalf("the person's 8 °C was overwritten with %v while the strategy's goal stayed 12 °C", v)
	}
	// The load rises: the goal moves to 9.5 °C, the next strategy change.
	ch.set(map[string]float64{"load_pct": 50})
	eventually(t, "the strategy resumes toward 9.5 °C", func() bool {
		_, ok := hasChange(h.strategyChanges(op, "plant-chiller"), "setpoint_reset", "resume")
		return ok && h.desired(op, "plant-chiller", "chw_setpoint_c") == 9.5
	})

	// CO2-based ventilation for the air handler alone.
	ahu := startPlant(t, h, "plant-ahu", ahuDev, map[string]any{"mode": "auto", "outdoor_air_pct": 100.0, "min_outdoor_air_pct": 30.0}, nil)
	ahu.set(map[string]float64{"return_co2_ppm": 480, "running": 1})
	if st := h.apiCall(op, "PUT", site+"co2_ventilation/devices/plant-ahu", map[string]bool{"enabled": true}, nil); st != http.StatusOK {
		t.Fatalf("switch on for the air handler: %d", st)
	}
	eventually(t, "the damper closes to its minimum outdoor air", func() bool { return h.desired(op, "plant-ahu", "outdoor_air_pct") == 30.0 })
	ahu.set(map[string]float64{"return_co2_ppm": 960})
	eventually(t, "the damper opens fully at high CO2", func() bool { return h.desired(op, "plant-ahu", "outdoor_air_pct") == 100.0 })
	// The change is recorded after the shadow write it describes: wait for it.
	eventually(t, "the damper's change recorded with its reason", func() bool {
		for _, c := range h.strategyChanges(op, "plant-ahu") {
			if c.Strategy == "co2_ventilation" && c.Action == "set" && string(c.To) == "100" {
				if !strings.Contains(c.Reason, "CO2 960 ppm in return air") {
					t.Errorf("the damper's change: %+v", c)
				}
				return true
			}
		}
		return false
	})

	// Optimum start: the plant is off; the calendar's occupied time is
	// half an hour ahead, within the recorded warm-up's lead.
	ch.set(map[string]float64{"running": 0, "outside_temp_c": 30})
	if st := h.apiCall(op, "PUT", site+"setpoint_reset", map[string]bool{"enabled": false}, nil); st != http.StatusOK {
		t.Fatalf("switch off: %d", st)
	}
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/plant-chiller/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"mode": "off"}}}, nil); st != http.StatusOK {
		t.Fatalf("stop the plant: %d", st)
	}
	zone := noonZone()
	loc := mustLoad(t, zone)
	occupied := time.Now().In(loc).Add(30 * time.Minute).Format("15:04")
	week := map[string]any{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		week[d] = "open"
	}
	cal := map[string]any{"customer": "plant", "name": "Plant", "device_type": "chiller", "time_zone": zone, "push_at": "00:00",
		"day_types": []any{map[string]any{"name": "open", "steps": []any{
			map[string]any{"at": "00:00", "set": map[string]any{"mode": "off"}},
			map[string]any{"at": occupied, "set": map[string]any{"mode": "cooling"}},
			map[string]any{"at": "23:59", "set": map[string]any{"mode": "off"}}}}},
		"weekly": week}
	if st := h.apiCall(op, "PUT", "/api/v1/calendars/plant", cal, nil); st != http.StatusCreated {
		t.Fatalf("calendar: %d", st)
	}
	if st := h.apiCall(op, "POST", "/api/v1/calendars/plant/assignments", map[string]any{"devices": []string{"plant-chiller"}}, nil); st != http.StatusOK {
		t.Fatalf("assign: %d", st)
	}
	if st := h.apiCall(op, "PUT", site+"optimum_start", map[string]bool{"enabled": true}, nil); st != http.StatusOK {
		t.Fatalf("switch optimum start on: %d", st)
	}
	eventually(t, "optimum start starts the plant", func() bool {
		_, ok := hasChange(h.strategyChanges(op, "plant-chiller"), "optimum_start", "set")
		return ok && h.desired(op, "plant-chiller", "mode") == "cooling"
	})
	c, ok := hasChange(h.strategyChanges(op, "plant-chiller"), "optimum_start", "set")
	if !ok || !strings.Contains(c.Reason, "before the occupied time "+occupied) || string(c.To) != `"cooling"` {
		t.Errorf("optimum start's change: %+v", c)
	}
	// The plant runs; its supply water reaches the set-point: a start
	// recorded for the building's warm-up need.
	ch.set(map[string]float64{"running": 1})
	eventually(t, "the start recorded", func() bool {
		st, err := h.srvStore().GetStrategyState("plant-chiller")
		return err == nil && strings.Contains(string(st), `"starts":[{"excess_k":10`)
	})
	var hist []string
	entries, _, _ = h.srvStore().History(store.HistoryQuery{Device: "plant-chiller"})
	for _, e := range entries {
		hist = append(hist, e.Actor)
	}
	if !strings.Contains(strings.Join(hist, " "), "strategy:optimum_start") {
		t.Errorf("the history does not name optimum start: %v", hist)
	}
}

// TestStrategyIgnoresStaleReadings: a reading older than a quarter of an
// hour by its own timestamp — a back-fill, or the last value of a sensor
// that stopped — steers no strategy; a fresh one does.
func TestStrategyIgnoresStaleReadings(t *testing.T) {
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Strategies = strategy.Config{VentilationEvery: 100 * time.Millisecond}
	})
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "plant")
	ahuDev := h.addTypedDevice(op, "old-ahu", "plant", "ahu")
	ahu := startPlant(t, h, "old-ahu", ahuDev, map[string]any{"mode": "auto", "outdoor_air_pct": 100.0, "min_outdoor_air_pct": 30.0}, nil)
	ahu.set(map[string]float64{"running": 1})
	if st := h.apiCall(op, "PUT", "/api/v1/customers/plant/sites/default/strategies/co2_ventilation", map[string]bool{"enabled": true}, nil); st != http.StatusOK {
		t.Fatalf("switch on: %d", st)
	}
	// Low CO2 half an hour ago would close the damper to its minimum.
	old, _ := json.Marshal(map[string]any{"ts": time.Now().Add(-30 * time.Minute).UnixMilli(), "values": map[string]float64{"return_co2_ppm": 420}})
	if tok := ahu.c.Publish("hearth/things/old-ahu/telemetry", 1, false, old); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	time.Sleep(time.Second) // ten ventilation intervals, with telemetry every 50 ms
	if v := h.desired(op, "old-ahu", "outdoor_air_pct"); v != nil {
		t.Fatalf("a half-hour-old CO2 reading moved the damper to %v", v)
	}
	ahu.set(map[string]float64{"return_co2_ppm": 420})
	eventually(t, "a fresh CO2 reading closes the damper to its minimum", func() bool { return h.desired(op, "old-ahu", "outdoor_air_pct") == 30.0 })
}

// TestStrategyForgetsDeletedDevice: a device deleted and registered again
// under the same name for another customer starts afresh; the first
// owner's person's change, which the strategy yielded to, does not hold
// the new device's damper.
func TestStrategyForgetsDeletedDevice(t *testing.T) {
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Strategies = strategy.Config{VentilationEvery: 100 * time.Millisecond}
	})
	op := h.token(store.RoleOperator, "")
	for _, c := range []string{"alpha", "beta"} {
		h.addCustomer(op, c)
		if st := h.apiCall(op, "PUT", "/api/v1/customers/"+c+"/sites/default/strategies/co2_ventilation", map[string]bool{"enabled": true}, nil); st != http.StatusOK {
			t.Fatalf("switch on for %s: %d", c, st)
		}
	}
	reported := map[string]any{"mode": "auto", "outdoor_air_pct": 100.0, "min_outdoor_air_pct": 30.0}
	first := startPlant(t, h, "ahu-x", h.addTypedDevice(op, "ahu-x", "alpha", "ahu"), reported, nil)
	first.set(map[string]float64{"return_co2_ppm": 480, "running": 1})
	eventually(t, "the first owner's damper closes to its minimum", func() bool { return h.desired(op, "ahu-x", "outdoor_air_pct") == 30.0 })
	if st := h.apiCall(op, "PATCH", "/api/v1/devices/ahu-x/shadow", map[string]any{"state": map[string]any{"desired": map[string]any{"outdoor_air_pct": 60}}}, nil); st != http.StatusOK {
		t.Fatalf("a person's change: %d", st)
	}
	eventually(t, "the strategy yields to the person", func() bool {
		_, ok := hasChange(h.strategyChanges(op, "ahu-x"), "co2_ventilation", "yield")
		return ok
	})

	if st := h.apiCall(op, "DELETE", "/api/v1/devices/ahu-x", nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	second := startPlant(t, h, "ahu-x", h.addTypedDevice(op, "ahu-x", "beta", "ahu"), map[string]any{"mode": "auto", "outdoor_air_pct": 100.0, "min_outdoor_air_pct": 30.0}, nil)
	second.set(map[string]float64{"return_co2_ppm": 480, "running": 1})
	eventually(t, "the new owner's damper closes to its minimum", func() bool { return h.desired(op, "ahu-x", "outdoor_air_pct") == 30.0 })
}
