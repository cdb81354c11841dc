package secret

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash reports an encoded password hash that is not an argon2id
// PHC string this package can verify. It means the stored record is damaged
// or was written by something else, never that the password was wrong.
var ErrMalformedHash = errors.New("malformed password hash")

// Parameters of new hashes: the OWASP Password Storage Cheat Sheet's first
// argon2id recommendation (19 MiB, 2 passes, 1 lane). Stronger settings cost
// every sign-in the same amount of memory, which a small box feels first.
const (
	hashMemoryKiB = 19 * 1024
	hashTime      = 2
	hashThreads   = 1
	hashSaltLen   = 16
	hashKeyLen    = 32
)

// Bounds a stored hash must stay within before VerifyPassword will run it.
// They admit every sensible argon2id setting while refusing one that would
// make a single verification exhaust memory or CPU.
const (
	maxMemoryKiB = 256 * 1024
	maxTime      = 16
	maxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// b64 is the encoding the PHC string format prescribes: standard alphabet,
// no padding. Strict decoding keeps one canonical text per hash.
var b64 = base64.RawStdEncoding.Strict()

// phc is a parsed argon2id PHC string.
type phc struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// String encodes h as "$argon2id$v=19$m=…,t=…,p=…$salt$hash".
func (h phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.memory, h.time, h.threads,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// HashPassword hashes pw with argon2id and a fresh random salt, and returns
// the PHC string to store. The string carries its own parameters, so hashes
// made with other settings keep verifying after the defaults change.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, hashSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read random salt: %w", err)
	}
	h := phc{
		memory:  hashMemoryKiB,
		time:    hashTime,
		threads: hashThreads,
		salt:    salt,
		key:     argon2.IDKey([]byte(pw), salt, hashTime, hashMemoryKiB, hashThreads, hashKeyLen),
	}
	return h.String(), nil
}

// VerifyPassword reports whether pw matches the PHC string encoded. The
// comparison takes the same time wherever the keys differ. An error (wrapping
// ErrMalformedHash) means encoded could not be read; the caller should treat
// the sign-in as failed and log the damaged record.
func VerifyPassword(encoded, pw string) (bool, error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// parsePHC reads an argon2id PHC string and checks that its parameters are
// within the bounds above. Only the canonical form HashPassword writes is
// accepted: fields in order m, t, p, decimal numbers without leading zeros,
// unpadded standard base64.
func parsePHC(s string) (phc, error) {
	fail := func(format string, args ...any) (phc, error) {
		return phc{}, fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
	}
	// "$argon2id$v=19$m=…,t=…,p=…$salt$hash" splits into an empty first
	// field and five more.
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return fail("want 5 fields separated by '$', got %d", len(parts)-1)
	}
	if parts[1] != "argon2id" {
		return fail("algorithm %q: only argon2id is accepted", parts[1])
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return fail("version field %q: want v=%d", parts[2], argon2.Version)
	}
	if version, err := parseDecimal(v, argon2.Version); err != nil || version != argon2.Version {
		return fail("version %q: only %d is accepted", v, argon2.Version)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return fail("parameters %q: want m=…,t=…,p=…", parts[3])
	}
	var h phc
	for i, spec := range []struct {
		name     string
		min, max uint64
		set      func(uint64)
	}{
		{"m", 1, maxMemoryKiB, func(n uint64) { h.memory = uint32(n) }},
		{"t", 1, maxTime, func(n uint64) { h.time = uint32(n) }},
		{"p", 1, maxThreads, func(n uint64) { h.threads = uint8(n) }},
	} {
		val, ok := strings.CutPrefix(params[i], spec.name+"=")
		if !ok {
			return fail("parameter %d %q: want %s=…", i+1, params[i], spec.name)
		}
		n, err := parseDecimal(val, spec.max)
		if err != nil || n < spec.min {
			return fail("parameter %s=%q: want a number from %d to %d", spec.name, val, spec.min, spec.max)
		}
		spec.set(n)
	}
	// argon2 needs 8 KiB per lane; a smaller figure was never written by
	// a conforming encoder.
	if h.memory < 8*uint32(h.threads) {
		return fail("m=%d is less than 8 KiB per lane (p=%d)", h.memory, h.threads)
	}
	var err error
	if h.salt, err = decodeField(parts[4], minSaltLen, maxSaltLen); err != nil {
		return fail("salt: %v", err)
	}
	if h.key, err = decodeField(parts[5], minKeyLen, maxKeyLen); err != nil {
		return fail("hash: %v", err)
	}
	return h, nil
}

// parseDecimal parses a canonical decimal number no greater than max.
func parseDecimal(s string, max uint64) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a canonical decimal number", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %q: %w", s, err)
	}
	if n > max {
		return 0, fmt.Errorf("%d is greater than %d", n, max)
	}
	return n, nil
}

// decodeField decodes unpadded standard base64 of a length within bounds.
func decodeField(s string, minLen, maxLen int) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode base64: %w", err)
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, fmt.Errorf("%d bytes, want %d to %d", len(b), minLen, maxLen)
	}
	// Strict decoding still skips '\r' and '\n'; refuse them so that one
	// hash has exactly one text.
	if !bytes.Equal([]byte(b64.EncodeToString(b)), []byte(s)) {
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}

// passwordAlphabet leaves out characters that are easily confused when a
// password is read aloud or copied from a screen: 0 O o, 1 I l.
const passwordAlphabet = "23456789" +
	"ABCDEFGHJKLMNPQRSTUVWXYZ" +
	"abcdefghijkmnpqrstuvwxyz"

// passwordLen characters of a 56-symbol alphabet give about 116 bits.
const passwordLen = 20

// GeneratePassword returns a one-time password for a new account: 20
// characters from an alphabet without look-alikes, drawn from crypto/rand
// without modulo bias. The user is expected to replace it at first sign-in.
func GeneratePassword() string {
	const n = len(passwordAlphabet)
	// Bytes at or above limit would favour the first symbols; drop them.
	const limit = 256 - 256%n
	out := make([]byte, 0, passwordLen)
	buf := make([]byte, passwordLen*2)
	for len(out) < passwordLen {
		// crypto/rand.Read never returns an error since Go 1.24; it
		// aborts the program when the system source fails.
		_, _ = rand.Read(buf)
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, passwordAlphabet[int(b)%n])
			if len(out) == passwordLen {
				break
			}
		}
	}
	return string(out)
}
