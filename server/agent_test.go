package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hearthiot/hearth/agent"
	"github.com/hearthiot/hearth/agent/equipment"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/sim/modbussim"
	"github.com/hearthiot/hearth/store"
)

// The gateway agent against the real server and the real Modbus simulator,
// all on loopback. The agent samples every 200 ms so that the tests take
// seconds; nothing asserts on how long anything took.

// agentRun is a running agent.
type agentRun struct {
	a      *agent.Agent
	dir    string // its spool directory
	logs   *logRecords
	polls  *atomic.Int64
	cancel context.CancelFunc
	done   chan error
}

// startSim starts a Modbus simulator of profile p on a free loopback port.
func startSim(t *testing.T, p modbussim.Profile) *modbussim.Sim {
	t.Helper()
	sim, err := modbussim.New(modbussim.Config{Addr: "127.0.0.1:0", Profile: p, Seed: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sim.Stop(ctx)
	})
	return sim
}

// agentConfig writes the credentials of d and an agent configuration for
// device name, with the profile's register map pointed at sim, and returns
// the configuration file.
func agentConfig(t *testing.T, h *hearth, dir, name string, d issuedDevice, withCert bool, p modbussim.Profile, sim *modbussim.Sim) string {
	t.Helper()
	write := func(file, content string) string {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	creds := "  secret_file: " + write("secret", d.Secret+"\n")
	if withCert {
		creds = "  certificate_file: " + write("certificate.pem", d.CertificatePEM) + "\n  key_file: " + write("private-key.pem", d.PrivateKeyPEM)
	}
	mapYAML, err := modbussim.MapYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	mapYAML = strings.ReplaceAll(mapYAML, modbussim.DefaultAddr, sim.Addr())
	// Read the points without an interval of their own at every sample,
	// so that faults show within a sample or two.
	mapYAML = regexp.MustCompile(`(?m)^  interval: .*$`).ReplaceAllString(mapYAML, "  interval: 200ms")
	var indented strings.Builder
	for _, line := range strings.Split(mapYAML, "\n") {
		indented.WriteString("  " + line + "\n")
	}
	cfg := fmt.Sprintf(`device: %s
hearth:
  address: %s
  ca_file: %s
%s
  reconnect: {min: 100ms, max: 500ms}
spool:
  dir: spool
telemetry:
  interval: 200ms
  batch: 1000
log:
  level: debug
modbus:
%s`, name, h.mqtts, write("ca.pem", d.CAPEM), creds, indented.String())
	return write("agent.yaml", cfg)
}

// countingEquipment numbers the polls: each sample carries sample_seq
// 1, 2, 3, …, so that what Hearth stored can be checked for gaps, repeats
// and order.
type countingEquipment struct {
	agent.Equipment
	n *atomic.Int64
}

func (e countingEquipment) Poll(ctx context.Context) agent.Poll {
	p := e.Equipment.Poll(ctx)
	if p.Values == nil {
		p.Values = map[string]float64{}
	}
	p.Values["sample_seq"] = float64(e.n.Add(1))
	return p
}

// startAgent runs the agent of the configuration file in dir until the
// test ends or stop is called.
func startAgent(t *testing.T, dir, file string) *agentRun {
	t.Helper()
	return startAgentWith(t, dir, file, agent.Options{})
}

func startAgentWith(t *testing.T, dir, file string, opts agent.Options) *agentRun {
	t.Helper()
	cfg, err := agent.LoadConfig(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	m, err := modbus.ParseNode(cfg.Modbus, file)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logRecords{}
	logger := slog.New(logs)
	c, err := modbus.NewClient(m, logger.With("component", "modbus"))
	if err != nil {
		t.Fatal(err)
	}
	polls := new(atomic.Int64)
	eq := countingEquipment{equipment.New(c, cfg.Telemetry.Interval), polls}
	a, err := agent.New(cfg, eq, logger, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &agentRun{a: a, dir: cfg.Spool.Dir, logs: logs, polls: polls, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := a.Run(ctx)
		c.Close()
		r.done <- err
	}()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() || os.Getenv("HEARTH_TEST_AGENT_LOG") != "" {
			logs.dump(t)
		}
	})
	return r
}

func (r *agentRun) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("agent run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop within 30 s")
	}
}

// logRecords is a slog handler that keeps every record, so that tests can
// see what the agent did.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecords) WithAttrs(as []slog.Attr) slog.Handler {
	// Records of every derived logger land in the same list.
	return &logView{l, as}
}
func (l *logRecords) WithGroup(string) slog.Handler { return l }

type logView struct {
	l  *logRecords
	as []slog.Attr
}

func (v *logView) Enabled(context.Context, slog.Level) bool { return true }
func (v *logView) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(v.as...)
	return v.l.Handle(ctx, r)
}
func (v *logView) WithAttrs(as []slog.Attr) slog.Handler {
	return &logView{v.l, append(slices.Clone(v.as), as...)}
}
func (v *logView) WithGroup(string) slog.Handler { return v }

// dump writes the agent's log to the test's.
func (l *logRecords) dump(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		var b strings.Builder
		fmt.Fprintf(&b, "agent %s %s %q", r.Time.Format("15:04:05.000"), r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
			return true
		})
		t.Log(b.String())
	}
}

// find returns the attributes of the records with message msg whose
// attribute key has value.
func (l *logRecords) find(msg, key, value string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		if attrs[key] == value {
			out = append(out, attrs)
		}
	}
	return out
}

// shadowOf reads a device's classic shadow through the API.
func (h *hearth) shadowOf(token, name string) (desired, reported map[string]any) {
	h.t.Helper()
	var doc struct {
		State struct {
			Desired  map[string]any `json:"desired"`
			Reported map[string]any `json:"reported"`
		} `json:"state"`
	}
	if st := h.apiCall(token, "GET", "/api/v1/devices/"+name+"/shadow", nil, &doc); st != http.StatusOK && st != http.StatusNotFound {
		h.t.Fatalf("get shadow of %s: status %d", name, st)
	}
	return doc.State.Desired, doc.State.Reported
}

func (h *hearth) patchDesired(token, name string, desired map[string]any) {
	h.t.Helper()
	if st := h.apiCall(token, "PATCH", "/api/v1/devices/"+name+"/shadow", map[string]any{"state": map[string]any{"desired": desired}}, nil); st != http.StatusOK {
		h.t.Fatalf("patch desired of %s: status %d", name, st)
	}
}

// rawSamples returns every stored sample of metric for device, oldest
// first, as the Prometheus API's instant query of a range selector gives
// them (raw, not evaluated at steps).
func (h *hearth) rawSamples(token, device, metric string) (ts []int64, values []float64) {
	h.t.Helper()
	h.srv.TSDBForTest().Flush()
	var res struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	q := fmt.Sprintf(`%s{device=%q}[8d]`, metric, device)
	if st := h.apiCall(token, "GET", "/prometheus/api/v1/query?query="+url.QueryEscape(q), nil, &res); st != http.StatusOK {
		h.t.Fatalf("query %s: status %d", q, st)
	}
	if len(res.Data.Result) > 1 || res.Data.ResultType != "matrix" && len(res.Data.Result) > 0 {
		h.t.Fatalf("query %s: %d series of type %q; want one matrix", q, len(res.Data.Result), res.Data.ResultType)
	}
	for _, r := range res.Data.Result {
		for _, p := range r.Values {
			sec, _ := p[0].(float64)
			v, err := strconv.ParseFloat(fmt.Sprint(p[1]), 64)
			if err != nil {
				h.t.Fatalf("query %s: value %v", q, p[1])
			}
			ts = append(ts, int64(math.Round(sec*1000)))
			values = append(values, v)
		}
	}
	return ts, values
}

// TestAgentChiller: the agent connects with its certificate, its readings
// of the simulated chiller arrive as telemetry, and it reports the settings
// the controller holds; a set-point PATCHed through the API is written to
// the simulator's register, read back and reported; an out-of-range one is
// not written, the real value is reported and an event says why.
func TestAgentChiller(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "chiller-1", "acme")
	sim := startSim(t, modbussim.Chiller)
	dir := t.TempDir()
	// The agent's device events reach Hearth's event bus.
	bus := h.srv.Events().Subscribe(256)
	defer bus.Close()
	run := startAgent(t, dir, agentConfig(t, h, dir, "chiller-1", d, true, modbussim.Chiller, sim))

	eventually(t, "the chiller's readings to arrive", func() bool {
		v := h.latest(op, "chiller-1")
		_, supply := v["chw_supply_c"]
		return supply && v["chw_setpoint_c"] == 7 && v["agent_spool_backlog"] >= 0 && v["sample_seq"] > 1
	})
	eventually(t, "the settings to be reported", func() bool {
		_, rep := h.shadowOf(op, "chiller-1")
		return rep["mode"] == "cooling" && rep["chw_setpoint_c"] == 7.0 && rep["hw_setpoint_c"] == 55.0 && rep["run_enable"] != nil
	})

	// A set-point from the API reaches the register (int16, tenths) and
	// comes back as what the controller holds.
	h.patchDesired(op, "chiller-1", map[string]any{"chw_setpoint_c": 8.5, "mode": "heating"})
	eventually(t, "chw_setpoint_c 8.5 written and reported", func() bool {
		_, rep := h.shadowOf(op, "chiller-1")
		return rep["chw_setpoint_c"] == 8.5 && rep["mode"] == "heating"
	})
	if got := sim.Registers(modbus.Holding, 0, 2); got[0] != 2 || got[1] != 85 {
		t.Errorf("holding registers 0-1 = %v; want mode 2 (heating) and set-point 85 (8.5 °C in tenths)", got)
	}

	// Out of range for the register map (4 to 15 °C): not written, the
	// real value reported, and an event that Hearth acknowledged.
	h.patchDesired(op, "chiller-1", map[string]any{"chw_setpoint_c": 25})
	eventually(t, "the setting_out_of_range event to be sent", func() bool {
		return len(run.logs.find("device event sent", "code", agent.CodeSettingOutOfRange)) > 0
	})
	ev := run.logs.find("device event sent", "code", agent.CodeSettingOutOfRange)[0]
	if ev["level"] != protocol.LevelWarning || !strings.Contains(ev["message"], "chw_setpoint_c 25 is out of range; it takes from 4 to 15 °C") {
		t.Errorf("event %v", ev)
	}
	if got := sim.Registers(modbus.Holding, 1, 1); got[0] != 85 {
		t.Errorf("set-point register = %d after a refused value; want 85 still", got[0])
	}
	desired, rep := h.shadowOf(op, "chiller-1")
	if desired["chw_setpoint_c"] != 25.0 || rep["chw_setpoint_c"] != 8.5 {
		t.Errorf("desired %v reported %v; want 25 desired and the real 8.5 reported", desired["chw_setpoint_c"], rep["chw_setpoint_c"])
	}
	// The event went out once, not once per delta or reconnect.
	if n := len(run.logs.find("device event sent", "code", agent.CodeSettingOutOfRange)); n != 1 {
		t.Errorf("%d setting_out_of_range events; want 1", n)
	}

	// A point that answers with an exception is a fault event and a count
	// in telemetry; the other points go on.
	faultsBefore := h.latest(op, "chiller-1")["agent_modbus_faults_total"]
	sim.Fail(modbus.Input, 0, modbus.IllegalDataAddress)
	eventually(t, "the modbus_exception event to be sent", func() bool {
		return len(run.logs.find("device event sent", "code", "modbus_exception")) > 0
	})
	if ev := run.logs.find("device event sent", "code", "modbus_exception")[0]; !strings.Contains(ev["message"], "point chw_supply_c") ||
		!strings.Contains(ev["message"], "illegal data address") {
		t.Errorf("fault event %v; want it to name chw_supply_c and the exception", ev)
	}
	seq := h.latest(op, "chiller-1")["sample_seq"]
	eventually(t, "faults counted while the other points go on", func() bool {
		v := h.latest(op, "chiller-1")
		return v["agent_modbus_faults_total"] > faultsBefore && v["sample_seq"] > seq+2
	})
	sim.Fail(modbus.Input, 0, 0)
	eventually(t, "the modbus_recovered event to be sent", func() bool {
		return len(run.logs.find("device event sent", "code", agent.CodeModbusRecovered)) > 0
	})
	seen := map[string]bool{}
	eventually(t, "the events on Hearth's bus", func() bool {
		for len(bus.C()) > 0 {
			if de, ok := (<-bus.C()).(events.DeviceEvent); ok && de.Device == "chiller-1" {
				seen[de.Code] = true
			}
		}
		return seen[agent.CodeSettingOutOfRange] && seen["modbus_exception"] && seen[agent.CodeModbusRecovered]
	})
}

// TestAgentProgram: the operating program from the shadow is kept by the
// agent and its next step is applied on time while Hearth is down; when
// Hearth is back, the shadow shows the step's settings and the step has
// cleared them from desired. The agent's clock is set back to a moment
// before the step, so the test waits seconds, not hours; its samples are
// then back-fill from that morning.
func TestAgentProgram(t *testing.T) {
	hdir := t.TempDir()
	h := startHearth(t, hdir)
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "chiller-2", "acme")
	sim := startSim(t, modbussim.Chiller)
	dir := t.TempDir()

	// The agent's clock reads 06:59:57 UTC of today or yesterday, whichever
	// is past, when the agent starts.
	real := time.Now()
	morning := time.Date(real.Year(), real.Month(), real.Day(), 6, 59, 57, 0, time.UTC)
	if morning.After(real) {
		morning = morning.AddDate(0, 0, -1)
	}
	offset := morning.Sub(real)
	run := startAgentWith(t, dir, agentConfig(t, h, dir, "chiller-2", d, false, modbussim.Chiller, sim),
		agent.Options{Now: func() time.Time { return time.Now().Add(offset) }})
	eventually(t, "the settings to be reported", func() bool {
		_, rep := h.shadowOf(op, "chiller-2")
		return rep["mode"] == "cooling"
	})

	// The program: off since midnight, heating at 45 °C from 07:00.
	prog := map[string]any{"date": morning.Format(time.DateOnly), "tz": "UTC", "steps": []any{
		map[string]any{"at": "00:00", "set": map[string]any{"mode": "off"}},
		map[string]any{"at": "07:00", "set": map[string]any{"mode": "heating", "hw_setpoint_c": 45}},
	}}
	h.patchDesired(op, "chiller-2", map[string]any{"program": prog, "hw_setpoint_c": 60})
	eventually(t, "the program to be applied and reported", func() bool {
		_, rep := h.shadowOf(op, "chiller-2")
		return rep["mode"] == "off" && rep["program"] != nil && rep["hw_setpoint_c"] == 60.0
	})
	if _, err := os.Stat(filepath.Join(run.dir, "program.json")); err != nil {
		t.Errorf("program not kept on disk: %v", err)
	}

	// Hearth goes away; the 07:00 step happens all the same.
	addr := h.mqtts
	h.stop()
	eventually(t, "the 07:00 step to reach the controller", func() bool {
		r := sim.Registers(modbus.Holding, 0, 1)
		return r[0] == 2 // heating
	})
	eventually(t, "the step's event to be raised", func() bool {
		return len(run.logs.find("operating program step applied", "", "")) > 0
	})

	h2 := startHearthWith(t, hdir, func(c *server.Config) { c.MQTT.Addr = addr })
	eventually(t, "the step to be reported and cleared from desired", func() bool {
		desired, rep := h2.shadowOf(op, "chiller-2")
		_, hwDesired := desired["hw_setpoint_c"]
		_, modeDesired := desired["mode"]
		return rep["mode"] == "heating" && rep["hw_setpoint_c"] == 45.0 && !hwDesired && !modeDesired && desired["program"] != nil
	})
	eventually(t, "the program_step event to reach Hearth", func() bool {
		return len(run.logs.find("device event sent", "code", agent.CodeProgramStep)) > 0
	})
}

// TestAgentStoreAndForward: Hearth stops while the agent samples; the
// samples wait in the spool and, once Hearth is back on the same address,
// are back-filled. Every sample arrives exactly once, in order.
func TestAgentStoreAndForward(t *testing.T) {
	hdir := t.TempDir()
	h := startHearth(t, hdir)
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "co2-1", "acme")
	sim := startSim(t, modbussim.IAQ)
	dir := t.TempDir()
	run := startAgent(t, dir, agentConfig(t, h, dir, "co2-1", d, false, modbussim.IAQ, sim))

	eventually(t, "samples to arrive", func() bool { return h.latest(op, "co2-1")["sample_seq"] >= 3 })
	addr := h.mqtts
	h.stop()

	// Samples pile up while Hearth is away.
	before := run.polls.Load()
	eventually(t, "samples to be spooled while Hearth is down", func() bool { return run.a.Spooled() >= 10 && run.polls.Load() >= before+10 })
	if run.a.Connected() {
		t.Fatal("agent says it is connected while Hearth is stopped")
	}

	h2 := startHearthWith(t, hdir, func(c *server.Config) { c.MQTT.Addr = addr })
	eventually(t, "the spool to drain after Hearth's restart", func() bool { return run.a.Connected() && run.a.Spooled() == 0 })
	// Some more samples after the back-fill, then stop the agent.
	after := run.polls.Load()
	eventually(t, "samples after the back-fill", func() bool { return run.polls.Load() >= after+3 && run.a.Spooled() == 0 })
	run.stop(t)
	polls := run.polls.Load()

	// The spool is empty: everything it held was acknowledged.
	s, err := agent.OpenSpool(run.dir, agent.SpoolOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	left := s.Stats().Samples
	s.Close()
	if left != 0 {
		t.Errorf("%d samples left in the spool after the agent stopped", left)
	}

	// The last poll may have been cut short by the stop and not spooled.
	// Samples written last become searchable a moment later.
	var ts []int64
	var seqs []float64
	eventually(t, "the samples to be searchable", func() bool {
		ts, seqs = h2.rawSamples(op, "co2-1", "sample_seq")
		return int64(len(seqs)) >= polls-1
	})
	if n := int64(len(seqs)); n > polls {
		t.Errorf("Hearth holds %d samples; the agent took %d", n, polls)
	}
	for i, v := range seqs {
		if v != float64(i+1) {
			t.Fatalf("sample %d (ts %d) has sample_seq %v; want %d: a sample is missing, repeated or out of order\nall: %v", i, ts[i], v, i+1, seqs)
		}
		if i > 0 && ts[i] <= ts[i-1] {
			t.Fatalf("sample %d has ts %d, not after %d", i, ts[i], ts[i-1])
		}
	}
	// The CO2 readings came along, in the same samples.
	co2ts, _ := h2.rawSamples(op, "co2-1", "co2_ppm")
	if !slices.Equal(co2ts, ts) {
		t.Errorf("co2_ppm samples at %v; want one in each numbered sample, at %v", co2ts, ts)
	}
	if len(run.logs.find("hearth connection lost", "", "")) == 0 && len(run.logs.find("hearth connection failed", "", "")) == 0 {
		t.Error("the agent never logged losing Hearth")
	}
}

// TestAgentWeekBackfill measures the gateway binary (cmd/hearth-agent)
// holding a week of one-minute samples (the spool's default bound) while
// Hearth is down, and back-filling them when Hearth is back: its memory
// (VmRSS, VmHWM), the spool on disk, and how long the back-fill takes; and
// checks that every sample arrives once. It builds the binary, so it runs
// only when asked:
//
//	HEARTH_AGENT_WEEK=1 go test ./server -run AgentWeekBackfill -v
func TestAgentWeekBackfill(t *testing.T) {
	if os.Getenv("HEARTH_AGENT_WEEK") == "" {
		t.Skip("set HEARTH_AGENT_WEEK=1 to measure a week's back-fill")
	}
	bin := filepath.Join(t.TempDir(), "hearth-agent")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hearth-agent")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	hdir := t.TempDir()
	production := func(c *server.Config) { c.Telemetry.MaxBatch = 1000; c.MQTT.MaxPayload = 128 << 10 }
	h := startHearthWith(t, hdir, production)
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "chiller-w", "acme")
	sim := startSim(t, modbussim.Chiller)
	dir := t.TempDir()
	file := agentConfig(t, h, dir, "chiller-w", d, true, modbussim.Chiller, sim)
	cfgText, _ := os.ReadFile(filepath.Join(dir, file))
	os.WriteFile(filepath.Join(dir, file), []byte(strings.Replace(string(cfgText), "interval: 200ms\n  batch: 1000", "interval: 1m\n  batch: 1000", 1)), 0o600)

	// A week of samples, as a week without Hearth leaves them; the agent's
	// first sample at its start makes the week full.
	const week = agent.DefaultSpoolSamples - 1
	s, err := agent.OpenSpool(filepath.Join(dir, "spool"), agent.SpoolOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-7 * 24 * time.Hour).Truncate(time.Minute)
	for i := range week {
		ts := start.Add(time.Duration(i) * time.Minute).UnixMilli()
		p := fmt.Appendf(nil, `{"ts":%d,"values":{"sample_seq":%d,"chw_supply_c":%.2f,"chw_return_c":12.34,"hw_supply_c":54.87,"hw_return_c":49.91,"load_pct":63.4,"fault":0,"outside_temp_c":31.482,"gas_m3h":41.7355,"gas_total_m3":%.2f,"chw_setpoint_c":7,"hw_setpoint_c":55,"running":1,"agent_modbus_faults_total":0,"agent_spool_backlog":%d,"agent_spool_dropped_total":0,"agent_telemetry_rejected_total":0}}`,
			ts, i+1, 7+float64(i%100)/100, 1000+float64(i)/10, i)
		if _, err := s.Append(ts, p); err != nil {
			t.Fatal(err)
		}
	}
	disk := s.Stats().Bytes
	s.Close()
	addr := h.mqtts
	h.stop()

	logs := &syncedBuffer{}
	cmd := exec.Command(bin, "--config", filepath.Join(dir, file))
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	time.Sleep(10 * time.Second) // holding the week, retrying Hearth
	rss, hwm := procMemory(t, cmd.Process.Pid)
	t.Logf("holding %d samples: spool %d bytes on disk (%.0f bytes a sample); agent VmRSS %d KiB, VmHWM %d KiB", week, disk, float64(disk)/week, rss, hwm)

	began := time.Now()
	h2 := startHearthWith(t, hdir, func(c *server.Config) { production(c); c.MQTT.Addr = addr })
	var seqs []float64
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		_, seqs = h2.rawSamples(op, "chiller-w", "sample_seq")
		if len(seqs) >= week {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	took := time.Since(began)
	rss, hwm = procMemory(t, cmd.Process.Pid)
	t.Logf("back-fill of %d samples: %s after Hearth started (Hearth's start included); agent VmRSS %d KiB, VmHWM %d KiB", len(seqs), took.Round(10*time.Millisecond), rss, hwm)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("agent exit: %v\n%s", err, logs)
	}
	// The prefilled week, then the agent's own samples (without sample_seq).
	if len(seqs) != week {
		var missing []int
		for i, j := 0, 1; j <= week; j++ {
			if i < len(seqs) && seqs[i] == float64(j) {
				i++
				continue
			}
			missing = append(missing, j)
		}
		t.Fatalf("Hearth holds %d of the %d samples; missing %v\n%s", len(seqs), week, missing[:min(len(missing), 20)], logs)
	}
	for i, v := range seqs {
		if v != float64(i+1) {
			t.Fatalf("sample %d has sample_seq %v; want %d", i, v, i+1)
		}
	}
}

// procMemory reads a process's resident and peak resident memory in KiB.
func procMemory(t *testing.T, pid int) (rss, hwm int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			if f[0] == "VmRSS:" {
				rss = n
			} else {
				hwm = n
			}
		}
	}
	return rss, hwm
}

// syncedBuffer is a bytes.Buffer safe for a process's writes and a test's
// reads.
type syncedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
