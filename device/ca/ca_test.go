package ca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device/ca"
)

func newCA(t *testing.T) (*ca.CA, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	c, err := ca.LoadOrCreate(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	return c, dir
}

func TestCreateAndReload(t *testing.T) {
	t.Parallel()
	c, dir := newCA(t)

	root := c.Certificate()
	if root.Subject.CommonName != ca.CommonName || !root.IsCA {
		t.Errorf("root subject %q IsCA %v", root.Subject.CommonName, root.IsCA)
	}
	if _, ok := root.PublicKey.(*ecdsa.PublicKey); !ok || root.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Errorf("root key is %T, want ECDSA P-256", root.PublicKey)
	}
	if life := root.NotAfter.Sub(root.NotBefore); life < ca.Validity || life > ca.Validity+2*time.Hour {
		t.Errorf("root valid for %s, want about %s", life, ca.Validity)
	}
	st, err := os.Stat(filepath.Join(dir, ca.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}
	keyPEM, _ := os.ReadFile(filepath.Join(dir, ca.KeyFile))
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Errorf("key file is not a PKCS#8 PRIVATE KEY block")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("CA directory holds %d files, want 2 (no temporary files left)", len(entries))
	}

	again, err := ca.LoadOrCreate(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !bytes.Equal(again.CertPEM(), c.CertPEM()) {
		t.Error("reloaded CA has a different certificate")
	}
	// A certificate issued before the reload verifies against the reloaded pool.
	_, _, cert, err := c.IssueClient("boiler-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: again.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("certificate from the first load does not verify after reload: %v", err)
	}
}

func TestIssueClient(t *testing.T) {
	t.Parallel()
	c, _ := newCA(t)
	certPEM, keyPEM, cert, err := c.IssueClient("boiler-1", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "boiler-1" {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, cert.ExtKeyUsage); diff != "" {
		t.Errorf("ext key usage (-want +got):\n%s", diff)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v is not a positive 128-bit number", cert.SerialNumber)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate does not verify as client: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client certificate verifies for server auth")
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Errorf("certificate and key do not form a pair: %v", err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Error("client key is not a PKCS#8 PRIVATE KEY block")
	}

	_, _, other, err := c.IssueClient("boiler-1", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if other.SerialNumber.Cmp(cert.SerialNumber) == 0 {
		t.Error("two certificates share a serial")
	}

	_, _, long, err := c.IssueClient("boiler-2", 100*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if long.NotAfter.After(c.Certificate().NotAfter) {
		t.Errorf("client NotAfter %v is after the root's %v", long.NotAfter, c.Certificate().NotAfter)
	}

	for _, tt := range []struct {
		cn       string
		validity time.Duration
	}{{"", time.Hour}, {"x", 0}, {"x", -time.Hour}} {
		if _, _, _, err := c.IssueClient(tt.cn, tt.validity); err == nil {
			t.Errorf("IssueClient(%q, %s) succeeded", tt.cn, tt.validity)
		}
	}
}

func TestIssueServer(t *testing.T) {
	t.Parallel()
	c, _ := newCA(t)
	certPEM, keyPEM, err := c.IssueServer([]string{"hearth.example.com", "10.0.0.5", " ", "LOCALHOST"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cert := pair.Leaf
	if diff := cmp.Diff([]string{"hearth.example.com", "localhost"}, cert.DNSNames); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if diff := cmp.Diff([]string{"10.0.0.5", "127.0.0.1", "::1"}, ips); diff != "" {
		t.Errorf("IP addresses (-want +got):\n%s", diff)
	}
	for _, host := range []string{"hearth.example.com", "localhost", "127.0.0.1", "::1", "10.0.0.5"} {
		_, err := cert.Verify(x509.VerifyOptions{Roots: c.Pool(), DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			t.Errorf("server certificate does not verify for %s: %v", host, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.Pool(), DNSName: "other.example.com"}); err == nil {
		t.Error("server certificate verifies for a host it does not name")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("server certificate verifies for client auth")
	}
	if _, _, err := c.IssueServer([]string{"bad host/x"}, time.Hour); err == nil {
		t.Error("IssueServer accepted a host with '/'")
	}
}

// TestMutualTLS runs a real TLS handshake on a socket: the server presents
// an issued server certificate and demands a client certificate from the CA.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	c, _ := newCA(t)
	srvPEM, srvKey, err := c.IssueServer(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srvPair, err := tls.X509KeyPair(srvPEM, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	cliPEM, cliKey, _, err := c.IssueClient("boiler-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cliPair, err := tls.X509KeyPair(cliPEM, cliKey)
	if err != nil {
		t.Fatal(err)
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvPair},
		ClientCAs:    c.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gotCN := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			gotCN <- "accept: " + err.Error()
			return
		}
		defer conn.Close()
		tc := conn.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			gotCN <- "handshake: " + err.Error()
			return
		}
		gotCN <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		io.Copy(io.Discard, conn)
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		RootCAs:      c.Pool(),
		ServerName:   "localhost",
		Certificates: []tls.Certificate{cliPair},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.Close()
	if cn := <-gotCN; cn != "boiler-1" {
		t.Errorf("server saw client %q", cn)
	}
}

func TestDamagedFilesAreNeverReplaced(t *testing.T) {
	t.Parallel()
	other, _ := newCA(t)
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		wantMsg string
	}{
		{"corrupt key", func(t *testing.T, dir string) { write(t, dir, ca.KeyFile, []byte("garbage")) }, "no PEM PRIVATE KEY block"},
		{"truncated key", func(t *testing.T, dir string) {
			b := read(t, dir, ca.KeyFile)
			write(t, dir, ca.KeyFile, bytes.Replace(b, b[40:60], nil, 1))
		}, "ca.key"},
		{"key of another CA", func(t *testing.T, dir string) {
			otherDir := t.TempDir()
			_, err := ca.LoadOrCreate(otherDir, nil)
			if err != nil {
				t.Fatal(err)
			}
			write(t, dir, ca.KeyFile, read(t, otherDir, ca.KeyFile))
		}, "does not belong"},
		{"corrupt certificate", func(t *testing.T, dir string) {
			write(t, dir, ca.CertFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
		}, "parse ca.pem"},
		{"certificate that is not a CA", func(t *testing.T, dir string) {
			certPEM, _, _, err := other.IssueClient("x", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			write(t, dir, ca.CertFile, certPEM)
		}, "not a CA certificate"},
		{"key missing", func(t *testing.T, dir string) { remove(t, dir, ca.KeyFile) }, "is missing"},
		{"certificate missing", func(t *testing.T, dir string) { remove(t, dir, ca.CertFile) }, "is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, dir := newCA(t)
			tt.damage(t, dir)
			before := snapshot(t, dir)
			_, err := ca.LoadOrCreate(dir, nil)
			if !errors.Is(err, ca.ErrDamaged) {
				t.Fatalf("LoadOrCreate = %v, want ErrDamaged", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("LoadOrCreate changed the directory (-before +after):\n%s", diff)
			}
		})
	}
}

func TestCertPEMIsACopy(t *testing.T) {
	t.Parallel()
	c, _ := newCA(t)
	p := c.CertPEM()
	p[0] = 'X'
	if c.CertPEM()[0] == 'X' {
		t.Error("CertPEM exposes the CA's own buffer")
	}
}

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		m[e.Name()] = string(read(t, dir, e.Name()))
	}
	return m
}
