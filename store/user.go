package store

import (
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// CreateUser adds a user, keyed by the lower-cased e-mail. A customer user
// needs an existing customer; an operator must name none. A zero CreatedAt is
// set to the current time.
func (s *Store) CreateUser(u User) error {
	email, err := normalizeEmail(u.Email)
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Email, err)
	}
	u.Email = email
	if err := checkRoleFields(u.Role, u.Customer); err != nil {
		return fmt.Errorf("create user %q: %w", u.Email, err)
	}
	if err := checkPreferences(u); err != nil {
		return fmt.Errorf("create user %q: %w", u.Email, err)
	}
	if err := checkAccess(u.Role, u.Access); err != nil {
		return fmt.Errorf("create user %q: %w", u.Email, err)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketUsers))
		if b.Get([]byte(u.Email)) != nil {
			return ErrExists
		}
		if err := checkRoleCustomer(tx, u.Customer); err != nil {
			return err
		}
		return putJSON(b, []byte(u.Email), u)
	})
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Email, err)
	}
	return nil
}

// GetUser returns the user with that e-mail, in any letter case.
func (s *Store) GetUser(email string) (User, error) {
	var u User
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		u, err = getUser(tx, strings.ToLower(email))
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", email, err)
	}
	return u, nil
}

// ListUsers returns every user, sorted by e-mail.
func (s *Store) ListUsers() ([]User, error) {
	var out []User
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[User](tx.Bucket([]byte(bucketUsers)), nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// UpdateUser reads the user, lets fn change it and writes it back in one
// transaction; an error from fn aborts and nothing is written. The e-mail
// cannot change (ErrInvalid) except in letter case, and the role rules of
// CreateUser apply. fn must not call the Store.
func (s *Store) UpdateUser(email string, fn func(*User) error) (User, error) {
	var out User
	err := s.update(func(tx *bolt.Tx) error {
		old, err := getUser(tx, strings.ToLower(email))
		if err != nil {
			return err
		}
		u := old
		if err := fn(&u); err != nil {
			return err
		}
		if !strings.EqualFold(u.Email, old.Email) {
			return fmt.Errorf("e-mail cannot change (from %q to %q): %w", old.Email, u.Email, ErrInvalid)
		}
		u.Email = old.Email
		if err := checkRoleFields(u.Role, u.Customer); err != nil {
			return err
		}
		if err := checkPreferences(u); err != nil {
			return err
		}
		if err := checkAccess(u.Role, u.Access); err != nil {
			return err
		}
		if err := checkRoleCustomer(tx, u.Customer); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket([]byte(bucketUsers)), []byte(u.Email), u); err != nil {
			return err
		}
		out = u
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("update user %q: %w", email, err)
	}
	return out, nil
}

// DeleteUser removes the user with that e-mail, in any letter case.
func (s *Store) DeleteUser(email string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketUsers))
		key := []byte(strings.ToLower(email))
		if b.Get(key) == nil {
			return ErrNotFound
		}
		return b.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", email, err)
	}
	return nil
}

func getUser(tx *bolt.Tx, email string) (User, error) {
	var u User
	ok, err := getJSON(tx.Bucket([]byte(bucketUsers)), []byte(email), &u)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, ErrNotFound
	}
	return u, nil
}

// checkRoleCustomer checks, after checkRoleFields, that a named customer
// exists.
func checkRoleCustomer(tx *bolt.Tx, customer string) error {
	if customer != "" && !customerExists(tx, customer) {
		return fmt.Errorf("customer %q: %w", customer, ErrNotFound)
	}
	return nil
}
