package agent_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hearthiot/hearth/agent"
)

const fullConfig = `# a gateway on chiller 1
device: chiller-1
hearth:
  address: hearth.example.net:8883
  server_name: mqtt.example.net
  ca_file: /etc/hearth-agent/ca.pem
  certificate_file: certificate.pem
  key_file: private-key.pem
  keepalive: 45s
  connect_timeout: 5s
  reconnect:
    min: 2s
    max: 5m
spool:
  dir: /var/lib/hearth-agent
  max_samples: 20160
  max_bytes: 32MiB
telemetry:
  interval: 30s
  batch: 200
log:
  level: debug
  format: json
jobs:
  update_public_key_file: update.pub
  update_confirm_timeout: 90s
  download_max_bytes: 32MiB
  download_timeout: 10m
modbus:
  source:
    tcp: 192.0.2.20:502
  points:
    - metric: chw_supply_c
      function: input
      address: 0
      type: int16
      scale: 0.1
`

func TestParseConfig(t *testing.T) {
	cfg, err := agent.ParseConfig([]byte(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := agent.Config{
		Device: "chiller-1",
		Hearth: agent.HearthConfig{
			Address: "hearth.example.net:8883", ServerName: "mqtt.example.net", CAFile: "/etc/hearth-agent/ca.pem",
			CertificateFile: "certificate.pem", KeyFile: "private-key.pem", KeepAlive: 45 * time.Second,
			ConnectTimeout: 5 * time.Second, Reconnect: agent.Backoff{Min: 2 * time.Second, Max: 5 * time.Minute},
		},
		Spool:     agent.SpoolConfig{Dir: "/var/lib/hearth-agent", MaxSamples: 20160, MaxBytes: 32 << 20},
		Telemetry: agent.TelemetryConfig{Interval: 30 * time.Second, Batch: 200},
		Log:       agent.LogConfig{Level: "debug", Format: "json"},
		Jobs: agent.JobsConfig{Enabled: true, UpdatePublicKeyFile: "update.pub", UpdateConfirmTimeout: 90 * time.Second,
			DownloadMaxBytes: 32 << 20, DownloadTimeout: 10 * time.Minute},
	}
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreFields(agent.Config{}, "Modbus")); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	// The modbus section keeps its lines in the file, for the register
	// map's own messages.
	if cfg.Modbus == nil || cfg.Modbus.Line != 30 {
		t.Errorf("modbus node %+v; want the mapping at line 30", cfg.Modbus)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := agent.ParseConfig([]byte(`
device: co2-7
hearth: {address: "10.0.0.5:8883", ca_file: ca.pem, secret_file: secret}
spool: {dir: spool}
modbus: {source: {tcp: "127.0.0.1:502"}, points: []}
`))
	if err != nil {
		t.Fatal(err)
	}
	def := agent.DefaultConfig()
	if cfg.Spool.MaxSamples != 7*24*60 || cfg.Spool.MaxBytes != def.Spool.MaxBytes || cfg.Telemetry != def.Telemetry ||
		cfg.Hearth.KeepAlive != 30*time.Second || cfg.Hearth.Reconnect != agent.DefaultBackoff() || cfg.Log != def.Log ||
		cfg.Jobs != def.Jobs || !cfg.Jobs.Enabled || cfg.Jobs.UpdateConfirmTimeout != 2*time.Minute {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

// TestParseConfigErrors: each mistake is refused with its line and a
// message that says what is accepted.
func TestParseConfigErrors(t *testing.T) {
	base := func(replace, with string) string {
		if !strings.Contains(fullConfig, replace) {
			t.Fatalf("fixture lacks %q", replace)
		}
		return strings.Replace(fullConfig, replace, with, 1)
	}
	tests := []struct {
		name string
		yaml string
		line int
		want string
	}{
		{"unknown top-level key", base("spool:", "spol:"), 14, `unknown key "spol" at the top level; accepted are device, hearth, spool`},
		{"unknown nested key", base("  keepalive: 45s", "  keep_alive: 45s"), 9, `unknown key "keep_alive" in hearth; accepted are address`},
		{"duplicate key", base("  batch: 200", "  batch: 200\n  batch: 300"), 21, `telemetry.batch: appears twice (first at line 20)`},
		{"bad duration", base("keepalive: 45s", "keepalive: 45"), 9, `hearth.keepalive: "45" is not a duration; write it like 500ms, 30s`},
		{"duration out of range", base("interval: 30s", "interval: 10ms"), 19, `telemetry.interval: 10ms is out of range; accepted are 100ms to 24h0m0s`},
		{"bad number", base("batch: 200", "batch: many"), 20, `telemetry.batch: "many" is not a whole number`},
		{"number out of range", base("max_samples: 20160", "max_samples: 0"), 16, `spool.max_samples: 0 is out of range; accepted are 1 to`},
		{"bad size", base("max_bytes: 32MiB", "max_bytes: lots"), 17, `spool.max_bytes: "lots" is not a size`},
		{"size too small", base("max_bytes: 32MiB", "max_bytes: 1KiB"), 17, `spool.max_bytes: 1024 bytes is out of range; accepted are 64KiB to 1TiB`},
		{"bad level", base("level: debug", "level: loud"), 22, `log.level: "loud" is not accepted; use debug, info, warn, error`},
		{"bad address", base("hearth.example.net:8883", "hearth.example.net"), 4, `hearth.address: "hearth.example.net" is not host:port`},
		{"bad device name", base("device: chiller-1", "device: chiller/1"), 2, `device: name "chiller/1" has '/' at byte 7`},
		{"empty device", base("device: chiller-1", "device:"), 2, `device: empty; want a string`},
		{"mapping where a value goes", base("device: chiller-1", "device: {name: x}"), 2, `device: a mapping; want a string`},
		{"section not a mapping", base("telemetry:\n  interval: 30s\n  batch: 200", "telemetry: [30s]"), 18, `telemetry: a list; want a mapping of interval, batch`},
		{"missing device", base("device: chiller-1\n", ""), 2, `device: missing; give the device's name`},
		{"missing spool dir", base("  dir: /var/lib/hearth-agent\n", ""), 15, `spool.dir: missing; give the directory`},
		{"missing modbus", fullConfig[:strings.Index(fullConfig, "modbus:")], 2, `modbus: missing; give the equipment's connection and register map`},
		{"certificate without key", base("  key_file: private-key.pem\n", ""), 7, `hearth.key_file: missing; certificate_file needs the key_file`},
		{"certificate and secret", base("  keepalive: 45s", "  keepalive: 45s\n  secret: s3cret"), 3, `both a certificate and a secret are given`},
		{"no credentials", base("  certificate_file: certificate.pem\n  key_file: private-key.pem\n", ""), 3, `no credentials; give certificate_file and key_file, or secret or secret_file`},
		{"no CA", base("  ca_file: /etc/hearth-agent/ca.pem\n", ""), 3, `hearth.ca_file: missing; give the file of Hearth's CA certificate`},
		{"plain with certificate", base("  keepalive: 45s", "  keepalive: 45s\n  plain: true"), 10, `plain MQTT has no TLS, so no client certificate`},
		{"reconnect max below min", base("max: 5m", "max: 1s"), 12, `hearth.reconnect: max 1s is below min 2s`},
		{"not YAML", "device: [unclosed\n", 1, `not valid YAML`},
		{"tabs", "device: x\n\thearth: y\n", 2, `not valid YAML`},
		{"empty file", "", 0, `the file is empty`},
		{"only a comment", "# nothing yet\n", 0, `the file is empty`},
		{"two documents", fullConfig + "---\ndevice: other\n", 38, `a second YAML document`},
		{"bad jobs key", base("  download_timeout: 10m", "  download_timout: 10m"), 28, `unknown key "download_timout" in jobs; accepted are enabled, update_public_key_file, update_confirm_timeout, download_max_bytes, download_timeout`},
		{"confirm timeout out of range", base("update_confirm_timeout: 90s", "update_confirm_timeout: 1s"), 26, `jobs.update_confirm_timeout: 1s is out of range; accepted are 10s to 1h0m0s`},
		{"download bound too small", base("download_max_bytes: 32MiB", "download_max_bytes: 1KiB"), 27, `jobs.download_max_bytes: 1024 bytes is out of range; accepted are 1MiB to 4GiB`},
		{"jobs not a mapping", base("jobs:\n  update_public_key_file: update.pub\n  update_confirm_timeout: 90s\n  download_max_bytes: 32MiB\n  download_timeout: 10m", "jobs: true"), 24, `jobs: "true"; want a mapping of enabled`},
		{"empty key file", base("update_public_key_file: update.pub", "update_public_key_file: ''"), 25, `jobs.update_public_key_file: is empty`},
		{"a list, not a mapping", "- device\n", 1, `a list; want a mapping of device, hearth`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := agent.ParseConfig([]byte(tt.yaml))
			var ce *agent.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T); want a *ConfigError", err, err)
			}
			if ce.Line != tt.line || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error at line %d: %q\nwant line %d and %q", ce.Line, err, tt.line, tt.want)
			}
		})
	}
}

// TestParseConfigEveryProblem: a file with several mistakes gets all of
// them at once, each with its line, so that --check shows what to fix in
// one go.
func TestParseConfigEveryProblem(t *testing.T) {
	file := fullConfig
	for from, to := range map[string]string{
		"device: chiller-1":     "device: chiller/1",
		"  keepalive: 45s":      "  keep_alive: 45s",
		"  connect_timeout: 5s": "  connect_timeout: soon",
		"  max_samples: 20160":  "  max_samples: 0",
		"  interval: 30s":       "  interval: 10ms",
		"  level: debug":        "  level: loud",
	} {
		if !strings.Contains(file, from) {
			t.Fatalf("fixture lacks %q", from)
		}
		file = strings.Replace(file, from, to, 1)
	}
	_, err := agent.ParseConfig([]byte(file))
	var ces *agent.ConfigErrors
	if !errors.As(err, &ces) {
		t.Fatalf("error %v (%T); want a *ConfigErrors", err, err)
	}
	var got []string
	for _, p := range ces.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		`line 2: device: name "chiller/1" has '/' at byte 7; only letters, digits, ':', '_' and '-' are allowed`,
		`line 9: unknown key "keep_alive" in hearth; accepted are address, server_name, plain, ca_file, certificate_file, key_file, secret, secret_file, keepalive, connect_timeout, reconnect`,
		`line 10: hearth.connect_timeout: "soon" is not a duration; write it like 500ms, 30s, 5m or 1h`,
		`line 16: spool.max_samples: 0 is out of range; accepted are 1 to 100000000`,
		`line 19: telemetry.interval: 10ms is out of range; accepted are 100ms to 24h0m0s`,
		`line 22: log.level: "loud" is not accepted; use debug, info, warn, error`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if err.Error() != strings.Join(want, "\n") {
		t.Errorf("error text %q; want one problem a line", err)
	}
	// errors.As still finds the first problem by itself.
	var ce *agent.ConfigError
	if !errors.As(err, &ce) || ce.Line != 2 {
		t.Errorf("first problem %v; want the one at line 2", ce)
	}

	// A section that is wrong as a whole is one problem, not one per key
	// it lacks; the sections after it are still checked.
	_, err = agent.ParseConfig([]byte(strings.Replace(strings.Replace(fullConfig, "spool:\n  dir: /var/lib/hearth-agent\n  max_samples: 20160\n  max_bytes: 32MiB", "spool: [x]", 1),
		"batch: 200", "batch: many", 1)))
	if !errors.As(err, &ces) || len(ces.Problems) != 2 || !strings.Contains(ces.Problems[0].Message, "a list; want a mapping of dir") ||
		!strings.Contains(ces.Problems[1].Message, `"many" is not a whole number`) {
		t.Errorf("error %v; want the spool section and telemetry.batch", err)
	}
}

func TestLoadConfigPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(fullConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	// Relative names are taken from the file's directory; absolute ones
	// stay.
	if cfg.Hearth.CertificateFile != filepath.Join(dir, "certificate.pem") || cfg.Hearth.CAFile != "/etc/hearth-agent/ca.pem" ||
		cfg.Jobs.UpdatePublicKeyFile != filepath.Join(dir, "update.pub") {
		t.Errorf("paths %q, %q, %q", cfg.Hearth.CertificateFile, cfg.Hearth.CAFile, cfg.Jobs.UpdatePublicKeyFile)
	}
	os.WriteFile(path, []byte(strings.Replace(strings.Replace(fullConfig, "batch: 200", "batch: -1", 1), "format: json", "format: xml", 1)), 0o600)
	_, err = agent.LoadConfig(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":20: telemetry.batch: -1 is out of range") ||
		!strings.Contains(err.Error(), "\n"+path+`:23: log.format: "xml" is not accepted`) {
		t.Errorf("error %v; want each problem to name the file and line", err)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "secret")
	os.WriteFile(f, []byte("  s3cret \nsecond line\n"), 0o600)
	if s, err := (agent.HearthConfig{SecretFile: f}).ReadSecret(); err != nil || s != "s3cret" {
		t.Errorf("ReadSecret = %q, %v; want the first line trimmed", s, err)
	}
	os.WriteFile(f, []byte("\n"), 0o600)
	if _, err := (agent.HearthConfig{SecretFile: f}).ReadSecret(); err == nil {
		t.Error("empty secret file: no error")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "64KiB": 64 << 10, "10 MiB": 10 << 20, "1GB": 1e9, "2_048": 2048, "12B": 12} {
		if got, err := agent.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "99999999999999999999", "9000000000TiB"} {
		if _, err := agent.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
}
