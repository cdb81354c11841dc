package modbus_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/modbussim"
)

// rounds collects a poller's reports.
type rounds struct {
	mu   sync.Mutex
	list []modbus.Round
	n    atomic.Int64
}

func (r *rounds) report(round modbus.Round) {
	r.mu.Lock()
	r.list = append(r.list, round)
	r.mu.Unlock()
	r.n.Add(1)
}

func (r *rounds) get() []modbus.Round {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]modbus.Round(nil), r.list...)
}

func startPoller(t *testing.T, m *modbus.Map, rs *rounds) *modbus.Poller {
	t.Helper()
	p, err := modbus.NewPoller(m, rs.report, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return p
}

// Each point is polled at its interval: the fast points in every round,
// the hourly point only in the first; a point that fails does not stop
// the others.
func TestPollerIntervalsAndFaults(t *testing.T) {
	t.Parallel()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Bare})
	m := parseMap(t, `source: {tcp: ADDR, interval: 100ms}
points:
  - {metric: fast, function: input, address: 0, type: uint16}
  - {metric: broken, function: input, address: 1, type: uint16}
  - {metric: also_fast, function: holding, address: 0, type: uint16, interval: 100ms}
  - {metric: hourly, function: input, address: 2, type: uint16, interval: 1h}
`, sim.Addr())
	sim.SetRegisters(modbus.Input, 0, 11, 0, 33)
	sim.SetRegisters(modbus.Holding, 0, 22)
	sim.Fail(modbus.Input, 1, modbus.ServerDeviceFailure)
	var rs rounds
	p := startPoller(t, m, &rs)
	eventually(t, "five rounds", func() bool { return rs.n.Load() >= 5 })
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rs.get()
	for i, r := range got {
		v := values(r)
		if v["fast"] != 11 || v["also_fast"] != 22 {
			t.Errorf("round %d: %v; want fast 11 and also_fast 22", i, v)
		}
		if _, ok := v["hourly"]; ok != (i == 0) {
			t.Errorf("round %d: hourly read %v; want it in the first round only", i, ok)
		}
		if len(r.Faults) != 1 || r.Faults[0].Exception != modbus.ServerDeviceFailure || r.Faults[0].Points[0].Metric != "broken" {
			t.Errorf("round %d faults:%s; want broken's exception 4", i, faultText(r.Faults))
		}
		if i > 0 && !r.Time.After(got[i-1].Time) {
			t.Errorf("round %d at %s, not after round %d", i, r.Time, i-1)
		}
	}
	// Nothing is reported after Stop.
	n := rs.n.Load()
	time.Sleep(300 * time.Millisecond)
	if rs.n.Load() != n {
		t.Errorf("%d rounds reported after Stop", rs.n.Load()-n)
	}
	if st := p.Stats(); st.Faults[modbus.FaultException] != uint64(n) {
		t.Errorf("%d exceptions counted for %d rounds", st.Faults[modbus.FaultException], n)
	}
}

// Writes go between rounds on the same connection, from other goroutines.
func TestPollerWriteWhilePolling(t *testing.T) {
	t.Parallel()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Chiller})
	m := sim.RegisterMap()
	for _, pt := range m.Points {
		pt.Interval = 100 * time.Millisecond
	}
	var rs rounds
	p := startPoller(t, m, &rs)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 5 {
				v := 5.0 + float64(i) + float64(j)/10
				if rd, err := p.Write(context.Background(), "chw_setpoint_c", v); err != nil || rd.Value != v {
					t.Errorf("write %v: %v, %v", v, rd.Value, err)
				}
			}
		})
	}
	wg.Wait()
	eventually(t, "a round after the writes", func() bool { return rs.n.Load() >= 2 })
	if st := p.Stats(); st.Writes != 20 || st.Connects != 1 {
		t.Errorf("stats %+v; want 20 writes on one connection", st)
	}
}

// Stop waits for the round in flight; a Stop whose context ends first says
// so, and the poller still stops.
func TestPollerStopBoundedByContext(t *testing.T) {
	t.Parallel()
	sim := startSim(t, modbussim.Config{Profile: modbussim.Bare})
	m := parseMap(t, "source: {tcp: ADDR, timeout: 300ms}\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n", sim.Addr())
	sim.SetDelay(time.Minute)
	var rs rounds
	p, err := modbus.NewPoller(m, rs.report, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded")
	}
	eventually(t, "the request reaches the device", func() bool { return sim.Requests() > 0 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop with an ended context: %v", err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if rs.n.Load() != 0 {
		t.Errorf("%d rounds reported; the one cut short by Stop must not be", rs.n.Load())
	}
	if _, err := p.Write(context.Background(), "a", 1); err == nil {
		t.Error("write after Stop succeeded")
	}
}

func TestNewPollerRefuses(t *testing.T) {
	t.Parallel()
	m := &modbus.Map{Source: modbus.Source{TCP: "127.0.0.1:502"}, Points: []*modbus.Point{{Metric: "a", Function: modbus.Input, Type: modbus.Int16, Scale: 1}}}
	if _, err := modbus.NewPoller(m, nil, testLogger(t)); err == nil {
		t.Error("a poller without a report function")
	}
	if _, err := modbus.NewPoller(&modbus.Map{}, func(modbus.Round) {}, testLogger(t)); err == nil {
		t.Error("a poller of an empty map")
	}
}
