// Package server is Hearth's composition root. It builds every component
// from one Config, starts them in dependency order (store, certificate
// authority, registry, time-series store, broker, HTTP, admin socket) and
// stops them in reverse, logging how long each step took.
//
// Nothing imports server except the command line.
package server
