package cmdline_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/agent"
	"github.com/hearthiot/hearth/agent/cmdline"
	"github.com/hearthiot/hearth/sim/modbussim"
)

// writeAgentConfig writes an agent configuration for the simulated
// chiller at simAddr (its register map as the modbus section), with
// hearth.address hearthAddr over plain MQTT, and returns its path.
func writeAgentConfig(t *testing.T, hearthAddr, simAddr string, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	var m strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(modbussim.ChillerMap, modbussim.DefaultAddr, simAddr), "\n") {
		m.WriteString("  " + line + "\n")
	}
	cfg := "device: chiller-1\nhearth:\n  address: " + hearthAddr + "\n  plain: true\n  secret: s3cret\n" +
		"  reconnect: {min: 50ms, max: 100ms}\nspool:\n  dir: spool\ntelemetry:\n  interval: 100ms\nmodbus:\n" + m.String()
	if edit != nil {
		cfg = edit(cfg)
	}
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs the command as the hearth-agent binary does, with env as its
// environment, and returns its exit code and output.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cmdline.Main(args, cmdline.IO{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "--config FILE is required"},
		{[]string{"--config"}, "flag needs an argument"},
		{[]string{"--config", "a.yaml", "extra"}, "unexpected arguments"},
	} {
		code, _, stderr := run(t, nil, tt.args...)
		if code != 2 || !strings.Contains(stderr, "hearth-agent: usage: "+tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
	if code, _, stderr := run(t, nil, "-h"); code != 0 || !strings.Contains(stderr, "-config file") {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the flags", code, stderr)
	}
	if code, _, stderr := run(t, map[string]string{"HEARTH_CHECK": "maybe"}, "--config", "a.yaml"); code != 2 || !strings.Contains(stderr, "HEARTH_CHECK") {
		t.Errorf("bad HEARTH_CHECK: exit %d, stderr %q", code, stderr)
	}
}

func TestCheck(t *testing.T) {
	path := writeAgentConfig(t, "127.0.0.1:1883", "127.0.0.1:1502", nil)
	code, stdout, stderr := run(t, map[string]string{"HEARTH_CONFIG": path}, "--check")
	if code != 0 || !strings.Contains(stdout, "device chiller-1, 14 points, 4 writable settings: OK") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// A register map a modbus-map job left is checked too, and said to be
	// the one used; one that does not pass is said to be ignored.
	spool := filepath.Join(filepath.Dir(path), "spool")
	os.MkdirAll(spool, 0o700)
	saved := filepath.Join(spool, agent.SavedMapFile)
	os.WriteFile(saved, []byte("source: {tcp: \"127.0.0.1:1502\"}\npoints:\n  - {metric: t, function: input, address: 0, type: int16}\n"), 0o600)
	code, stdout, _ = run(t, nil, "--config", path, "--check")
	if code != 0 || !strings.Contains(stdout, saved+": the register map a job left, used instead of the file's: 1 points, 0 writable settings: OK") {
		t.Errorf("saved map: exit %d, stdout %q", code, stdout)
	}
	os.WriteFile(saved, []byte("points: 7\n"), 0o600)
	code, stdout, _ = run(t, nil, "--config", path, "--check")
	if code != 0 || !strings.Contains(stdout, "the file's register map is used") {
		t.Errorf("bad saved map: exit %d, stdout %q", code, stdout)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := cmdline.Main([]string{"--version"}, cmdline.IO{Stdout: &out, Stderr: &out, Version: "1.4.2"}); code != 0 || out.String() != "1.4.2\n" {
		t.Errorf("--version: exit %d, %q", code, out.String())
	}
	if code, stdout, _ := run(t, nil, "--version"); code != 0 || stdout != "dev\n" {
		t.Errorf("--version without one: exit %d, %q", code, stdout)
	}
}

// TestConfigErrors: a bad file is refused at start with the file and
// the line, in the agent's own keys and in the register map alike.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"agent key", "  interval: 100ms", "  intervall: 100ms", `agent.yaml:10: unknown key "intervall" in telemetry`},
		{"register map", "      type: int16\n      scale: 0.1", "      type: int17\n      scale: 0.1", `agent.yaml:37: point chw_setpoint_c: type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeAgentConfig(t, "127.0.0.1:1883", "127.0.0.1:1502", func(s string) string {
				if !strings.Contains(s, tt.from) {
					t.Fatalf("config lacks %q", tt.from)
				}
				return strings.Replace(s, tt.from, tt.to, 1)
			})
			code, _, stderr := run(t, nil, "--config", path, "--check")
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tt.want)
			}
		})
	}
	// Both at once: every problem of the file and of its map in one run.
	path := writeAgentConfig(t, "127.0.0.1:1883", "127.0.0.1:1502", func(s string) string {
		for _, tt := range tests {
			s = strings.Replace(s, tt.from, tt.to, 1)
		}
		return s
	})
	code, _, stderr := run(t, nil, "--config", path, "--check")
	if code != 1 || !strings.Contains(stderr, tests[0].want) || !strings.Contains(stderr, tests[1].want) {
		t.Errorf("two problems: exit %d, stderr %q; want both", code, stderr)
	}
}

// TestRuns: the command polls the equipment and spools samples while
// Hearth cannot be reached, and stops cleanly when its context ends.
func TestRuns(t *testing.T) {
	sim, err := modbussim.New(modbussim.Config{Addr: "127.0.0.1:0", Profile: modbussim.Chiller}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sim.Stop(context.Background())
	// A port that refuses connections: Hearth is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	path := writeAgentConfig(t, down, sim.Addr(), nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	go func() {
		done <- cmdline.Run(ctx, cmdline.IO{Stdout: &bytes.Buffer{}, Stderr: logs, Getenv: func(string) string { return "" }}, "hearth-agent", []string{"--config", path})
	}()
	spool := filepath.Join(filepath.Dir(path), "spool")
	// The first poll has read the equipment and Hearth was tried twice.
	deadline := time.Now().Add(30 * time.Second)
	for (sim.Requests() == 0 || strings.Count(logs.String(), "hearth connection failed") < 2) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop")
	}
	s, err := agent.OpenSpool(spool, agent.SpoolOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.Samples < 1 {
		t.Errorf("spool %+v; want the samples taken while Hearth was down", st)
	}
	if !strings.Contains(logs.String(), "agent stopped") {
		t.Errorf("log lacks the stop:\n%s", logs)
	}
}

// lockedBuffer is a buffer safe for the agent's writes and the test's
// reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDocExamples: the configuration files in docs/agent.md pass
// --check, register maps included.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "agent.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	checked := 0
	for _, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		if !strings.HasPrefix(b, "device:") {
			continue
		}
		path := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(path, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := run(t, nil, "--config", path, "--check")
		if code != 0 || !strings.Contains(stdout, ": OK") {
			t.Errorf("example %q…: exit %d\n%s%s", strings.SplitN(b, "\n", 2)[0], code, stdout, stderr)
		}
		checked++
	}
	if checked < 2 {
		t.Errorf("checked %d examples; want the chiller's and the sensor's", checked)
	}
}
