// Package store keeps every Hearth record that is not a time series in one
// bbolt file: customers, sites, devices and their credentials, users and API
// tokens. It owns the schema version and the forward migrations that bring an
// older file up to date.
//
// Every write runs in one bbolt transaction and is synced before it returns,
// so a write that returned nil survives a crash. Expected failures are
// reported with the sentinel errors below, checked with errors.Is.
//
// The store knows nothing of MQTT, HTTP or telemetry and imports only the
// standard library and bbolt.
package store
