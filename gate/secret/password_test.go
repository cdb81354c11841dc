package secret_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/gate/secret"
)

// Vectors of the argon2 reference implementation (password "password", salt
// "somesalt", 24-byte keys), written as PHC strings by hand, so that hashes
// made elsewhere with other parameters are known to verify.
const (
	refVectorSmall = "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3"
	refVectorLanes = "$argon2id$v=19$m=4096,t=4,p=4$c29tZXNhbHQ$FF25czqfTuQ+3zPFCb6WuTTVBaTvszxa"
)

func TestHashPasswordFormat(t *testing.T) {
	t.Parallel()
	phcRe := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	a, err := secret.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if !phcRe.MatchString(a) {
		t.Errorf("HashPassword = %q, want the OWASP argon2id parameters with a 16-byte salt and a 32-byte key", a)
	}
	b, err := secret.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal (%q): the salt is not random", a)
	}
}

func TestVerifyPassword(t *testing.T) {
	t.Parallel()
	own, err := secret.HashPassword("s3cret pässword")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	empty, err := secret.HashPassword("")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	tests := []struct {
		name    string
		encoded string
		pw      string
		want    bool
	}{
		{"own hash, right password", own, "s3cret pässword", true},
		{"own hash, wrong password", own, "s3cret passwort", false},
		{"own hash, prefix of password", own, "s3cret", false},
		{"own hash, empty password", own, "", false},
		{"hash of empty password", empty, "", true},
		{"hash of empty password, other password", empty, "x", false},
		{"reference vector", refVectorSmall, "password", true},
		{"reference vector, wrong password", refVectorSmall, "Password", false},
		{"reference vector with four lanes", refVectorLanes, "password", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := secret.VerifyPassword(tt.encoded, tt.pw)
			if err != nil {
				t.Fatalf("VerifyPassword: %v", err)
			}
			if got != tt.want {
				t.Errorf("VerifyPassword(%q, %q) = %v, want %v", tt.encoded, tt.pw, got, tt.want)
			}
		})
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	t.Parallel()
	const salt, key = "c29tZXNhbHQ", "Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3"
	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"plain text", "password"},
		{"bcrypt", "$2y$10$abcdefghijklmnopqrstuuJ2n9bT0oHkZ6bqNsb9vYhUVx2vL3xaq"},
		{"argon2i", "$argon2i$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"no leading dollar", "argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"missing version", "$argon2id$m=64,t=2,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=64,t=2,p=1$" + salt + "$" + key},
		{"version with leading zero", "$argon2id$v=019$m=64,t=2,p=1$" + salt + "$" + key},
		{"parameters out of order", "$argon2id$v=19$t=2,m=64,p=1$" + salt + "$" + key},
		{"missing parameter", "$argon2id$v=19$m=64,t=2$" + salt + "$" + key},
		{"extra parameter", "$argon2id$v=19$m=64,t=2,p=1,k=1$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"zero lanes", "$argon2id$v=19$m=64,t=2,p=0$" + salt + "$" + key},
		{"memory below 8 KiB per lane", "$argon2id$v=19$m=31,t=2,p=4$" + salt + "$" + key},
		{"memory above bound", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key},
		{"time above bound", "$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key},
		{"lanes above bound", "$argon2id$v=19$m=64,t=2,p=255$" + salt + "$" + key},
		{"negative memory", "$argon2id$v=19$m=-64,t=2,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+64,t=2,p=1$" + salt + "$" + key},
		{"overflowing number", "$argon2id$v=19$m=99999999999999999999999,t=2,p=1$" + salt + "$" + key},
		{"padded salt", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ=$" + key},
		{"url alphabet hash", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$Bo1ismRVk2qm6-YAYLCmWHDb-j3fjUH3"},
		{"newline in hash", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$Bo1ismRVk2qm6+YAYL\nCmWHDb+j3fjUH3"},
		{"short salt", "$argon2id$v=19$m=64,t=2,p=1$c2FsdA$" + key},
		{"short hash", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$Bo1ismRVk2qm6+YA"},
		{"empty hash", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$"},
		{"trailing field", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key + "$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := secret.VerifyPassword(tt.encoded, "password")
			if !errors.Is(err, secret.ErrMalformedHash) {
				t.Errorf("VerifyPassword(%q) error = %v, want ErrMalformedHash", tt.encoded, err)
			}
			if ok {
				t.Errorf("VerifyPassword(%q) = true for a malformed hash", tt.encoded)
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	t.Parallel()
	const alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz"
	seen := map[string]bool{}
	used := map[rune]bool{}
	for range 200 {
		pw := secret.GeneratePassword()
		if len(pw) != 20 {
			t.Fatalf("GeneratePassword() = %q, %d characters, want 20", pw, len(pw))
		}
		for _, r := range pw {
			if !strings.ContainsRune(alphabet, r) {
				t.Fatalf("GeneratePassword() = %q contains %q, outside the unambiguous alphabet", pw, r)
			}
			used[r] = true
		}
		if seen[pw] {
			t.Fatalf("GeneratePassword() returned %q twice", pw)
		}
		seen[pw] = true
	}
	// 4000 draws from 56 symbols miss one with probability about 56·e^-71.
	if len(used) != len(alphabet) {
		t.Errorf("4000 characters used %d of the %d symbols: the draw is not uniform", len(used), len(alphabet))
	}
}

// FuzzParsePHC feeds arbitrary text to the parser VerifyPassword uses on
// stored hashes. Whatever it accepts must be in canonical form and within the
// bounds, so that verification can neither be steered into huge allocations
// nor accept two spellings of one hash.
func FuzzParsePHC(f *testing.F) {
	for _, s := range []string{
		refVectorSmall,
		refVectorLanes,
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3Bo1ismRVk2q",
		"$argon2id$v=19$m=262144,t=16,p=16$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ=$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2i$v=19$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=0064,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=64,t=2,p=1$$",
		"$$$$$",
		"",
	} {
		f.Add(s)
	}
	boundsRe := regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := secret.ReencodePHC(s)
		if err != nil {
			if !errors.Is(err, secret.ErrMalformedHash) {
				t.Fatalf("parse %q: error %v does not wrap ErrMalformedHash", s, err)
			}
			return
		}
		if got != s {
			t.Fatalf("parse %q accepted a non-canonical form; canonical is %q", s, got)
		}
		if !boundsRe.MatchString(got) {
			t.Fatalf("parse %q: re-encoded %q does not have the argon2id PHC shape", s, got)
		}
	})
}
