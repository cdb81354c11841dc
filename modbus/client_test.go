package modbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/modbussim"
)

// Every type in every word and byte order, over a real socket: the
// simulator holds literal words, the client reads and decodes them, writes
// new values and reads them back, and the simulator holds the new words.
func TestEveryTypeAndOrderOverTCP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Bare})
	text, points := matrix()
	fill(sim, points)
	c := newClient(t, parseMap(t, text, sim.Addr()))

	before := sim.Requests()
	r := c.Read(ctx)
	if len(r.Faults) > 0 {
		t.Fatalf("faults:%s", faultText(r.Faults))
	}
	// 16 points in 28 holding registers, the same in input registers, a
	// coil and a discrete input: four requests.
	if got := sim.Requests() - before; got != 4 {
		t.Errorf("%d requests for one round, want 4", got)
	}
	got := values(r)
	for _, p := range points {
		if got[p.name] != p.value {
			t.Errorf("%s (words %04x): read %v, want %v", p.name, p.words, got[p.name], p.value)
		}
	}
	if got["coil_bit"] != 1 || got["discrete_bit"] != 1 {
		t.Errorf("bits: coil %v, discrete %v; want 1 and 1", got["coil_bit"], got["discrete_bit"])
	}

	for _, p := range points {
		if p.fn != modbus.Holding {
			continue
		}
		rd, err := c.Write(ctx, p.name, p.newValue)
		if err != nil {
			t.Errorf("write %s: %v", p.name, err)
			continue
		}
		if rd.Value != p.newValue || rd.Point.Setting != p.name {
			t.Errorf("write %s = %v: read back %v", p.name, p.newValue, rd.Value)
		}
		if held := sim.Registers(modbus.Holding, p.address, len(p.newWords)); !slices.Equal(held, p.newWords) {
			t.Errorf("write %s = %v: the device holds %04x, want %04x", p.name, p.newValue, held, p.newWords)
		}
	}
	rd, err := c.Write(ctx, "coil_bit", false)
	if err != nil || rd.SettingValue() != false {
		t.Errorf("write coil_bit false: %v, %v", rd.SettingValue(), err)
	}
	rd, err = c.Write(ctx, "coil_bit", json.Number("1"))
	if err != nil || rd.SettingValue() != true {
		t.Errorf("write coil_bit 1: %v, %v", rd.SettingValue(), err)
	}
	st := c.Stats()
	if st.Writes != 18 || st.Connects != 1 || st.PointsRead != 34+18 {
		t.Errorf("stats %+v; want 18 writes, 1 connection, %d points read", st, 34+18)
	}
}

func TestWriteSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Chiller, Seed: 3})
	c := newClient(t, sim.RegisterMap())

	for _, w := range []struct {
		setting string
		value   any
		want    any // SettingValue read back
	}{
		{"mode", "heating", "heating"},
		{"mode", "off", "off"},
		{"chw_setpoint_c", 9.5, 9.5},
		{"chw_setpoint_c", 7.25, 7.3}, // the register holds tenths: the device has 7.3
		{"chw_setpoint_c", json.Number("6"), 6.0},
		{"chw_setpoint_c", 12, 12.0},
		{"hw_setpoint_c", 50.25, 50.25},
		{"hw_setpoint_c", float32(41.5), 41.5},
		{"run_enable", false, false},
		{"run_enable", true, true},
	} {
		rd, err := c.Write(ctx, w.setting, w.value)
		if err != nil {
			t.Errorf("write %s = %v: %v", w.setting, w.value, err)
			continue
		}
		if got := rd.SettingValue(); got != w.want {
			t.Errorf("write %s = %v: the device holds %v (%T), want %v", w.setting, w.value, got, got, w.want)
		}
	}

	before := sim.Requests()
	for _, w := range []struct {
		setting string
		value   any
		want    string
	}{
		{"mode", "auto", `setting mode: "auto" is not one of off, cooling, heating`},
		{"mode", 1, `setting mode: 1 is a number; want one of off, cooling, heating`},
		{"chw_setpoint_c", 15.5, `setting chw_setpoint_c: 15.5 is above the maximum 15 °C`},
		{"chw_setpoint_c", 3, `setting chw_setpoint_c: 3 is below the minimum 4 °C`},
		{"chw_setpoint_c", "7", `setting chw_setpoint_c: "7" is text; want a number from 4 to 15 °C`},
		{"chw_setpoint_c", true, `setting chw_setpoint_c: true is a boolean; want a number from 4 to 15 °C`},
		{"chw_setpoint_c", math.NaN(), `setting chw_setpoint_c: NaN is not a number a device can hold; want a number from 4 to 15 °C`},
		{"chw_setpoint_c", nil, `setting chw_setpoint_c: no value; want a number from 4 to 15 °C`},
		{"chw_setpoint_c", []int{7}, `setting chw_setpoint_c: a []int; want a number from 4 to 15 °C`},
		{"run_enable", 2, `setting run_enable: 2; want true or false`},
		{"run_enable", "on", `setting run_enable: "on" is text; want true or false`},
		{"running", true, `setting running: read-only (discrete input 0)`},
		{"fault", 0, `setting fault: read-only (input register 5)`},
		{"gas_m3h", 1, `setting gas_m3h: not in register map chiller.yaml; its writable settings are mode, chw_setpoint_c, hw_setpoint_c, run_enable`},
	} {
		_, err := c.Write(ctx, w.setting, w.value)
		var re *modbus.RefusedError
		if !errors.As(err, &re) || !errors.Is(err, modbus.ErrRefused) || err.Error() != w.want || re.Setting != w.setting {
			t.Errorf("write %s = %v: error %v; want a refusal %q", w.setting, w.value, err, w.want)
		}
	}
	if n := sim.Requests() - before; n != 0 {
		t.Errorf("refused writes sent %d requests", n)
	}
}

// A value the client's map allows but the device refuses comes back as the
// device's exception.
func TestWriteRefusedByTheDevice(t *testing.T) {
	t.Parallel()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Chiller})
	m := sim.RegisterMap()
	p, _ := m.Setting("chw_setpoint_c")
	wide := 30.0
	p.Maximum = &wide
	c := newClient(t, m)
	_, err := c.Write(context.Background(), "chw_setpoint_c", 20)
	var f *modbus.Fault
	if !errors.As(err, &f) || f.Kind != modbus.FaultException || f.Exception != modbus.IllegalDataValue || !f.Write {
		t.Fatalf("error %v; want a write fault with exception 3", err)
	}
	if want := "write holding register 1 of unit 1: exception 3 (illegal data value)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if rd := c.Read(context.Background(), p); len(rd.Readings) != 1 || rd.Readings[0].Value != 7 {
		t.Errorf("after the refused write the set-point reads %+v, want 7", rd.Readings)
	}
}

// An exception to a request of several points is narrowed down to the
// point that causes it; the others are read, then and in later rounds.
func TestExceptionIsNarrowedToItsPoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Bare})
	var text strings.Builder
	text.WriteString("source: {tcp: ADDR}\npoints:\n")
	for i := range 10 {
		text.WriteString("  - {metric: r" + string(rune('0'+i)) + ", function: input, address: " + string(rune('0'+i)) + ", type: uint16}\n")
	}
	text.WriteString("  - {metric: h0, function: holding, address: 0, type: uint16}\n")
	text.WriteString("  - {metric: other_unit, function: holding, address: 1, type: uint16, unit_id: 9}\n")
	m := parseMap(t, text.String(), sim.Addr())
	for i := range 10 {
		sim.SetRegisters(modbus.Input, uint16(i), uint16(100+i))
	}
	sim.Fail(modbus.Input, 5, modbus.IllegalDataAddress)
	sim.Fail(modbus.Holding, 0, modbus.ServerDeviceBusy)
	c := newClient(t, m)

	check := func(round modbus.Round) {
		t.Helper()
		got := values(round)
		for i := range 10 {
			name := "r" + string(rune('0'+i))
			if _, ok := got[name]; ok == (i == 5) {
				t.Errorf("%s read: %v", name, ok)
			}
		}
		var kinds []string
		for _, f := range round.Faults {
			kinds = append(kinds, f.Error())
		}
		slices.Sort(kinds)
		want := []string{
			"read holding register 0 of unit 1: exception 6 (server device busy)",
			"read holding register 1 of unit 9: exception 11 (gateway target device failed to respond)",
			"read input register 5 of unit 1: exception 2 (illegal data address)",
		}
		if d := cmp.Diff(want, kinds); d != "" {
			t.Errorf("faults (-want +got):\n%s", d)
		}
		for _, f := range round.Faults {
			if f.Kind != modbus.FaultException || len(f.Points) != 1 {
				t.Errorf("fault %v: kind %s, %d points", f, f.Kind, len(f.Points))
			}
		}
	}
	before := sim.Requests()
	check(c.Read(ctx))
	// The joint request, then each of the ten points, then the two
	// holding registers.
	if n := sim.Requests() - before; n != 13 {
		t.Errorf("first round: %d requests, want 13", n)
	}
	before = sim.Requests()
	check(c.Read(ctx))
	// 0-4, 5 alone, 6-9, and the two holding registers.
	if n := sim.Requests() - before; n != 5 {
		t.Errorf("second round: %d requests, want 5", n)
	}
	if st := c.Stats(); st.Faults[modbus.FaultException] != 6 || st.PointsRead != 18 {
		t.Errorf("stats %+v; want 6 exceptions and 18 points read", st)
	}
}

// A device that does not answer in time: the request is a timeout, the
// unit's other requests of the round are not sent, and once the device
// answers again the next round reads everything on a new connection.
func TestTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Bare})
	m := parseMap(t, `source: {tcp: ADDR, timeout: 250ms}
points:
  - {metric: a, function: input, address: 0, type: int16}
  - {metric: b, function: input, address: 10, type: int16}
  - {metric: c, function: holding, address: 0, type: int16}
`, sim.Addr())
	sim.SetRegisters(modbus.Input, 10, 42)
	c := newClient(t, m)
	sim.SetDelay(time.Minute) // released when the simulator stops
	before := sim.Requests()
	r := c.Read(ctx)
	if len(r.Readings) != 0 || len(r.Faults) != 3 {
		t.Fatalf("round with a silent device: %d readings, faults:%s", len(r.Readings), faultText(r.Faults))
	}
	for i, f := range r.Faults {
		if f.Kind != modbus.FaultTimeout {
			t.Errorf("fault %v: kind %s, want timeout", f, f.Kind)
		}
		want := "no answer within 250ms"
		if i > 0 {
			want = "not sent: unit 1 did not answer an earlier request of this round"
		}
		if !strings.HasSuffix(f.Error(), want) {
			t.Errorf("fault %q, want one ending %q", f, want)
		}
	}
	if n := sim.Requests() - before; n != 1 {
		t.Errorf("%d requests sent to a silent device in one round, want 1", n)
	}
	sim.SetDelay(0)
	r = c.Read(ctx)
	if len(r.Faults) > 0 || values(r)["b"] != 42 {
		t.Errorf("round after the device answers again: %v, faults:%s", values(r), faultText(r.Faults))
	}
	if st := c.Stats(); st.Connects != 2 || st.Faults[modbus.FaultTimeout] != 3 {
		t.Errorf("stats %+v; want 2 connections and 3 timeouts", st)
	}
}

// A slave that goes away and returns: while it is away every request is a
// connection fault; when it is back the client reconnects by itself. A
// restart between two rounds costs no fault at all.
func TestDeviceGoesAwayAndReturns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Chiller})
	c := newClient(t, sim.RegisterMap())
	n := len(sim.RegisterMap().Points)
	if r := c.Read(ctx); len(r.Faults) > 0 || len(r.Readings) != n {
		t.Fatalf("first round: %d readings, faults:%s", len(r.Readings), faultText(r.Faults))
	}

	if err := sim.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r := c.Read(ctx)
	if len(r.Readings) != 0 || len(r.Faults) == 0 {
		t.Fatalf("round while away: %d readings, %d faults", len(r.Readings), len(r.Faults))
	}
	for i, f := range r.Faults {
		want := "cannot connect to " + sim.Addr()
		if i > 0 {
			want = "not sent: cannot connect to " + sim.Addr()
		}
		if f.Kind != modbus.FaultConnect || !strings.Contains(f.Error(), want) || !strings.Contains(f.Error(), "connection refused") {
			t.Errorf("fault while away: %s %v; want a refused connection", f.Kind, f)
		}
	}

	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if r := c.Read(ctx); len(r.Faults) > 0 || len(r.Readings) != n {
		t.Fatalf("round after return: %d readings, faults:%s", len(r.Readings), faultText(r.Faults))
	}
	// Away and back between two rounds: the connection the client holds
	// is dead, the request is sent again on a new one.
	if err := sim.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if r := c.Read(ctx); len(r.Faults) > 0 || len(r.Readings) != n {
		t.Fatalf("round after a restart: %d readings, faults:%s", len(r.Readings), faultText(r.Faults))
	}
	st := c.Stats()
	if st.Connects != 3 {
		t.Errorf("%d connections, want 3", st.Connects)
	}
	if st.Faults[modbus.FaultConnect] != uint64(len(r.Faults)) && st.Faults[modbus.FaultLost] != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestClosedClient(t *testing.T) {
	t.Parallel()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Chiller})
	c := newClient(t, sim.RegisterMap())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	r := c.Read(context.Background())
	if len(r.Readings) != 0 || len(r.Faults) == 0 || !errors.Is(r.Faults[0], modbus.ErrClosed) {
		t.Errorf("read after close: %+v", r)
	}
	if _, err := c.Write(context.Background(), "mode", "off"); !errors.Is(err, modbus.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
}

func TestRoundMetricsAndSettings(t *testing.T) {
	t.Parallel()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Chiller})
	c := newClient(t, sim.RegisterMap())
	r := c.Read(context.Background())
	metrics, settings := r.Metrics(), r.Settings()
	if _, ok := metrics["mode"]; ok {
		t.Error("mode, a setting only, is among the metrics")
	}
	if len(metrics) != 12 || metrics["chw_setpoint_c"] != 7 {
		t.Errorf("metrics %v", metrics)
	}
	want := map[string]any{"mode": "cooling", "chw_setpoint_c": 7.0, "hw_setpoint_c": 55.0, "run_enable": true, "running": true, "fault": 0.0}
	if d := cmp.Diff(want, settings); d != "" {
		t.Errorf("settings (-want +got):\n%s", d)
	}
}
