package sim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hearthiot/hearth/internal/atomicfile"
)

// credentialsFile is the one file SaveCredentials writes inside its
// directory.
const credentialsFile = "credentials.json"

// credentialsVersion is bumped when the file layout changes, so that an old
// directory is refused with a clear message instead of being misread.
const credentialsVersion = 1

// ErrNoCredentials means a credentials directory holds no saved credentials.
var ErrNoCredentials = errors.New("no saved credentials")

// Credentials is what one simulated device needs to connect: its name
// (client id and username), and a secret, a client certificate or both.
type Credentials struct {
	Name string
	// Secret is the password sent with username = Name; empty sends none.
	Secret string
	// Certificate is the client certificate (CN = Name); nil sends none.
	Certificate *tls.Certificate
	// CAPEM is the CA that issued Certificate as the issuer handed it out.
	// On Hearth the same CA signs the broker's certificate, so a saved
	// directory is enough to verify the broker on a later run.
	CAPEM []byte
}

// savedFile is the JSON layout of credentials.json.
type savedFile struct {
	Version int           `json:"version"`
	Devices []savedDevice `json:"devices"`
}

type savedDevice struct {
	Name           string `json:"name"`
	Secret         string `json:"secret,omitempty"`
	CertificatePEM string `json:"certificate_pem,omitempty"`
	PrivateKeyPEM  string `json:"private_key_pem,omitempty"`
	CAPEM          string `json:"ca_pem,omitempty"`
}

// SaveCredentials writes creds to dir/credentials.json so that later runs
// can reuse devices that were provisioned once: Hearth hands out a device's
// secret and key only when the device is created. The directory is created
// 0700 and the file 0600, and the file is replaced atomically.
func SaveCredentials(dir string, creds []Credentials) error {
	out := savedFile{Version: credentialsVersion, Devices: make([]savedDevice, 0, len(creds))}
	for _, c := range creds {
		d := savedDevice{Name: c.Name, Secret: c.Secret, CAPEM: string(c.CAPEM)}
		if c.Certificate != nil {
			if len(c.Certificate.Certificate) == 0 {
				return fmt.Errorf("save credentials %q: certificate has no chain", c.Name)
			}
			keyDER, err := x509.MarshalPKCS8PrivateKey(c.Certificate.PrivateKey)
			if err != nil {
				return fmt.Errorf("save credentials %q: marshal private key: %w", c.Name, err)
			}
			var chain []byte
			for _, der := range c.Certificate.Certificate {
				chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
			}
			d.CertificatePEM = string(chain)
			d.PrivateKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
		}
		out.Devices = append(out.Devices, d)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create credentials directory %q: %w", dir, err)
	}
	return atomicfile.Write(filepath.Join(dir, credentialsFile), data, 0o600)
}

// LoadCredentials reads what SaveCredentials wrote to dir. A directory
// without the file yields an error matching ErrNoCredentials.
func LoadCredentials(dir string) ([]Credentials, error) {
	path := filepath.Join(dir, credentialsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load credentials %q: %w", path, ErrNoCredentials)
	}
	if err != nil {
		return nil, fmt.Errorf("load credentials %q: %w", path, err)
	}
	var in savedFile
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("cannot parse credentials %q: %w", path, err)
	}
	if in.Version != credentialsVersion {
		return nil, fmt.Errorf("load credentials %q: file version %d, want %d", path, in.Version, credentialsVersion)
	}
	if len(in.Devices) == 0 {
		return nil, fmt.Errorf("load credentials %q: %w", path, ErrNoCredentials)
	}
	creds := make([]Credentials, 0, len(in.Devices))
	seen := make(map[string]bool, len(in.Devices))
	for i, d := range in.Devices {
		if d.Name == "" {
			return nil, fmt.Errorf("load credentials %q: device %d has no name", path, i)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("load credentials %q: device %q appears twice", path, d.Name)
		}
		seen[d.Name] = true
		c := Credentials{Name: d.Name, Secret: d.Secret}
		if d.CAPEM != "" {
			c.CAPEM = []byte(d.CAPEM)
		}
		if d.CertificatePEM != "" || d.PrivateKeyPEM != "" {
			cert, err := tls.X509KeyPair([]byte(d.CertificatePEM), []byte(d.PrivateKeyPEM))
			if err != nil {
				return nil, fmt.Errorf("load credentials %q: device %q: %w", path, d.Name, err)
			}
			c.Certificate = &cert
		}
		if c.Secret == "" && c.Certificate == nil {
			return nil, fmt.Errorf("load credentials %q: device %q has neither secret nor certificate", path, d.Name)
		}
		creds = append(creds, c)
	}
	return creds, nil
}

// CAPool returns a pool with every distinct CA found in creds, or nil when
// none carries one; it lets a run verify the broker with the CA the devices
// were provisioned with.
func CAPool(creds []Credentials) (*x509.CertPool, error) {
	var pool *x509.CertPool
	seen := make(map[string]bool)
	for _, c := range creds {
		if len(c.CAPEM) == 0 || seen[string(c.CAPEM)] {
			continue
		}
		seen[string(c.CAPEM)] = true
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(c.CAPEM) {
			return nil, fmt.Errorf("ca of device %q: no certificate in PEM", c.Name)
		}
	}
	return pool, nil
}
