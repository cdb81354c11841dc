package sim_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearthiot/hearth/sim"
)

// TestCAReloads: a CA directory is reused, so credentials issued by one
// run verify in the next; a directory whose files do not belong together
// is refused rather than replaced.
func TestCAReloads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := sim.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := first.IssueCredentials("dev-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	again, err := sim.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.CertPEM(), again.CertPEM()) {
		t.Fatal("a second load made a new CA")
	}
	opts := x509.VerifyOptions{Roots: again.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := creds.Certificate.Leaf.Verify(opts); err != nil || creds.Certificate.Leaf.Subject.CommonName != "dev-1" {
		t.Errorf("certificate of the first run: CN %q, %v", creds.Certificate.Leaf.Subject.CommonName, err)
	}

	other := t.TempDir()
	if _, err := sim.LoadOrCreateCA(other); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(other, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.LoadOrCreateCA(dir); err == nil {
		t.Error("a key of another CA was taken")
	}
	if err := os.Remove(filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.LoadOrCreateCA(dir); err == nil {
		t.Error("a CA without its key was taken or replaced")
	}
}
