package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hearthiot/hearth/internal/atomicfile"
)

// File names inside the CA directory.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca.key"
)

// CommonName is the subject of the root certificate.
const CommonName = "Hearth CA"

// Validity of a newly created root.
const Validity = 10 * 365 * 24 * time.Hour

// backdate is subtracted from NotBefore so that a peer whose clock is a
// little behind still accepts a certificate issued a moment ago.
const backdate = time.Hour

// ErrDamaged is returned when the CA files exist but cannot be used: a file
// is missing, unreadable as PEM, or the key does not belong to the
// certificate. Hearth then refuses to start rather than create a new CA,
// which would orphan every device certificate issued so far.
var ErrDamaged = errors.New("certificate authority files are damaged")

// CA issues certificates from Hearth's root. It is immutable once loaded and
// safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// LoadOrCreate loads the CA from dir (ca.pem and ca.key), or creates a new
// one there if neither file exists. The key file is written with mode 0600.
// If only one of the files exists, or either is damaged, it returns an error
// wrapping ErrDamaged and changes nothing.
func LoadOrCreate(dir string, logger *slog.Logger) (*CA, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	certPath := filepath.Join(dir, CertFile)
	keyPath := filepath.Join(dir, KeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	certMissing := errors.Is(certErr, fs.ErrNotExist)
	keyMissing := errors.Is(keyErr, fs.ErrNotExist)

	switch {
	case certMissing && keyMissing:
		c, err := create(dir)
		if err != nil {
			return nil, err
		}
		logger.Info("created certificate authority", "dir", dir, "subject", c.cert.Subject.String(), "not_after", c.cert.NotAfter)
		return c, nil
	case certErr != nil && !certMissing:
		return nil, fmt.Errorf("read CA certificate %q: %w", certPath, certErr)
	case keyErr != nil && !keyMissing:
		return nil, fmt.Errorf("read CA key %q: %w", keyPath, keyErr)
	case certMissing:
		return nil, fmt.Errorf("CA certificate %q is missing but its key exists; restore it from a backup: %w", certPath, ErrDamaged)
	case keyMissing:
		return nil, fmt.Errorf("CA key %q is missing but its certificate exists; restore it from a backup: %w", keyPath, ErrDamaged)
	}

	c, err := parse(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA from %q: %w; restore ca.pem and ca.key from a backup: %w", dir, err, ErrDamaged)
	}
	logger.Info("loaded certificate authority", "dir", dir, "subject", c.cert.Subject.String(), "not_after", c.cert.NotAfter)
	if time.Now().After(c.cert.NotAfter) {
		logger.Warn("certificate authority has expired", "not_after", c.cert.NotAfter)
	}
	return c, nil
}

func create(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA directory %q: %w", dir, err)
	}
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
		Subject:               pkix.Name{CommonName: CommonName, Organization: []string{"Hearth"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
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
	// The key goes first: a crash between the two writes leaves a key
	// without a certificate, which LoadOrCreate reports instead of
	// overwriting.
	if err := atomicfile.Write(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(dir, CertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	return parse(certPEM, keyPEM)
}

func parse(certPEM, keyPEM []byte) (*CA, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM CERTIFICATE block", CertFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", CertFile, err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%s is not a CA certificate", CertFile)
	}
	kblock, _ := pem.Decode(keyPEM)
	if kblock == nil || kblock.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s holds no PEM PRIVATE KEY block", KeyFile)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(kblock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", KeyFile, err)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, which cannot sign", KeyFile, parsed)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not belong to the certificate in %s", KeyFile, CertFile)
	}
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		key:     key,
	}, nil
}

// CertPEM returns the root certificate in PEM, for devices to trust the
// server and for operators to download.
func (c *CA) CertPEM() []byte { return bytes.Clone(c.certPEM) }

// Certificate returns the parsed root certificate. Callers must not modify
// it.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Pool returns a new pool holding only the root, for verifying device
// certificates (tls.Config.ClientCAs) and, in tests, the server's.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// IssueClient issues a client certificate for a device: a new ECDSA P-256
// key, the given common name (the thing name), client-auth key usage and a
// random 128-bit serial. NotAfter is capped at the root's own expiry, past
// which the certificate could not be verified anyway.
func (c *CA) IssueClient(commonName string, validity time.Duration) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	if commonName == "" {
		return nil, nil, nil, errors.New("issue client certificate: common name is empty")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certPEM, keyPEM, cert, err = c.issue(tmpl, validity)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("issue client certificate for %q: %w", commonName, err)
	}
	return certPEM, keyPEM, cert, nil
}

// IssueServer issues a server certificate for the listeners. Each host is a
// DNS name or an IP address; localhost, 127.0.0.1 and ::1 are always
// included so that local tools and health checks can connect.
func (c *CA) IssueServer(hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	var dns []string
	var ips []net.IP
	for _, h := range append(slices.Clone(hosts), "localhost", "127.0.0.1", "::1") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		h = strings.ToLower(h)
		if !validDNSName(h) {
			return nil, nil, fmt.Errorf("issue server certificate: host %q is neither an IP address nor a DNS name", h)
		}
		if !slices.Contains(dns, h) {
			dns = append(dns, h)
		}
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: dns[0]},
		DNSNames:    dns,
		IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	certPEM, keyPEM, _, err = c.issue(tmpl, validity)
	if err != nil {
		return nil, nil, fmt.Errorf("issue server certificate for %v: %w", dns, err)
	}
	return certPEM, keyPEM, nil
}

// validDNSName accepts letters, digits, '-', '.', '_' and a leading "*."
// wildcard, the forms a certificate's DNS SAN may carry.
func validDNSName(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
				return false
			}
		}
	}
	return true
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
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(validity)
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

// randomSerial returns a random positive 128-bit serial number; unpredictable
// serials are what the CA/Browser Forum requires and keep serials unique
// without a counter.
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
