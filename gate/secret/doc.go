// Package secret holds the credential primitives of people and API
// clients: argon2id password hashes in PHC string form, one-time passwords
// handed to new users, and API bearer tokens of which only a SHA-256 is
// ever stored.
//
// It stores nothing and knows nothing of users or tokens as records: the
// gate keeps the hashes in the store and decides who may do what. Every
// random value comes from crypto/rand.
package secret
