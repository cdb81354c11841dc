// Package ca is Hearth's own certificate authority. It creates, once, an
// ECDSA P-256 root ("Hearth CA") in the data directory and issues from it the
// client certificates devices authenticate with and the server certificate
// the MQTT and HTTPS listeners present.
//
// The CA key is the one thing that can never be regenerated silently: every
// device certificate chains to it, so a lost or damaged key is reported as an
// error (ErrDamaged) for an operator to restore from a backup, never replaced.
//
// The package keeps no record of what it issued; the device registry stores
// serials and fingerprints.
package ca
