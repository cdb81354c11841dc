package sim_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hearthiot/hearth/sim"
)

// needTool skips the test when a tool is missing, or fails it when
// HEARTH_REQUIRE_TOOLS=1 says the tools must be there (as in CI).
func needTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("HEARTH_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s not found and HEARTH_REQUIRE_TOOLS=1: %v", name, err)
	}
	t.Skipf("%s not found (install Debian's mosquitto package, or set HEARTH_REQUIRE_TOOLS=1 to fail instead): %v", name, err)
	return ""
}

// brokerOptions describe the mosquitto listener a test needs.
type brokerOptions struct {
	tls         bool              // TLS with a server certificate from a fresh CA
	requireCert bool              // clients must present a certificate of that CA; CN = username
	passwords   map[string]string // password file; anonymous clients are refused
}

// mosquitto is a running broker on 127.0.0.1.
type mosquitto struct {
	addr string
	ca   *sim.CA // nil without TLS
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *syncBuffer
}

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

// startMosquitto writes certificates and a config into a temp dir and runs
// mosquitto on a free port until the test ends. Its log is printed when the
// test fails.
func startMosquitto(t testing.TB, o brokerOptions) *mosquitto {
	t.Helper()
	bin := needTool(t, "mosquitto")
	dir := t.TempDir()
	var conf strings.Builder
	conf.WriteString("persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n")
	conf.WriteString("max_queued_messages 100000\n")
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		// mosquitto started as root drops to user "mosquitto", which
		// cannot read the private temp dir.
		conf.WriteString("user root\n")
	}
	m := &mosquitto{log: &syncBuffer{}}
	if o.tls {
		m.ca = newCA(t)
		certPEM, keyPEM, err := m.ca.IssueServer([]string{"127.0.0.1", "localhost"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "ca.pem", m.ca.CertPEM())
		writeFile(t, dir, "server.pem", certPEM)
		writeFile(t, dir, "server-key.pem", keyPEM)
	}
	if o.passwords != nil {
		pw := filepath.Join(dir, "passwords")
		writeFile(t, dir, "passwords", nil)
		tool := needTool(t, "mosquitto_passwd")
		for name, secret := range o.passwords {
			if out, err := exec.Command(tool, "-b", pw, name, secret).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd %s: %v: %s", name, err, out)
			}
		}
	}

	// A free port can be taken between probing and binding; try a few.
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		var c strings.Builder
		c.WriteString(conf.String())
		fmt.Fprintf(&c, "listener %d 127.0.0.1\n", port)
		if o.tls {
			fmt.Fprintf(&c, "cafile %s\ncertfile %s\nkeyfile %s\n",
				filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
		}
		if o.requireCert {
			c.WriteString("require_certificate true\nuse_identity_as_username true\n")
		}
		if o.passwords != nil {
			fmt.Fprintf(&c, "password_file %s\nallow_anonymous false\n", filepath.Join(dir, "passwords"))
		} else {
			c.WriteString("allow_anonymous true\n")
		}
		writeFile(t, dir, "mosquitto.conf", []byte(c.String()))

		m.addr = fmt.Sprintf("127.0.0.1:%d", port)
		m.cmd = exec.Command(bin, "-c", filepath.Join(dir, "mosquitto.conf"))
		m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
		if err := m.cmd.Start(); err != nil {
			t.Fatalf("start mosquitto: %v", err)
		}
		m.done = make(chan struct{})
		go func(cmd *exec.Cmd, done chan struct{}) {
			cmd.Wait()
			close(done)
		}(m.cmd, m.done)
		if waitListening(m.addr, m.done) {
			t.Cleanup(func() {
				m.stop()
				if t.Failed() {
					t.Logf("mosquitto log:\n%s", m.log)
				}
			})
			return m
		}
		m.stop()
	}
	t.Fatalf("mosquitto did not start; log:\n%s", m.log)
	return nil
}

// waitListening polls addr until it accepts or the process exits (5 s at most).
func waitListening(addr string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (m *mosquitto) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
	}
}

// kill ends the broker at once, as a crash would.
func (m *mosquitto) kill(t testing.TB) {
	t.Helper()
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("kill mosquitto: %v", err)
	}
	<-m.done
}

// clientTLS returns the TLS configuration a device needs for this broker.
func (m *mosquitto) clientTLS() *tls.Config {
	if m.ca == nil {
		return nil
	}
	return brokerTLS(m.ca.Pool())
}

// brokerTLS is a client TLS configuration that trusts pool.
func brokerTLS(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// newCA creates a certificate authority in a fresh temp dir.
func newCA(t testing.TB) *sim.CA {
	t.Helper()
	authority, err := sim.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return authority
}

// deviceCerts issues n device certificates named prefix-00000….
func deviceCerts(t testing.TB, authority *sim.CA, prefix string, n int) []sim.Credentials {
	t.Helper()
	creds := make([]sim.Credentials, n)
	for i := range creds {
		c, err := authority.IssueCredentials(sim.DeviceName(prefix, i), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		creds[i] = c
	}
	return creds
}
