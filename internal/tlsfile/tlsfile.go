package tlsfile

import (
	"crypto/x509"
	"fmt"
	"os"
)

// CertPool reads the PEM file at path into a pool of the certificates to
// trust. A file that cannot be read or holds no PEM certificate is an
// error naming it.
func CertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("read CA certificate %s: no PEM certificate in it", path)
	}
	return pool, nil
}
