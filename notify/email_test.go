package notify_test

import (
	"context"
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

// mailpit is a real SMTP server (axllent/mailpit, a Go tool of this
// module) requiring STARTTLS, and its API to read what it received.
type mailpit struct {
	smtpPort int
	api      string
	tls      *tls.Config // trusts its certificate
}

// startMailpit runs mailpit on loopback ports, with STARTTLS required
// and a certificate made here when withTLS is set, and stops it when the
// test ends.
func startMailpit(t *testing.T, withTLS bool) *mailpit {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "mailpit").Output()
	if err != nil {
		t.Fatalf("build mailpit (go tool -n mailpit): %v", err)
	}
	bin := strings.TrimSpace(string(out))
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
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	m := &mailpit{smtpPort: smtpPort, api: "http://127.0.0.1:" + strconv.Itoa(httpPort), tls: &tls.Config{RootCAs: pool}}
	waitFor(t, 20*time.Second, "mailpit to listen", func() bool {
		resp, err := http.Get(m.api + "/api/v1/messages")
		if err != nil {
			return false
		}
		resp.Body.Close()
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(smtpPort))
		if err == nil {
			c.Close()
		}
		return resp.StatusCode == 200 && err == nil
	})
	return m
}

// mail is a message as mailpit's API lists it, with its text.
type mail struct {
	ID      string
	Subject string
	To      []struct{ Address string }
	Text    string
	Headers map[string][]string
}

// messages reads every message mailpit received, with text and headers.
func (m *mailpit) messages(t *testing.T) []mail {
	t.Helper()
	var list struct{ Messages []mail }
	m.get(t, "/api/v1/messages", &list)
	for i := range list.Messages {
		var full struct{ Text string }
		m.get(t, "/api/v1/message/"+list.Messages[i].ID, &full)
		list.Messages[i].Text = full.Text
		m.get(t, "/api/v1/message/"+list.Messages[i].ID+"/headers", &list.Messages[i].Headers)
	}
	return list.Messages
}

func (m *mailpit) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(m.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
}

// TestEmail sends through mailpit with STARTTLS: a Japanese user reads
// Japanese, a stranger English, a user in quiet hours and one who wants
// other severities nothing; a test message reaches them all.
func TestEmail(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t, true)
	st, _ := openStore(t)
	now := time.Now().UTC()
	users := []store.User{
		{Email: "kanri@acme.example", Role: store.RoleCustomer, Customer: customer, Language: "ja", TimeZone: "Asia/Tokyo"},
		{Email: "night@acme.example", Role: store.RoleCustomer, Customer: customer, Notifications: &store.NotificationPrefs{
			QuietHours: &store.QuietHours{From: now.Add(-time.Hour).Format("15:04"), To: now.Add(time.Hour).Format("15:04"), TimeZone: "UTC"}}},
		{Email: "warnings@acme.example", Role: store.RoleCustomer, Customer: customer, Notifications: &store.NotificationPrefs{Severities: []string{"warning"}}},
	}
	for _, u := range users {
		if err := st.CreateUser(u); err != nil {
			t.Fatal(err)
		}
	}
	addChannel(t, st, store.NotificationChannel{Name: "facility", Kind: store.ChannelEmail,
		To: []string{"kanri@acme.example", "night@acme.example", "warnings@acme.example", "ext@partner.example"}})
	cfg := fastConfig()
	cfg.SMTP = notify.SMTPConfig{Host: "127.0.0.1", Port: mp.smtpPort, User: "hearth", Password: "smtp secret", From: "hearth@hearth.example", TLS: mp.tls}
	svc := start(t, cfg, st)

	m := alarm("boiler-7-active", "boiler-7", notify.StateActive, "facility")
	m.Data[notify.DataValue], m.Data[notify.DataUnit] = 92.5, "°C"
	if err := svc.Enqueue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the e-mail delivered", func() bool { return len(deliveries(t, st, "facility", store.DeliveryDelivered)) == 1 })
	d := deliveries(t, st, "facility", store.DeliveryDelivered)[0]
	if !strings.Contains(d.Note, "night@acme.example (quiet hours)") || !strings.Contains(d.Note, "warnings@acme.example (severity critical not wanted)") {
		t.Errorf("delivery note %q", d.Note)
	}
	if want := []string{"ext@partner.example", "kanri@acme.example"}; !slices.Equal(slices.Sorted(slices.Values(d.Sent)), want) {
		t.Errorf("sent to %v, want %v", d.Sent, want)
	}
	got := map[string]mail{}
	for _, msg := range mp.messages(t) {
		if len(msg.To) != 1 {
			t.Fatalf("message to %v: one recipient a message", msg.To)
		}
		got[msg.To[0].Address] = msg
	}
	if len(got) != 2 {
		t.Fatalf("mailpit received mail for %d recipients, want 2: %v", len(got), got)
	}
	ja, en := got["kanri@acme.example"], got["ext@partner.example"]
	if ja.Subject != "[Hearth] 重大: boiler-7 is offline" || !strings.Contains(ja.Text, "機器: boiler-7") ||
		!strings.Contains(ja.Text, "値: 92.5 °C") || !strings.Contains(ja.Text, "JST") {
		t.Errorf("Japanese mail: %q\n%s", ja.Subject, ja.Text)
	}
	if en.Subject != "[Hearth] CRITICAL: boiler-7 is offline" || !strings.Contains(en.Text, "Site: Marunouchi Office Tower") ||
		!strings.Contains(en.Text, "Open in Hearth: https://hearth.example:8443/devices/boiler-7") {
		t.Errorf("English mail: %q\n%s", en.Subject, en.Text)
	}
	if k := en.Headers["X-Hearth-Key"]; len(k) != 1 || k[0] != "boiler-7-active" {
		t.Errorf("X-Hearth-Key %v", k)
	}

	// A test message goes to everyone, quiet hours or not.
	c, err := st.GetNotificationChannel(customer, "facility")
	if err != nil {
		t.Fatal(err)
	}
	res := svc.Test(context.Background(), c)
	if !res.Delivered || len(res.Recipients) != 4 {
		t.Errorf("test: %+v", res)
	}
	if n := len(mp.messages(t)); n != 6 {
		t.Errorf("mailpit has %d messages after the test, want 6", n)
	}

	// Without STARTTLS nothing is sent: a server that does not offer it
	// is refused before any message or password goes over the wire.
	insecure := startMailpit(t, false)
	cfg.SMTP.Port = insecure.smtpPort
	plain := start(t, cfg, st)
	if res := plain.Test(context.Background(), c); res.Delivered || !strings.Contains(res.Error, "STARTTLS") {
		t.Errorf("send to a server without STARTTLS: %+v", res)
	}
	if n := len(insecure.messages(t)); n != 0 {
		t.Errorf("the server without STARTTLS received %d messages", n)
	}
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
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
