package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hearthiot/hearth/internal/atomicfile"
)

const (
	serverCertValidity = 2 * 365 * 24 * time.Hour
	// serverCertRenewBefore is how close to expiry a generated certificate
	// is replaced at start.
	serverCertRenewBefore = 30 * 24 * time.Hour
)

// serverTLSConfig returns the TLS configuration both listeners present:
// the operator's certificate when given, otherwise one issued by Hearth's CA
// that covers localhost, this host's name and the configured hosts. The
// generated certificate is reissued when it is missing, about to expire, or
// does not cover every configured host.
func (s *Server) serverTLSConfig() (*tls.Config, error) {
	certFile, keyFile := s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile
	if certFile == "" {
		certFile = filepath.Join(s.cfg.tlsDir(), "server.pem")
		keyFile = filepath.Join(s.cfg.tlsDir(), "server.key")
		hosts := s.serverHosts()
		if !certCovers(certFile, hosts, time.Now().Add(serverCertRenewBefore)) {
			certPEM, keyPEM, err := s.authority.IssueServer(hosts, serverCertValidity)
			if err != nil {
				return nil, fmt.Errorf("issue server certificate: %w", err)
			}
			if err := atomicfile.Write(keyFile, keyPEM, 0o600); err != nil {
				return nil, err
			}
			if err := atomicfile.Write(certFile, certPEM, 0o644); err != nil {
				return nil, err
			}
			s.logger.Info("issued server certificate", "hosts", hosts, "file", certFile)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate %q: %w", certFile, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, nil
}

// serverHosts lists the names and addresses the generated certificate covers.
func (s *Server) serverHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	for _, h := range s.cfg.TLS.Hosts {
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// certCovers reports whether the PEM certificate in file is valid until at
// least until and names every host.
func certCovers(file string, hosts []string, until time.Time) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.NotAfter.Before(until) {
		return false
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(cert.DNSNames, h) {
			return false
		}
	}
	return true
}
