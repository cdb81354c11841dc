package equipment_test

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hearthiot/hearth/agent"
	"github.com/hearthiot/hearth/agent/equipment"
	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/modbussim"
)

// chiller starts the simulated chiller controller and returns equipment
// reading it with an agent interval of 1 s.
func chiller(t *testing.T) (*equipment.Modbus, *modbussim.Sim) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	sim, err := modbussim.New(modbussim.Config{Addr: "127.0.0.1:0", Profile: modbussim.Chiller, Seed: 1}, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Stop(context.Background()) })
	c, err := modbus.NewClient(sim.RegisterMap(), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return equipment.New(c, time.Second), sim
}

func TestPoll(t *testing.T) {
	eq, _ := chiller(t)
	ctx := context.Background()
	p := eq.Poll(ctx)
	if len(p.Faults) > 0 {
		t.Fatalf("faults %+v", p.Faults)
	}
	for _, m := range []string{"chw_supply_c", "chw_setpoint_c", "outside_temp_c", "gas_total_m3", "running"} {
		if _, ok := p.Values[m]; !ok {
			t.Errorf("metric %s not read: %v", m, p.Values)
		}
	}
	if p.Settings["mode"] != "cooling" || p.Settings["chw_setpoint_c"] != 7.0 || p.Settings["run_enable"] == nil {
		t.Errorf("settings %v", p.Settings)
	}
	// Right after, a point the map reads every minute is not due again.
	p = eq.Poll(ctx)
	if _, ok := p.Values["outside_temp_c"]; ok {
		t.Errorf("outside_temp_c (every 1m) read again at once: %v", p.Values)
	}
}

func TestSettings(t *testing.T) {
	eq, _ := chiller(t)
	got := eq.Settings()
	nan := math.NaN()
	want := []agent.Setting{
		{Key: "mode", Min: nan, Max: nan, Values: []string{"off", "cooling", "heating"}},
		{Key: "chw_setpoint_c", Unit: "°C", Min: 4, Max: 15},
		{Key: "hw_setpoint_c", Unit: "°C", Min: 35, Max: 65},
		{Key: "run_enable", Min: nan, Max: nan, Bool: true},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

func TestWriteAndRead(t *testing.T) {
	eq, sim := chiller(t)
	ctx := context.Background()
	held, err := eq.WriteSetting(ctx, "chw_setpoint_c", 8.5)
	if err != nil || held != 8.5 {
		t.Fatalf("write 8.5: held %v, %v", held, err)
	}
	if r := sim.Registers(modbus.Holding, 1, 1); r[0] != 85 {
		t.Errorf("register %d; want 85", r[0])
	}
	if held, err := eq.WriteSetting(ctx, "mode", "heating"); err != nil || held != "heating" {
		t.Errorf("write mode: %v, %v", held, err)
	}
	if v, err := eq.ReadSetting(ctx, "mode"); err != nil || v != "heating" {
		t.Errorf("read mode: %v, %v", v, err)
	}
	if _, err := eq.WriteSetting(ctx, "chw_setpoint_c", 99.0); err == nil {
		t.Error("out of range write: no error")
	}
	if _, err := eq.ReadSetting(ctx, "nope"); err == nil {
		t.Error("read of an unknown setting: no error")
	}
}

// TestFault: a point that answers with an exception is a fault of that
// point alone; the others are read.
func TestFault(t *testing.T) {
	eq, sim := chiller(t)
	sim.Fail(modbus.Input, 3, modbus.IllegalDataAddress)
	p := eq.Poll(context.Background())
	var names []string
	for _, f := range p.Faults {
		names = append(names, f.Point)
		if f.Kind != agent.FaultException {
			t.Errorf("fault %+v; want kind exception", f)
		}
	}
	if !slices.Equal(names, []string{"hw_return_c"}) {
		t.Errorf("faults on %v; want hw_return_c", names)
	}
	if _, ok := p.Values["hw_supply_c"]; !ok {
		t.Errorf("hw_supply_c not read next to the failing point: %v", p.Values)
	}
}

// TestPollCutShort: a poll whose time runs out in the middle of a round
// names as read only the points it read; the points it did not get to are
// neither read nor faults, so the agent does not take them as recovered.
func TestPollCutShort(t *testing.T) {
	eq, sim := chiller(t)
	total := len(sim.RegisterMap().Points)
	sim.SetDelay(150 * time.Millisecond) // each request takes that long
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	p := eq.Poll(ctx)
	faulted := map[string]bool{}
	for _, f := range p.Faults {
		faulted[f.Point] = true
	}
	if len(p.Read) == 0 || len(p.Read)+len(faulted) >= total {
		t.Fatalf("%d points read, %d failed of %d; want the round cut short after the first request", len(p.Read), len(faulted), total)
	}
	for _, name := range p.Read {
		_, value := p.Values[name]
		_, setting := p.Settings[name]
		if faulted[name] || !value && !setting {
			t.Errorf("point %s named as read: faulted %v, value %v, setting %v", name, faulted[name], value, setting)
		}
	}

	// Without the delay every point is read, and named.
	sim.SetDelay(0)
	all, _ := chiller(t)
	p = all.Poll(context.Background())
	if len(p.Read) != total || len(p.Faults) != 0 {
		t.Errorf("%d points read, %d faults; want all %d read", len(p.Read), len(p.Faults), total)
	}
}
