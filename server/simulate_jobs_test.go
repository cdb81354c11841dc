package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/store"
)

// TestSimulatedFleetJobs: simulated devices take a job from the real
// Hearth, one queued while they were away and one sent while they run:
// each execution goes IN_PROGRESS, and ends SUCCEEDED or FAILED as
// sim.JobFails says for the device's seed, so the counts are known before
// the run; the job's file is downloaded once a device, and a file whose
// digest is not the job's fails every execution.
func TestSimulatedFleetJobs(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	ctx := context.Background()
	api := sim.APIClientConfig{BaseURL: h.https, Token: op, CA: h.caPool}
	if err := sim.EnsureDeviceType(ctx, api, sim.KindIAQ); err != nil {
		t.Fatal(err)
	}
	creds, err := sim.ProvisionDevices(ctx, api, sim.ProvisionSpec{Customer: "acme", Type: string(sim.KindIAQ), Prefix: "sim-iaq", N: 12})
	if err != nil {
		t.Fatal(err)
	}
	// The file is an artifact of Hearth's: the document names it, and each
	// device gets a signed link and its digest.
	h.uploadArtifact(op, "firmware.bin", []byte(strings.Repeat("firmware ", 1000)))
	link, sum := "${hearth:artifact-url:firmware.bin}", "${hearth:artifact-sha256:firmware.bin}"
	names := make([]string, len(creds))
	devices := make([]sim.FleetDevice, len(creds))
	for i, c := range creds {
		names[i] = c.Name
		devices[i] = sim.FleetDevice{Credentials: c, Kind: sim.KindIAQ, Seed: uint64(i + 1)}
	}
	const rate = 0.3
	// Queued before any device connects: each takes it from $next/get.
	h.createJob(op, "fw-early", map[string]any{"operation": "firmware", "url": link, "sha256": sum}, names...)

	fleet, err := sim.StartFleet(ctx, sim.FleetConfig{
		Broker: h.mqtts, TLS: &tls.Config{RootCAs: h.caPool, ServerName: "localhost"}, Devices: devices, Interval: time.Hour,
		JobFailureRate: rate, JobDuration: 50 * time.Millisecond, JobDownloadMax: 1 << 20,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := fleet.Stop(stopCtx); err != nil {
			t.Error(err)
		}
	})
	want := func(job string) map[string]int {
		out := map[string]int{}
		for _, d := range devices {
			if sim.JobFails(d.Seed, job, rate) {
				out[d.Name] = 1
			}
		}
		return out
	}
	check := func(job string, allFail bool) {
		t.Helper()
		fails := want(job)
		for _, name := range names {
			e := h.waitExecution(op, job, name, 30*time.Second)
			wantStatus := "SUCCEEDED"
			if allFail || fails[name] == 1 {
				wantStatus = "FAILED"
			}
			if e.Status != wantStatus {
				t.Errorf("job %s on %s: %s %v; want %s", job, name, e.Status, e.StatusDetails, wantStatus)
			}
		}
	}
	check("fw-early", false)
	if n := len(want("fw-early")); n == 0 || n == len(names) {
		t.Errorf("%d of %d executions fail at rate %v; the test wants some of each", n, len(names), rate)
	}

	// Sent while they run: notify-next brings it. Its file is not the one
	// its digest names, so every execution fails.
	h.createJob(op, "fw-bad", map[string]any{"operation": "firmware", "url": link, "sha256": strings.Repeat("0", 64)}, names...)
	check("fw-bad", true)
	for _, e := range h.jobExecutions(op, "fw-bad") {
		if !strings.Contains(e.StatusDetails["reason"], "SHA-256") {
			t.Errorf("fw-bad on %s: reason %q", e.Device, e.StatusDetails["reason"])
		}
	}
	st := fleet.Stats()
	if st.JobsStarted != uint64(2*len(names)) || st.JobsSucceeded != uint64(len(names)-len(want("fw-early"))) ||
		st.Downloads != uint64(2*len(names)) || st.DownloadBytes != uint64(2*len(names)*9000) {
		t.Errorf("fleet stats %+v", st)
	}
	var job jobCounts
	if code := h.apiCall(op, "GET", "/api/v1/jobs/fw-early", nil, &job); code != http.StatusOK ||
		job.Counts["FAILED"] != len(want("fw-early")) || job.Counts["SUCCEEDED"] != len(names)-len(want("fw-early")) {
		t.Errorf("job fw-early: %d %+v", code, job)
	}
}

// uploadArtifact uploads a file as an artifact through the API.
func (h *hearth) uploadArtifact(op, name string, body []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPut, h.https+"/api/v1/artifacts/"+name, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+op)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("upload artifact %s: status %d", name, resp.StatusCode)
	}
}
