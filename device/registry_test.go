package device_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/store"
)

// fixture is a registry over a real store file and a real CA.
type fixture struct {
	dir       string
	st        *store.Store
	authority *ca.CA
	reg       *device.Registry
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	authority, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, authority: authority}
	f.open(t)
	if _, err := f.reg.CreateCustomer(store.Customer{Name: "acme", DisplayName: "ACME Hotels"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// open opens the store file and builds a registry on it, as at start-up.
func (f *fixture) open(t testing.TB) {
	t.Helper()
	st, err := store.Open(filepath.Join(f.dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := device.NewRegistry(st, f.authority, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f.st, f.reg = st, reg
}

func (f *fixture) restart(t testing.TB) {
	t.Helper()
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(t)
}

func (f *fixture) create(t testing.TB, name string) device.Issued {
	t.Helper()
	iss, err := f.reg.CreateDevice(device.DeviceSpec{Name: name, Customer: "acme", Type: "chiller"})
	if err != nil {
		t.Fatalf("CreateDevice(%q): %v", name, err)
	}
	return iss
}

func parseCert(t testing.TB, p string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		t.Fatalf("no PEM block in %q", p)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// changes records OnChange calls.
type changes struct {
	mu    sync.Mutex
	names []string
}

func (c *changes) record(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = append(c.names, name)
}

func (c *changes) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.names
	c.names = nil
	return n
}

func TestCreateDeviceAndAuthenticate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss := f.create(t, "boiler-1")

	raw, err := base64.RawURLEncoding.DecodeString(iss.Secret)
	if err != nil || len(raw) != 32 {
		t.Errorf("secret %q is not 32 bytes of raw URL base64 (%d bytes, %v)", iss.Secret, len(raw), err)
	}
	if iss.Device.Site != store.DefaultSite || iss.Device.Customer != "acme" || iss.Device.Type != "chiller" {
		t.Errorf("device placed at %s/%s type %q", iss.Device.Customer, iss.Device.Site, iss.Device.Type)
	}
	stored, err := f.reg.Device("boiler-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(iss.Device, stored); diff != "" {
		t.Errorf("Issued.Device differs from the stored device (-issued +stored):\n%s", diff)
	}
	if len(stored.Credentials) != 2 {
		t.Fatalf("device has %d credentials, want a secret and a certificate", len(stored.Credentials))
	}

	secretID, err := f.reg.AuthenticateSecret("boiler-1", iss.Secret)
	if err != nil {
		t.Fatalf("AuthenticateSecret: %v", err)
	}
	cert := parseCert(t, iss.CertificatePEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: f.authority.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("issued certificate does not verify: %v", err)
	}
	if iss.CAPEM != string(f.authority.CertPEM()) {
		t.Error("Issued.CAPEM is not the CA certificate")
	}
	if cert.Subject.CommonName != "boiler-1" {
		t.Errorf("certificate CN = %q", cert.Subject.CommonName)
	}
	if life := time.Until(cert.NotAfter); life < device.CertificateValidity-2*time.Hour {
		t.Errorf("certificate valid for %s, want about %s", life, device.CertificateValidity)
	}
	name, certID, err := f.reg.AuthenticateCertificate(cert)
	if err != nil || name != "boiler-1" {
		t.Fatalf("AuthenticateCertificate = %q, %v", name, err)
	}
	if certID == secretID {
		t.Errorf("secret and certificate share credential id %q", certID)
	}
	fp := sha256.Sum256(cert.Raw)
	secretHash := sha256.Sum256([]byte(iss.Secret))
	for _, c := range stored.Credentials {
		switch c.ID {
		case secretID:
			if c.Kind != store.CredentialSecret || !bytes.Equal(c.SecretHash, secretHash[:]) {
				t.Errorf("secret credential %+v does not hold the secret's SHA-256", c)
			}
		case certID:
			if c.Kind != store.CredentialCertificate || c.Fingerprint != hex.EncodeToString(fp[:]) || c.CertSerial != cert.SerialNumber.Text(16) {
				t.Errorf("certificate credential %+v does not match the certificate", c)
			}
		default:
			t.Errorf("unexpected credential %q", c.ID)
		}
	}
	for _, id := range []string{secretID, certID} {
		if !f.reg.CredentialActive("boiler-1", id) {
			t.Errorf("CredentialActive(%q) = false", id)
		}
	}
	if customer, site, ok := f.reg.Labels("boiler-1"); !ok || customer != "acme" || site != store.DefaultSite {
		t.Errorf("Labels = %q, %q, %v", customer, site, ok)
	}

	// Only hashes are stored: the secret and the private key never reach the file.
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(f.dir, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	keyBlock, _ := pem.Decode([]byte(iss.PrivateKeyPEM))
	if bytes.Contains(file, []byte(iss.Secret)) || bytes.Contains(file, keyBlock.Bytes) || bytes.Contains(file, []byte(iss.PrivateKeyPEM[40:80])) {
		t.Error("the store file contains the secret or the private key")
	}
}

func TestAuthenticationRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.create(t, "a")
	b := f.create(t, "b")
	// A certificate the CA signed for a name, but that no device holds.
	strayPEM, _, _, err := f.authority.IssueClient("a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		auth func() error
	}{
		{"wrong secret", func() error { _, err := f.reg.AuthenticateSecret("a", a.Secret+"x"); return err }},
		{"empty secret", func() error { _, err := f.reg.AuthenticateSecret("a", ""); return err }},
		{"other device's secret", func() error { _, err := f.reg.AuthenticateSecret("a", b.Secret); return err }},
		{"unknown device", func() error { _, err := f.reg.AuthenticateSecret("nobody", a.Secret); return err }},
		{"another device's certificate under this name", func() error {
			c := parseCert(t, b.CertificatePEM)
			c.Subject.CommonName = "a" // the fingerprint still belongs to b
			_, _, err := f.reg.AuthenticateCertificate(c)
			return err
		}},
		{"certificate signed but not registered", func() error {
			_, _, err := f.reg.AuthenticateCertificate(parseCert(t, string(strayPEM)))
			return err
		}},
		{"no certificate", func() error { _, _, err := f.reg.AuthenticateCertificate(nil); return err }},
	}
	for _, tt := range tests {
		if err := tt.auth(); !errors.Is(err, device.ErrBadCredentials) {
			t.Errorf("%s: err = %v, want ErrBadCredentials", tt.name, err)
		}
	}
	if f.reg.CredentialActive("a", "0123456789abcdef") || f.reg.CredentialActive("nobody", "x") {
		t.Error("CredentialActive true for an unknown credential")
	}
	if _, _, ok := f.reg.Labels("nobody"); ok {
		t.Error("Labels ok for an unknown device")
	}
}

func TestRotateCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var ch changes
	f.reg.OnChange(ch.record)
	old := f.create(t, "ahu-3")
	// A new device is a change too: the scheduler works out its calendar.
	if diff := cmp.Diff([]string{"ahu-3"}, ch.take()); diff != "" {
		t.Errorf("OnChange calls on create (-want +got):\n%s", diff)
	}
	oldSecretID, _ := f.reg.AuthenticateSecret("ahu-3", old.Secret)
	_, oldCertID, _ := f.reg.AuthenticateCertificate(parseCert(t, old.CertificatePEM))

	fresh, err := f.reg.RotateCredentials("ahu-3")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ahu-3"}, ch.take()); diff != "" {
		t.Errorf("OnChange calls (-want +got):\n%s", diff)
	}
	if fresh.Secret == old.Secret || fresh.CertificatePEM == old.CertificatePEM {
		t.Fatal("rotation returned the old credentials")
	}
	if _, err := f.reg.AuthenticateSecret("ahu-3", old.Secret); !errors.Is(err, device.ErrRevoked) {
		t.Errorf("old secret: err = %v, want ErrRevoked", err)
	}
	if _, _, err := f.reg.AuthenticateCertificate(parseCert(t, old.CertificatePEM)); !errors.Is(err, device.ErrRevoked) {
		t.Errorf("old certificate: err = %v, want ErrRevoked", err)
	}
	if f.reg.CredentialActive("ahu-3", oldSecretID) || f.reg.CredentialActive("ahu-3", oldCertID) {
		t.Error("old credentials still active")
	}
	newID, err := f.reg.AuthenticateSecret("ahu-3", fresh.Secret)
	if err != nil {
		t.Errorf("new secret: %v", err)
	}
	if _, _, err := f.reg.AuthenticateCertificate(parseCert(t, fresh.CertificatePEM)); err != nil {
		t.Errorf("new certificate: %v", err)
	}
	if !f.reg.CredentialActive("ahu-3", newID) {
		t.Error("new secret not active")
	}
	active := 0
	for _, c := range fresh.Device.Credentials {
		if c.Active() {
			active++
		}
	}
	if len(fresh.Device.Credentials) != 4 || active != 2 {
		t.Errorf("after rotation: %d credentials, %d active; want 4 and 2", len(fresh.Device.Credentials), active)
	}

	if _, err := f.reg.RotateCredentials("nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate unknown device: err = %v, want store.ErrNotFound", err)
	}
}

func TestRevokeCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var ch changes
	f.reg.OnChange(ch.record)
	iss := f.create(t, "co2-7")
	ch.take() // the creation
	secretID, _ := f.reg.AuthenticateSecret("co2-7", iss.Secret)
	cert := parseCert(t, iss.CertificatePEM)

	// One credential: the secret goes, the certificate stays.
	d, err := f.reg.RevokeCredentials("co2-7", secretID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"co2-7"}, ch.take()); diff != "" {
		t.Errorf("OnChange calls (-want +got):\n%s", diff)
	}
	for _, c := range d.Credentials {
		if c.Active() == (c.ID == secretID) {
			t.Errorf("credential %s active = %v after revoking %s", c.ID, c.Active(), secretID)
		}
	}
	if _, err := f.reg.AuthenticateSecret("co2-7", iss.Secret); !errors.Is(err, device.ErrRevoked) {
		t.Errorf("revoked secret: err = %v, want ErrRevoked", err)
	}
	if _, _, err := f.reg.AuthenticateCertificate(cert); err != nil {
		t.Errorf("certificate refused after revoking only the secret: %v", err)
	}

	// Revoking it again changes nothing and tells nobody.
	if _, err := f.reg.RevokeCredentials("co2-7", secretID); err != nil {
		t.Errorf("revoke again: %v", err)
	}
	if got := ch.take(); len(got) != 0 {
		t.Errorf("OnChange fired for a no-op revoke: %v", got)
	}
	if _, err := f.reg.RevokeCredentials("co2-7", "ffffffffffffffff"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown credential: err = %v, want store.ErrNotFound", err)
	}
	if _, err := f.reg.RevokeCredentials("nobody", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke on unknown device: err = %v, want store.ErrNotFound", err)
	}

	// All: the certificate goes too.
	d, err = f.reg.RevokeCredentials("co2-7", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"co2-7"}, ch.take()); diff != "" {
		t.Errorf("OnChange calls (-want +got):\n%s", diff)
	}
	for _, c := range d.Credentials {
		if c.Active() {
			t.Errorf("credential %s still active after revoking all", c.ID)
		}
	}
	if _, _, err := f.reg.AuthenticateCertificate(cert); !errors.Is(err, device.ErrRevoked) {
		t.Errorf("certificate after revoking all: err = %v, want ErrRevoked", err)
	}
}

func TestDeleteDevice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var ch changes
	var activeInHook atomic.Bool
	f.reg.OnChange(ch.record)
	// A hook may call back into the registry; it sees the committed state.
	f.reg.OnChange(func(name string) { _, _, ok := f.reg.Labels(name); activeInHook.Store(ok) })
	iss := f.create(t, "boiler-9")
	ch.take() // the creation
	if err := f.reg.DeleteDevice("boiler-9"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"boiler-9"}, ch.take()); diff != "" {
		t.Errorf("OnChange calls (-want +got):\n%s", diff)
	}
	if activeInHook.Load() {
		t.Error("hook saw the deleted device in the cache")
	}
	if _, err := f.reg.AuthenticateSecret("boiler-9", iss.Secret); !errors.Is(err, device.ErrBadCredentials) {
		t.Errorf("secret of deleted device: err = %v", err)
	}
	if _, _, err := f.reg.AuthenticateCertificate(parseCert(t, iss.CertificatePEM)); !errors.Is(err, device.ErrBadCredentials) {
		t.Errorf("certificate of deleted device: err = %v", err)
	}
	if _, err := f.reg.Device("boiler-9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Device after delete: err = %v", err)
	}
	if err := f.reg.DeleteDevice("boiler-9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: err = %v, want store.ErrNotFound", err)
	}
	if got := ch.take(); len(got) != 0 {
		t.Errorf("OnChange fired for a failed delete: %v", got)
	}
}

func TestCreateDeviceRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(t, "taken")
	many := map[string]string{}
	for i := range device.MaxAttributes + 1 {
		many["k"+strings.Repeat("x", i)] = "v"
	}
	tests := []struct {
		name    string
		spec    device.DeviceSpec
		wantErr error
	}{
		{"empty name", device.DeviceSpec{Customer: "acme"}, device.ErrInvalid},
		{"name with slash", device.DeviceSpec{Name: "a/b", Customer: "acme"}, device.ErrInvalid},
		{"name with wildcard", device.DeviceSpec{Name: "a+", Customer: "acme"}, device.ErrInvalid},
		{"name too long", device.DeviceSpec{Name: strings.Repeat("n", 129), Customer: "acme"}, device.ErrInvalid},
		{"type too long", device.DeviceSpec{Name: "d", Customer: "acme", Type: strings.Repeat("t", 65)}, device.ErrInvalid},
		{"type not printable", device.DeviceSpec{Name: "d", Customer: "acme", Type: "chiller\n"}, device.ErrInvalid},
		{"type not UTF-8", device.DeviceSpec{Name: "d", Customer: "acme", Type: "\xff"}, device.ErrInvalid},
		{"too many attributes", device.DeviceSpec{Name: "d", Customer: "acme", Attributes: many}, device.ErrInvalid},
		{"empty attribute name", device.DeviceSpec{Name: "d", Customer: "acme", Attributes: map[string]string{"": "v"}}, device.ErrInvalid},
		{"attribute name with space", device.DeviceSpec{Name: "d", Customer: "acme", Attributes: map[string]string{"floor no": "2"}}, device.ErrInvalid},
		{"attribute name too long", device.DeviceSpec{Name: "d", Customer: "acme", Attributes: map[string]string{strings.Repeat("k", 129): "v"}}, device.ErrInvalid},
		{"attribute value too long", device.DeviceSpec{Name: "d", Customer: "acme", Attributes: map[string]string{"k": strings.Repeat("v", 801)}}, device.ErrInvalid},
		{"attribute value not printable", device.DeviceSpec{Name: "d", Customer: "acme", Attributes: map[string]string{"k": "a\x00b"}}, device.ErrInvalid},
		{"unknown customer", device.DeviceSpec{Name: "d", Customer: "nobody"}, store.ErrNotFound},
		{"unknown site", device.DeviceSpec{Name: "d", Customer: "acme", Site: "tower-b"}, store.ErrNotFound},
		{"invalid customer name", device.DeviceSpec{Name: "d", Customer: "ac me"}, store.ErrInvalid},
		{"empty customer", device.DeviceSpec{Name: "d"}, store.ErrInvalid},
		{"name taken", device.DeviceSpec{Name: "taken", Customer: "acme"}, store.ErrExists},
	}
	for _, tt := range tests {
		if _, err := f.reg.CreateDevice(tt.spec); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	all, err := f.reg.Devices(store.DeviceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Name != "taken" {
		t.Errorf("devices after refused creations: %v", all)
	}
	if _, _, ok := f.reg.Labels("d"); ok {
		t.Error("a refused device is in the cache")
	}
}

func TestCustomersSitesAndPlacement(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.reg.CreateCustomer(store.Customer{Name: "acme"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate customer: err = %v", err)
	}
	if _, err := f.reg.CreateCustomer(store.Customer{Name: "bad name"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("invalid customer: err = %v", err)
	}
	site, err := f.reg.CreateSite(store.Site{Customer: "acme", Name: "tower-b", DisplayName: "Tower B"})
	if err != nil {
		t.Fatal(err)
	}
	if site.CreatedAt.IsZero() || site.DisplayName != "Tower B" {
		t.Errorf("CreateSite returned %+v", site)
	}
	if _, err := f.reg.CreateSite(store.Site{Customer: "nobody", Name: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("site of unknown customer: err = %v", err)
	}
	attrs := map[string]string{"floor": "12", "vendor/model": "Daikin EWAD-TZ"}
	iss, err := f.reg.CreateDevice(device.DeviceSpec{Name: "chiller-1", Customer: "acme", Site: "tower-b", Type: "chiller", Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	attrs["floor"] = "13" // the registry keeps its own copy
	if iss.Device.Attributes["floor"] != "12" {
		t.Error("device attributes alias the caller's map")
	}
	f.create(t, "co2-1")
	if customer, s, ok := f.reg.Labels("chiller-1"); !ok || customer != "acme" || s != "tower-b" {
		t.Errorf("Labels = %q, %q, %v", customer, s, ok)
	}
	inTower, err := f.reg.Devices(store.DeviceFilter{Customer: "acme", Site: "tower-b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(inTower) != 1 || inTower[0].Name != "chiller-1" {
		t.Errorf("devices in tower-b: %v", inTower)
	}
}

func TestRegistrySurvivesRestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss := f.create(t, "boiler-1")
	rotated := f.create(t, "boiler-2")
	if _, err := f.reg.RotateCredentials("boiler-2"); err != nil {
		t.Fatal(err)
	}
	f.restart(t)

	if _, err := f.reg.AuthenticateSecret("boiler-1", iss.Secret); err != nil {
		t.Errorf("secret after restart: %v", err)
	}
	if name, _, err := f.reg.AuthenticateCertificate(parseCert(t, iss.CertificatePEM)); err != nil || name != "boiler-1" {
		t.Errorf("certificate after restart: %q, %v", name, err)
	}
	if _, err := f.reg.AuthenticateSecret("boiler-2", rotated.Secret); !errors.Is(err, device.ErrRevoked) {
		t.Errorf("revoked secret after restart: err = %v, want ErrRevoked", err)
	}
	if customer, site, ok := f.reg.Labels("boiler-1"); !ok || customer != "acme" || site != store.DefaultSite {
		t.Errorf("Labels after restart = %q, %q, %v", customer, site, ok)
	}
}

// TestAuthenticateDuringRotate runs authentications while the credentials
// rotate; with -race it checks the cache is safe to read during writes.
func TestAuthenticateDuringRotate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss := f.create(t, "busy")
	cert := parseCert(t, iss.CertificatePEM)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var unexpected atomic.Value
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := f.reg.AuthenticateSecret("busy", iss.Secret)
				if err != nil && !errors.Is(err, device.ErrRevoked) {
					unexpected.Store(err)
				}
				if _, _, err := f.reg.AuthenticateCertificate(cert); err != nil && !errors.Is(err, device.ErrRevoked) {
					unexpected.Store(err)
				}
				f.reg.Labels("busy")
				f.reg.CredentialActive("busy", "x")
			}
		}()
	}
	var last device.Issued
	for range 5 {
		var err error
		if last, err = f.reg.RotateCredentials("busy"); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if err := unexpected.Load(); err != nil {
		t.Errorf("authentication failed with %v during rotation", err)
	}
	if _, err := f.reg.AuthenticateSecret("busy", last.Secret); err != nil {
		t.Errorf("last rotated secret: %v", err)
	}
}

// Summaries, read from memory, say of every device what its stored record
// says, through creation (one at a time and in bulk), moves, type changes,
// deletion and a restart, which fills them from the store again.
func TestSummariesMatchTheStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.reg.CreateSite(store.Site{Customer: "acme", Name: "tower-b"}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		ds, err := f.reg.Devices(store.DeviceFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]device.DeviceSummary, 0, len(ds))
		for _, d := range ds {
			want = append(want, device.DeviceSummary{Name: d.Name, Customer: d.Customer, Site: d.Site, Type: d.Type})
		}
		got := slices.Clone(f.reg.Summaries()) // shared: sorted in a copy
		slices.SortFunc(got, func(a, b device.DeviceSummary) int { return strings.Compare(a.Name, b.Name) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: summaries differ from the store (-store +summaries):\n%s", when, diff)
		}
	}
	check("empty")
	f.create(t, "chiller-1")
	f.create(t, "chiller-2")
	if _, err := f.reg.CreateDevices([]device.DeviceSpec{{Name: "ahu-1", Customer: "acme", Site: "tower-b"}, {Name: "ahu-2", Customer: "acme"}}); err != nil {
		t.Fatal(err)
	}
	check("created")
	site, typ := "tower-b", "boiler"
	if _, err := f.reg.UpdateDevice("chiller-1", device.DeviceChange{Site: &site, Type: &typ}); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.DeleteDevice("ahu-2"); err != nil {
		t.Fatal(err)
	}
	check("changed")
	f.restart(t)
	check("restarted")
	if n := len(f.reg.Summaries()); n != 3 {
		t.Errorf("%d summaries after the changes; want 3", n)
	}
}
