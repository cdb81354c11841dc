package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CreateToken adds an API token and its hash index entry. Hash must be the
// 32-byte SHA-256 of the secret and must not belong to another token
// (ErrExists), so that a presented secret names exactly one token. The role
// rules of CreateUser apply. A zero CreatedAt is set to the current time.
func (s *Store) CreateToken(t Token) error {
	if err := checkToken(t); err != nil {
		return fmt.Errorf("create token %q: %w", t.ID, err)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketTokens))
		if b.Get([]byte(t.ID)) != nil {
			return ErrExists
		}
		idx := tx.Bucket([]byte(bucketTokenHashes))
		if idx.Get(t.Hash) != nil {
			return fmt.Errorf("hash belongs to another token: %w", ErrExists)
		}
		if err := checkRoleCustomer(tx, t.Customer); err != nil {
			return err
		}
		if err := putJSON(b, []byte(t.ID), t); err != nil {
			return err
		}
		return idx.Put(t.Hash, []byte(t.ID))
	})
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.ID, err)
	}
	return nil
}

// GetToken returns the token with that ID.
func (s *Store) GetToken(id string) (Token, error) {
	var t Token
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		t, err = getToken(tx, id)
		return err
	})
	if err != nil {
		return Token{}, fmt.Errorf("get token %q: %w", id, err)
	}
	return t, nil
}

// TokenByHash returns the token whose secret hashes to hash: one index
// lookup and one read, cheap enough for every API request. The error does
// not repeat the hash, which is as good as the secret for this store.
func (s *Store) TokenByHash(hash []byte) (Token, error) {
	var t Token
	err := s.db.View(func(tx *bolt.Tx) error {
		if len(hash) == 0 {
			return ErrNotFound
		}
		id := tx.Bucket([]byte(bucketTokenHashes)).Get(hash)
		if id == nil {
			return ErrNotFound
		}
		var err error
		t, err = getToken(tx, string(id))
		if err != nil {
			return fmt.Errorf("token %q named by the hash index: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("get token by hash: %w", err)
	}
	return t, nil
}

// ListTokens returns every token, sorted by ID.
func (s *Store) ListTokens() ([]Token, error) {
	var out []Token
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[Token](tx.Bucket([]byte(bucketTokens)), nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// DeleteToken removes a token and its hash index entry, so its secret stops
// working at once.
func (s *Store) DeleteToken(id string) error {
	err := s.update(func(tx *bolt.Tx) error {
		t, err := getToken(tx, id)
		if err != nil {
			return err
		}
		idx := tx.Bucket([]byte(bucketTokenHashes))
		if string(idx.Get(t.Hash)) == id {
			if err := idx.Delete(t.Hash); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte(bucketTokens)).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete token %q: %w", id, err)
	}
	return nil
}

func getToken(tx *bolt.Tx, id string) (Token, error) {
	var t Token
	ok, err := getJSON(tx.Bucket([]byte(bucketTokens)), []byte(id), &t)
	if err != nil {
		return Token{}, err
	}
	if !ok {
		return Token{}, ErrNotFound
	}
	return t, nil
}

func checkToken(t Token) error {
	if err := checkName("token id", t.ID); err != nil {
		return err
	}
	if err := checkText("token name", t.Name, maxNameLen, false); err != nil {
		return err
	}
	if len(t.Hash) != tokenHashLen {
		return fmt.Errorf("hash is %d bytes, expected the %d bytes of a SHA-256: %w", len(t.Hash), tokenHashLen, ErrInvalid)
	}
	if err := checkRoleFields(t.Role, t.Customer); err != nil {
		return err
	}
	return checkAccess(t.Role, t.Access)
}
