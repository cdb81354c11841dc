package secret_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/gate/secret"
)

func TestNewToken(t *testing.T) {
	t.Parallel()
	secretRe := regexp.MustCompile(`^hth_[A-Za-z0-9_-]{43}$`)
	idRe := regexp.MustCompile(`^[0-9a-f]{16}$`)
	secrets := map[string]bool{}
	ids := map[string]bool{}
	for range 100 {
		plain, id, hash := secret.NewToken()
		if !secretRe.MatchString(plain) {
			t.Fatalf("secret %q: want hth_ and 43 base64url characters", plain)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(plain, secret.TokenPrefix))
		if err != nil || len(raw) != 32 {
			t.Fatalf("secret %q: decodes to %d bytes (%v), want 32", plain, len(raw), err)
		}
		if !idRe.MatchString(id) {
			t.Fatalf("id %q: want 16 lowercase hex digits", id)
		}
		if strings.Contains(plain, id) {
			t.Fatalf("id %q is part of secret %q: listing tokens would disclose secrets", id, plain)
		}
		if !bytes.Equal(hash, secret.HashToken(plain)) {
			t.Fatalf("hash of NewToken differs from HashToken(secret)")
		}
		if secrets[plain] || ids[id] {
			t.Fatalf("NewToken repeated secret %q or id %q", plain, id)
		}
		secrets[plain], ids[id] = true, true
	}
}

func TestHashToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		plain string
		want  [32]byte
	}{
		{"", sha256.Sum256(nil)},
		{"hth_abc", sha256.Sum256([]byte("hth_abc"))},
	}
	for _, tt := range tests {
		if got := secret.HashToken(tt.plain); !bytes.Equal(got, tt.want[:]) {
			t.Errorf("HashToken(%q) = %x, want %x", tt.plain, got, tt.want)
		}
	}
	if bytes.Equal(secret.HashToken("hth_a"), secret.HashToken("hth_b")) {
		t.Errorf("different secrets hash alike")
	}
}
