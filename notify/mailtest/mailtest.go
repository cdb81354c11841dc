// Package mailtest runs a real SMTP server for tests: axllent/mailpit, a Go
// tool of this module, on loopback ports, and reads back what it received
// through its API. Only tests import it.
package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/notify"
)

// Mailpit is a running mailpit.
type Mailpit struct {
	SMTPPort int
	API      string      // base URL of its HTTP API
	TLS      *tls.Config // trusts its certificate
}

// Start runs mailpit until the test ends: with STARTTLS required and a
// certificate made here when withTLS is set, else without TLS.
func Start(t testing.TB, withTLS bool) *Mailpit {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "mailpit").Output()
	if err != nil {
		t.Fatalf("build mailpit (go tool -n mailpit): %v", err)
	}
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	smtpPort, httpPort := freePort(t), freePort(t)
	args := []string{"--disable-version-check",
		"--smtp", "127.0.0.1:" + strconv.Itoa(smtpPort), "--listen", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--smtp-auth-accept-any", "--smtp-disable-rdns", "--database", filepath.Join(dir, "mail.db"), "--quiet"}
	if withTLS {
		args = append(args, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls")
	} else {
		args = append(args, "--smtp-auth-allow-insecure")
	}
	cmd := exec.Command(strings.TrimSpace(string(out)), args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	m := &Mailpit{SMTPPort: smtpPort, API: "http://127.0.0.1:" + strconv.Itoa(httpPort), TLS: &tls.Config{RootCAs: pool}}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(m.API + "/api/v1/messages"); err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(smtpPort)); err == nil && resp.StatusCode == http.StatusOK {
				c.Close()
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("mailpit did not listen within 20s")
		}
	}
}

// SMTP is a configuration that sends through m, authenticating (mailpit
// accepts any credentials).
func (m *Mailpit) SMTP() notify.SMTPConfig {
	return notify.SMTPConfig{Host: "127.0.0.1", Port: m.SMTPPort, User: "hearth", Password: "smtp secret",
		From: "hearth@hearth.example", TLS: m.TLS}
}

// Mail is a message as mailpit's API lists it, with its text and headers.
type Mail struct {
	ID      string
	Subject string
	To      []struct{ Address string }
	Text    string
	Headers map[string][]string
}

// Messages reads every message mailpit received.
func (m *Mailpit) Messages(t testing.TB) []Mail {
	t.Helper()
	var list struct{ Messages []Mail }
	m.get(t, "/api/v1/messages", &list)
	for i := range list.Messages {
		var full struct{ Text string }
		m.get(t, "/api/v1/message/"+list.Messages[i].ID, &full)
		list.Messages[i].Text = full.Text
		m.get(t, "/api/v1/message/"+list.Messages[i].ID+"/headers", &list.Messages[i].Headers)
	}
	return list.Messages
}

func (m *Mailpit) get(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and localhost and its key.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailpit"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// freePort is a loopback port nothing listens on just now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
