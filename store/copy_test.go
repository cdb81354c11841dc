package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// TestWriteCopy: the copy opens as a store with every record the original
// had when the copy was taken, and nothing written after.
func TestWriteCopy(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	before := fill(t, s)

	path := filepath.Join(t.TempDir(), "copy.db")
	f, err := os.Create(path)
	mustOK(t, err)
	n, err := s.WriteCopy(f)
	mustOK(t, err)
	mustOK(t, f.Close())
	if fi, err := os.Stat(path); err != nil || fi.Size() != n {
		t.Fatalf("copy is %v bytes (%v), WriteCopy said %d", fi.Size(), err, n)
	}
	mustOK(t, s.CreateCustomer(store.Customer{Name: "after-the-copy"}))

	c, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer c.Close()
	if diff := cmp.Diff(before, take(t, c)); diff != "" {
		t.Errorf("copy differs from the store when copied (-store +copy):\n%s", diff)
	}
	if _, err := c.GetCustomer("after-the-copy"); err == nil {
		t.Error("the copy has a customer created after it was taken")
	}
}
