package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// keySep separates the parts of composite keys. NUL cannot occur in names
// (control characters are refused) and sorts before every allowed byte, so
// keys sort by customer first, then by the rest.
const keySep = "\x00"

func siteKey(customer, site string) []byte {
	return []byte(customer + keySep + site)
}

// sitePrefix is the prefix of the sites and the device index entries of one
// customer.
func sitePrefix(customer string) []byte {
	return []byte(customer + keySep)
}

// CreateSite adds a site to an existing customer. A zero CreatedAt is set to
// the current time.
func (s *Store) CreateSite(site Site) error {
	if err := checkSite(site); err != nil {
		return fmt.Errorf("create site %q of customer %q: %w", site.Name, site.Customer, err)
	}
	if site.CreatedAt.IsZero() {
		site.CreatedAt = now()
	}
	err := s.update(func(tx *bolt.Tx) error {
		if !customerExists(tx, site.Customer) {
			return fmt.Errorf("customer %q: %w", site.Customer, ErrNotFound)
		}
		b := tx.Bucket([]byte(bucketSites))
		key := siteKey(site.Customer, site.Name)
		if b.Get(key) != nil {
			return ErrExists
		}
		return putJSON(b, key, site)
	})
	if err != nil {
		return fmt.Errorf("create site %q of customer %q: %w", site.Name, site.Customer, err)
	}
	return nil
}

// GetSite returns the site name of customer.
func (s *Store) GetSite(customer, name string) (Site, error) {
	var site Site
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket([]byte(bucketSites)), siteKey(customer, name), &site)
		if err != nil {
			return err
		}
		if !ok {
			return siteNotFound(tx, customer)
		}
		return nil
	})
	if err != nil {
		return Site{}, fmt.Errorf("get site %q of customer %q: %w", name, customer, err)
	}
	return site, nil
}

// ListSites returns the sites of customer, or of every customer when
// customer is empty, sorted by customer and name. A customer that does not
// exist is ErrNotFound rather than an empty list, so an API can answer 404.
func (s *Store) ListSites(customer string) ([]Site, error) {
	var out []Site
	err := s.db.View(func(tx *bolt.Tx) error {
		var prefix []byte
		if customer != "" {
			if !customerExists(tx, customer) {
				return fmt.Errorf("customer %q: %w", customer, ErrNotFound)
			}
			prefix = sitePrefix(customer)
		}
		var err error
		out, err = listJSON[Site](tx.Bucket([]byte(bucketSites)), prefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	return out, nil
}

// DeleteSite removes a site. It refuses with ErrInvalid while the site still
// has devices, and for DefaultSite, which goes only with its customer so
// that every customer always has a site to put a new device in.
func (s *Store) DeleteSite(customer, name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSites))
		key := siteKey(customer, name)
		if b.Get(key) == nil {
			return siteNotFound(tx, customer)
		}
		if name == DefaultSite {
			return fmt.Errorf("site %q is deleted only with its customer: %w", DefaultSite, ErrInvalid)
		}
		if n := countPrefix(tx.Bucket([]byte(bucketDeviceIndex)), append(key, keySep...)); n > 0 {
			return fmt.Errorf("site still has %d devices: %w", n, ErrInvalid)
		}
		if err := tx.Bucket([]byte(bucketAssignments)).Delete(assignmentKey(AssignSite, customer, name)); err != nil {
			return err
		}
		return b.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("delete site %q of customer %q: %w", name, customer, err)
	}
	return nil
}

func checkSite(site Site) error {
	if err := checkSlug("customer name", site.Customer); err != nil {
		return err
	}
	if err := checkSlug("site name", site.Name); err != nil {
		return err
	}
	return checkText("display name", site.DisplayName, maxNameLen, false)
}

func siteExists(tx *bolt.Tx, customer, name string) bool {
	return tx.Bucket([]byte(bucketSites)).Get(siteKey(customer, name)) != nil
}

// siteNotFound says whether the site or already its customer is missing.
func siteNotFound(tx *bolt.Tx, customer string) error {
	if !customerExists(tx, customer) {
		return fmt.Errorf("customer %q: %w", customer, ErrNotFound)
	}
	return ErrNotFound
}

// SetSiteDisplayName changes the name a site is shown by.
func (s *Store) SetSiteDisplayName(customer, name, display string) (Site, error) {
	var out Site
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSites))
		key := siteKey(customer, name)
		ok, err := getJSON(b, key, &out)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		out.DisplayName = display
		if err := checkSite(out); err != nil {
			return err
		}
		return putJSON(b, key, out)
	})
	if err != nil {
		return Site{}, fmt.Errorf("rename site %q of customer %q: %w", name, customer, err)
	}
	return out, nil
}
