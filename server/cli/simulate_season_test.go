package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSimulateSeason: the command prints the same table for a seed, as
// JSON too, and refuses what it cannot run with a usage error.
func TestSimulateSeason(t *testing.T) {
	args := []string{"simulate", "season", "--strategy", "setpoint_reset,co2_ventilation", "--seed", "4", "--from", "2026-07-01", "--to", "2026-07-10"}
	code, first, stderr := runCLI(t, "", nil, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, second, _ := runCLI(t, "", nil, args...)
	if first != second {
		t.Fatalf("two runs of seed 4 differ:\n%s\n%s", first, second)
	}
	for _, want := range []string{"| none ", "| setpoint_reset ", "| co2_ventilation ", "| all "} {
		if !strings.Contains(first, want) {
			t.Errorf("the table lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, "optimum_start") {
		t.Errorf("a strategy not asked for ran:\n%s", first)
	}
	code, out, _ := runCLI(t, "", nil, append(args, "--format", "json")...)
	var rs []struct {
		Name  string  `json:"name"`
		GasM3 float64 `json:"gas_m3"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rs) != nil || len(rs) != 4 || rs[0].Name != "none" || rs[0].GasM3 <= 0 {
		t.Errorf("JSON: exit %d, %s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--strategy", "night_purge"}, `--strategy "night_purge"`},
		{[]string{"--from", "June"}, `--from "June"`},
		{[]string{"--from", "2026-09-01", "--to", "2026-06-01"}, "the end must come after the start"},
		{[]string{"--step", "1h"}, "--step 1h0m0s: use 1m to 15m"},
		{[]string{"--format", "csv"}, `--format "csv"`},
	} {
		code, _, stderr := runCLI(t, "", nil, append([]string{"simulate", "season"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 saying %q", c.args, code, stderr, c.want)
		}
	}
}
