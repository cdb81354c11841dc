package ui_test

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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/store"
)

// startMailpit runs a real SMTP server (axllent/mailpit, a Go tool of
// this module) on loopback ports, requiring STARTTLS with a certificate
// made here; it answers the configuration that sends through it and
// the address of its API.
func startMailpit(t *testing.T) (notify.SMTPConfig, string) {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "mailpit").Output()
	if err != nil {
		t.Fatalf("build mailpit (go tool -n mailpit): %v", err)
	}
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	smtpPort, httpPort := freePort(t), freePort(t)
	cmd := exec.Command(strings.TrimSpace(string(out)), "--disable-version-check",
		"--smtp", "127.0.0.1:"+strconv.Itoa(smtpPort), "--listen", "127.0.0.1:"+strconv.Itoa(httpPort),
		"--smtp-auth-accept-any", "--smtp-disable-rdns", "--database", filepath.Join(dir, "mail.db"), "--quiet",
		"--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	api := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(api + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(smtpPort)); err == nil {
				c.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("mailpit did not listen within 20s")
		}
	}
	return notify.SMTPConfig{Host: "127.0.0.1", Port: smtpPort, User: "hearth", Password: "smtp secret",
		From: "hearth@hearth.example", TLS: &tls.Config{RootCAs: pool}}, api
}

// mailRecipients lists to whom the mail mailpit received was sent.
func mailRecipients(t *testing.T, api string) []string {
	t.Helper()
	resp, err := http.Get(api + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Messages []struct{ To []struct{ Address string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range list.Messages {
		for _, to := range m.To {
			out = append(out, to.Address)
		}
	}
	slices.Sort(out)
	return out
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailpit"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
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
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestChannelSendTestEmail: Send test on an e-mail channel goes through
// a real SMTP server to each address, and the page lists them.
func TestChannelSendTestEmail(t *testing.T) {
	smtp, api := startMailpit(t)
	e := newEnv(t, envOptions{smtp: smtp})
	e.seedAlarms(time.Now().Add(-time.Hour))
	e.seedChannel(store.NotificationChannel{Customer: "acme", Name: "facility", Kind: store.ChannelEmail, To: []string{"fm@acme.example", "night@acme.example"}})
	admin := e.signIn(acmeAdmin)

	r := e.post(admin, "/alarms/channels/facility/test", nil)
	contains(t, "a test e-mail", r, http.StatusOK, `data-delivered="true"`, "Sent to", "<div>fm@acme.example</div>", "<div>night@acme.example</div>")
	if got := mailRecipients(t, api); !slices.Equal(got, []string{"fm@acme.example", "night@acme.example"}) {
		t.Errorf("mailpit received mail for %v", got)
	}
}
