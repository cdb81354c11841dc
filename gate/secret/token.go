package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// TokenPrefix starts every API token, so that a leaked token is recognisable
// to secret scanners and a misplaced password is not mistaken for one.
const TokenPrefix = "hth_"

// tokenBytes of randomness in a token secret; tokenIDBytes in its id.
const (
	tokenBytes   = 32
	tokenIDBytes = 8
)

// NewToken makes an API token. secret ("hth_" and 43 base64url characters)
// is shown to its owner once; hash (HashToken of secret) is what the store
// keeps and looks the token up by; id is a separate random name to list and
// delete the token with, so that nothing derived from the secret is ever
// displayed.
func NewToken() (secret, id string, hash []byte) {
	// crypto/rand.Read never returns an error since Go 1.24; it aborts the
	// program when the system source fails.
	raw := make([]byte, tokenBytes)
	_, _ = rand.Read(raw)
	rawID := make([]byte, tokenIDBytes)
	_, _ = rand.Read(rawID)
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	return secret, hex.EncodeToString(rawID), HashToken(secret)
}

// HashToken returns the SHA-256 of a token secret. A plain hash suffices,
// unlike for passwords: the secret has 256 random bits, so there is nothing
// to guess, and a fast hash keeps every API request cheap.
func HashToken(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
