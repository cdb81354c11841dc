package tlsfile_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/internal/tlsfile"
)

func TestCertPool(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "ca.pem")
	os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	bad := filepath.Join(dir, "key.pem")
	os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)

	cert, _ := x509.ParseCertificate(der)
	if pool, err := tlsfile.CertPool(good); err != nil || !pool.Equal(certPool(cert)) {
		t.Errorf("CertPool(ca.pem) = %v, %v; want a pool of the certificate", pool, err)
	}
	for path, want := range map[string]string{bad: "key.pem: no PEM certificate", filepath.Join(dir, "none.pem"): "no such file"} {
		if _, err := tlsfile.CertPool(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CertPool(%s) = %v, want an error saying %q", filepath.Base(path), err, want)
		}
	}
}

func certPool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}
