// Package auth holds the credential primitives of Hearth's web side:
// argon2id password hashes in PHC string form, one-time passwords handed to
// new users, and API bearer tokens of which only a SHA-256 is ever stored.
//
// It also holds the OpenID Connect relying party of single sign-on: the
// authorization code flow with PKCE, state and nonce, through go-oidc and
// x/oauth2. That part speaks HTTP to the provider only; keeping a pending
// sign-in in a session and mapping identities to users is the caller's job.
//
// It stores nothing and knows nothing of users or tokens as records:
// callers keep the hashes in the store and decide who may do what. Every
// random value comes from crypto/rand.
package auth
