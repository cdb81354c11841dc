package store_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// accessFleet is three devices: two credentials, one of them revoked; no
// credentials; and one with a type, in another site.
func accessFleet() []store.Device {
	return []store.Device{
		{Name: "gw-1", Customer: "a", Type: "chiller", DisplayName: "Roof", Attributes: map[string]string{"floor": "9"}, CreatedAt: at(1),
			Credentials: []store.Credential{
				{ID: "s1", Kind: store.CredentialSecret, SecretHash: hash(1), CreatedAt: at(1)},
				{ID: "c1", Kind: store.CredentialCertificate, CertSerial: "01ab", Fingerprint: fingerprint(2), NotAfter: at(50), CreatedAt: at(1), RevokedAt: new(at(3))},
			}},
		{Name: "co2-1", Customer: "a", CreatedAt: at(2)},
		{Name: "co2-2", Customer: "a", Site: "x", Type: "co2", CreatedAt: at(2),
			Credentials: []store.Credential{{ID: "s2", Kind: store.CredentialSecret, SecretHash: hash(3), CreatedAt: at(2)}}},
	}
}

// wantAccess compares the store's access records with what its full
// records say.
func wantAccess(t *testing.T, s *store.Store) {
	t.Helper()
	devices, err := s.ListDevices(store.DeviceFilter{})
	mustOK(t, err)
	want := make([]store.DeviceAccess, 0, len(devices))
	for _, d := range devices {
		want = append(want, d.Access())
	}
	got, err := s.ListDeviceAccess()
	mustOK(t, err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("access records differ from the devices (-want +got):\n%s", diff)
	}
}

// TestDeviceAccessFollowsDevices: the access records say what the full
// records say after every kind of write.
func TestDeviceAccessFollowsDevices(t *testing.T) {
	t.Parallel()
	s, path := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, s.CreateSite(store.Site{Customer: "a", Name: "x"}))
	fleet := accessFleet()
	mustOK(t, s.CreateDevice(fleet[0]))
	mustOK(t, s.CreateDevices(fleet[1:]))
	wantAccess(t, s)

	got, err := s.ListDeviceAccess()
	mustOK(t, err)
	want := store.DeviceAccess{Name: "gw-1", Customer: "a", Site: "default", Type: "chiller", Credentials: []store.CredentialAccess{
		{ID: "s1", Kind: store.CredentialSecret, Digest: string(hash(1))},
		{ID: "c1", Kind: store.CredentialCertificate, Revoked: true, Digest: string(hash(2))},
	}}
	if len(got) != 3 || !cmp.Equal(got[2], want) {
		t.Fatalf("access records %+v, want gw-1 last as %+v", got, want)
	}
	if !got[2].Credentials[0].Active() || got[2].Credentials[1].Active() {
		t.Errorf("active: %v %v, want true false", got[2].Credentials[0].Active(), got[2].Credentials[1].Active())
	}

	_, err = s.UpdateDevice("gw-1", func(d *store.Device) error {
		d.Site, d.Type = "x", "boiler"
		d.Credentials[0].RevokedAt = new(at(4))
		d.Credentials = append(d.Credentials, store.Credential{ID: "s3", Kind: store.CredentialSecret, SecretHash: hash(4), CreatedAt: at(4)})
		return nil
	})
	mustOK(t, err)
	wantAccess(t, s)
	mustOK(t, s.DeleteDevice("co2-1"))
	wantAccess(t, s)

	mustOK(t, s.Close())
	s, err = store.Open(path, store.Options{})
	mustOK(t, err)
	t.Cleanup(func() { _ = s.Close() })
	wantAccess(t, s)
}

// TestMigrateDeviceAccess: devices stored before access records existed
// have them after the upgrade, equal to their full records.
func TestMigrateDeviceAccess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	old, err := store.OpenAtSchemaVersion(path, store.SchemaVersionBefore("keep each device's access record"))
	mustOK(t, err)
	mustOK(t, old.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, old.CreateSite(store.Site{Customer: "a", Name: "x"}))
	mustOK(t, old.CreateDevices(accessFleet()))
	mustOK(t, old.Close())
	if got := boltBuckets(t, path); got["device_access"] {
		t.Fatal("the previous schema already has access records")
	}

	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	got, err := s.ListDeviceAccess()
	mustOK(t, err)
	if len(got) != 3 {
		t.Fatalf("%d access records after the upgrade, want 3", len(got))
	}
	wantAccess(t, s)
}

// TestDeviceAccessRefusesDamage: a record cut short, with bytes after its
// end, with an unknown format or a flag out of range is an error, never a
// device with fewer credentials.
func TestDeviceAccessRefusesDamage(t *testing.T) {
	t.Parallel()
	d := accessFleet()[0]
	d.Site = "default"
	v := store.EncodeDeviceAccess(d)
	got, err := store.DecodeDeviceAccess(d.Name, v)
	mustOK(t, err)
	if diff := cmp.Diff(d.Access(), got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	for n := range len(v) {
		if a, err := store.DecodeDeviceAccess(d.Name, v[:n]); err == nil {
			t.Errorf("the first %d of %d bytes decoded as %+v", n, len(v), a)
		}
	}
	bad := map[string][]byte{
		"trailing byte":  append(append([]byte(nil), v...), 0),
		"unknown format": append([]byte{9}, v[1:]...),
	}
	// The revoked flag of the first credential follows its id and kind.
	flag := 1 + 1 + len("a") + 1 + len("default") + 1 + len("chiller") + 1 + 1 + len("s1") + 1 + len("secret")
	if v[flag] != 0 {
		t.Fatalf("byte %d is %d, not the first credential's flag", flag, v[flag])
	}
	flagged := append([]byte(nil), v...)
	flagged[flag] = 2
	bad["flag 2"] = flagged
	for name, v := range bad {
		if a, err := store.DecodeDeviceAccess(d.Name, v); err == nil {
			t.Errorf("%s: decoded as %+v", name, a)
		}
	}
}

// TestListDeviceAccessLongList: a list long enough to be decoded on
// several processors comes back whole and in name order.
func TestListDeviceAccessLongList(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	ds := make([]store.Device, 3000)
	for i := range ds {
		ds[i] = store.Device{Name: fmt.Sprintf("d-%05d", i), Customer: "a", CreatedAt: at(1),
			Credentials: []store.Credential{{ID: "s", Kind: store.CredentialSecret, SecretHash: hash(i), CreatedAt: at(1)}}}
	}
	mustOK(t, s.CreateDevicesInOneTransaction(ds))
	wantAccess(t, s)
}
