// Package oidctest runs a real OpenID Connect provider inside a test:
// zitadel/oidc's op package with its example's in-memory storage and
// settings, on a real HTTP server at 127.0.0.1 and a free port.
//
// Each Start builds its own provider with its own clients, users and keys,
// so tests may run in parallel. Neither the example's package-level client
// registry nor its exampleop.SetupServer is used: that function writes the
// custom authorization endpoint into a package variable of the op package
// that every provider in the process reads, a data race once two providers
// exist. The login form is therefore served here, with the example's field
// names and ids.
//
// Clients are web clients with a client secret, PKCE S256 and RP-initiated
// logout; users have a username and password for the login form, an e-mail
// address, a name and groups.
//
// Unit tests sign in over plain HTTP with Provider.Login. A browser test
// navigates to the authorization URL and fills the login form:
//
//	<issuer>/authorize?…                    redirects to
//	<issuer>/login/username?authRequestID=…  the form:
//	    #username             input name="username"
//	    #password             input name="password" type="password"
//	    button[type=submit]
//
// After a good password the browser is redirected, through
// <issuer>/authorize/callback?id=…, to the client's redirect URI with code
// and state. A wrong password shows the form again with "username or
// password wrong" in p.error.
//
// It is for tests only: passwords are kept in clear and nothing persists.
// The op logs failed requests through the process's default slog logger.
package oidctest
