package loadgen

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hearthiot/hearth/internal/tlsfile"
	"github.com/hearthiot/hearth/sim"
)

func TestCerts(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if err := Run(t.Context(), []string{"certs", "-dir", dir, "-devices", "3", "-prefix", "x"}, &out, &errOut); err != nil {
		t.Fatalf("certs: %v\n%s", err, errOut.String())
	}
	// Only the CA certificate may be readable by others.
	for name, perm := range map[string]os.FileMode{"ca.pem": 0o644, "ca.key": 0o600, "server.pem": 0o600, "server-key.pem": 0o600} {
		if info, err := os.Stat(filepath.Join(dir, name)); err != nil || info.Mode().Perm() != perm {
			t.Errorf("%s: %v, want a %04o file", name, err, perm)
		}
	}
	devices, err := sim.LoadCredentials(filepath.Join(dir, "devices"))
	if err != nil || len(devices) != 3 || devices[2].Name != "x-00002" || devices[2].Certificate == nil {
		t.Fatalf("devices: %d, %v", len(devices), err)
	}
	sub, err := sim.LoadCredentials(filepath.Join(dir, "subscriber"))
	if err != nil || len(sub) != 1 || sub[0].Certificate == nil {
		t.Fatalf("subscriber: %d, %v", len(sub), err)
	}
	roots := readRoots(t, filepath.Join(dir, "ca.pem"))
	verifyLeaf(t, "device", devices[2].Certificate.Leaf, roots, x509.ExtKeyUsageClientAuth)
	verifyLeaf(t, "subscriber", sub[0].Certificate.Leaf, roots, x509.ExtKeyUsageClientAuth)
	server, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	if err != nil {
		t.Fatalf("server certificate: %v", err)
	}
	verifyLeaf(t, "server", server.Leaf, roots, x509.ExtKeyUsageServerAuth)
	if err := server.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("server certificate: %v", err)
	}

	// A second run reuses the CA, so credentials issued before stay valid.
	if err := Run(t.Context(), []string{"certs", "-dir", dir, "-devices", "1", "-prefix", "y"}, &out, &errOut); err != nil {
		t.Fatalf("certs again: %v\n%s", err, errOut.String())
	}
	verifyLeaf(t, "device of the first run", devices[0].Certificate.Leaf, readRoots(t, filepath.Join(dir, "ca.pem")), x509.ExtKeyUsageClientAuth)
}

func readRoots(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	pool, err := tlsfile.CertPool(path)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

func verifyLeaf(t *testing.T, what string, leaf *x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) {
	t.Helper()
	if leaf == nil {
		t.Errorf("%s certificate: not parsed", what)
		return
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		t.Errorf("%s certificate does not chain to ca.pem: %v", what, err)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HEARTH_LOADGEN_DEVICES", "2")
	t.Setenv("HEARTH_LOADGEN_PREFIX", "env")
	var out, errOut bytes.Buffer
	// The environment sets -devices and -prefix; the command line overrides -prefix.
	if err := Run(t.Context(), []string{"certs", "-dir", dir, "-prefix", "flag"}, &out, &errOut); err != nil {
		t.Fatalf("certs: %v\n%s", err, errOut.String())
	}
	devices, err := sim.LoadCredentials(filepath.Join(dir, "devices"))
	if err != nil || len(devices) != 2 || devices[0].Name != "flag-00000" {
		t.Errorf("devices %v, %v; want 2 named flag-*", len(devices), err)
	}

	t.Setenv("HEARTH_LOADGEN_DEVICES", "many")
	if err := Run(t.Context(), []string{"certs", "-dir", dir}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "HEARTH_LOADGEN_DEVICES") {
		t.Errorf("bad environment value: %v, want an error naming the variable", err)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"fly"}, `unknown command "fly"`},
		{[]string{"run"}, "-creds is required"},
		{[]string{"run", "-creds", dir}, "no saved credentials"},
		{[]string{"run", "-creds", dir, "-topic", "fixed"}, "must contain {name}"},
		{[]string{"run", "-creds", dir, "-qos", "2"}, "only 1"},
		{[]string{"certs", "-dir", dir, "extra"}, "unexpected arguments"},
		{[]string{"provision", "-creds", dir}, "-api are required"},
		{[]string{"count", "-qos", "3"}, "want 0 or 1"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := Run(t.Context(), tt.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadgen %v: %v, want an error mentioning %q", tt.args, err, tt.want)
		}
	}
}

// TestAgainstMosquitto runs the commands the way the benchmark script does.
func TestAgainstMosquitto(t *testing.T) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if os.Getenv("HEARTH_REQUIRE_TOOLS") == "1" {
			t.Fatalf("mosquitto not found and HEARTH_REQUIRE_TOOLS=1: %v", err)
		}
		t.Skipf("mosquitto not found (install Debian's mosquitto package, or set HEARTH_REQUIRE_TOOLS=1 to fail instead): %v", err)
	}
	dir := t.TempDir()
	ctx := t.Context()
	var out, errOut bytes.Buffer
	if err := Run(ctx, []string{"certs", "-dir", dir, "-devices", "10"}, &out, &errOut); err != nil {
		t.Fatalf("certs: %v\n%s", err, errOut.String())
	}
	addr := startMosquitto(t, bin, dir)

	ready := filepath.Join(dir, "ready")
	countDone := make(chan error, 1)
	var countOut, countErr bytes.Buffer
	go func() {
		countDone <- Run(ctx, []string{"count", "-broker", addr, "-ca", filepath.Join(dir, "ca.pem"),
			"-creds", filepath.Join(dir, "subscriber"), "-qos", "1", "-idle", "1s", "-duration", "30s",
			"-ready-file", ready, "-json"}, &countOut, &countErr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-countDone:
			t.Fatalf("count ended before subscribing: %v\n%s", err, countErr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("count did not subscribe within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	out.Reset()
	errOut.Reset()
	if err := Run(ctx, []string{"run", "-broker", addr, "-creds", filepath.Join(dir, "devices"),
		"-metrics", "5", "-rate", "200", "-duration", "1s", "-json", "-progress", "0"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("run output %s: %v", out.String(), err)
	}
	if rep.Connected != 10 || rep.Acked == 0 || rep.Failed != 0 || rep.Metrics != 5 {
		t.Errorf("run report %+v, want 10 devices and every message acknowledged", rep)
	}

	if err := <-countDone; err != nil {
		t.Fatalf("count: %v\n%s", err, countErr.String())
	}
	var counted struct{ Received uint64 }
	if err := json.Unmarshal(countOut.Bytes(), &counted); err != nil {
		t.Fatalf("count output %s: %v", countOut.String(), err)
	}
	if counted.Received != rep.Acked {
		t.Errorf("subscriber counted %d, broker acknowledged %d", counted.Received, rep.Acked)
	}
}

// startMosquitto runs mosquitto with the certificates "certs" wrote,
// requiring client certificates, until the test ends.
func startMosquitto(t *testing.T, bin, dir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf("listener %s 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"+
		"require_certificate true\nuse_identity_as_username true\npersistence false\nlog_dest stderr\n",
		port, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		conf += "user root\n"
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(bin, "-c", confPath)
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", log.String())
		}
	})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("mosquitto exited:\n%s", log.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return addr
		}
	}
	t.Fatal("mosquitto did not listen within 5 s")
	return ""
}
