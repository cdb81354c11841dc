package sim

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/hearthiot/hearth/device/ca"
)

// IssueCredentials issues a client certificate with CN = name from
// authority and returns the device's credentials carrying it and the CA:
// what Hearth hands out for a device, for runs against a plain broker
// (mosquitto) that cannot issue device certificates itself.
func IssueCredentials(authority *ca.CA, name string, validity time.Duration) (Credentials, error) {
	certPEM, keyPEM, leaf, err := authority.IssueClient(name, validity)
	if err != nil {
		return Credentials{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return Credentials{}, fmt.Errorf("load certificate of device %q: %w", name, err)
	}
	cert.Leaf = leaf
	return Credentials{Name: name, Certificate: &cert, CAPEM: authority.CertPEM()}, nil
}
