package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// hearth simulate provisions its devices through the running server's
// admin socket on the first run, keeps their credentials, reuses them on
// the second run, and its devices' telemetry is acknowledged.
func TestSimulateFleet(t *testing.T) {
	srv, dir := serving(t)
	mqtt, _ := srv.MQTTAddrs()
	creds := filepath.Join(t.TempDir(), "creds")
	args := []string{"simulate", "--data", dir, "--server", mqtt.String(), "--devices", "4", "--creds", creds,
		"--interval", "100ms", "--duration", "2s", "--progress", "0", "--log-level", "warn"}

	code, stdout, stderr := runCLI(t, "", nil, args...)
	if code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "provisioned 4 devices for customer demo") {
		t.Errorf("first run did not say it provisioned the devices:\n%s", stdout)
	}
	m := regexp.MustCompile(`4/4 connected, (\d+) telemetry messages \((\d+) acknowledged`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no fleet summary with every device connected:\n%s", stdout)
	}
	if sent, _ := strconv.Atoi(m[1]); sent < 20 {
		t.Errorf("4 devices at 100 ms sent %d messages in 2 s", sent)
	}
	if acked, _ := strconv.Atoi(m[2]); acked == 0 {
		t.Error("nothing was acknowledged")
	}
	devs, err := srv.Store().ListDevices(store.DeviceFilter{Customer: "demo"})
	if err != nil || len(devs) != 4 {
		t.Fatalf("devices of demo: %d, %v", len(devs), err)
	}
	types := map[string]int{}
	for _, d := range devs {
		types[d.Type]++
	}
	if types["chiller"] != 1 || types["iaq"] != 3 {
		t.Errorf("device types %v, want one chiller and three sensors", types)
	}

	// A run whose credentials were lost provisions the same devices
	// again, with new credentials.
	if err := os.RemoveAll(creds); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "", nil, args...)
	if code != 0 || !strings.Contains(stdout, "provisioned 4 devices") || !strings.Contains(stdout, "4/4 connected") {
		t.Fatalf("a run after losing the credentials: exit %d\n%s\n%s", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, "", nil, args...)
	if code != 0 || strings.Contains(stdout, "provisioned") || !strings.Contains(stdout, "4/4 connected") {
		t.Errorf("second run: exit %d, want the saved devices reused\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "", nil, append(args[:len(args):len(args)], "--devices", "5")...); code != 2 || !strings.Contains(stderr, "holds 4 devices") {
		t.Errorf("asking for 5 of a directory of 4: exit %d: %s", code, stderr)
	}
}

// hearth simulate load fresh times how long a device's sample takes to
// show in the range API and PromQL, for a series that exists and for new
// ones, against the running server; every probe is seen.
func TestSimulateLoadFresh(t *testing.T) {
	srv, dir := serving(t)
	mqtt, _ := srv.MQTTAddrs()
	api := "https://" + srv.HTTPAddr().String()
	ca := filepath.Join(dir, "tls", "ca.pem")
	code, token, stderr := runCLI(t, "", nil, "token", "create", "--data", dir, "--role", "operator", "--name", "fresh")
	token = strings.TrimSpace(token)
	if code != 0 || token == "" {
		t.Fatalf("token create: exit %d: %s", code, stderr)
	}
	creds := filepath.Join(t.TempDir(), "creds")
	if code, stdout, stderr := runCLI(t, "", nil, "simulate", "load", "provision", "-api", api, "-api-ca", ca, "-token", token,
		"-creds", creds, "-devices", "2", "-customer", "fresh"); code != 0 {
		t.Fatalf("provision: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr := runCLI(t, "", nil, "simulate", "load", "fresh", "-broker", mqtt.String(), "-ca", ca, "-creds", creds,
		"-api", api, "-api-ca", ca, "-token", token, "-probes", "3", "-interval", "100ms", "-timeout", "20s")
	if code != 0 {
		t.Fatalf("fresh: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Log("\n" + stdout)
	for _, kind := range []string{"existing series", "new series"} {
		for _, path := range []string{"range", "query", "query_range"} {
			line := regexp.MustCompile(`(?m)^` + kind + ` +` + path + ` +p50 .*\((\d+) samples, (\d+) missed\)$`).FindStringSubmatch(stdout)
			if line == nil || line[1] != "3" || line[2] != "0" {
				t.Errorf("%s on %s: want 3 samples seen, none missed; output:\n%s", kind, path, stdout)
			}
		}
	}
}
