package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CreateCustomer adds a customer together with its site DefaultSite, in one
// transaction. A zero CreatedAt is set to the current time.
func (s *Store) CreateCustomer(c Customer) error {
	if err := checkCustomer(c); err != nil {
		return fmt.Errorf("create customer %q: %w", c.Name, err)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketCustomers))
		if b.Get([]byte(c.Name)) != nil {
			return ErrExists
		}
		if err := putJSON(b, []byte(c.Name), c); err != nil {
			return err
		}
		site := Site{Customer: c.Name, Name: DefaultSite, CreatedAt: c.CreatedAt}
		return putJSON(tx.Bucket([]byte(bucketSites)), siteKey(c.Name, DefaultSite), site)
	})
	if err != nil {
		return fmt.Errorf("create customer %q: %w", c.Name, err)
	}
	return nil
}

// GetCustomer returns the customer called name.
func (s *Store) GetCustomer(name string) (Customer, error) {
	var c Customer
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = getCustomer(tx, name)
		return err
	})
	if err != nil {
		return Customer{}, fmt.Errorf("get customer %q: %w", name, err)
	}
	return c, nil
}

// ListCustomers returns every customer, sorted by name.
func (s *Store) ListCustomers() ([]Customer, error) {
	var out []Customer
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[Customer](tx.Bucket([]byte(bucketCustomers)), nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	return out, nil
}

// DeleteCustomer removes a customer and its sites. It refuses with
// ErrInvalid while devices, users or API tokens still belong to the
// customer: they would be left pointing at nothing, and deleting them
// silently would cut devices off the broker.
func (s *Store) DeleteCustomer(name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketCustomers))
		if b.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		if n := countPrefix(tx.Bucket([]byte(bucketDeviceIndex)), sitePrefix(name)); n > 0 {
			return fmt.Errorf("customer still has %d devices: %w", n, ErrInvalid)
		}
		users, err := listJSON[User](tx.Bucket([]byte(bucketUsers)), nil)
		if err != nil {
			return err
		}
		if n := countOwned(users, func(u User) string { return u.Customer }, name); n > 0 {
			return fmt.Errorf("customer still has %d users: %w", n, ErrInvalid)
		}
		tokens, err := listJSON[Token](tx.Bucket([]byte(bucketTokens)), nil)
		if err != nil {
			return err
		}
		if n := countOwned(tokens, func(t Token) string { return t.Customer }, name); n > 0 {
			return fmt.Errorf("customer still has %d API tokens: %w", n, ErrInvalid)
		}
		providers, err := listJSON[SSOProvider](tx.Bucket([]byte(bucketSSOProviders)), nil)
		if err != nil {
			return err
		}
		if n := countOwned(providers, func(p SSOProvider) string { return p.Customer }, name); n > 0 {
			return fmt.Errorf("customer still has %d single sign-on providers: %w", n, ErrInvalid)
		}
		if err := deletePrefix(tx.Bucket([]byte(bucketSiteEnergy)), sitePrefix(name)); err != nil {
			return err
		}
		if err := deletePrefix(tx.Bucket([]byte(bucketSites)), sitePrefix(name)); err != nil {
			return err
		}
		// The customer's calendars and their assignments go with it.
		for _, kind := range []string{AssignDevice, AssignSite, AssignType} {
			if err := deletePrefix(tx.Bucket([]byte(bucketAssignments)), []byte(kind+"\x00"+name+"\x00")); err != nil {
				return err
			}
		}
		cals, err := listJSON[Calendar](tx.Bucket([]byte(bucketCalendars)), nil)
		if err != nil {
			return err
		}
		for _, c := range cals {
			if c.Customer == name {
				if err := tx.Bucket([]byte(bucketCalendars)).Delete([]byte(c.ID)); err != nil {
					return err
				}
			}
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete customer %q: %w", name, err)
	}
	return nil
}

func checkCustomer(c Customer) error {
	if err := checkSlug("customer name", c.Name); err != nil {
		return err
	}
	return checkText("display name", c.DisplayName, maxNameLen, false)
}

func getCustomer(tx *bolt.Tx, name string) (Customer, error) {
	var c Customer
	ok, err := getJSON(tx.Bucket([]byte(bucketCustomers)), []byte(name), &c)
	if err != nil {
		return Customer{}, err
	}
	if !ok {
		return Customer{}, ErrNotFound
	}
	return c, nil
}

// customerExists reports, for error messages of other records, whether the
// customer is there.
func customerExists(tx *bolt.Tx, name string) bool {
	return tx.Bucket([]byte(bucketCustomers)).Get([]byte(name)) != nil
}

func countOwned[T any](records []T, owner func(T) string, customer string) int {
	n := 0
	for _, r := range records {
		if owner(r) == customer {
			n++
		}
	}
	return n
}

// countPrefix counts the keys that start with prefix.
func countPrefix(b *bolt.Bucket, prefix []byte) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// deletePrefix deletes every key that starts with prefix. Keys are collected
// first, because deleting under a cursor makes it skip entries.
func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("cannot delete %q: %w", k, err)
		}
	}
	return nil
}

// SetCustomerDisplayName changes the name a customer is shown by.
func (s *Store) SetCustomerDisplayName(name, display string) (Customer, error) {
	var out Customer
	err := s.update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, name)
		if err != nil {
			return err
		}
		c.DisplayName = display
		if err := checkCustomer(c); err != nil {
			return err
		}
		out = c
		return putJSON(tx.Bucket([]byte(bucketCustomers)), []byte(name), c)
	})
	if err != nil {
		return Customer{}, fmt.Errorf("rename customer %q: %w", name, err)
	}
	return out, nil
}
