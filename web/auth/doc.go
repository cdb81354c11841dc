// Package auth is the OpenID Connect relying party of single sign-on: the
// authorization code flow with PKCE, state and nonce, through go-oidc and
// x/oauth2. It speaks HTTP to the provider only; keeping a pending sign-in
// in a session is the pages' job, and deciding who a signed-in identity
// is (a user, an operator or a customer by their groups) is the gate's.
//
// It stores nothing. Every random value comes from crypto/rand.
package auth
