package sim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hearthiot/hearth/internal/atomicfile"
)

// CA is a certificate authority for runs against a plain broker (mosquitto)
// that cannot issue device certificates itself: one ECDSA P-256 root that
// issues the broker's server certificate and the devices' client
// certificates (CN = device name), the shape Hearth's own CA gives them, so
// that the broker checks the same thing in both runs.
//
// It is a test bench, not a trust root: it has none of the care Hearth's
// CA takes to never be replaced by accident, and lives in the directory the
// load generator is given.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// Files of a CA directory.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca.key"
)

// caBackdate is subtracted from NotBefore so that a peer whose clock is a
// little behind still accepts a certificate issued a moment ago.
const caBackdate = time.Hour

// LoadOrCreateCA loads the CA in dir (ca.pem and ca.key), so that
// credentials issued by an earlier run stay valid, or creates one there
// (the key 0600) when neither file exists.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPEM, certErr := os.ReadFile(filepath.Join(dir, caCertFile))
	keyPEM, keyErr := os.ReadFile(filepath.Join(dir, caKeyFile))
	if errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist) {
		return createCA(dir)
	}
	if err := errors.Join(certErr, keyErr); err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	c, err := parseCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	return c, nil
}

func createCA(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Hearth load generator CA"},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, caKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(dir, caCertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	return parseCA(certPEM, keyPEM)
}

func parseCA(certPEM, keyPEM []byte) (*CA, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", caCertFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !cert.IsCA {
		return nil, fmt.Errorf("%s holds no CA certificate (%v)", caCertFile, err)
	}
	kblock, _ := pem.Decode(keyPEM)
	if kblock == nil {
		return nil, fmt.Errorf("%s holds no PEM key", caKeyFile)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(kblock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", caKeyFile, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s is not the key of %s", caKeyFile, caCertFile)
	}
	return &CA{cert: cert, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: key}, nil
}

// CertPEM is the root certificate in PEM, for the broker and the devices
// to trust.
func (c *CA) CertPEM() []byte { return bytes.Clone(c.certPEM) }

// Pool is a new pool holding only the root.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// IssueClient issues a device's client certificate: a new key, CN = name,
// client authentication.
func (c *CA) IssueClient(name string, validity time.Duration) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certPEM, keyPEM, cert, err = c.issue(tmpl, validity)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("issue client certificate for %q: %w", name, err)
	}
	return certPEM, keyPEM, cert, nil
}

// IssueServer issues the broker's server certificate for hosts, each an IP
// address or a DNS name.
func (c *CA) IssueServer(hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	tmpl := &x509.Certificate{
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if len(tmpl.IPAddresses)+len(tmpl.DNSNames) == 0 {
		return nil, nil, errors.New("issue server certificate: no host")
	}
	certPEM, keyPEM, _, err = c.issue(tmpl, validity)
	if err != nil {
		return nil, nil, fmt.Errorf("issue server certificate for %v: %w", hosts, err)
	}
	return certPEM, keyPEM, nil
}

// IssueCredentials issues a client certificate for device name and returns
// the device's credentials carrying it and the CA, as Hearth hands them
// out.
func (c *CA) IssueCredentials(name string, validity time.Duration) (Credentials, error) {
	certPEM, keyPEM, leaf, err := c.IssueClient(name, validity)
	if err != nil {
		return Credentials{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return Credentials{}, fmt.Errorf("load certificate of device %q: %w", name, err)
	}
	cert.Leaf = leaf
	return Credentials{Name: name, Certificate: &cert, CAPEM: c.CertPEM()}, nil
}

func (c *CA) issue(tmpl *x509.Certificate, validity time.Duration) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	if validity <= 0 {
		return nil, nil, nil, fmt.Errorf("validity %s is not positive", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate key: %w", err)
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-caBackdate), now.Add(validity)
	if tmpl.NotAfter.After(c.cert.NotAfter) {
		tmpl.NotAfter = c.cert.NotAfter
	}
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, nil, fmt.Errorf("parse issued certificate: %w", err)
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, cert, nil
}

// randomSerial is a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
