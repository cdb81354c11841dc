package membudget

import (
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sizes is how a budget is shared out.
type Sizes struct {
	// Budget is the whole: what the process's resident memory stays under.
	Budget int64
	// GoLimit is Go's soft memory limit (debug.SetMemoryLimit): the heap,
	// goroutine stacks and the runtime's own memory. The rest of the budget
	// is for what the Go runtime does not see: the time-series store's
	// caches (off the Go heap), the pages of its files and of the bbolt
	// file mapped into the process, and memory the kernel has not taken
	// back yet.
	GoLimit int64
	// TSDBCaches caps the time-series store's caches.
	TSDBCaches int64
	// ShedHeap and ShedResident are where new work is refused: live heap
	// (what a garbage collection cannot free) above ShedHeap, or anonymous
	// resident memory above ShedResident. Work is taken again once both are
	// below ResumeHeap and ResumeResident.
	ShedHeap, ResumeHeap         int64
	ShedResident, ResumeResident int64
}

// Shares of the budget; see Sizes.
const (
	goLimitShare  = 0.70
	tsdbShare     = 0.20
	shedHeapShare = 0.80 // of GoLimit: past it, GC runs nearly back to back
	shedRSSShare  = 0.90 // of Budget
	resumeMargin  = 0.10 // resume this much (of each threshold's base) below it
)

// Split shares out a budget. tsdbCaches, when positive, caps the
// time-series store's caches instead of the budget's share. The caches
// live off the Go heap but count in the resident memory, so a cap larger
// than the share is taken from the Go limit: Go and the caches together
// stay within the shares they have between them, below ShedResident, or
// refusals could start once the caches fill and never end. A cap that
// leaves the Go limit at nothing or less is the caller's to refuse.
func (b Budget) Split(tsdbCaches int64) Sizes {
	s := Sizes{
		Budget:     b.Bytes,
		GoLimit:    int64(float64(b.Bytes) * goLimitShare),
		TSDBCaches: int64(float64(b.Bytes) * tsdbShare),
	}
	if tsdbCaches > 0 {
		s.TSDBCaches = tsdbCaches
		s.GoLimit = min(s.GoLimit, int64(float64(b.Bytes)*(goLimitShare+tsdbShare))-tsdbCaches)
	}
	s.ShedHeap = int64(float64(s.GoLimit) * shedHeapShare)
	s.ResumeHeap = int64(float64(s.GoLimit) * (shedHeapShare - resumeMargin))
	s.ShedResident = int64(float64(s.Budget) * shedRSSShare)
	s.ResumeResident = int64(float64(s.Budget) * (shedRSSShare - resumeMargin))
	return s
}

// Usage is one reading of the process's memory.
type Usage struct {
	LiveHeap int64 // heap bytes alive at the end of the last collection
	Resident int64 // anonymous resident bytes (resident minus file pages)
}

// ReadUsage reads the live heap from the Go runtime and the resident memory
// from /proc/self/statm. Neither stops the world.
func ReadUsage() Usage {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	var u Usage
	if s[0].Value.Kind() == metrics.KindUint64 {
		u.LiveHeap = int64(s[0].Value.Uint64())
	}
	u.Resident, _ = anonResident()
	return u
}

var pageSize = int64(os.Getpagesize())

// anonResident reads resident minus shared (file-backed) pages.
func anonResident() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0, fmt.Errorf("cannot parse /proc/self/statm %q", b)
	}
	res, err1 := strconv.ParseInt(f[1], 10, 64)
	shared, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cannot parse /proc/self/statm %q", b)
	}
	return (res - shared) * pageSize, nil
}

// Interval is how often a Watch reads the memory: often enough that a
// burst of work meets a refusal within a fraction of a second, rarely
// enough to cost nothing (a read is a few microseconds).
const Interval = 100 * time.Millisecond

// Watch reads the memory at an interval and says whether work is to be
// refused. Its Shedding is one atomic load, cheap for every message.
type Watch struct {
	sizes    Sizes
	read     func() Usage
	shedding atomic.Bool
	last     atomic.Pointer[Usage]

	// Sheds counts the times the watch started refusing work.
	sheds atomic.Uint64
	// onChange, when set, is told each start and end of refusing, on the
	// goroutine that noticed it.
	onChange func(shedding bool, u Usage)
	// setGC, when set (PaceGC), is given the pace GCPercent picks after a
	// reading that changed it; gcPercent is the pace it was last given.
	setGC     func(percent int) int
	gcPercent atomic.Int64

	stopOnce sync.Once
	started  atomic.Bool
	stop     chan struct{}
	done     chan struct{}
}

// NewWatch makes a watch over sizes; read is ReadUsage outside tests.
func NewWatch(sizes Sizes, read func() Usage) *Watch {
	if read == nil {
		read = ReadUsage
	}
	w := &Watch{sizes: sizes, read: read, stop: make(chan struct{}), done: make(chan struct{})}
	w.Check()
	return w
}

// PaceGC makes the watch set the garbage collector's pace (GCPercent) from
// each reading, through set (debug.SetGCPercent outside tests), starting
// now. Call it before Start.
func (w *Watch) PaceGC(set func(percent int) int) {
	w.setGC = set
	w.paceGC(w.Last())
}

// GCPercent returns the pace the watch last set; 0 when it does not pace.
func (w *Watch) GCPercent() int { return int(w.gcPercent.Load()) }

func (w *Watch) paceGC(u Usage) {
	if w.setGC == nil {
		return
	}
	if p := GCPercent(w.sizes.GoLimit, u.LiveHeap); int64(p) != w.gcPercent.Load() {
		w.setGC(p)
		w.gcPercent.Store(int64(p))
	}
}

// Start reads the memory every interval until Stop; onChange, when not
// nil, is told each start and end of refusing work.
func (w *Watch) Start(interval time.Duration, onChange func(shedding bool, u Usage)) {
	w.onChange = onChange
	w.started.Store(true)
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.Check()
			}
		}
	}()
}

// Stop ends the readings Start began and waits for them; without Start
// it returns at once.
func (w *Watch) Stop() {
	w.stopOnce.Do(func() { close(w.stop) })
	if w.started.Load() {
		<-w.done
	}
}

// Check reads the memory once, sets the collector's pace when PaceGC asked
// for it, and decides, and reports whether work is refused now.
func (w *Watch) Check() bool {
	u := w.read()
	w.last.Store(&u)
	w.paceGC(u)
	s := w.sizes
	was := w.shedding.Load()
	var now bool
	if was {
		now = u.LiveHeap >= s.ResumeHeap || u.Resident >= s.ResumeResident
	} else {
		now = u.LiveHeap >= s.ShedHeap || u.Resident >= s.ShedResident
	}
	if now != was {
		w.shedding.Store(now)
		if now {
			w.sheds.Add(1)
		}
		if w.onChange != nil {
			w.onChange(now, u)
		}
	}
	return now
}

// Shedding reports whether work is refused now.
func (w *Watch) Shedding() bool { return w.shedding.Load() }

// Sizes returns the shares the watch checks against.
func (w *Watch) Sizes() Sizes { return w.sizes }

// Last returns the last reading.
func (w *Watch) Last() Usage {
	if u := w.last.Load(); u != nil {
		return *u
	}
	return Usage{}
}

// Sheds counts the times the watch started refusing work.
func (w *Watch) Sheds() uint64 { return w.sheds.Load() }
