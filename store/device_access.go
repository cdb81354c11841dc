package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// DeviceAccess is what the device registry keeps in memory of a device:
// where it is, its type and its credentials as far as authentication needs
// them. It is kept beside the full record in a compact binary form, written
// in the same transaction, so that loading a fleet of tens of thousands of
// devices at start decodes a few bytes each instead of the whole JSON
// record.
type DeviceAccess struct {
	Name, Customer, Site, Type string
	Credentials                []CredentialAccess
}

// CredentialAccess is a credential as DeviceAccess holds it: Credential
// without the fields authentication does not read.
type CredentialAccess struct {
	ID          string
	Kind        string
	Revoked     bool
	SecretHash  []byte
	Fingerprint string
}

// Active reports whether the credential may still be used, as
// Credential.Active does.
func (c CredentialAccess) Active() bool { return !c.Revoked }

// Access returns what DeviceAccess holds of d. Its slices share no memory
// with d's.
func (d Device) Access() DeviceAccess {
	a := DeviceAccess{Name: d.Name, Customer: d.Customer, Site: d.Site, Type: d.Type}
	if len(d.Credentials) > 0 {
		a.Credentials = make([]CredentialAccess, len(d.Credentials))
	}
	for i, c := range d.Credentials {
		a.Credentials[i] = CredentialAccess{
			ID: c.ID, Kind: c.Kind, Revoked: !c.Active(),
			SecretHash: bytes.Clone(c.SecretHash), Fingerprint: c.Fingerprint,
		}
	}
	return a
}

// deviceAccessFormat is the first byte of a stored DeviceAccess; a record
// of another format is refused rather than misread.
const deviceAccessFormat = 1

// appendDeviceAccess encodes what DeviceAccess holds of d (all but the
// name, which is the key): the format byte, then customer, site and type,
// the number of credentials and, for each, its id, kind, a revoked flag
// (0 or 1), secret hash and fingerprint; strings and byte strings as a
// uvarint length and the bytes.
func appendDeviceAccess(v []byte, d Device) []byte {
	str := func(v []byte, s string) []byte {
		v = binary.AppendUvarint(v, uint64(len(s)))
		return append(v, s...)
	}
	v = append(v, deviceAccessFormat)
	v = str(v, d.Customer)
	v = str(v, d.Site)
	v = str(v, d.Type)
	v = binary.AppendUvarint(v, uint64(len(d.Credentials)))
	for _, c := range d.Credentials {
		v = str(v, c.ID)
		v = str(v, c.Kind)
		revoked := byte(0)
		if !c.Active() {
			revoked = 1
		}
		v = append(v, revoked)
		v = binary.AppendUvarint(v, uint64(len(c.SecretHash)))
		v = append(v, c.SecretHash...)
		v = str(v, c.Fingerprint)
	}
	return v
}

var errBadDeviceAccess = errors.New("unreadable access record")

// decodeDeviceAccess decodes a record appendDeviceAccess wrote. The
// strings and byte slices it returns are copies, valid after the
// transaction.
func decodeDeviceAccess(name string, v []byte) (DeviceAccess, error) {
	if len(v) == 0 || v[0] != deviceAccessFormat {
		return DeviceAccess{}, errBadDeviceAccess
	}
	v = v[1:]
	ok := true
	field := func() []byte {
		n, w := binary.Uvarint(v)
		if w <= 0 || n > uint64(len(v)-w) {
			ok = false
			v = nil
			return nil
		}
		f := v[w : w+int(n)]
		v = v[w+int(n):]
		return f
	}
	a := DeviceAccess{Name: name, Customer: string(field()), Site: string(field()), Type: string(field())}
	n, w := binary.Uvarint(v)
	if !ok || w <= 0 || n > uint64(len(v)) {
		return DeviceAccess{}, errBadDeviceAccess
	}
	v = v[w:]
	if n > 0 {
		a.Credentials = make([]CredentialAccess, n)
	}
	for i := range a.Credentials {
		c := &a.Credentials[i]
		c.ID = string(field())
		c.Kind = string(field())
		if len(v) == 0 {
			return DeviceAccess{}, errBadDeviceAccess
		}
		if v[0] > 1 {
			return DeviceAccess{}, errBadDeviceAccess
		}
		c.Revoked = v[0] == 1
		v = v[1:]
		if h := field(); len(h) > 0 {
			c.SecretHash = append([]byte(nil), h...)
		}
		c.Fingerprint = string(field())
	}
	if !ok || len(v) != 0 {
		return DeviceAccess{}, errBadDeviceAccess
	}
	return a, nil
}

// putDeviceAccess writes d's access record. A file of an older schema
// (opened by OpenAtSchemaVersion) has no access records yet; its migration
// writes them all.
func putDeviceAccess(tx *bolt.Tx, d Device) error {
	b := tx.Bucket([]byte(bucketDeviceAccess))
	if b == nil {
		return nil
	}
	return b.Put([]byte(d.Name), appendDeviceAccess(nil, d))
}

// deleteDeviceAccess removes a device's access record.
func deleteDeviceAccess(tx *bolt.Tx, name string) error {
	if b := tx.Bucket([]byte(bucketDeviceAccess)); b != nil {
		return b.Delete([]byte(name))
	}
	return nil
}

// createDeviceAccess adds the access bucket and fills it from the devices
// already stored.
func createDeviceAccess(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketDeviceAccess)); err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketDeviceAccess, err)
	}
	c := tx.Bucket([]byte(bucketDevices)).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		d, err := getDevice(tx, string(k))
		if err != nil {
			return fmt.Errorf("device %q: %w", k, err)
		}
		if err := putDeviceAccess(tx, d); err != nil {
			return err
		}
	}
	return nil
}

// ListDeviceAccess returns every device's access record, sorted by name:
// what ListDevices(DeviceFilter{}) says of where each device is, its type
// and its credentials, read from the compact records rather than the full
// ones. It is what the device registry loads at start.
func (s *Store) ListDeviceAccess() ([]DeviceAccess, error) {
	var out []DeviceAccess
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketDeviceAccess))
		var keys, vals [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			keys, vals = append(keys, k), append(vals, v)
		}
		out = make([]DeviceAccess, len(vals))
		errs := make([]error, len(vals))
		// The values stay valid while the transaction is open; a long
		// list is decoded on every processor, each into its own slots.
		workers := 1
		if len(vals) >= parallelDecodeMin {
			workers = min(runtime.GOMAXPROCS(0), len(vals)/(parallelDecodeMin/2))
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(vals); i += workers {
					a, err := decodeDeviceAccess(string(keys[i]), vals[i])
					if err != nil {
						errs[i] = fmt.Errorf("device %q: %w", keys[i], err)
					}
					out[i] = a
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list device access: %w", err)
	}
	return out, nil
}
