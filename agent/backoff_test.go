package agent_test

import (
	"testing"
	"time"

	"github.com/hearthiot/hearth/agent"
)

func TestBackoffDelay(t *testing.T) {
	b := agent.DefaultBackoff()
	tests := []struct {
		attempt int
		lo, hi  time.Duration
	}{
		{0, 500 * time.Millisecond, time.Second},
		{1, time.Second, 2 * time.Second},
		{2, 2 * time.Second, 4 * time.Second},
		{6, 32 * time.Second, 64 * time.Second},
		{7, time.Minute, 2 * time.Minute}, // 128 s is capped at 120 s
		{50, time.Minute, 2 * time.Minute},
		{1 << 30, time.Minute, 2 * time.Minute},
	}
	for _, tt := range tests {
		if got := b.Delay(tt.attempt, 0); got != tt.lo {
			t.Errorf("Delay(%d, 0) = %s; want %s", tt.attempt, got, tt.lo)
		}
		if got := b.Delay(tt.attempt, 0.999999999); got < tt.hi-time.Millisecond || got > tt.hi {
			t.Errorf("Delay(%d, ~1) = %s; want just under %s", tt.attempt, got, tt.hi)
		}
		if got := b.Delay(tt.attempt, 0.5); got <= tt.lo || got >= tt.hi {
			t.Errorf("Delay(%d, 0.5) = %s; want between %s and %s", tt.attempt, got, tt.lo, tt.hi)
		}
	}
}

func TestBackoffNeverBelowHalfMin(t *testing.T) {
	for _, b := range []agent.Backoff{{}, {Min: 10 * time.Millisecond, Max: 5 * time.Millisecond}, {Min: time.Second, Max: time.Second}} {
		for attempt := range 40 {
			for _, r := range []float64{-1, 0, 0.3, 1, 2} {
				d := b.Delay(attempt, r)
				lo := max(b.Min, 10*time.Millisecond) / 2
				if b.Min == 0 {
					lo = agent.DefaultBackoffMin / 2
				}
				if d < lo || d > max(b.Max, b.Min, agent.DefaultBackoffMin) {
					t.Errorf("%+v.Delay(%d, %v) = %s; out of bounds", b, attempt, r, d)
				}
			}
		}
	}
}
