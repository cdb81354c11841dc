package store

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"mime"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets of artifacts.
const (
	// bucketArtifacts holds the files operators uploaded for devices to
	// download (firmware, configuration): name → Artifact. The content
	// itself is a file in the data directory, named by its SHA-256.
	bucketArtifacts = "artifacts"
	// bucketArtifactKeys holds the secret that signs artifact download
	// links: keyArtifactLinks → 32 random bytes.
	bucketArtifactKeys = "artifact_keys"
)

// keyArtifactLinks names the key that signs download links.
const keyArtifactLinks = "links"

// artifactKeyLen is the size of the link-signing key: an HMAC-SHA256 key
// as long as the hash.
const artifactKeyLen = 32

// Limits of artifacts.
const (
	// MaxArtifactNameLen bounds an artifact's name, a segment of its
	// download URL.
	MaxArtifactNameLen = 128
	// MaxArtifactSignatureLen bounds the signature kept with an artifact
	// (base64): room for an RSA-4096 signature and a certificate chain's
	// worth more.
	MaxArtifactSignatureLen = 8 << 10
	// maxContentTypeLen bounds a content type.
	maxContentTypeLen = 255
)

// createArtifactBuckets adds the buckets of artifacts and of the key that
// signs their download links.
func createArtifactBuckets(tx *bolt.Tx) error {
	for _, name := range []string{bucketArtifacts, bucketArtifactKeys} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// Artifact is the record of an uploaded file: what its content is (size
// and SHA-256, by which the file is found) and who uploaded it. The store
// keeps the record; the file is its owner's (package jobs/artifact).
type Artifact struct {
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Signature   string    `json:"signature,omitempty"`
	ContentType string    `json:"content_type"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

// CheckArtifactName is the rule for artifact names, which are a segment of
// a download URL and a file name on the device: 1 to 128 of A-Z, a-z,
// 0-9, '.', '_' and '-', and not "." or "..".
func CheckArtifactName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("artifact name is empty: %w", ErrInvalid)
	case len(name) > MaxArtifactNameLen:
		return fmt.Errorf("artifact name is %d bytes long, at most %d are accepted: %w", len(name), MaxArtifactNameLen, ErrInvalid)
	case name == "." || name == "..":
		return fmt.Errorf("artifact name %q is not accepted: it means a directory in a path: %w", name, ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("artifact name %q contains %q: only A-Z, a-z, 0-9, '.', '_' and '-' are accepted: %w", name, rune(c), ErrInvalid)
		}
	}
	return nil
}

// checkArtifact checks an artifact record's shape.
func checkArtifact(a Artifact) error {
	if err := CheckArtifactName(a.Name); err != nil {
		return err
	}
	if len(a.SHA256) != 64 {
		return fmt.Errorf("artifact %q: sha256 %q is not 64 hexadecimal digits: %w", a.Name, a.SHA256, ErrInvalid)
	}
	for i := 0; i < len(a.SHA256); i++ {
		if c := a.SHA256[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("artifact %q: sha256 %q is not lower-case hexadecimal: %w", a.Name, a.SHA256, ErrInvalid)
		}
	}
	if a.Size <= 0 {
		return fmt.Errorf("artifact %q: size %d: an artifact has at least one byte: %w", a.Name, a.Size, ErrInvalid)
	}
	if err := CheckArtifactSignature(a.Signature); err != nil {
		return fmt.Errorf("artifact %q: %w", a.Name, err)
	}
	if err := CheckContentType(a.ContentType); err != nil {
		return fmt.Errorf("artifact %q: %w", a.Name, err)
	}
	return checkText("created by", a.CreatedBy, maxNameLen, false)
}

// CheckArtifactSignature is the rule for the signature kept with an
// artifact: empty, or standard base64 (with padding) of at most
// MaxArtifactSignatureLen characters. Hearth keeps it for devices to
// check; it does not check it itself.
func CheckArtifactSignature(sig string) error {
	if sig == "" {
		return nil
	}
	if len(sig) > MaxArtifactSignatureLen {
		return fmt.Errorf("signature is %d characters long, at most %d are accepted: %w", len(sig), MaxArtifactSignatureLen, ErrInvalid)
	}
	if _, err := base64.StdEncoding.Strict().DecodeString(sig); err != nil {
		return fmt.Errorf("signature is not standard base64 (A-Z, a-z, 0-9, '+', '/', padded with '='): %v: %w", err, ErrInvalid)
	}
	return nil
}

// CheckContentType is the rule for an artifact's content type: a media
// type such as application/octet-stream, at most 255 bytes.
func CheckContentType(ct string) error {
	if ct == "" {
		return fmt.Errorf("content type is empty: %w", ErrInvalid)
	}
	if len(ct) > maxContentTypeLen {
		return fmt.Errorf("content type is %d bytes long, at most %d are accepted: %w", len(ct), maxContentTypeLen, ErrInvalid)
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || strings.Count(mt, "/") != 1 || strings.HasPrefix(mt, "/") || strings.HasSuffix(mt, "/") {
		return fmt.Errorf("content type %q is not a media type such as application/octet-stream: %w", ct, ErrInvalid)
	}
	return nil
}

// PutArtifact stores an artifact's record, replacing the one of that name
// if any, and returns the record it replaced (replaced false when there
// was none), so that the caller can let go of content no longer named.
// CreatedAt is set here when zero.
func (s *Store) PutArtifact(a Artifact) (old Artifact, replaced bool, _ error) {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	if err := checkArtifact(a); err != nil {
		return Artifact{}, false, fmt.Errorf("put artifact: %w", err)
	}
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketArtifacts))
		var err error
		replaced, err = getJSON(b, []byte(a.Name), &old)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(a.Name), a)
	})
	if err != nil {
		return Artifact{}, false, fmt.Errorf("put artifact %q: %w", a.Name, err)
	}
	return old, replaced, nil
}

// GetArtifact returns the record of the artifact name.
func (s *Store) GetArtifact(name string) (Artifact, error) {
	a, err := getRecord[Artifact](s, bucketArtifacts, name)
	if err != nil {
		return Artifact{}, fmt.Errorf("get artifact %q: %w", name, err)
	}
	return a, nil
}

// ListArtifacts returns every artifact's record, sorted by name.
func (s *Store) ListArtifacts() ([]Artifact, error) {
	out, err := listRecords[Artifact](s, bucketArtifacts)
	if err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	return out, nil
}

// DeleteArtifact removes the record of the artifact name and returns it,
// so that the caller can let go of its content.
func (s *Store) DeleteArtifact(name string) (Artifact, error) {
	var old Artifact
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketArtifacts))
		ok, err := getJSON(b, []byte(name), &old)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return Artifact{}, fmt.Errorf("delete artifact %q: %w", name, err)
	}
	return old, nil
}

// ArtifactLinkKey returns the secret that signs artifact download links,
// creating it (32 random bytes) the first time. It lives in the store, so
// that links survive a restart and a restore from a backup. A read-only
// store without one answers ErrReadOnly.
func (s *Store) ArtifactLinkKey() ([]byte, error) {
	var key []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(bucketArtifactKeys)).Get([]byte(keyArtifactLinks)); v != nil {
			key = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil || key != nil {
		return key, err
	}
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketArtifactKeys))
		if v := b.Get([]byte(keyArtifactLinks)); v != nil {
			key = append([]byte(nil), v...) // made meanwhile
			return nil
		}
		key = make([]byte, artifactKeyLen)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return b.Put([]byte(keyArtifactLinks), key)
	})
	if err != nil {
		return nil, fmt.Errorf("artifact link key: %w", err)
	}
	if len(key) != artifactKeyLen {
		return nil, fmt.Errorf("artifact link key is %d bytes, %d expected: %w", len(key), artifactKeyLen, ErrInvalid)
	}
	return key, nil
}
