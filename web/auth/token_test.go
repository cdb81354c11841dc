package auth_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/web/auth"
)

func TestNewToken(t *testing.T) {
	t.Parallel()
	secretRe := regexp.MustCompile(`^hth_[A-Za-z0-9_-]{43}$`)
	idRe := regexp.MustCompile(`^[0-9a-f]{16}$`)
	secrets := map[string]bool{}
	ids := map[string]bool{}
	for range 100 {
		secret, id, hash := auth.NewToken()
		if !secretRe.MatchString(secret) {
			t.Fatalf("secret %q: want hth_ and 43 base64url characters", secret)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, auth.TokenPrefix))
		if err != nil || len(raw) != 32 {
			t.Fatalf("secret %q: decodes to %d bytes (%v), want 32", secret, len(raw), err)
		}
		if !idRe.MatchString(id) {
			t.Fatalf("id %q: want 16 lowercase hex digits", id)
		}
		if strings.Contains(secret, id) {
			t.Fatalf("id %q is part of secret %q: listing tokens would disclose secrets", id, secret)
		}
		if !bytes.Equal(hash, auth.HashToken(secret)) {
			t.Fatalf("hash of NewToken differs from HashToken(secret)")
		}
		if secrets[secret] || ids[id] {
			t.Fatalf("NewToken repeated secret %q or id %q", secret, id)
		}
		secrets[secret], ids[id] = true, true
	}
}

func TestHashToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		secret string
		want   [32]byte
	}{
		{"", sha256.Sum256(nil)},
		{"hth_abc", sha256.Sum256([]byte("hth_abc"))},
	}
	for _, tt := range tests {
		if got := auth.HashToken(tt.secret); !bytes.Equal(got, tt.want[:]) {
			t.Errorf("HashToken(%q) = %x, want %x", tt.secret, got, tt.want)
		}
	}
	if bytes.Equal(auth.HashToken("hth_a"), auth.HashToken("hth_b")) {
		t.Errorf("different secrets hash alike")
	}
}
