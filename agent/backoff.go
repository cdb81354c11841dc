package agent

import (
	"math/rand/v2"
	"time"
)

// Reconnect defaults: the first retry after about a second, doubling up
// to two minutes.
const (
	DefaultBackoffMin = time.Second
	DefaultBackoffMax = 2 * time.Minute
	// stableAfter is how long a connection must last for the next failure
	// to start again from the shortest wait; a connection that Hearth
	// accepts and drops at once must not make the agent hammer it.
	stableAfter = time.Minute
)

// Backoff is the reconnect policy: exponential growth from Min to Max, with
// jitter. The n-th wait in a row (from 0) is drawn uniformly from
// [d/2, d], where d = min(Min·2ⁿ, Max): never less than half the nominal
// wait, so a broken server is not hammered, and spread over the other half,
// so that a fleet cut off together does not come back in step.
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff waits 0.5–1 s, then 1–2 s, 2–4 s, … up to 1–2 min.
func DefaultBackoff() Backoff {
	return Backoff{Min: DefaultBackoffMin, Max: DefaultBackoffMax}
}

// Delay is the wait before retry number attempt (0 for the first), with
// jitter drawn from r, a number in [0, 1) (rand.Float64 in production).
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	r = min(max(r, 0), 1)
	return d/2 + time.Duration(float64(d/2)*r)
}

// jitter is the source of Delay's random numbers.
func jitter() float64 { return rand.Float64() }
