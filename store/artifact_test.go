package store_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

func TestArtifactRecords(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	sum := strings.Repeat("ab", 32)
	a := store.Artifact{Name: "fw-1.2.0.bin", Size: 10, SHA256: sum, ContentType: "application/octet-stream", CreatedBy: "token:ci"}
	old, replaced, err := s.PutArtifact(a)
	mustOK(t, err)
	if replaced || old != (store.Artifact{}) {
		t.Errorf("first put replaced %+v", old)
	}
	got, err := s.GetArtifact(a.Name)
	mustOK(t, err)
	if got.CreatedAt.IsZero() || got.SHA256 != sum || got.Size != 10 {
		t.Errorf("read back %+v", got)
	}
	b := a
	b.SHA256, b.Size, b.Signature = strings.Repeat("cd", 32), 20, "c2lnbmF0dXJl"
	old, replaced, err = s.PutArtifact(b)
	mustOK(t, err)
	if !replaced || old.SHA256 != sum {
		t.Errorf("replacing put returned %+v %v, want the first record", old, replaced)
	}
	_, _, err = s.PutArtifact(store.Artifact{Name: "other.bin", Size: 1, SHA256: sum, ContentType: "application/zip"})
	mustOK(t, err)
	list, err := s.ListArtifacts()
	mustOK(t, err)
	if len(list) != 2 || list[0].Name != "fw-1.2.0.bin" || list[0].Signature != "c2lnbmF0dXJl" || list[1].Name != "other.bin" {
		t.Errorf("list %+v", list)
	}
	del, err := s.DeleteArtifact("fw-1.2.0.bin")
	mustOK(t, err)
	if del.SHA256 != b.SHA256 {
		t.Errorf("delete returned %+v", del)
	}
	if _, err := s.DeleteArtifact("fw-1.2.0.bin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	if _, err := s.GetArtifact("fw-1.2.0.bin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
}

func TestArtifactRecordsRefused(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	good := store.Artifact{Name: "fw.bin", Size: 1, SHA256: strings.Repeat("0", 64), ContentType: "application/octet-stream"}
	for name, change := range map[string]func(*store.Artifact){
		"empty name":         func(a *store.Artifact) { a.Name = "" },
		"slash in the name":  func(a *store.Artifact) { a.Name = "a/b" },
		"dot-dot":            func(a *store.Artifact) { a.Name = ".." },
		"space":              func(a *store.Artifact) { a.Name = "fw 1.bin" },
		"long name":          func(a *store.Artifact) { a.Name = strings.Repeat("x", 129) },
		"non-ASCII name":     func(a *store.Artifact) { a.Name = "ファーム.bin" },
		"short sha":          func(a *store.Artifact) { a.SHA256 = "abc" },
		"upper-case sha":     func(a *store.Artifact) { a.SHA256 = strings.Repeat("A", 64) },
		"no size":            func(a *store.Artifact) { a.Size = 0 },
		"signature not b64":  func(a *store.Artifact) { a.Signature = "not base64!" },
		"url-safe signature": func(a *store.Artifact) { a.Signature = "ab-_" },
		"no content type":    func(a *store.Artifact) { a.ContentType = "" },
		"bad content type":   func(a *store.Artifact) { a.ContentType = "not a type" },
	} {
		a := good
		change(&a)
		if _, _, err := s.PutArtifact(a); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if list, err := s.ListArtifacts(); err != nil || len(list) != 0 {
		t.Errorf("refused records were stored: %+v %v", list, err)
	}
	if err := store.CheckArtifactName(strings.Repeat("x", 128)); err != nil {
		t.Errorf("a 128-character name: %v", err)
	}
}

// The key that signs download links is made once and kept: the same
// after a reopen, and in the store's file.
func TestArtifactLinkKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	k1, err := s.ArtifactLinkKey()
	mustOK(t, err)
	k2, err := s.ArtifactLinkKey()
	mustOK(t, err)
	if len(k1) != 32 || !bytes.Equal(k1, k2) || bytes.Equal(k1, make([]byte, 32)) {
		t.Fatalf("keys %x, %x: want one random 32-byte key", k1, k2)
	}
	mustOK(t, s.Close())
	s, err = store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	k3, err := s.ArtifactLinkKey()
	mustOK(t, err)
	if !bytes.Equal(k1, k3) {
		t.Errorf("the key changed across a reopen: %x, %x", k1, k3)
	}
}

// A file of the schema before artifacts migrates, keeping its records.
func TestArtifactMigration(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	old, err := store.OpenAtSchemaVersion(path, 10) // before jobs, message rules and artifacts
	mustOK(t, err)
	mustOK(t, old.CreateCustomer(store.Customer{Name: "acme"}))
	mustOK(t, old.Close())
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	if _, err := s.GetCustomer("acme"); err != nil {
		t.Errorf("customer after migrating: %v", err)
	}
	if list, err := s.ListArtifacts(); err != nil || len(list) != 0 {
		t.Errorf("artifacts after migrating: %v %v", list, err)
	}
}
