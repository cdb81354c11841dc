package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

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

// CredentialAccess is a credential as DeviceAccess holds it: what
// authentication reads of a Credential.
type CredentialAccess struct {
	ID      string
	Kind    string
	Revoked bool
	// Digest is the SHA-256 a presented credential is checked against,
	// its bytes in a string (the strings of a whole fleet can share one
	// allocation): SecretHash for a secret, Fingerprint decoded for a
	// certificate; empty for a fingerprint that is not hex digits, which
	// the store never accepted.
	Digest string
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
		a.Credentials[i] = CredentialAccess{ID: c.ID, Kind: c.Kind, Revoked: !c.Active(), Digest: c.digest()}
	}
	return a
}

// digest is CredentialAccess.Digest of c.
func (c Credential) digest() string {
	switch c.Kind {
	case CredentialSecret:
		return string(c.SecretHash)
	case CredentialCertificate:
		if fp, err := hex.DecodeString(c.Fingerprint); err == nil {
			return string(fp)
		}
	}
	return ""
}

// deviceAccessFormat is the first byte of a stored DeviceAccess; a record
// of another format is refused rather than misread.
const deviceAccessFormat = 1

// appendDeviceAccess encodes what DeviceAccess holds of d (all but the
// name, which is the key): the format byte, then customer, site and type,
// the number of credentials and, for each, its id, kind, a revoked flag
// (0 or 1) and digest; strings as a uvarint length and the bytes.
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
		v = str(v, c.digest())
	}
	return v
}

var errBadDeviceAccess = errors.New("unreadable access record")

// decodeDeviceAccess decodes rec, a record appendDeviceAccess wrote, held
// in a string. Its strings are parts of rec, and its credentials are
// appended to *creds, of which a.Credentials is the part they take: the
// caller decoding a whole fleet passes one string and one slice for all
// of it, so a device costs no allocation of its own.
func decodeDeviceAccess(name, rec string, creds *[]CredentialAccess) (DeviceAccess, error) {
	if len(rec) == 0 || rec[0] != deviceAccessFormat {
		return DeviceAccess{}, errBadDeviceAccess
	}
	r := fieldReader{rec: rec, pos: 1}
	a := DeviceAccess{Name: name, Customer: r.str(), Site: r.str(), Type: r.str()}
	n := r.count()
	from := len(*creds)
	for range n {
		c := CredentialAccess{ID: r.str(), Kind: r.str()}
		switch r.oneByte() {
		case 0:
		case 1:
			c.Revoked = true
		default:
			r.fail()
		}
		c.Digest = r.str()
		if r.failed {
			break
		}
		*creds = append(*creds, c)
	}
	if !r.done() {
		return DeviceAccess{}, errBadDeviceAccess
	}
	if n > 0 {
		a.Credentials = (*creds)[from:len(*creds):len(*creds)]
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
//
// The strings of all the records share one allocation, and their
// credentials one slice: with tens of thousands of devices, allocating
// each string on its own took more time than reading the file.
func (s *Store) ListDeviceAccess() ([]DeviceAccess, error) {
	var out []DeviceAccess
	err := s.db.View(func(tx *bolt.Tx) error {
		text, ends := copyBucket(tx.Bucket([]byte(bucketDeviceAccess)))
		out = make([]DeviceAccess, len(ends))
		creds := make([]CredentialAccess, 0, 2*len(ends))
		start := 0
		for i, e := range ends {
			a, err := decodeDeviceAccess(text[start:e[0]], text[e[0]:e[1]], &creds)
			if err != nil {
				return fmt.Errorf("device %q: %w", text[start:e[0]], err)
			}
			out[i] = a
			start = e[1]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list device access: %w", err)
	}
	return out, nil
}
