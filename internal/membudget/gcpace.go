package membudget

// The garbage collector's pace follows the budget's headroom. Go's default
// (GOGC=100) collects whenever the heap has doubled since the last
// collection, which at Hearth's ingest rate is every second or so, and a
// collection's marking takes processor time that every goroutine waits
// for: at 10,000 messages/s it was most of the PUBACK's latency tail. With
// a budget far larger than the live heap there is no reason to collect
// that often; the memory limit (GoLimit) still makes the collector work
// harder as the heap nears it.
const (
	// MinGCPercent is Go's default pace, kept when the live heap is large
	// against the budget.
	MinGCPercent = 100
	// MaxGCPercent bounds the pace where the budget is large: the heap may
	// grow to five times what is live between two collections.
	MaxGCPercent = 400
	// gcGoalShare is the part of GoLimit a collection's goal may take: half
	// of it, well below ShedHeap, so that garbage never brings refusals
	// closer and the memory limit rarely has to step in.
	gcGoalShare = 0.5
	// gcPercentStep rounds the pace, so that a live heap moving a little
	// does not change it at every reading.
	gcPercentStep = 50
)

// GCPercent is the pace (GOGC) for a live heap within goLimit: the largest
// that keeps the next collection's goal, liveHeap × (1 + GOGC/100), within
// half of goLimit, rounded down to a step of 50, from MinGCPercent to
// MaxGCPercent. An unknown live heap (0, before the first collection)
// gets MinGCPercent.
func GCPercent(goLimit, liveHeap int64) int {
	if liveHeap <= 0 || goLimit <= 0 {
		return MinGCPercent
	}
	p := (float64(goLimit)*gcGoalShare/float64(liveHeap) - 1) * 100
	switch {
	case p >= MaxGCPercent:
		return MaxGCPercent
	case p <= MinGCPercent:
		return MinGCPercent
	}
	return int(p) / gcPercentStep * gcPercentStep
}
