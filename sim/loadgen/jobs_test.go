package loadgen

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestJobsAgainstHearth sends one job to devices provisioned on a real
// Hearth: every execution ends, the failures are the ones sim.JobFails
// drew, and the report says how long the rollout took.
func TestJobsAgainstHearth(t *testing.T) {
	api, mqtts, caFile, token := startHearth(t)
	t.Setenv("HEARTH_LOADGEN_TOKEN", token)
	creds := filepath.Join(t.TempDir(), "creds")
	var out, errOut bytes.Buffer
	const devices = 40
	if err := Run(t.Context(), []string{"provision", "-api", api, "-api-ca", caFile, "-creds", creds,
		"-devices", "40", "-customer", "jobsload"}, &out, &errOut); err != nil {
		t.Fatalf("provision: %v\n%s", err, errOut.String())
	}
	out.Reset()
	if err := Run(t.Context(), []string{"jobs", "-broker", mqtts, "-creds", creds, "-api", api, "-api-ca", caFile,
		"-job-id", "bench-1", "-failure-rate", "0.25", "-job-duration", "100ms", "-timeout", "1m", "-progress", "0", "-json"}, &out, &errOut); err != nil {
		t.Fatalf("jobs: %v\n%s", err, errOut.String())
	}
	var rep jobsReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("jobs output %s: %v", out.String(), err)
	}
	t.Logf("report: %s", out.String())
	if rep.Connected != devices || rep.Counts["SUCCEEDED"]+rep.Counts["FAILED"] != devices {
		t.Errorf("%d connected, counts %v; want every one of %d ended", rep.Connected, rep.Counts, devices)
	}
	if rep.Counts["FAILED"] != rep.ExpectedFailed || rep.ExpectedFailed == 0 {
		t.Errorf("%d failed; %d expected (and some)", rep.Counts["FAILED"], rep.ExpectedFailed)
	}
	if rep.Elapsed <= 0 || rep.PerSec <= 0 || rep.Fleet.JobsStarted != devices {
		t.Errorf("elapsed %v, %v/s, %d started", rep.Elapsed, rep.PerSec, rep.Fleet.JobsStarted)
	}
}
