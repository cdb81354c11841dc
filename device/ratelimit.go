package device

import (
	"sync/atomic"
	"time"
)

// RateUse is one rate limit of a device and how the device has met it since
// Hearth started: the rate it may send at, how many of its messages were
// held back or refused for it, and when the last of each was. Operators and
// the device's customer see it on the device's page, so that a device that
// sends too much can be told from one that is slow by itself.
type RateUse struct {
	// PerSecond and Burst are the device's rate now: messages (for
	// telemetry, samples) a second, and how many at once. PerSecond 0
	// means no limit.
	PerSecond float64
	Burst     int
	// Delayed counts messages whose acknowledgement was held back for the
	// rate; Refused those refused for it.
	Delayed, Refused uint64
	// LastDelayed and LastRefused are the times of the last of each; zero
	// when there was none.
	LastDelayed, LastRefused time.Time
}

// Slowed reports whether the device was ever held back or refused.
func (u RateUse) Slowed() bool { return u.Delayed > 0 || u.Refused > 0 }

// rateCount counts the messages of one device that a rate limit held back
// or refused. It lives beside the device's limiter, so there is one per
// device that has sent since start, as there is a limiter.
type rateCount struct {
	delayed, refused         atomic.Uint64
	lastDelayed, lastRefused atomic.Int64 // unix nanoseconds; 0: never
}

func (c *rateCount) delay(now time.Time) {
	c.delayed.Add(1)
	storeLatest(&c.lastDelayed, now)
}

func (c *rateCount) refuse(now time.Time) {
	c.refused.Add(1)
	storeLatest(&c.lastRefused, now)
}

// read adds the counts to u.
func (c *rateCount) read(u *RateUse) {
	u.Delayed, u.Refused = c.delayed.Load(), c.refused.Load()
	u.LastDelayed, u.LastRefused = unixNanoTime(c.lastDelayed.Load()), unixNanoTime(c.lastRefused.Load())
}

// storeLatest keeps the later of the time in v and now: messages of one
// device are handled on several goroutines, and the last must not go back.
func storeLatest(v *atomic.Int64, now time.Time) {
	ns := now.UnixNano()
	for {
		prev := v.Load()
		if prev >= ns || v.CompareAndSwap(prev, ns) {
			return
		}
	}
}

func unixNanoTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
