package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildHearth builds the real binary once per test run.
func buildHearth(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hearth")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var dashboardLine = regexp.MustCompile(`Dashboard:\s+https://(\S+)/`)

// startBinary runs `hearth` (no command: serve) and waits for its banner.
func startBinary(t *testing.T, bin, dir string) (cmd *exec.Cmd, console, logs *syncBuffer, httpAddr string) {
	t.Helper()
	return startBinaryWith(t, bin, dir, nil, nil)
}

// startBinaryWith is startBinary with more flags and environment variables.
func startBinaryWith(t *testing.T, bin, dir string, args, env []string) (cmd *exec.Cmd, console, logs *syncBuffer, httpAddr string) {
	t.Helper()
	cmd = exec.Command(bin, append([]string{"--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "HEARTH_DATA="+dir, "HEARTH_LOG_FORMAT=json"), env...)
	logs = &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	console = &syncBuffer{}
	found := make(chan string, 1)
	go func() {
		var addr string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			console.Write([]byte(sc.Text() + "\n"))
			if m := dashboardLine.FindStringSubmatch(sc.Text()); m != nil {
				addr = m[1]
			}
			if strings.Contains(sc.Text(), "Data directory:") { // the banner's last line
				found <- addr
			}
		}
	}()
	select {
	case httpAddr = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("no banner within 60s; logs:\n%s", logs)
	}
	return cmd, console, logs, httpAddr
}

// TestBinaryLifecycle runs the real binary: first start with a one-time
// password, health check, an admin command through the socket, graceful
// stop on SIGTERM in reverse start order, and a second start that prints no
// password.
func TestBinaryLifecycle(t *testing.T) {
	bin := buildHearth(t)
	dir := filepath.Join(t.TempDir(), "data")
	cmd, console, logs, addr := startBinary(t, bin, dir)
	for _, want := range []string{"password:", "MQTT over TLS:     mqtts://localhost:", "CA certificate:    " + filepath.Join(dir, "tls", "ca.pem")} {
		if !strings.Contains(console.String(), want) {
			t.Errorf("first start console lacks %q:\n%s", want, console)
		}
	}
	if strings.Contains(logs.String(), strings.TrimSpace(after(console.String(), "password:"))) {
		t.Error("the one-time password appears in the log")
	}
	out, err := exec.Command(bin, "healthcheck", "--http", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("healthcheck: %v\n%s", err, out)
	}
	admin := exec.Command(bin, "customer", "add", "acme")
	admin.Env = append(os.Environ(), "HEARTH_DATA="+dir)
	if out, err := admin.CombinedOutput(); err != nil {
		t.Fatalf("customer add while serving: %v\n%s", err, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30s of SIGTERM:\n%s", logs)
	}
	var stopped []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if m := regexp.MustCompile(`"msg":"stopped","step":"([^"]+)"`).FindStringSubmatch(line); m != nil {
			stopped = append(stopped, m[1])
		}
	}
	want := []string{"admin socket", "live pages", "http", "strategies", "alarms", "notifications", "jobs", "scheduler", "polling", "broker", "presence", "telemetry ingest", "telemetry log", "time-series store", "housekeeping", "store", "disk space", "memory budget"}
	if strings.Join(stopped, ",") != strings.Join(want, ",") {
		t.Errorf("stop order %v, want %v", stopped, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "hearth.sock")); err == nil {
		t.Error("admin socket left behind after a graceful stop")
	}

	// Second start on the same directory: no new password, data kept.
	cmd2, console2, _, _ := startBinary(t, bin, dir)
	if strings.Contains(console2.String(), "password:") {
		t.Errorf("second start printed a password:\n%s", console2)
	}
	list := exec.Command(bin, "customer", "list")
	list.Env = append(os.Environ(), "HEARTH_DATA="+dir)
	if out, err := list.CombinedOutput(); err != nil || !strings.Contains(string(out), "acme") {
		t.Errorf("customer list after restart: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = cmd2.Process.Signal(syscall.SIGINT)
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd2.Wait() }()
	select {
	case err := <-waitDone:
		if err != nil {
			t.Errorf("exit after SIGINT: %v", err)
		}
	case <-ctx.Done():
		t.Error("no exit within 30s of SIGINT")
	}
}

func after(s, marker string) string {
	_, rest, _ := strings.Cut(s, marker)
	line, _, _ := strings.Cut(rest, "\n")
	return line
}

// syncBuffer is a bytes.Buffer safe for the process's writer goroutine and
// the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
