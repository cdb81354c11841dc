package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/hearthiot/hearth/internal/membudget"
)

// startMemory works out the memory budget (--memory, else the container's
// cgroup limit, else half the machine) and shares it out: Go's memory
// limit, the time-series store's caches (unless --tsdb-memory sets them),
// and the levels past which the broker refuses new connections and
// messages. It runs first, so that everything after it is sized by it.
func (s *Server) startMemory(context.Context) error {
	b, err := membudget.Resolve(s.cfg.Memory, "/")
	if err != nil {
		return fmt.Errorf("memory budget: %w", err)
	}
	sizes := b.Split(s.cfg.TSDB.MemoryBytes)
	if sizes.TSDBCaches >= sizes.Budget || sizes.GoLimit < sizes.Budget/10 {
		return fmt.Errorf("--tsdb-memory %s does not fit in the memory budget of %s (%s)",
			membudget.FormatSize(sizes.TSDBCaches), membudget.FormatSize(sizes.Budget), b.Source)
	}
	s.budget = b
	s.cfg.TSDB.MemoryBytes = sizes.TSDBCaches
	before := debug.SetMemoryLimit(sizes.GoLimit)
	logger := s.logger.With("component", "memory")
	w := membudget.NewWatch(sizes, nil)
	w.Start(membudget.Interval, func(shedding bool, u membudget.Usage) {
		if shedding {
			logger.Warn("memory budget reached: new MQTT connections and messages are refused until memory is back",
				"live_heap_bytes", u.LiveHeap, "resident_bytes", u.Resident, "budget_bytes", sizes.Budget)
			return
		}
		logger.Info("memory is back below the budget: MQTT connections and messages are taken again",
			"live_heap_bytes", u.LiveHeap, "resident_bytes", u.Resident)
	})
	// The garbage collector's pace follows the budget's headroom
	// (membudget.GCPercent), unless GOGC chose one.
	paceGC := os.Getenv("GOGC") == ""
	gcBefore := 0
	if paceGC {
		gcBefore = debug.SetGCPercent(membudget.MinGCPercent)
		w.PaceGC(debug.SetGCPercent)
	}
	s.memory = w
	logger.Info("memory budget", "budget_bytes", sizes.Budget, "source", b.Source,
		"go_limit_bytes", sizes.GoLimit, "tsdb_cache_bytes", sizes.TSDBCaches, "gc_percent", w.GCPercent())
	s.onStop("memory budget", func(context.Context) error {
		w.Stop()
		debug.SetMemoryLimit(before)
		if paceGC {
			debug.SetGCPercent(gcBefore)
		}
		return nil
	})
	return nil
}

// writeMemoryMetrics writes the budget, how it is shared out, the last
// reading and what was refused for want of memory.
func (s *Server) writeMemoryMetrics(w io.Writer) {
	if s.memory == nil {
		return
	}
	sizes, u := s.memory.Sizes(), s.memory.Last()
	gauge(w, "hearth_memory_budget_bytes", "The memory budget (--memory, the container's limit or half the machine).", float64(sizes.Budget))
	gauge(w, "hearth_memory_tsdb_cache_bytes", "The time-series store's cache cap, from the budget or --tsdb-memory.", float64(sizes.TSDBCaches))
	gauge(w, "hearth_memory_live_heap_bytes", "Go heap alive after the last collection, as the memory watch last read it.", float64(u.LiveHeap))
	gauge(w, "hearth_memory_resident_anon_bytes", "Anonymous resident memory, as the memory watch last read it.", float64(u.Resident))
	gauge(w, "hearth_memory_gc_percent", "The garbage collector's pace (GOGC) the budget's headroom allows; 0 when GOGC is set.", float64(s.memory.GCPercent()))
	shedding := 0.0
	if s.memory.Shedding() {
		shedding = 1
	}
	gauge(w, "hearth_memory_shedding", "1 while memory is short and new MQTT connections and messages are refused.", shedding)
	counter(w, "hearth_memory_sheds_total", "Times memory became short and refusing began.", s.memory.Sheds())
	shed := s.broker.ShedStats()
	counter(w, "hearth_mqtt_shed_connects_total", "MQTT connections refused with 0x89 server busy because memory was short.", shed.Connects)
	counter(w, "hearth_mqtt_shed_publishes_total", "PUBLISH packets refused (0x97 quota exceeded, or dropped at QoS 0) because memory was short.", shed.Publishes)
}

// appendSlots bounds the appends to the time-series store running at once.
// Each holds VictoriaMetrics' insert buffer for up to 8,000 rows, about
// 0.5 MiB of heap, however few rows it carries; with one append per
// connection in flight, a thousand devices sending at once held half a
// gigabyte of heap, which counts against Go's memory limit and sets off
// refusals long before the memory is really short. More appends than a few
// per processor add no throughput: the store is CPU-bound. With the
// telemetry log on, one write per log commit stores the readings, one
// commit after another, so only the path without the log needs them.
type appendSlots chan struct{}

// appendSlotBytes is what one append holds in VictoriaMetrics' buffers.
const appendSlotBytes = 512 << 10

// newAppendSlots allows four appends per processor, fewer when a
// sixty-fourth of the budget does not hold their buffers, and never fewer
// than one per processor.
func newAppendSlots(b membudget.Budget) appendSlots {
	procs := runtime.GOMAXPROCS(0)
	n := min(4*procs, int(b.Bytes/64/appendSlotBytes))
	return make(appendSlots, max(n, procs))
}

func (s appendSlots) enter() { s <- struct{}{} }
func (s appendSlots) leave() { <-s }
