package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Page sizes of a device listing.
const (
	DefaultDeviceLimit = 50
	MaxDeviceLimit     = 1000
)

// DeviceQuery asks for one page of devices. Empty fields match any value.
//
// Pages follow the order of names; with a customer, the order of sites,
// then names, as that customer's index keeps them. Cursor is the Next of
// the page before, opaque to callers: the key of that page's last device,
// so devices created or deleted in between do not shift later pages.
type DeviceQuery struct {
	Customer string
	Site     string
	Type     string
	// Search keeps devices whose name or display name contains it,
	// ignoring case.
	Search string
	// Keep, when set, is asked about each device the other fields kept,
	// for what the store does not know (connection state, firmware); it
	// runs inside a read transaction and must not call the Store.
	Keep func(name string) bool
	// KeepShadow, when set, is asked about each device the others kept,
	// with its classic shadow's record as stored (JSON of Shadow; nil
	// when it has none), for what devices report (firmware). A caller
	// that looks for a word in it first decodes only the records that
	// hold it. It runs inside a read transaction, must not call the
	// Store, and must not keep the bytes.
	KeepShadow func(name string, classic []byte) bool
	Cursor     string
	Limit      int // 0 is DefaultDeviceLimit
}

// DevicePage is one page of a listing; Next is "" after the last.
type DevicePage struct {
	Devices []Device
	Next    string
}

// putDeviceSummary writes what listings filter a device by: its customer,
// site, type and display name, each a uvarint length and the bytes. A file
// of an older schema (opened by OpenAtSchemaVersion) has no summaries yet;
// its migration writes them all.
func putDeviceSummary(tx *bolt.Tx, d Device) error {
	b := tx.Bucket([]byte(bucketDeviceSummaries))
	if b == nil {
		return nil
	}
	v := make([]byte, 0, len(d.Customer)+len(d.Site)+len(d.Type)+len(d.DisplayName)+4)
	for _, f := range [...]string{d.Customer, d.Site, d.Type, d.DisplayName} {
		v = binary.AppendUvarint(v, uint64(len(f)))
		v = append(v, f...)
	}
	return b.Put([]byte(d.Name), v)
}

// deleteDeviceSummary removes a device's summary.
func deleteDeviceSummary(tx *bolt.Tx, name string) error {
	if b := tx.Bucket([]byte(bucketDeviceSummaries)); b != nil {
		return b.Delete([]byte(name))
	}
	return nil
}

// deviceSummary is a summary as stored; its fields point into the value
// and are valid only in its transaction.
type deviceSummary struct {
	customer, site, typ, display []byte
}

func decodeDeviceSummary(v []byte) (deviceSummary, bool) {
	var fields [4][]byte
	for i := range fields {
		n, w := binary.Uvarint(v)
		if w <= 0 || n > uint64(len(v)-w) {
			return deviceSummary{}, false
		}
		fields[i] = v[w : w+int(n)]
		v = v[w+int(n):]
	}
	return deviceSummary{customer: fields[0], site: fields[1], typ: fields[2], display: fields[3]}, len(v) == 0
}

// createDeviceSummaries adds the summary bucket and fills it from the
// devices already stored.
func createDeviceSummaries(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketDeviceSummaries)); err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketDeviceSummaries, err)
	}
	c := tx.Bucket([]byte(bucketDevices)).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		d, err := getDevice(tx, string(k))
		if err != nil {
			return fmt.Errorf("device %q: %w", k, err)
		}
		if err := putDeviceSummary(tx, d); err != nil {
			return err
		}
	}
	return nil
}

// PageDevices returns one page of the devices that match q. It reads the
// small summaries of the devices it passes over and decodes only the
// devices it returns, so a page costs the same at the start and the end
// of a large fleet, and a search reads no full record it does not return.
// A customer, or a customer's site, that does not exist is ErrNotFound; a
// limit out of range or a cursor this store did not return is ErrInvalid.
func (s *Store) PageDevices(q DeviceQuery) (DevicePage, error) {
	page, err := s.pageDevices(q)
	if err != nil {
		return DevicePage{}, fmt.Errorf("list devices: %w", err)
	}
	return page, nil
}

func (s *Store) pageDevices(q DeviceQuery) (DevicePage, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultDeviceLimit
	case limit < 0 || limit > MaxDeviceLimit:
		return DevicePage{}, fmt.Errorf("limit %d: 1 to %d devices are accepted: %w", limit, MaxDeviceLimit, ErrInvalid)
	}
	var after []byte
	if q.Cursor != "" {
		var err error
		after, err = base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(after) == 0 {
			return DevicePage{}, fmt.Errorf("cursor %q is not one this listing returned: %w", q.Cursor, ErrInvalid)
		}
	}
	search := []byte(strings.ToLower(q.Search))
	page := DevicePage{Devices: []Device{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		sums := tx.Bucket([]byte(bucketDeviceSummaries))
		shadows := tx.Bucket([]byte(bucketShadows))
		var c *bolt.Cursor
		var prefix []byte
		byCustomer := q.Customer != ""
		if byCustomer {
			if !customerExists(tx, q.Customer) {
				return fmt.Errorf("customer %q: %w", q.Customer, ErrNotFound)
			}
			prefix = sitePrefix(q.Customer)
			if q.Site != "" {
				if !siteExists(tx, q.Customer, q.Site) {
					return fmt.Errorf("site %q of customer %q: %w", q.Site, q.Customer, ErrNotFound)
				}
				prefix = append(siteKey(q.Customer, q.Site), keySep...)
			}
			c = tx.Bucket([]byte(bucketDeviceIndex)).Cursor()
		} else {
			c = sums.Cursor()
		}
		var k, v []byte
		if after != nil {
			if !bytes.HasPrefix(after, prefix) {
				return fmt.Errorf("cursor %q is not one this listing returned: %w", q.Cursor, ErrInvalid)
			}
			k, v = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		} else {
			k, v = c.Seek(prefix)
		}
		var last []byte
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			name := k
			if byCustomer {
				name = k[bytes.LastIndexByte(k, 0)+1:]
				v = sums.Get(name)
			}
			sum, ok := decodeDeviceSummary(v)
			if !ok {
				return fmt.Errorf("summary of device %q is malformed: %w", name, ErrInvalid)
			}
			if !byCustomer && q.Site != "" && string(sum.site) != q.Site ||
				q.Type != "" && string(sum.typ) != q.Type ||
				len(search) > 0 && !containsFold(name, search) && !containsFold(sum.display, search) ||
				q.Keep != nil && !q.Keep(string(name)) ||
				q.KeepShadow != nil && !q.KeepShadow(string(name), shadows.Get(shadowKey(string(name), ""))) {
				continue
			}
			if len(page.Devices) == limit {
				// One more match exists, so there is a next page.
				page.Next = base64.RawURLEncoding.EncodeToString(last)
				return nil
			}
			d, err := getDevice(tx, string(name))
			if err != nil {
				return fmt.Errorf("device %q of the summaries: %w", name, err)
			}
			page.Devices = append(page.Devices, d)
			last = k
		}
		return nil
	})
	return page, err
}

// containsFold reports whether s contains the lower-cased sub, ignoring
// case. ASCII, the usual case, is compared in place without allocating.
func containsFold(s, sub []byte) bool {
	for _, b := range s {
		if b >= utf8.RuneSelf {
			return bytes.Contains(bytes.ToLower(s), sub)
		}
	}
	n := len(sub)
outer:
	for i := 0; i+n <= len(s); i++ {
		for j := range n {
			b := s[i+j]
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			if b != sub[j] {
				continue outer
			}
		}
		return true
	}
	return false
}
