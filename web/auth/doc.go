// Package auth holds the credential primitives of Hearth's web side:
// argon2id password hashes in PHC string form, one-time passwords handed to
// new users, and API bearer tokens of which only a SHA-256 is ever stored.
//
// It stores nothing and knows nothing of users, tokens as records, or HTTP:
// callers keep the hashes in the store and decide who may do what. Every
// random value comes from crypto/rand.
package auth
