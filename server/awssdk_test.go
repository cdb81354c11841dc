package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// awsSDKDir holds the AWS IoT Device SDK for JavaScript, installed by
// `npm ci --prefix server/testdata/awsiotsdk` (CI does it).
const awsSDKDir = "testdata/awsiotsdk"

// requireAWSSDK skips a test when node or the SDK is not installed, or,
// with HEARTH_REQUIRE_TOOLS set (as CI does), fails it.
func requireAWSSDK(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(awsSDKDir, "node_modules", "aws-iot-device-sdk", "package.json"))
	}
	if err != nil {
		if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
			t.Fatalf("node or the AWS IoT Device SDK is missing (%v) and HEARTH_REQUIRE_TOOLS is set: npm ci --prefix server/%s", err, awsSDKDir)
		}
		t.Skipf("node or the AWS IoT Device SDK is missing (%v): npm ci --prefix server/%s", err, awsSDKDir)
	}
	return node
}

// TestAWSDeviceSDKDefaults: firmware written with the AWS IoT Device SDK
// for JavaScript moves over by changing the endpoint and credentials, with
// the SDK's defaults. By default the SDK sends the user name
// "?SDK=JavaScript&Version=2.2.16" for AWS's metrics; with a certificate,
// AWS IoT ignores it, and so must Hearth.
func TestAWSDeviceSDKDefaults(t *testing.T) {
	node := requireAWSSDK(t)
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "sdk-chiller-1", "acme")
	wait := startSDKDevice(t, h, node, "shadow.js", "sdk-chiller-1", d)

	// Once the device has reported, an operator changes the set-point; the
	// device takes it from the delta and reports it back.
	path := "/api/v1/devices/sdk-chiller-1/shadow"
	eventually(t, "the SDK device reports its set-point", func() bool {
		var doc struct {
			State struct {
				Reported map[string]any `json:"reported"`
			} `json:"state"`
		}
		return h.apiCall(op, "GET", path, nil, &doc) == http.StatusOK && doc.State.Reported["chw_setpoint"] == 7.5
	})
	if st := h.apiCall(op, "PATCH", path, map[string]any{"state": map[string]any{"desired": map[string]any{"chw_setpoint": 8}}}, nil); st != http.StatusOK {
		t.Fatalf("desired change: status %d", st)
	}
	out := wait()
	var seen struct {
		Delta map[string]any `json:"delta"`
		Final struct {
			Desired  map[string]any `json:"desired"`
			Reported map[string]any `json:"reported"`
		} `json:"final"`
	}
	if err := json.Unmarshal([]byte(out), &seen); err != nil {
		t.Fatalf("the SDK device's report %q: %v", out, err)
	}
	if seen.Delta["chw_setpoint"] != 8.0 || seen.Final.Reported["chw_setpoint"] != 8.0 || seen.Final.Desired["chw_setpoint"] != 8.0 {
		t.Errorf("the SDK device saw delta %v and finally %+v; want the set-point 8 taken and reported", seen.Delta, seen.Final)
	}
}

// startSDKDevice runs one of the SDK scripts as device thing with its
// certificate, and returns a function that waits for the script to end
// (30 s at most) and returns what it printed, failing the test when it
// failed.
func startSDKDevice(t *testing.T, h *hearth, node, script, thing string, d issuedDevice) func() string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"cert.pem": d.CertificatePEM, "key.pem": d.PrivateKeyPEM, "ca.pem": d.CAPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, port, err := net.SplitHostPort(h.mqtts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = awsSDKDir
	cmd.Env = append(os.Environ(), "HEARTH_HOST=localhost", "HEARTH_PORT="+port, "THING="+thing,
		"CERT="+filepath.Join(dir, "cert.pem"), "KEY="+filepath.Join(dir, "key.pem"), "CA="+filepath.Join(dir, "ca.pem"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return func() string {
		t.Helper()
		if err := <-done; err != nil {
			done <- err
			t.Fatalf("the SDK device (%s) failed: %v\nstdout: %s\nstderr: %s", script, err, stdout.String(), stderr.String())
		}
		done <- nil
		return strings.TrimSpace(stdout.String())
	}
}

// TestAWSDeviceSDKJobs: firmware written with the AWS IoT Device SDK for
// JavaScript's jobs client takes a job from Hearth unchanged: it is told
// of the job once, reports progress and success, and the job completes.
func TestAWSDeviceSDKJobs(t *testing.T) {
	node := requireAWSSDK(t)
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "sdk-gw-1", "acme")
	wait := startSDKDevice(t, h, node, "jobs.js", "sdk-gw-1", d)
	// Once the device asked for its next job (and had none), a job comes.
	eventually(t, "the SDK device connected", func() bool {
		var devs []struct {
			Online bool `json:"online"`
		}
		return h.apiCall(op, "GET", "/api/v1/devices?online=true", nil, &devs) == http.StatusOK && len(devs) == 1
	})
	time.Sleep(200 * time.Millisecond) // its subscriptions follow the connect
	if st := h.apiCall(op, "POST", "/api/v1/jobs", map[string]any{
		"id": "agent-1-5", "targets": map[string]any{"devices": []string{"sdk-gw-1"}},
		"document": map[string]any{"operation": "update-agent", "version": "1.5.0"},
	}, nil); st != http.StatusCreated {
		t.Fatalf("create job: %d", st)
	}
	out := wait()
	var seen struct {
		Jobs []struct {
			ID, Status, Version string
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(out), &seen); err != nil {
		t.Fatalf("the SDK device's report %q: %v", out, err)
	}
	if len(seen.Jobs) != 1 || seen.Jobs[0].ID != "agent-1-5" || seen.Jobs[0].Status != "QUEUED" || seen.Jobs[0].Version != "1.5.0" {
		t.Fatalf("the SDK device saw %+v; want the job once, queued, with its document", seen.Jobs)
	}
	var job struct {
		Status string         `json:"status"`
		Counts map[string]int `json:"counts"`
	}
	eventually(t, "the job completed", func() bool {
		return h.apiCall(op, "GET", "/api/v1/jobs/agent-1-5", nil, &job) == http.StatusOK && job.Status == "COMPLETED"
	})
	if job.Counts["SUCCEEDED"] != 1 {
		t.Fatalf("job counts: %v", job.Counts)
	}
	var execs struct {
		Executions []struct {
			StatusDetails map[string]string `json:"status_details"`
		} `json:"executions"`
	}
	if h.apiCall(op, "GET", "/api/v1/jobs/agent-1-5/executions", nil, &execs); len(execs.Executions) != 1 || execs.Executions[0].StatusDetails["version"] != "1.5.0" {
		t.Fatalf("executions: %+v", execs)
	}
}
