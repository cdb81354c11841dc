// Package tlsfile reads the PEM files a TLS peer is configured with. The
// server's command line, the gateway agent and the load generator all
// verify Hearth with a CA certificate file an operator points them at, and
// should refuse a wrong file the same way.
//
// It only reads files; it makes no certificate and keeps nothing.
package tlsfile
