package sim_test

import (
	"math"
	"testing"

	"github.com/hearthiot/hearth/sim"
)

// TestJobFails: the same device and job always get the same answer, and
// over many devices the share that fails is the rate.
func TestJobFails(t *testing.T) {
	for _, rate := range []float64{0, 0.05, 0.3, 1} {
		for _, job := range []string{"fw-1", "fw-2"} {
			failed := 0
			const n = 20000
			for seed := range uint64(n) {
				f := sim.JobFails(seed, job, rate)
				if f != sim.JobFails(seed, job, rate) {
					t.Fatalf("seed %d, job %s: two answers", seed, job)
				}
				if f {
					failed++
				}
			}
			if got := float64(failed) / n; math.Abs(got-rate) > 0.015 {
				t.Errorf("rate %v, job %s: %.3f of %d devices fail", rate, job, got, n)
			}
		}
	}
	// Another job draws other devices.
	same := 0
	for seed := range uint64(1000) {
		if sim.JobFails(seed, "fw-1", 0.5) == sim.JobFails(seed, "fw-2", 0.5) {
			same++
		}
	}
	if same > 600 || same < 400 {
		t.Errorf("%d of 1000 devices answer two jobs alike; want about half", same)
	}
}
