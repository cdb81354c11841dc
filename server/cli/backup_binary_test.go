package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hearthCmd runs the binary with HEARTH_DATA unset, so only flags decide.
func hearthCmd(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HEARTH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// TestBinaryBackupRestore is the command line's contract: `hearth backup
// --data DIR --to FILE` works while a server runs on DIR and when none
// does; it never overwrites FILE; `hearth backup verify` checks an archive
// and refuses a damaged one; `hearth restore --from FILE --data NEWDIR`
// refuses a NEWDIR that holds anything, restores into a missing one, and
// a server starts there with what the archive held.
func TestBinaryBackupRestore(t *testing.T) {
	bin := buildHearth(t)
	work := t.TempDir()
	dir := filepath.Join(work, "data")
	cmd, _, logs, _ := startBinary(t, bin, dir)
	run := func(want int, args ...string) string {
		t.Helper()
		out, err := hearthCmd(bin, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("hearth %s: exit %d, want %d:\n%s", strings.Join(args, " "), code, want, out)
		}
		return string(out)
	}
	run(0, "customer", "add", "while-serving", "--data", dir)

	live := filepath.Join(work, "live.tar.zst")
	out := run(0, "backup", "--data", dir, "--to", live)
	if !strings.Contains(out, "from the running server") || !strings.Contains(out, "every SHA-256 checked") {
		t.Errorf("backup while serving:\n%s", out)
	}
	out = run(1, "backup", "--data", dir, "--to", live)
	if !strings.Contains(out, "exists") {
		t.Errorf("backup over an existing file:\n%s", out)
	}
	out = run(0, "backup", "verify", live)
	for _, want := range []string{"is whole", "hearth.db", "tsdb", "tls", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify lacks %q:\n%s", want, out)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after SIGTERM:\n%s", logs)
	}
	run(0, "customer", "add", "while-stopped", "--data", dir)
	stopped := filepath.Join(work, "stopped.tar.zst")
	out = run(0, "backup", "--data", dir, "--to", stopped)
	if !strings.Contains(out, "no server running") {
		t.Errorf("backup while stopped:\n%s", out)
	}
	out = run(1, "backup", "--data", filepath.Join(work, "nothing"), "--to", filepath.Join(work, "x.tar.zst"))
	if !strings.Contains(out, "no Hearth data directory here") {
		t.Errorf("backup of no installation:\n%s", out)
	}

	// A damaged archive: refused by verify and by restore, which leaves
	// nothing behind.
	data, err := os.ReadFile(stopped)
	if err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(work, "damaged.tar.zst")
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(damaged, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run(1, "backup", "verify", damaged); !strings.Contains(out, "damaged") {
		t.Errorf("verify of a damaged archive:\n%s", out)
	}
	if out := run(1, "restore", "--from", damaged, "--data", filepath.Join(work, "from-damaged")); !strings.Contains(out, "damaged") {
		t.Errorf("restore of a damaged archive:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(work, "from-damaged")); err == nil {
		t.Error("a refused restore left its directory")
	}

	// Restore refuses a directory that holds anything: the original one
	// and one with a single file.
	busy := filepath.Join(work, "busy")
	if err := os.MkdirAll(busy, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(busy, "keep.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{dir, busy} {
		out := run(1, "restore", "--from", stopped, "--data", target)
		if !strings.Contains(out, "not empty") {
			t.Errorf("restore into %s:\n%s", target, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(busy, "keep.txt")); err != nil || string(b) != "mine" {
		t.Errorf("the refused directory changed: %q %v", b, err)
	}

	for archive, want := range map[string][]string{live: {"while-serving"}, stopped: {"while-serving", "while-stopped"}} {
		target := filepath.Join(work, "restored-"+filepath.Base(archive))
		out := run(0, "restore", "--from", archive, "--data", target)
		if !strings.Contains(out, "hearth serve --data "+target) {
			t.Errorf("restore:\n%s", out)
		}
		cmd2, _, _, _ := startBinary(t, bin, target)
		list := run(0, "customer", "list", "--data", target)
		for _, c := range want {
			if !strings.Contains(list, c) {
				t.Errorf("server on the restore of %s lacks customer %s:\n%s", filepath.Base(archive), c, list)
			}
		}
		if archive == live && strings.Contains(list, "while-stopped") {
			t.Errorf("the backup taken while serving has a customer added after it:\n%s", list)
		}
		_ = cmd2.Process.Signal(syscall.SIGTERM)
		_ = cmd2.Wait()
	}
}
