package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

// updateFixture is an installed agent binary with an update under way:
// the files of each step, and the state a step left.
type updateFixture struct {
	dir, exe        string // the spool directory, the binary in place
	oldBin, newBin  []byte
	newSum          string
	u               *updater
	st              updateState
	backup, newFile string
}

func newUpdateFixture(t *testing.T, phase string) *updateFixture {
	t.Helper()
	root := t.TempDir()
	f := &updateFixture{dir: filepath.Join(root, "spool"), exe: filepath.Join(root, "hearth-agent"),
		oldBin: []byte("old binary"), newBin: []byte("new binary")}
	os.MkdirAll(f.dir, 0o700)
	sum := sha256.Sum256(f.newBin)
	f.newSum = hex.EncodeToString(sum[:])
	f.backup, f.newFile = f.exe+".previous", f.exe+".new"
	f.u = &updater{dir: f.dir, exe: f.exe, version: "1.0.0", confirm: time.Minute, logger: slog.New(slog.DiscardHandler)}
	f.st = updateState{Phase: phase, JobID: "agent-2", ExecutionNumber: 1, VersionNumber: 4, Version: "2.0.0", Previous: "1.0.0",
		Executable: f.exe, NewFile: f.newFile, Backup: f.backup, SHA256: f.newSum}
	if err := saveUpdateState(f.dir, f.st); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *updateFixture) write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func (f *updateFixture) saved(t *testing.T) updateState {
	t.Helper()
	st, ok, err := loadUpdateState(f.dir)
	if err != nil || !ok {
		t.Fatalf("update state: %v, %v", ok, err)
	}
	return st
}

// TestResumeUpdate: whichever binary starts after a step was interrupted
// finds out from the state and the binary in place how the update stands.
func TestResumeUpdate(t *testing.T) {
	t.Run("stopped during the trial", func(t *testing.T) {
		f := newUpdateFixture(t, phaseTrial)
		f.write(t, f.exe, f.oldBin)
		f.write(t, f.newFile, f.newBin)
		st, ok, rs, err := f.u.resume()
		if err != nil || !ok || rs != nil {
			t.Fatalf("resume: %v, %v, %v", ok, rs, err)
		}
		if st.Phase != phaseReport || st.Status != protocol.JobFailed || !strings.Contains(st.Details["reason"], "stopped while version 2.0.0 was tried") {
			t.Errorf("state %+v; want FAILED to report", st)
		}
		if _, err := os.Stat(f.newFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the new binary is left: %v", err)
		}
		if f.saved(t).Status != protocol.JobFailed {
			t.Error("the result is not on disk")
		}
	})
	t.Run("stopped before the rename", func(t *testing.T) {
		f := newUpdateFixture(t, phaseInstalled)
		f.write(t, f.exe, f.oldBin)
		f.write(t, f.newFile, f.newBin)
		st, _, rs, err := f.u.resume()
		if err != nil || rs != nil || st.Status != protocol.JobFailed || !strings.Contains(st.Details["reason"], "before version 2.0.0 was in place") {
			t.Errorf("state %+v, %v, %v; want FAILED: the old binary runs", st, rs, err)
		}
	})
	t.Run("installed", func(t *testing.T) {
		f := newUpdateFixture(t, phaseInstalled)
		f.write(t, f.exe, f.newBin)
		f.write(t, f.backup, f.oldBin)
		st, ok, rs, err := f.u.resume()
		if err != nil || !ok || rs != nil || st.Phase != phaseInstalled || st.Starts != 1 || f.saved(t).Starts != 1 {
			t.Fatalf("state %+v, %v, %v; want installed, started once", st, rs, err)
		}
		// Connected: the result to report is SUCCEEDED.
		st, err = f.u.confirmed(st)
		if err != nil || st.Phase != phaseReport || st.Status != protocol.JobSucceeded || st.Details["previous_version"] != "1.0.0" {
			t.Errorf("confirmed: %+v, %v", st, err)
		}
	})
	t.Run("installed and never connecting", func(t *testing.T) {
		f := newUpdateFixture(t, phaseInstalled)
		f.write(t, f.exe, f.newBin)
		f.write(t, f.backup, f.oldBin)
		f.st.Starts = maxUnconfirmedStarts
		saveUpdateState(f.dir, f.st)
		st, _, rs, err := f.u.resume()
		if err != nil || rs == nil || rs.trial != nil || rs.exe != f.exe {
			t.Fatalf("resume: %v, %v; want a restart of the binary in place", rs, err)
		}
		if b, _ := os.ReadFile(f.exe); string(b) != string(f.oldBin) {
			t.Errorf("the binary in place is %q; want the previous one back", b)
		}
		if st.Status != protocol.JobFailed || st.Restore || !strings.Contains(st.Details["reason"], "started 3 times without connecting") ||
			!strings.Contains(st.Details["reason"], "version 1.0.0 was put back") {
			t.Errorf("state %+v; want FAILED with why", st)
		}
	})
	t.Run("stopped during the restore", func(t *testing.T) {
		// The restore is marked; whether the rename happened or not, the
		// previous binary ends up in place.
		for _, renamed := range []bool{false, true} {
			f := newUpdateFixture(t, phaseReport)
			f.st.Status, f.st.Restore, f.st.Details = protocol.JobFailed, true, map[string]string{"reason": "x"}
			saveUpdateState(f.dir, f.st)
			if renamed {
				f.write(t, f.exe, f.oldBin)
			} else {
				f.write(t, f.exe, f.newBin)
				f.write(t, f.backup, f.oldBin)
			}
			st, _, rs, err := f.u.resume()
			if err != nil || rs == nil || st.Restore || f.saved(t).Restore {
				t.Errorf("renamed %v: %+v, %v, %v; want the restore done and a restart", renamed, st, rs, err)
			}
			if b, _ := os.ReadFile(f.exe); string(b) != string(f.oldBin) {
				t.Errorf("renamed %v: the binary in place is %q", renamed, b)
			}
		}
	})
	t.Run("no state", func(t *testing.T) {
		u := &updater{dir: t.TempDir(), logger: slog.New(slog.DiscardHandler)}
		if _, ok, rs, err := u.resume(); ok || rs != nil || err != nil {
			t.Errorf("resume without state: %v, %v, %v", ok, rs, err)
		}
	})
}

// TestConfirmTimeout: an installed binary that cannot reach Hearth within
// the confirm timeout puts the previous one back, and the agent stops to
// run it.
func TestConfirmTimeout(t *testing.T) {
	f := newUpdateFixture(t, phaseInstalled)
	f.write(t, f.exe, f.newBin)
	f.write(t, f.backup, f.oldBin)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	cfg := DefaultConfig()
	cfg.Device, cfg.Spool.Dir = "gw-1", f.dir
	cfg.Hearth = HearthConfig{Address: down, Plain: true, Secret: "s", KeepAlive: time.Minute, ConnectTimeout: time.Second,
		Reconnect: Backoff{Min: 50 * time.Millisecond, Max: 100 * time.Millisecond}}
	cfg.Telemetry.Interval = time.Second
	cfg.Jobs.UpdateConfirmTimeout = 300 * time.Millisecond
	a, err := New(cfg, newFake(), nil, Options{Version: "2.0.0", Executable: f.exe})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = a.Run(ctx)
	var rs *Restart
	if !errors.As(err, &rs) || rs.trial != nil {
		t.Fatalf("run: %v; want a restart to run the previous binary", err)
	}
	if b, _ := os.ReadFile(f.exe); string(b) != string(f.oldBin) {
		t.Errorf("the binary in place is %q; want the previous one", b)
	}
	st := f.saved(t)
	if st.Phase != phaseReport || st.Status != protocol.JobFailed || !strings.Contains(st.Details["reason"], "did not connect to Hearth within 300ms") {
		t.Errorf("state %+v; want FAILED to report after the restart", st)
	}
}

func TestReadPublicKey(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	dir := t.TempDir()
	files := map[string]string{
		"pem":    string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		"base64": base64.StdEncoding.EncodeToString(pub) + "\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o600)
		got, err := ReadPublicKey(path)
		if err != nil || !got.Equal(pub) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, content := range map[string]string{
		"private": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})),
		"short":   base64.StdEncoding.EncodeToString(pub[:16]),
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o600)
		if _, err := ReadPublicKey(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	// The signature covers the file's bytes.
	file := filepath.Join(dir, "bin")
	os.WriteFile(file, []byte("binary"), 0o600)
	u := &updater{key: pub}
	if err := u.checkSignature(file, ed25519.Sign(key, []byte("binary"))); err != nil {
		t.Errorf("good signature: %v", err)
	}
	if err := u.checkSignature(file, ed25519.Sign(key, []byte("other"))); err == nil {
		t.Error("a signature of another file verified")
	}
}
