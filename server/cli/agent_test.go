package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/sim/modbussim"
)

// TestAgentCommand: `hearth agent` is the gateway agent's own command line
// (tested in agent/cmdline), with Hearth's exit codes: 2 for a usage
// error, 1 for a bad file, 0 for a file that passes --check.
func TestAgentCommand(t *testing.T) {
	if code, _, stderr := runCLI(t, "", nil, "agent"); code != 2 || !strings.Contains(stderr, "hearth agent: usage: --config FILE is required") {
		t.Errorf("no config: exit %d, stderr %q", code, stderr)
	}
	dir := t.TempDir()
	var m strings.Builder
	for _, line := range strings.Split(modbussim.ChillerMap, "\n") {
		m.WriteString("  " + line + "\n")
	}
	good := filepath.Join(dir, "agent.yaml")
	cfg := "device: chiller-1\nhearth:\n  address: 127.0.0.1:1883\n  plain: true\n  secret: s3cret\nspool:\n  dir: spool\nmodbus:\n" + m.String()
	if err := os.WriteFile(good, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "", map[string]string{"HEARTH_CONFIG": good}, "agent", "--check")
	if code != 0 || !strings.Contains(stdout, "device chiller-1, 14 points, 4 writable settings: OK") {
		t.Errorf("--check: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(cfg, "device: chiller-1", "device: chiller/1", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "", nil, "agent", "--config", bad, "--check"); code != 1 || !strings.Contains(stderr, "bad.yaml:1: device: name") {
		t.Errorf("bad file: exit %d, stderr %q", code, stderr)
	}
}
