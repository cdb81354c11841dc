package server_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/internal/membudget"
	"github.com/hearthiot/hearth/server"
)

// metric reads one metric from /metrics; NaN when it is missing.
func (h *hearth) metric(name string) float64 {
	h.t.Helper()
	resp, err := h.client.Get(h.https + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				h.t.Fatalf("/metrics %s: %v", name, err)
			}
			return f
		}
	}
	return math.NaN()
}

// --memory sets Go's memory limit and the time-series store's caches from
// one figure, /metrics shows them, and Stop gives the limit back.
func TestMemoryBudget(t *testing.T) {
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Memory = membudget.Spec{Bytes: 1 << 30}
		c.TSDB.MemoryBytes = 0 // a share of the budget
	})
	want := membudget.Budget{Bytes: 1 << 30}.Split(0)
	if got := debug.SetMemoryLimit(-1); got != want.GoLimit {
		t.Errorf("Go memory limit %d; want %d", got, want.GoLimit)
	}
	for name, v := range map[string]int64{
		"hearth_memory_budget_bytes":       1 << 30,
		"hearth_memory_tsdb_cache_bytes":   want.TSDBCaches,
		"go_memlimit_bytes":                want.GoLimit,
		"hearth_memory_shedding":           0,
		"hearth_mqtt_shed_connects_total":  0,
		"hearth_mqtt_shed_publishes_total": 0,
	} {
		if got := h.metric(name); got != float64(v) {
			t.Errorf("/metrics %s = %g; want %d", name, got, v)
		}
	}
	// The collector's pace follows the budget (unless GOGC is set for the
	// test run): the metric says the pace in force.
	paced := os.Getenv("GOGC") == ""
	if got := h.metric("hearth_memory_gc_percent"); paced && (got < membudget.MinGCPercent || got > membudget.MaxGCPercent) {
		t.Errorf("/metrics hearth_memory_gc_percent = %g; want %d to %d", got, membudget.MinGCPercent, membudget.MaxGCPercent)
	}
	h.stop()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("Go memory limit after Stop: %d; want none (%d)", got, int64(math.MaxInt64))
	}
	if paced {
		if gc := debug.SetGCPercent(100); gc != 100 {
			t.Errorf("GOGC after Stop: %d; want Go's default back", gc)
		}
	}
}

// A GOGC in the environment is the operator's choice: the budget does not
// pace the collector then.
func TestMemoryBudgetKeepsGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) { c.Memory = membudget.Spec{Bytes: 1 << 30} })
	if got := h.metric("hearth_memory_gc_percent"); got != 0 {
		t.Errorf("/metrics hearth_memory_gc_percent = %g; want 0 (not pacing)", got)
	}
	if gc := debug.SetGCPercent(150); gc != 150 {
		t.Errorf("GOGC while serving: %d; want the environment's 150", gc)
	}
	h.stop()
}

// --tsdb-memory is a cap within the budget: one that does not fit is an
// error at start, not a process that outgrows its container.
func TestMemoryBudgetTSDBOverride(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr, cfg.MQTT.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Memory = membudget.Spec{Bytes: 256 << 20}
	cfg.TSDB.MemoryBytes = 256 << 20
	srv, err := server.New(cfg, "test", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--tsdb-memory 256MiB does not fit in the memory budget of 256MiB") {
		t.Fatalf("start with the caches as large as the budget: %v", err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("Go memory limit after a failed start: %d", got)
	}
}

// With a budget smaller than what the process already holds, Hearth
// refuses new devices with CONNACK 0x89 rather than take them on, and
// /metrics says so.
func TestMemoryBudgetSheds(t *testing.T) {
	// The process holds this much live heap until the end of the test:
	// more than the budget's refusal level however small the rest is.
	ballast := make([]byte, membudget.MinBytes)
	for i := range ballast {
		ballast[i] = 1
	}
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Memory = membudget.Spec{Bytes: membudget.MinBytes}
		c.TSDB.MemoryBytes = 0
	})
	op := h.token("operator", "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "meter-1", "acme")
	var ack byte
	eventually(t, "a connect refused for want of memory", func() bool {
		_, connack, err := h.v5("meter-1", d, true, "")
		if err == nil || connack == nil {
			return false
		}
		ack = connack.ReasonCode
		return true
	})
	if ack != 0x89 {
		t.Errorf("CONNACK %#x; want 0x89 server busy", ack)
	}
	if got := h.metric("hearth_memory_shedding"); got != 1 {
		t.Errorf("/metrics hearth_memory_shedding = %g; want 1", got)
	}
	if got := h.metric("hearth_mqtt_shed_connects_total"); got < 1 {
		t.Errorf("/metrics hearth_mqtt_shed_connects_total = %g; want at least 1", got)
	}
	if ballast[len(ballast)-1] != 1 {
		t.Fatal("ballast changed")
	}
}
