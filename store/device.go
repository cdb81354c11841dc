package store

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// DeviceFilter narrows ListDevices; an empty field matches any value.
type DeviceFilter struct {
	Customer string
	Site     string
}

func deviceIndexKey(d Device) []byte {
	return []byte(d.Customer + keySep + d.Site + keySep + d.Name)
}

// CreateDevice adds a device to an existing site of an existing customer.
// An empty Site means DefaultSite; a zero CreatedAt is set to the current
// time.
func (s *Store) CreateDevice(d Device) error {
	if d.Site == "" {
		d.Site = DefaultSite
	}
	if err := checkDevice(d); err != nil {
		return fmt.Errorf("create device %q: %w", d.Name, err)
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now()
	}
	if err := s.update(func(tx *bolt.Tx) error { return createDevice(tx, d) }); err != nil {
		return fmt.Errorf("create device %q: %w", d.Name, err)
	}
	return nil
}

// createDevice writes a checked device and its index entry.
func createDevice(tx *bolt.Tx, d Device) error {
	b := tx.Bucket([]byte(bucketDevices))
	if b.Get([]byte(d.Name)) != nil {
		return ErrExists
	}
	if err := checkPlacement(tx, d); err != nil {
		return err
	}
	if err := putJSON(b, []byte(d.Name), d); err != nil {
		return err
	}
	if err := putDeviceSummary(tx, d); err != nil {
		return err
	}
	if err := putDeviceAccess(tx, d); err != nil {
		return err
	}
	return tx.Bucket([]byte(bucketDeviceIndex)).Put(deviceIndexKey(d), []byte{})
}

// GetDevice returns the device called name.
func (s *Store) GetDevice(name string) (Device, error) {
	var d Device
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		d, err = getDevice(tx, name)
		return err
	})
	if err != nil {
		return Device{}, fmt.Errorf("get device %q: %w", name, err)
	}
	return d, nil
}

// ListDevices returns the devices that match f, sorted by name. A filter
// naming a customer, or a customer and a site, that does not exist is
// ErrNotFound. A customer's devices are read through the index, so the
// cost follows the size of the answer, not of the fleet.
func (s *Store) ListDevices(f DeviceFilter) ([]Device, error) {
	var out []Device
	err := s.db.View(func(tx *bolt.Tx) error {
		if f.Customer == "" {
			all, err := listJSON[Device](tx.Bucket([]byte(bucketDevices)), nil)
			if err != nil {
				return err
			}
			if f.Site != "" {
				all = slices.DeleteFunc(all, func(d Device) bool { return d.Site != f.Site })
			}
			out = all
			return nil
		}
		if !customerExists(tx, f.Customer) {
			return fmt.Errorf("customer %q: %w", f.Customer, ErrNotFound)
		}
		prefix := sitePrefix(f.Customer)
		if f.Site != "" {
			if !siteExists(tx, f.Customer, f.Site) {
				return fmt.Errorf("site %q of customer %q: %w", f.Site, f.Customer, ErrNotFound)
			}
			prefix = append(siteKey(f.Customer, f.Site), keySep...)
		}
		var names []string
		c := tx.Bucket([]byte(bucketDeviceIndex)).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			names = append(names, string(k[bytes.LastIndexByte(k, 0)+1:]))
		}
		slices.Sort(names)
		out = make([]Device, 0, len(names))
		for _, name := range names {
			d, err := getDevice(tx, name)
			if err != nil {
				return fmt.Errorf("device %q in the index of customer %q: %w", name, f.Customer, err)
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// UpdateDevice reads the device, lets fn change it and writes it back, all in
// one transaction, so concurrent updates cannot lose each other's changes.
// An error from fn aborts the update and nothing is written. A device cannot
// be renamed or moved to another customer (ErrInvalid); moving it to another
// site of its customer needs that site to exist. fn runs inside the write
// transaction and must not call the Store.
func (s *Store) UpdateDevice(name string, fn func(*Device) error) (Device, error) {
	var out Device
	err := s.update(func(tx *bolt.Tx) error {
		old, err := getDevice(tx, name)
		if err != nil {
			return err
		}
		d := old
		if err := fn(&d); err != nil {
			return err
		}
		if d.Name != old.Name {
			return fmt.Errorf("name cannot change (from %q to %q): %w", old.Name, d.Name, ErrInvalid)
		}
		if d.Customer != old.Customer {
			return fmt.Errorf("customer cannot change (from %q to %q): %w", old.Customer, d.Customer, ErrInvalid)
		}
		if d.Site == "" {
			d.Site = DefaultSite
		}
		if err := checkDevice(d); err != nil {
			return err
		}
		if d.Site != old.Site {
			if err := checkPlacement(tx, d); err != nil {
				return err
			}
			idx := tx.Bucket([]byte(bucketDeviceIndex))
			if err := idx.Delete(deviceIndexKey(old)); err != nil {
				return err
			}
			if err := idx.Put(deviceIndexKey(d), []byte{}); err != nil {
				return err
			}
		}
		if err := putJSON(tx.Bucket([]byte(bucketDevices)), []byte(d.Name), d); err != nil {
			return err
		}
		if err := putDeviceSummary(tx, d); err != nil {
			return err
		}
		if err := putDeviceAccess(tx, d); err != nil {
			return err
		}
		out = d
		return nil
	})
	if err != nil {
		return Device{}, fmt.Errorf("update device %q: %w", name, err)
	}
	return out, nil
}

// DeleteDevice removes a device, its index entry, its shadows and its
// saved presence. Its shadow history is kept: it is the record of who
// changed what, which an audit still needs after the device is gone, and it
// leaves with the retention of PruneHistory like every other entry.
func (s *Store) DeleteDevice(name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		d, err := getDevice(tx, name)
		if err != nil {
			return err
		}
		if err := deleteShadows(tx, name); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketPresence)).Delete([]byte(name)); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketStrategyState)).Delete([]byte(name)); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketPollMaps)).Delete([]byte(name)); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketAssignments)).Delete(assignmentKey(AssignDevice, d.Customer, name)); err != nil {
			return err
		}
		if err := deletePrefix(tx.Bucket([]byte(bucketPushes)), []byte(name+"\x00")); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketDeviceIndex)).Delete(deviceIndexKey(d)); err != nil {
			return err
		}
		if err := deleteDeviceSummary(tx, name); err != nil {
			return err
		}
		if err := deleteDeviceAccess(tx, name); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketDevices)).Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete device %q: %w", name, err)
	}
	return nil
}

func getDevice(tx *bolt.Tx, name string) (Device, error) {
	var d Device
	ok, err := getJSON(tx.Bucket([]byte(bucketDevices)), []byte(name), &d)
	if err != nil {
		return Device{}, err
	}
	if !ok {
		return Device{}, ErrNotFound
	}
	return d, nil
}

// checkPlacement checks that the device's customer and site exist.
func checkPlacement(tx *bolt.Tx, d Device) error {
	if !customerExists(tx, d.Customer) {
		return fmt.Errorf("customer %q: %w", d.Customer, ErrNotFound)
	}
	if !siteExists(tx, d.Customer, d.Site) {
		return fmt.Errorf("site %q of customer %q: %w", d.Site, d.Customer, ErrNotFound)
	}
	return nil
}

// checkDevice checks a device's own fields, with Site already defaulted.
func checkDevice(d Device) error {
	if err := checkDeviceName(d.Name); err != nil {
		return err
	}
	if err := checkSlug("customer name", d.Customer); err != nil {
		return err
	}
	if err := checkSlug("site name", d.Site); err != nil {
		return err
	}
	if err := checkText("device type", d.Type, maxNameLen, false); err != nil {
		return err
	}
	if err := checkText("display name", d.DisplayName, maxNameLen, false); err != nil {
		return err
	}
	for k, v := range d.Attributes {
		if err := checkText("attribute name", k, maxNameLen, true); err != nil {
			return err
		}
		if err := checkText("attribute "+k, v, maxAttributeLen, false); err != nil {
			return err
		}
	}
	seen := make(map[string]bool, len(d.Credentials))
	for _, c := range d.Credentials {
		if err := checkCredential(c); err != nil {
			return err
		}
		if seen[c.ID] {
			return fmt.Errorf("credential id %q is used twice: %w", c.ID, ErrInvalid)
		}
		seen[c.ID] = true
	}
	return nil
}

// CreateDevices adds many devices in one transaction: all of them, or none
// when any breaks a rule of CreateDevice (the error names the first).
func (s *Store) CreateDevices(ds []Device) error {
	for i := range ds {
		if ds[i].Site == "" {
			ds[i].Site = DefaultSite
		}
		if ds[i].CreatedAt.IsZero() {
			ds[i].CreatedAt = now()
		}
		if err := checkDevice(ds[i]); err != nil {
			return fmt.Errorf("create device %q: %w", ds[i].Name, err)
		}
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, d := range ds {
			if err := createDevice(tx, d); err != nil {
				return fmt.Errorf("create device %q: %w", d.Name, err)
			}
		}
		return nil
	})
}
