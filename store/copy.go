package store

import (
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// WriteCopy writes a consistent copy of the whole file to w, from one read
// transaction: writers go on meanwhile, and the copy is the file as it was
// when the transaction began. It returns the bytes written, the size of
// the copy.
//
// A read transaction that stays open keeps bbolt from growing its memory
// map, which a writer may need to do: write the copy to something fast (a
// local file) rather than straight to a slow network peer.
func (s *Store) WriteCopy(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("copy store %q: %w", s.path, err)
	}
	return n, nil
}
