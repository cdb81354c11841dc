// Package netguard is the one rule of which hosts Hearth must not
// connect to when a URL someone configured names them: a cloud's
// instance metadata service, which hands out the machine's own
// credentials, other link-local hosts, and the unspecified address,
// which reaches the server itself. The store checks a URL's host with
// CheckHost when the URL is saved; a net.Dialer whose Control is Control
// checks every address a name resolved to, just before connecting, so
// that a name pointed at such an address is refused too. Loopback and
// private addresses are allowed: local identity providers live there.
// It decides nothing else and knows nothing of what connects.
package netguard
