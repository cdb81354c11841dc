package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store/backup"
)

// runCLI runs the command line with the given stdin and environment.
func runCLI(t *testing.T, stdin string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, IO{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	})
	return code, out.String(), errOut.String()
}

func TestFlagWinsOverEnvironment(t *testing.T) {
	env := map[string]string{"HEARTH_DATA": "/from/env", "HEARTH_MQTT_PLAIN": "127.0.0.1:1883", "HEARTH_RETENTION": "90d"}
	cfg := server.DefaultConfig()
	fs := newFlagSet("serve", IO{Stderr: &bytes.Buffer{}})
	serveFlags(fs, &cfg)
	if err := parse(fs, []string{"--data", "/from/flag"}, IO{Getenv: func(k string) string { return env[k] }}); err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/flag" {
		t.Errorf("data = %q, want the flag's /from/flag", cfg.DataDir)
	}
	if cfg.MQTT.PlainAddr != "127.0.0.1:1883" {
		t.Errorf("mqtt-plain = %q, want the environment's", cfg.MQTT.PlainAddr)
	}
	if cfg.TSDB.Retention != 90*24*time.Hour {
		t.Errorf("retention = %s, want 90 days", cfg.TSDB.Retention)
	}
}

func TestBadEnvironmentNamesTheVariable(t *testing.T) {
	code, _, stderr := runCLI(t, "", map[string]string{"HEARTH_RETENTION": "forever"}, "serve")
	if code != 2 || !strings.Contains(stderr, "HEARTH_RETENTION") {
		t.Errorf("exit %d, stderr %q: want 2 naming HEARTH_RETENTION", code, stderr)
	}
}

func TestParseLongDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"3y": 3 * 365 * 24 * time.Hour, "90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "720h": 720 * time.Hour,
	} {
		if got, err := parseLongDuration(in); err != nil || got != want {
			t.Errorf("parseLongDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "y", "-1d", "1.5d", "3x", "d3", "01d"} {
		if _, err := parseLongDuration(in); err == nil {
			t.Errorf("parseLongDuration(%q) accepted", in)
		}
	}
	var s sizeFlag
	if err := s.Set("512MiB"); err != nil || s != 512<<20 {
		t.Errorf("size 512MiB = %d, %v", s, err)
	}
	if err := s.Set("12XB"); err == nil {
		t.Error("size 12XB accepted")
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, stderr := runCLI(t, "", nil, "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, "", nil, "version")
	if code != 0 || stdout != "hearth dev\n" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

// adminScenario runs the admin commands on dir and checks their output. It
// is the same with and without a running server.
func adminScenario(t *testing.T, dir string) {
	t.Helper()
	env := map[string]string{"HEARTH_DATA": dir}
	code, out, errOut := runCLI(t, "", env, "customer", "add", "acme")
	if code != 0 || !strings.Contains(out, "acme") {
		t.Fatalf("customer add: exit %d, stdout %q: %s", code, out, errOut)
	}
	// A site with its address and zone; a zone that is none is refused.
	if code, _, errOut := runCLI(t, "", env, "site", "add", "hq", "--customer", "acme", "--address", "1-1 Marunouchi, Tokyo", "--time-zone", "Asia/Tokyo"); code != 0 {
		t.Fatalf("site add: exit %d: %s", code, errOut)
	}
	if code, out, errOut := runCLI(t, "", env, "site", "list", "--customer", "acme"); code != 0 || !strings.Contains(out, "hq\tAsia/Tokyo") {
		t.Errorf("site list: exit %d, stdout %q: %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", env, "site", "add", "annex", "--customer", "acme", "--time-zone", "Mars/Olympus"); code == 0 || !strings.Contains(errOut, "time_zone") {
		t.Errorf("site add with an unknown zone: exit %d: %s", code, errOut)
	}
	// A type nobody defined is refused, naming the built-in ones.
	code, _, errOut = runCLI(t, "", env, "device", "add", "chiller-0", "--customer", "acme", "--type", "chillr", "--out", filepath.Join(t.TempDir(), "x"))
	if code != 1 || !strings.Contains(errOut, `no device type named "chillr"; the device types are ahu, boiler, chiller, electricity-meter, gas-meter, iaq`) {
		t.Errorf("device add of an unknown type: exit %d: %s", code, errOut)
	}
	creds := filepath.Join(t.TempDir(), "dev")
	code, out, errOut = runCLI(t, "", env, "device", "add", "chiller-1", "--customer", "acme", "--type", "chiller", "--attr", "floor=B1", "--out", creds)
	if code != 0 {
		t.Fatalf("device add: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if secret := lines[len(lines)-1]; len(secret) < 40 {
		t.Errorf("device add: last line %q is not a secret", secret)
	}
	for _, f := range []string{"certificate.pem", "private-key.pem", "ca.pem"} {
		info, err := os.Stat(filepath.Join(creds, f))
		if err != nil {
			t.Fatalf("device add did not write %s: %v", f, err)
		}
		if f == "private-key.pem" && info.Mode().Perm() != 0o600 {
			t.Errorf("private key mode %v, want 0600", info.Mode().Perm())
		}
	}
	// A second add to the same directory is refused before anything is issued.
	code, _, errOut = runCLI(t, "", env, "device", "add", "chiller-2", "--customer", "acme", "--out", creds)
	if code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("device add over existing files: exit %d: %s", code, errOut)
	}
	code, out, _ = runCLI(t, "", env, "device", "list")
	if code != 0 || !strings.Contains(out, "chiller-1") || strings.Contains(out, "chiller-2") {
		t.Errorf("device list: exit %d:\n%s", code, out)
	}
	// The list says whether each device is connected and when it was
	// last heard from; chiller-1 never connected.
	if !strings.Contains(out, "STATE") || !strings.Contains(out, "LAST SEEN") || !regexp.MustCompile(`chiller-1\s+acme\s+default\s+chiller\s+offline\s+never`).MatchString(out) {
		t.Errorf("device list lacks the connection state:\n%s", out)
	}
	code, out, errOut = runCLI(t, `{"description": "Absorption chiller", "settings": [{"key": "chw_setpoint", "type": "number", "minimum": 5, "maximum": 12, "customer_editable": true}]}`,
		env, "device-type", "put", "chiller", "--file", "-")
	if code != 0 || !strings.Contains(out, "device type chiller stored with 1 settings") {
		t.Errorf("device-type put: exit %d: %s %s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, `{"settings": [{"key": "chw_setpoint", "type": "number", "minimum": 12, "maximum": 5}]}`,
		env, "device-type", "put", "chiller", "--file", "-")
	if code != 1 || !strings.Contains(errOut, "minimum 12 is above maximum 5") {
		t.Errorf("device-type put of impossible settings: exit %d: %s", code, errOut)
	}
	code, out, _ = runCLI(t, "", env, "device-type", "list")
	if code != 0 || !strings.Contains(out, "chiller") || !strings.Contains(out, "Absorption chiller") {
		t.Errorf("device-type list: exit %d:\n%s", code, out)
	}
	code, out, errOut = runCLI(t, "", env, "token", "create", "--role", "customer", "--customer", "acme", "--name", "grafana")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	if tok := strings.TrimSpace(out); !strings.HasPrefix(tok, "hth_") || strings.Contains(tok, "\n") {
		t.Errorf("token create: stdout %q, want only the token", out)
	}
	// A customer's admin token, which manages acme's users and tokens.
	code, out, errOut = runCLI(t, "", env, "token", "create", "--role", "customer", "--customer", "acme", "--access", "admin", "--name", "acme-admin")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "hth_") {
		t.Errorf("token create --access admin: exit %d: %s", code, errOut)
	}
	if code, out, _ := runCLI(t, "", env, "token", "list"); code != 0 || !regexp.MustCompile(`"access": "admin",\s+"created_at": "[^"]+",\s+"customer": "acme",\s+"id": "[^"]+",\s+"name": "acme-admin"`).MatchString(out) {
		t.Errorf("token list lacks acme's admin token: exit %d:\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "", env, "token", "create", "--role", "customer", "--customer", "acme", "--access", "operator", "--name", "odd"); code != 2 || !strings.Contains(errOut, `--access "operator" for --role customer: admin, editor, viewer`) {
		t.Errorf("token create with an access the role lacks: exit %d: %s", code, errOut)
	}
	code, out, errOut = runCLI(t, "s3cret-Passw0rd!\n", env, "user", "add", "fm@acme.example", "--role", "customer", "--customer", "acme", "--password-stdin")
	if code != 0 || strings.Contains(out, "s3cret") {
		t.Errorf("user add: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A lost password has a way back: a new one-time password, the last
	// line of standard output.
	code, out, errOut = runCLI(t, "", env, "user", "reset-password", "fm@acme.example")
	if pw := strings.TrimSpace(out); code != 0 || len(pw) != 20 || strings.Contains(pw, "\n") {
		t.Errorf("user reset-password: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, step := range []struct{ verb, want string }{{"disable", "disabled"}, {"enable", "enabled"}} {
		if code, _, errOut := runCLI(t, "", env, "user", step.verb, "fm@acme.example"); code != 0 {
			t.Errorf("user %s: exit %d: %s", step.verb, code, errOut)
		}
		if code, out, _ := runCLI(t, "", env, "user", "list"); code != 0 || !regexp.MustCompile(`fm@acme.example\s.*\s`+step.want).MatchString(out) {
			t.Errorf("user list after %s: exit %d:\n%s", step.verb, code, out)
		}
	}
	if code, _, errOut := runCLI(t, "", env, "user", "delete", "fm@acme.example"); code != 0 {
		t.Errorf("user delete: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", env, "user", "reset-password", "fm@acme.example"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("user reset-password of a deleted user: exit %d: %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "", env, "device", "add", "bad/name", "--customer", "acme", "--out", filepath.Join(t.TempDir(), "x"))
	if code != 1 || !strings.Contains(errOut, "name") {
		t.Errorf("device add with a bad name: exit %d: %s", code, errOut)
	}
}

func TestAdminCommandsWithoutServer(t *testing.T) {
	dir := installed(t, filepath.Join(t.TempDir(), "data"))
	adminScenario(t, dir)
	if _, err := os.Stat(server.SocketPath(dir)); err == nil {
		t.Error("an admin socket exists though no server ran")
	}
}

// serving starts a server on a new data directory, on loopback ports,
// stopped when the test ends.
func serving(t *testing.T) (*server.Server, string) {
	t.Helper()
	srv, dir := startServer(t, t.TempDir())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return srv, dir
}

// installed is the data directory dir after a Hearth ran there once and
// stopped, as an operator has it after the first start.
func installed(t *testing.T, dir string) string {
	t.Helper()
	srv, _ := startServer(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startServer starts a server on data directory dir, on loopback ports.
func startServer(t *testing.T, dir string) (*server.Server, string) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Addr = "127.0.0.1:0"
	cfg.TSDB.MemoryBytes = 64 << 20
	srv, err := server.New(cfg, "test", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return srv, dir
}

func TestAdminCommandsWhileServing(t *testing.T) {
	_, dir := serving(t)
	// The server holds bbolt's lock, so success here means the commands
	// went through the admin socket.
	adminScenario(t, dir)
}

func TestServeRefusesImpossibleSettings(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--telemetry-max-future", "72h"},
		{"serve", "--retention", "1h"},
		{"serve", "--tls-cert", "only-cert.pem"},
		{"serve", "--log-format", "xml"},
	} {
		code, _, stderr := runCLI(t, "", nil, args...)
		if code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a message", args, code, stderr)
		}
	}
}

// TestServeRefusesBadUpstream: each wrong --mqtt-upstream setting is
// refused before anything starts, with a message naming the flag, and the
// password given in the URL is not in it.
func TestServeRefusesBadUpstream(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--mqtt-upstream", "http://u:hunter2@h:1"}, "--mqtt-upstream"},
		{[]string{"--mqtt-upstream", "mqtt://u:hunter2@h"}, "a host and a port"},
		{[]string{"--mqtt-upstream", "mqtt://u:hunter2@h:1", "--mqtt-upstream-password", "x"}, "give them once"},
		{[]string{"--mqtt-upstream", "mqtt://h:1", "--mqtt-upstream-ca", "ca.pem"}, "use mqtts://"},
		{[]string{"--mqtt-upstream", "mqtts://h:1", "--mqtt-upstream-cert", "c.pem"}, "--mqtt-upstream-key"},
		{[]string{"--mqtt-upstream", "mqtt://h:1", "--mqtt-upstream-group", "a/b"}, "--mqtt-upstream-group"},
		{[]string{"--mqtt-upstream", "mqtt://h:1", "--mqtt-upstream-shadows", "2/2"}, "--mqtt-upstream-shadows"},
		{[]string{"--mqtt-upstream-password", "hunter2"}, "without --mqtt-upstream"},
	} {
		code, _, stderr := runCLI(t, "", nil, append([]string{"serve", "--data", t.TempDir()}, tt.args...)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
		if strings.Contains(stderr, "hunter2") {
			t.Errorf("%v: the message shows the password: %q", tt.args, stderr)
		}
	}
}

// When the credential files cannot be written, the credentials are printed
// instead: they exist only in this answer.
func TestDeviceAddPrintsCredentialsItCannotWrite(t *testing.T) {
	dir := installed(t, filepath.Join(t.TempDir(), "data"))
	env := map[string]string{"HEARTH_DATA": dir}
	if code, _, errOut := runCLI(t, "", env, "customer", "add", "acme"); code != 0 {
		t.Fatal(errOut)
	}
	blocker := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "", env, "device", "add", "meter-1", "--customer", "acme", "--out", filepath.Join(blocker, "sub"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"secret: ", "BEGIN CERTIFICATE", "BEGIN PRIVATE KEY"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

// TestAdminCommandsNeverCreateAnInstallation: an admin command run where
// no Hearth lives (another folder, no server) stops with an error that
// says where it looked and how to point it, and creates nothing, least of
// all a data directory with a CA of its own.
func TestAdminCommandsNeverCreateAnInstallation(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"customer", "add", "x"},
		{"device", "list"},
		{"user", "list"},
	} {
		code, _, errOut := runCLI(t, "", nil, args...)
		if code == 0 {
			t.Errorf("%v succeeded in an empty folder", args)
		}
		for _, want := range []string{"no Hearth data directory", "looked in", "--data", "HEARTH_DATA"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: the error %q does not say %q", args, errOut, want)
			}
		}
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("admin commands created %d entries, first %q", len(entries), entries[0].Name())
	}
	// A folder that exists but holds no Hearth is refused the same way.
	if err := os.Mkdir("data", 0o700); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", nil, "customer", "add", "x"); code == 0 || !strings.Contains(errOut, "hearth.db is missing") {
		t.Errorf("an empty data folder: exit %d: %s", code, errOut)
	}
	if entries, _ := os.ReadDir("data"); len(entries) != 0 {
		t.Errorf("admin commands wrote %d entries into an empty data folder", len(entries))
	}
}

// TestHelp: --help, -h and help print the same overview of commands, and
// each command's --help its own flags, on standard output.
func TestHelp(t *testing.T) {
	_, overview, _ := runCLI(t, "", nil, "help")
	if !strings.Contains(overview, "Commands:") || !strings.Contains(overview, "healthcheck") || !strings.Contains(overview, "agent") {
		t.Fatalf("help: %q", overview)
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}} {
		code, out, errOut := runCLI(t, "", nil, args...)
		if code != 0 || out != overview || errOut != "" {
			t.Errorf("%v: exit %d, stdout differs from help: %v, stderr %q", args, code, out != overview, errOut)
		}
	}
	for _, args := range [][]string{{"device", "--help"}, {"help", "device"}, {"serve", "-h"}, {"healthcheck", "--help"}} {
		name := args[0]
		if name == "help" {
			name = args[1]
		}
		code, out, errOut := runCLI(t, "", nil, args...)
		if code != 0 || !strings.Contains(out, "Usage: hearth "+name+" [") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		if !strings.Contains(out, "-data") && args[0] != "healthcheck" {
			t.Errorf("%v: the command's flags are missing: %q", args, out)
		}
	}
	if _, out, _ := runCLI(t, "", nil, "healthcheck", "--help"); !strings.Contains(out, "/readyz") || strings.Contains(out, "/healthz") {
		t.Errorf("healthcheck's help does not name what it checks: %q", out)
	}
}

func TestBackupFlags(t *testing.T) {
	cfg := server.DefaultConfig()
	fs := newFlagSet("serve", IO{Stderr: &bytes.Buffer{}})
	serveFlags(fs, &cfg)
	env := map[string]string{"HEARTH_BACKUP_KEEP": "3"}
	if err := parse(fs, []string{"--backup-dir", "/backups", "--backup-every", "6h"}, IO{Getenv: func(k string) string { return env[k] }}); err != nil {
		t.Fatal(err)
	}
	if cfg.Backup != (server.BackupConfig{Dir: "/backups", Every: 6 * time.Hour, Keep: 3}) {
		t.Errorf("backup config %+v", cfg.Backup)
	}
	cfg.Backup.Keep = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("keep 0: %v", err)
	}
	cfg.Backup = server.BackupConfig{Dir: "/backups", Every: time.Second, Keep: 1}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "minimum is 1m") {
		t.Errorf("every 1s: %v", err)
	}
}

func TestArtifactMaxSizeFlag(t *testing.T) {
	cfg := server.DefaultConfig()
	if cfg.ArtifactMaxSize != 256<<20 {
		t.Errorf("default artifact limit %d, want 256 MiB", cfg.ArtifactMaxSize)
	}
	fs := newFlagSet("serve", IO{Stderr: &bytes.Buffer{}})
	serveFlags(fs, &cfg)
	if err := parse(fs, []string{"--artifact-max-size", "1GiB"}, IO{Getenv: func(string) string { return "" }}); err != nil {
		t.Fatal(err)
	}
	if cfg.ArtifactMaxSize != 1<<30 {
		t.Errorf("--artifact-max-size 1GiB: %d", cfg.ArtifactMaxSize)
	}
	cfg = server.DefaultConfig()
	fs = newFlagSet("serve", IO{Stderr: &bytes.Buffer{}})
	serveFlags(fs, &cfg)
	env := map[string]string{"HEARTH_ARTIFACT_MAX_SIZE": "1000"}
	if err := parse(fs, nil, IO{Getenv: func(k string) string { return env[k] }}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--artifact-max-size 1000: at least 1048576 bytes") {
		t.Errorf("a limit of 1000 bytes: %v", err)
	}
}

func TestProgressText(t *testing.T) {
	got := progressText("backup", 3<<30, 4<<30, 10*time.Second)
	if want := "backup:  75%  3.0 GiB of 4.0 GiB  307.2 MiB/s"; strings.TrimRight(got, " ") != want {
		t.Errorf("progress line %q, want %q", got, want)
	}
	if newProgress(&bytes.Buffer{}, "backup") != nil {
		t.Error("progress is shown on something that is not a terminal")
	}
	var p *progress // not a terminal: updates do nothing
	p.update(1, 2)
	p.finish()
}

// failingReader yields data, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestCopyVerifiedNamesTheCause: a source that breaks is reported as
// broken, not as a damaged archive; a damaged archive as damaged.
func TestCopyVerifiedNamesTheCause(t *testing.T) {
	broken := errors.New("connection reset by peer")
	var out bytes.Buffer
	_, err := copyVerified(&out, &failingReader{data: []byte("\x28\xb5\x2f\xfd"), err: broken}, nil)
	if !errors.Is(err, broken) {
		t.Errorf("a broken source: %v, want its error", err)
	}
	_, err = copyVerified(&out, strings.NewReader("\x28\xb5\x2f\xfd garbage"), nil)
	if !errors.Is(err, backup.ErrDamaged) {
		t.Errorf("a damaged archive: %v, want ErrDamaged", err)
	}
	_, err = copyVerified(&out, strings.NewReader("plain text"), nil)
	if !errors.Is(err, backup.ErrNotBackup) {
		t.Errorf("no archive: %v, want ErrNotBackup", err)
	}
}

// --memory takes a size or a share, from the flag or HEARTH_MEMORY; the
// flag wins, and a wrong one says what is accepted.
func TestMemoryFlag(t *testing.T) {
	cfg := server.DefaultConfig()
	fs := newFlagSet("serve", IO{Stderr: &bytes.Buffer{}})
	serveFlags(fs, &cfg)
	env := map[string]string{"HEARTH_MEMORY": "75%", "HEARTH_TSDB_MEMORY": "256MiB"}
	if err := parse(fs, nil, IO{Getenv: func(k string) string { return env[k] }}); err != nil {
		t.Fatal(err)
	}
	if cfg.Memory.Percent != 75 || cfg.TSDB.MemoryBytes != 256<<20 {
		t.Errorf("from the environment: memory %+v, tsdb %d", cfg.Memory, cfg.TSDB.MemoryBytes)
	}
	cfg = server.DefaultConfig()
	fs = newFlagSet("serve", IO{Stderr: &bytes.Buffer{}})
	serveFlags(fs, &cfg)
	if err := parse(fs, []string{"--memory", "2GiB"}, IO{Getenv: func(k string) string { return env[k] }}); err != nil {
		t.Fatal(err)
	}
	if cfg.Memory.Bytes != 2<<30 || cfg.Memory.Percent != 0 {
		t.Errorf("--memory 2GiB over the environment's 75%%: %+v", cfg.Memory)
	}
	code, _, stderr := runCLI(t, "", nil, "serve", "--memory", "2GB")
	if code != 2 || !strings.Contains(stderr, `"2GB" is not a size`) {
		t.Errorf("--memory 2GB: exit %d, %q", code, stderr)
	}
}
