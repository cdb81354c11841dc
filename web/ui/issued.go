package ui

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
)

// Bounds of the credentials waiting for their download.
const (
	// issuedTTL is how long issued credentials wait for their download.
	issuedTTL = 10 * time.Minute
	// maxIssued bounds the credentials waiting across all sessions; at the
	// bound the oldest gives way.
	maxIssued = 256
)

// credentialsReadme tells how to connect with the files beside it; the
// part that names the MQTT/TLS listener is readmeConnect, or readmeNoTLS
// when that listener is off.
const credentialsReadme = `Credentials of device {device}, issued by Hearth on {issued}.

Files
  certificate.pem   the device's client certificate (CN = {device}), valid until {not_after}
  private-key.pem   its private key: keep it secret, on the device only
  ca.pem            Hearth's certificate authority, to check the server

Hearth keeps neither the private key nor the secret. If they are lost,
rotate the device's credentials on its page to get new ones.

{connect}
Topics of this device (it may use topics under its own name only)
  hearth/things/{device}/telemetry              publish readings: {"metric": value, ...}
  hearth/things/{device}/telemetry/rejected     subscribe: why a reading was refused
  $aws/things/{device}/shadow/update            publish the settings it applied:
                                                {"state": {"reported": {...}}}
  $aws/things/{device}/shadow/update/accepted   and receive the accepted update here
  $aws/things/{device}/shadow/update/delta      subscribe: settings to apply
  $aws/things/{device}/shadow/get               publish "" to get the shadow,
  $aws/things/{device}/shadow/get/accepted      and receive it here
`

const readmeConnect = `Connect over MQTT/TLS to {host}, port {port}, with client id {device}.
The device uses one connection for everything: a second connection with
the same client id takes the session over and the first is disconnected.

Publish a reading with the certificate (with MQTT 5 and QoS 1, Hearth
acknowledges a reading once it is stored, and mosquitto_pub prints why
when it refuses one):

  mosquitto_pub -h {host} -p {port} --cafile ca.pem \
    --cert certificate.pem --key private-key.pem -i {device} \
    -V 5 -q 1 -t 'hearth/things/{device}/telemetry' -m '{"temperature_c": 21.5}'

Or with the secret the page showed once, instead of the certificate:

  mosquitto_pub -h {host} -p {port} --cafile ca.pem -i {device} \
    -u {device} -P 'SECRET' \
    -V 5 -q 1 -t 'hearth/things/{device}/telemetry' -m '{"temperature_c": 21.5}'

Report what the device runs and read its shadow back: mosquitto_rr
subscribes to the answer and publishes the request over one connection.

  mosquitto_rr -h {host} -p {port} --cafile ca.pem \
    --cert certificate.pem --key private-key.pem -i {device} -W 10 \
    -t '$aws/things/{device}/shadow/update' -e '$aws/things/{device}/shadow/update/accepted' \
    -m '{"state": {"reported": {"firmware": "1.0.0"}}}'

  mosquitto_rr -h {host} -p {port} --cafile ca.pem \
    --cert certificate.pem --key private-key.pem -i {device} -W 10 \
    -t '$aws/things/{device}/shadow/get' -e '$aws/things/{device}/shadow/get/accepted' -n
`

const readmeNoTLS = `This Hearth's MQTT/TLS listener is off, so the certificate cannot be
used until an operator turns it on (hearth serve --mqtt). A plain MQTT
listener on a trusted network, where there is one, takes the client id
and user name {device} with the secret the page showed once.
`

// credentialsZip packs issued credentials with a README that tells the
// device to connect to mqttAddr (HOST:PORT of the MQTT/TLS listener, ""
// when it is off).
func credentialsZip(b issuedBundle, mqttAddr string, now time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if err := writeCredentials(zw, "", b, mqttAddr, now); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close the credentials zip: %w", err)
	}
	return buf.Bytes(), nil
}

// bulkCredentialsZip packs the credentials of many new devices, each in a
// folder of its name with the files of credentialsZip and its secret
// (secret.txt), since no page shows thousands of secrets one by one.
func bulkCredentialsZip(issued []device.Issued, mqttAddr string, now time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, is := range issued {
		b := newIssuedBundle(is, now)
		if err := writeCredentials(zw, is.Device.Name+"/", b, mqttAddr, now); err != nil {
			return nil, err
		}
		if err := writeZipFile(zw, is.Device.Name+"/secret.txt", is.Secret+"\n", true, now); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close the credentials zip: %w", err)
	}
	return buf.Bytes(), nil
}

// writeCredentials writes one device's credential files and README under
// dir ("" or "NAME/").
func writeCredentials(zw *zip.Writer, dir string, b issuedBundle, mqttAddr string, now time.Time) error {
	connect := readmeNoTLS
	var host, port string
	if mqttAddr != "" {
		var err error
		host, port, err = net.SplitHostPort(mqttAddr)
		if err != nil {
			return fmt.Errorf("credentials zip: the MQTT/TLS address %q: %w", mqttAddr, err)
		}
		connect = readmeConnect
	}
	notAfter := "-"
	if !b.notAfter.IsZero() {
		notAfter = b.notAfter.UTC().Format(time.DateOnly)
	}
	readme := strings.NewReplacer("{device}", b.device, "{host}", host, "{port}", port,
		"{issued}", b.issuedAt.UTC().Format(time.RFC3339), "{not_after}", notAfter).
		Replace(strings.Replace(credentialsReadme, "{connect}", connect, 1))
	for _, file := range []struct {
		name, body string
		private    bool
	}{
		{"certificate.pem", b.cert, false},
		{"private-key.pem", b.key, true},
		{"ca.pem", b.ca, false},
		{"README.txt", readme, false},
	} {
		if err := writeZipFile(zw, dir+file.name, file.body, file.private, now); err != nil {
			return err
		}
	}
	return nil
}

func writeZipFile(zw *zip.Writer, name, body string, private bool, now time.Time) error {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now}
	h.SetMode(0o644)
	if private {
		h.SetMode(0o600)
	}
	fw, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("write %s to the credentials zip: %w", name, err)
	}
	if _, err := io.WriteString(fw, body); err != nil {
		return fmt.Errorf("write %s to the credentials zip: %w", name, err)
	}
	return nil
}

// issuedBundle is credentials issued on a page, waiting for their one
// download.
type issuedBundle struct {
	device            string
	secret            string // "" once shown
	cert, key, ca     string
	issuedAt, expires time.Time
	notAfter          time.Time // of the certificate
}

// newIssuedBundle is is as issued at now.
func newIssuedBundle(is device.Issued, now time.Time) issuedBundle {
	b := issuedBundle{
		device: is.Device.Name, secret: is.Secret, cert: is.CertificatePEM, key: is.PrivateKeyPEM, ca: is.CAPEM,
		issuedAt: now, expires: now.Add(issuedTTL),
	}
	for _, c := range is.Device.Credentials {
		if c.Kind == store.CredentialCertificate && c.Active() {
			b.notAfter = c.NotAfter
		}
	}
	return b
}

// issuedStore keeps newly issued credentials in memory until their
// download. The private key and the secret must not reach a disk, and a
// session is written to the store's file, so the session holds only the
// bundle's random id. A bundle lives issuedTTL at most; at maxIssued the
// one closest to expiry gives way.
type issuedStore struct {
	now func() time.Time
	mu  sync.Mutex
	by  map[string]issuedBundle
}

func newIssuedStore(now func() time.Time) *issuedStore {
	return &issuedStore{now: now, by: map[string]issuedBundle{}}
}

// put keeps is and returns its id.
func (s *issuedStore) put(is device.Issued) (string, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make an id for issued credentials: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	b := newIssuedBundle(is, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.by {
		if !now.Before(v.expires) {
			delete(s.by, k)
		}
	}
	for len(s.by) >= maxIssued {
		oldest := ""
		for k, v := range s.by {
			if oldest == "" || v.expires.Before(s.by[oldest].expires) {
				oldest = k
			}
		}
		delete(s.by, oldest)
	}
	s.by[id] = b
	return id, nil
}

// get returns the bundle id while it has not expired.
func (s *issuedStore) get(id string) (issuedBundle, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live(id)
}

// live is get with s.mu held; it forgets an expired bundle.
func (s *issuedStore) live(id string) (issuedBundle, bool) {
	b, ok := s.by[id]
	if ok && !s.now().Before(b.expires) {
		delete(s.by, id)
		return issuedBundle{}, false
	}
	return b, ok
}

// takeSecret returns the bundle's secret and forgets it, so it shows once.
func (s *issuedStore) takeSecret(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.live(id)
	if !ok {
		return "", false
	}
	secret := b.secret
	b.secret = ""
	s.by[id] = b
	return secret, true
}

// take returns the bundle and forgets it.
func (s *issuedStore) take(id string) (issuedBundle, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.live(id)
	delete(s.by, id)
	return b, ok
}

func (s *issuedStore) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.by, id)
}
