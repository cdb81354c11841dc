package modbussim_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gm "github.com/goburrow/modbus"

	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/modbussim"
	"github.com/hearthiot/hearth/sim/model"
)

// clock is a test's time, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

var jst = time.FixedZone("JST", 9*3600)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func start(t *testing.T, cfg modbussim.Config) *modbussim.Sim {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := modbussim.New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// pollOnce runs a poller on the simulator's map until its first round.
func pollOnce(t *testing.T, s *modbussim.Sim) modbus.Round {
	t.Helper()
	got := make(chan modbus.Round, 1)
	p, err := modbus.NewPoller(s.RegisterMap(), func(r modbus.Round) {
		select {
		case got <- r:
		default:
		}
	}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	select {
	case r := <-got:
		for _, f := range r.Faults {
			t.Errorf("fault: %v", f)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no round within 10s")
	}
	return modbus.Round{}
}

func TestShippedMapsParse(t *testing.T) {
	t.Parallel()
	for _, p := range []modbussim.Profile{modbussim.Chiller, modbussim.IAQ} {
		m, err := modbussim.Map(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if m.Name != string(p)+".yaml" || m.Source.TCP != modbussim.DefaultAddr {
			t.Errorf("%s: name %q, source %q", p, m.Name, m.Source.TCP)
		}
	}
	if _, err := modbussim.MapYAML(modbussim.Bare); err == nil {
		t.Error("the bare profile has a map")
	}
	if _, err := modbussim.New(modbussim.Config{Profile: "boiler"}, quiet()); err == nil || !strings.Contains(err.Error(), `profile "boiler"`) {
		t.Errorf("New with an unknown profile: %v", err)
	}
}

// Between them the two maps use every type and both of each order, so
// that reading them exercises all of the codec.
func TestShippedMapsUseEveryTypeAndOrder(t *testing.T) {
	t.Parallel()
	types := map[modbus.Type]bool{}
	words := map[modbus.Order]bool{}
	bytes := map[modbus.Order]bool{}
	fns := map[modbus.Function]bool{}
	for _, p := range []modbussim.Profile{modbussim.Chiller, modbussim.IAQ} {
		m, _ := modbussim.Map(p)
		for _, pt := range m.Points {
			types[pt.Type], fns[pt.Function] = true, true
			if pt.Width() == 2 {
				words[pt.WordOrder] = true
			}
			if pt.Type != modbus.Bool {
				bytes[pt.ByteOrder] = true
			}
		}
	}
	if len(types) != 6 || len(words) != 2 || len(bytes) != 2 || len(fns) != 4 {
		t.Errorf("types %v, word orders %v, byte orders %v, tables %v", types, words, bytes, fns)
	}
}

// The shipped map, read through the poller over TCP, gives the model's
// values exactly: the registers' resolution is the model's.
func TestChillerMapGivesTheModelsValues(t *testing.T) {
	t.Parallel()
	for _, b := range []model.Building{model.Office, model.Hospital} {
		at := time.Date(2026, 8, 5, 15, 0, 0, 0, jst)
		if b == model.Hospital {
			at = time.Date(2026, 1, 14, 6, 30, 0, 0, jst) // a cold morning: negative outside temperatures
		}
		c := &clock{t: at}
		s := start(t, modbussim.Config{Profile: modbussim.Chiller, Seed: 42, Building: b, Clock: c.now})
		r := pollOnce(t, s)
		want := model.NewChiller(42, b).Step(at, model.DefaultChillerSettings).Values()
		got := r.Metrics()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, the model has %v", b, k, got[k], v)
			}
		}
		if g := got["gas_total_m3"]; g < 40000 {
			t.Errorf("%s: gas meter %v, want a meter past 40000 m³", b, g)
		}
		settings := r.Settings()
		if settings["mode"] != "cooling" || settings["run_enable"] != true || settings["running"] != (want["running"] == 1) {
			t.Errorf("%s: settings %v", b, settings)
		}
	}
}

func TestIAQMapGivesTheModelsValues(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 10, 10, 30, 0, 0, jst)
	c := &clock{t: at}
	s := start(t, modbussim.Config{Profile: modbussim.IAQ, Seed: 9, Building: model.School, Clock: c.now})
	r := pollOnce(t, s)
	want := model.NewIAQ(9, model.School).Step(at).Values()
	got := r.Metrics()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, the model has %v", k, got[k], v)
		}
	}
	if up := got["uptime_s"]; up < 3*86400 || up > 4*86400 {
		t.Errorf("uptime %v s, want 3 to 4 days", up)
	}
	if got["co2_alarm"] != map[bool]float64{true: 1}[want["co2_ppm"] >= 1000] {
		t.Errorf("alarm %v at %v ppm with the threshold at 1000", got["co2_alarm"], want["co2_ppm"])
	}
	if st := r.Settings(); st["co2_alarm_ppm"] != 1000.0 || st["temperature_offset_c"] != 0.0 {
		t.Errorf("settings %v", st)
	}
}

// Written settings steer the model: the simulator's readings stay those
// of a model stepped with the same settings at the same times.
func TestWritesSteerTheChiller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 8, 5, 9, 0, 0, 0, jst)
	c := &clock{t: at}
	s := start(t, modbussim.Config{Profile: modbussim.Chiller, Seed: 5, Clock: c.now})
	cl, err := modbus.NewClient(s.RegisterMap(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	twin := model.NewChiller(5, model.Office)
	settings := model.DefaultChillerSettings

	compare := func(what string) {
		t.Helper()
		r := cl.Read(ctx)
		if len(r.Faults) > 0 {
			t.Fatalf("%s: %v", what, r.Faults[0])
		}
		want := twin.Step(c.now(), settings).Values()
		got := r.Metrics()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, the model has %v", what, k, got[k], v)
			}
		}
	}
	compare("at first")
	for _, w := range []struct {
		setting string
		value   any
		apply   func()
	}{
		{"chw_setpoint_c", 10.5, func() { settings.ChwSetpoint = 10.5 }},
		{"mode", "heating", func() { settings.Mode = model.ModeHeating }},
		{"hw_setpoint_c", 48.5, func() { settings.HwSetpoint = 48.5 }},
		{"mode", "off", func() { settings.Mode = model.ModeOff }},
		{"mode", "cooling", func() { settings.Mode = model.ModeCooling }},
		{"run_enable", false, func() { settings.Mode = model.ModeOff }}, // stopped whatever the mode
	} {
		if _, err := cl.Write(ctx, w.setting, w.value); err != nil {
			t.Fatalf("write %s: %v", w.setting, err)
		}
		w.apply()
		for range 3 {
			c.advance(5 * time.Minute)
			compare("after " + w.setting)
		}
	}
	r := cl.Read(ctx)
	if m := r.Metrics(); m["running"] != 0 || m["gas_m3h"] != 0 {
		t.Errorf("remote start off: running %v, gas %v", m["running"], m["gas_m3h"])
	}
	if st := r.Settings(); st["mode"] != "cooling" || st["run_enable"] != false {
		t.Errorf("settings %v; want mode cooling kept while the remote start is off", st)
	}
}

func TestGasMeterCounts(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 8, 5, 14, 0, 0, 0, jst)}
	s := start(t, modbussim.Config{Profile: modbussim.Chiller, Clock: c.now})
	cl, _ := modbus.NewClient(s.RegisterMap(), quiet())
	defer cl.Close()
	first := cl.Read(context.Background()).Metrics()
	c.advance(10 * time.Minute)
	second := cl.Read(context.Background()).Metrics()
	if first["gas_m3h"] <= 0 {
		t.Fatalf("no gas burnt on an August afternoon: %v", first)
	}
	// The meter adds the flow of the later step over the ten minutes.
	want := first["gas_total_m3"] + second["gas_m3h"]/6
	if math.Abs(second["gas_total_m3"]-want) > 0.011 {
		t.Errorf("gas meter %v then %v, want about %v", first["gas_total_m3"], second["gas_total_m3"], want)
	}
}

func TestIAQSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 11, 10, 3, 0, 0, 0, jst) // night: CO2 near outdoor's
	c := &clock{t: at}
	s := start(t, modbussim.Config{Profile: modbussim.IAQ, Seed: 2, Clock: c.now})
	cl, _ := modbus.NewClient(s.RegisterMap(), quiet())
	defer cl.Close()
	twin := model.NewIAQ(2, model.Office)
	first := cl.Read(ctx).Metrics()
	twin.Step(at)
	if first["co2_alarm"] != 0 {
		t.Fatalf("alarm at night at %v ppm", first["co2_ppm"])
	}
	if _, err := cl.Write(ctx, "co2_alarm_ppm", 400); err != nil {
		t.Fatal(err)
	}
	if rd, err := cl.Write(ctx, "temperature_offset_c", -1.5); err != nil || rd.Value != -1.5 {
		t.Fatalf("write offset: %v, %v", rd.Value, err)
	}
	next := c.advance(time.Minute)
	got := cl.Read(ctx).Metrics()
	want := twin.Step(next)
	if got["co2_alarm"] != 1 {
		t.Errorf("alarm %v at %v ppm with the threshold at 400", got["co2_alarm"], got["co2_ppm"])
	}
	if w := math.Round((want.Temperature-1.5)*10) / 10; got["temperature_c"] != w {
		t.Errorf("temperature %v with an offset of -1.5, want %v", got["temperature_c"], w)
	}
}

// The device refuses what its controller would, whatever client writes it.
func TestDeviceRefusals(t *testing.T) {
	t.Parallel()
	s := start(t, modbussim.Config{Profile: modbussim.Chiller})
	h := gm.NewTCPClientHandler(s.Addr())
	h.Timeout = 2 * time.Second
	h.SlaveId = 1
	defer h.Close()
	c := gm.NewClient(h)
	exception := func(what string, err error, want byte) {
		t.Helper()
		var me *gm.ModbusError
		if !errors.As(err, &me) || me.ExceptionCode != want {
			t.Errorf("%s: %v, want exception %d", what, err, want)
		}
	}
	_, err := c.WriteSingleRegister(0, 7)
	exception("mode 7", err, 3)
	_, err = c.WriteSingleRegister(1, 200) // 20.0 °C
	exception("chilled water at 20 °C", err, 3)
	// The high word of the hot water set-point (low word first): 0x4348
	// with the low word 0 makes 200 °C.
	_, err = c.WriteSingleRegister(3, 0x4348)
	exception("half of the hot water set-point", err, 3)
	_, err = c.WriteSingleRegister(9, 1)
	exception("a register that is not there", err, 2)
	_, err = c.WriteMultipleRegisters(0, 2, []byte{0, 2, 0, 90}) // mode heating, chilled water 9 °C
	if err != nil {
		t.Errorf("write mode and set-point together: %v", err)
	}
	if b, err := c.ReadHoldingRegisters(0, 2); err != nil || string(b) != string([]byte{0, 2, 0, 90}) {
		t.Errorf("read back % x, %v", b, err)
	}
	_, err = c.WriteMultipleRegisters(0, 2, []byte{0, 1, 0, 250})
	exception("a good mode with a bad set-point", err, 3)
	if b, _ := c.ReadHoldingRegisters(0, 2); string(b) != string([]byte{0, 2, 0, 90}) {
		t.Errorf("a refused write left % x, want the registers as they were", b)
	}
	_, err = c.ReadInputRegisters(6, 1)
	exception("an input register that is not there", err, 2)
	_, err = c.ReadInputRegisters(0, 7)
	exception("a read that runs past the last temperature", err, 2)
	if _, err := c.ReadInputRegisters(0, 6); err != nil {
		t.Errorf("read the six measurements: %v", err)
	}
	_, err = c.WriteSingleCoil(1, 0xFF00)
	exception("a coil that is not there", err, 2)
}

func TestFailAndClear(t *testing.T) {
	t.Parallel()
	s := start(t, modbussim.Config{Profile: modbussim.Bare})
	h := gm.NewTCPClientHandler(s.Addr())
	h.Timeout = 2 * time.Second
	h.SlaveId = 1
	defer h.Close()
	c := gm.NewClient(h)
	s.Fail(modbus.Holding, 100, modbus.ServerDeviceBusy)
	var me *gm.ModbusError
	if _, err := c.ReadHoldingRegisters(99, 2); !errors.As(err, &me) || me.ExceptionCode != 6 {
		t.Errorf("read across a failing address: %v", err)
	}
	if _, err := c.ReadHoldingRegisters(101, 2); err != nil {
		t.Errorf("read past it: %v", err)
	}
	s.Fail(modbus.Holding, 100, 0)
	if _, err := c.ReadHoldingRegisters(99, 2); err != nil {
		t.Errorf("read after clearing: %v", err)
	}
	h.SlaveId = 2
	if _, err := c.ReadHoldingRegisters(0, 1); !errors.As(err, &me) || me.ExceptionCode != 11 {
		t.Errorf("read from another unit: %v", err)
	}
	if s.Requests() != 4 {
		t.Errorf("%d requests counted, want 4", s.Requests())
	}
}

func TestMapFile(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"192.168.1.20:502", "[::1]:1502"} {
		text, err := modbussim.MapFile(modbussim.IAQ, addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		m, err := modbus.Parse(strings.NewReader(text), "iaq.yaml")
		if err != nil || m.Source.TCP != addr {
			t.Errorf("%s: the map's source is %q, %v", addr, m.Source.TCP, err)
		}
		if !strings.Contains(text, "# Register map of an RS-485 CO2") {
			t.Errorf("%s: the comments are gone", addr)
		}
	}
	if _, err := modbussim.MapFile(modbussim.Chiller, "no port"); err == nil || !strings.Contains(err.Error(), "is not HOST:PORT") {
		t.Errorf("MapFile at a bad address: %v", err)
	}
}

// The reference shows the shipped maps as they are.
func TestDocsShowTheShippedMaps(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "modbus.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"chiller.yaml": modbussim.ChillerMap, "iaq.yaml": modbussim.IAQMap} {
		if !strings.Contains(string(doc), "```yaml\n"+text+"```") {
			t.Errorf("docs/modbus.md does not show %s as shipped", name)
		}
	}
}
