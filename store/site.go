package store

import (
	"fmt"
	"strings"
	"time"

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
		if err := tx.Bucket([]byte(bucketSiteEnergy)).Delete(key); err != nil {
			return err
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

// Limits of a site.
const (
	// maxAddressLen bounds a site's address: a few lines.
	maxAddressLen = 512
	// maxZoneLen bounds a time zone name; the longest IANA names are
	// about 30 bytes.
	maxZoneLen = 64
)

func checkSite(site Site) error {
	if err := checkSlug("customer name", site.Customer); err != nil {
		return err
	}
	if err := checkSlug("site name", site.Name); err != nil {
		return err
	}
	if err := checkText("display name", site.DisplayName, maxNameLen, false); err != nil {
		return err
	}
	if err := checkAddress(site.Address); err != nil {
		return err
	}
	return CheckTimeZone(site.TimeZone)
}

// checkAddress accepts printable text and line breaks, so that an address
// can be written on several lines.
func checkAddress(a string) error {
	if len(a) > maxAddressLen {
		return fmt.Errorf("address is %d bytes long, at most %d are accepted: %w", len(a), maxAddressLen, ErrInvalid)
	}
	for _, line := range strings.Split(a, "\n") {
		if err := checkText("address", strings.TrimSuffix(line, "\r"), maxAddressLen, false); err != nil {
			return err
		}
	}
	return nil
}

// CheckTimeZone accepts "" (the server's zone) and the IANA names the
// zone database knows ("Asia/Tokyo", "UTC"); "Local", which means
// whatever zone the machine has, is refused, since a site's zone must not
// change with the machine it is served from.
func CheckTimeZone(name string) error {
	if name == "" {
		return nil
	}
	if len(name) > maxZoneLen || name == "Local" {
		return fmt.Errorf("time zone %.64q is not an IANA time zone name such as \"Asia/Tokyo\": %w", name, ErrInvalid)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return fmt.Errorf("time zone %q is not an IANA time zone name such as \"Asia/Tokyo\": %w", name, ErrInvalid)
	}
	return nil
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

// SiteChange is what changes of a site; nil fields stay as they are. A
// site keeps its customer and name.
type SiteChange struct {
	DisplayName *string
	Address     *string
	TimeZone    *string
}

// SetSiteDisplayName changes the name a site is shown by.
func (s *Store) SetSiteDisplayName(customer, name, display string) (Site, error) {
	return s.UpdateSite(customer, name, SiteChange{DisplayName: &display})
}

// UpdateSite changes a site's display name, address or time zone; nothing
// is written when any of them is refused.
func (s *Store) UpdateSite(customer, name string, change SiteChange) (Site, error) {
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
		if change.DisplayName != nil {
			out.DisplayName = *change.DisplayName
		}
		if change.Address != nil {
			out.Address = *change.Address
		}
		if change.TimeZone != nil {
			out.TimeZone = *change.TimeZone
		}
		if err := checkSite(out); err != nil {
			return err
		}
		return putJSON(b, key, out)
	})
	if err != nil {
		return Site{}, fmt.Errorf("update site %q of customer %q: %w", name, customer, err)
	}
	return out, nil
}
