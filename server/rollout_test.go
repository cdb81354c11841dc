package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/store"
)

// A rollout to 1,000 simulated devices at 400 a minute, of which 10 %
// fail (as sim.JobFails says for each device's seed), aborted when 5 % of
// at least 100 executions have failed: the job is canceled by the 100th
// execution to end; the 600 targets still waiting never get it; of the
// 400 released, every one that ended did as its device was bound to,
// those queued at the abort are canceled, and those in progress finish
// (AWS's abort does not force them); none is left queued or in progress.
func TestRolloutAbortsAtThreshold(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	ctx := context.Background()
	api := sim.APIClientConfig{BaseURL: h.https, Token: op, CA: h.caPool}
	if err := sim.EnsureDeviceType(ctx, api, sim.KindIAQ); err != nil {
		t.Fatal(err)
	}
	const n, perMinute, rate, minExecuted = 1000, 400, 0.10, 100
	creds, err := sim.ProvisionDevices(ctx, api, sim.ProvisionSpec{Customer: "acme", Type: string(sim.KindIAQ), Prefix: "roll", N: n})
	if err != nil {
		t.Fatal(err)
	}
	devices := make([]sim.FleetDevice, len(creds))
	seeds := map[string]uint64{}
	for i, c := range creds {
		devices[i] = sim.FleetDevice{Credentials: c, Kind: sim.KindIAQ, Seed: uint64(i + 1)}
		seeds[c.Name] = uint64(i + 1)
	}
	fleet, err := sim.StartFleet(ctx, sim.FleetConfig{
		Broker: h.mqtts, TLS: &tls.Config{RootCAs: h.caPool, ServerName: "localhost"}, Devices: devices, Interval: time.Hour,
		JobFailureRate: rate, JobDuration: 20 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := fleet.Stop(stopCtx); err != nil {
			t.Error(err)
		}
	})
	eventually(t, "the fleet connected", func() bool { return fleet.Stats().Connected == n })

	if st := h.apiCall(op, "POST", "/api/v1/jobs", map[string]any{
		"id": "fw-roll", "targets": map[string]any{"customers": []string{"acme"}},
		"document": map[string]any{"operation": "firmware", "version": "3"},
		"rollout":  map[string]any{"maximum_per_minute": perMinute},
		"abort":    []map[string]any{{"failure_type": "FAILED", "threshold_percentage": 5, "min_executed": minExecuted}},
	}, nil); st != http.StatusCreated {
		t.Fatalf("create job: %d", st)
	}
	var job jobCounts
	eventually(t, "the job aborted and settled", func() bool {
		return h.apiCall(op, "GET", "/api/v1/jobs/fw-roll", nil, &job) == http.StatusOK &&
			job.Status == "CANCELED" && job.Counts["QUEUED"]+job.Counts["IN_PROGRESS"] == 0
	})
	var failedAtAbort int
	if _, err := fmt.Sscanf(job.Reason, "aborted: %d of 100 executions ended FAILED", &failedAtAbort); err != nil || failedAtAbort < 5 {
		t.Fatalf("reason %q: want the job aborted at the 100th execution with 5 or more failed", job.Reason)
	}
	execs := h.jobExecutions(op, "fw-roll")
	if job.Total != n || len(execs) != perMinute {
		t.Fatalf("%d executions of %d targets; want the %d released in the first minute, and none after the abort", len(execs), job.Total, perMinute)
	}
	ended := 0
	for name, e := range execs {
		switch e.Status {
		case "SUCCEEDED", "FAILED":
			ended++
			if fails := sim.JobFails(seeds[name], "fw-roll", rate); fails != (e.Status == "FAILED") {
				t.Errorf("%s ended %s; its seed says fails=%v", name, e.Status, fails)
			}
		case "CANCELED":
		default:
			t.Errorf("%s is %s", name, e.Status)
		}
	}
	if ended < minExecuted || job.Counts["SUCCEEDED"]+job.Counts["FAILED"] != ended || job.Counts["CANCELED"] != perMinute-ended {
		t.Fatalf("ended %d, counts %v; want at least %d ended and the other released ones canceled", ended, job.Counts, minExecuted)
	}
	if !strings.HasPrefix(job.Reason, "aborted: ") {
		t.Fatalf("reason %q", job.Reason)
	}
	t.Logf("aborted with %d of %d failed; of %d released, %d ended and %d were canceled; %d never released",
		failedAtAbort, minExecuted, perMinute, ended, job.Counts["CANCELED"], n-perMinute)
}
