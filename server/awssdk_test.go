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
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "shadow.js")
	cmd.Dir = awsSDKDir
	cmd.Env = append(os.Environ(), "HEARTH_HOST=localhost", "HEARTH_PORT="+port, "THING=sdk-chiller-1",
		"CERT="+filepath.Join(dir, "cert.pem"), "KEY="+filepath.Join(dir, "key.pem"), "CA="+filepath.Join(dir, "ca.pem"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

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
	if err := <-done; err != nil {
		t.Fatalf("the SDK device failed: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var seen struct {
		Delta map[string]any `json:"delta"`
		Final struct {
			Desired  map[string]any `json:"desired"`
			Reported map[string]any `json:"reported"`
		} `json:"final"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &seen); err != nil {
		t.Fatalf("the SDK device's report %q: %v", stdout.String(), err)
	}
	if seen.Delta["chw_setpoint"] != 8.0 || seen.Final.Reported["chw_setpoint"] != 8.0 || seen.Final.Desired["chw_setpoint"] != 8.0 {
		t.Errorf("the SDK device saw delta %v and finally %+v; want the set-point 8 taken and reported", seen.Delta, seen.Final)
	}
}
