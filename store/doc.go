// Package store keeps every Hearth record that is not a time series in one
// bbolt file: customers, sites, devices and their credentials, users and API
// tokens, device shadows and the history of their changes. It owns the schema version and the forward migrations that bring an
// older file up to date.
//
// Every write runs in one bbolt transaction and is synced before it returns,
// so a write that returned nil survives a crash. Referential rules (a device
// needs its customer and site, a site with devices cannot be deleted, ...) are
// checked inside the same transaction as the write, so no reader ever sees a
// half-applied change. Expected failures are reported with the sentinel errors
// below, checked with errors.Is.
//
// Values are stored as JSON so that a file can be inspected with bbolt's own
// tools and so that adding a field needs no migration. Records returned by the
// store are decoded afresh from the file: callers own them and may change
// them freely.
//
// Shadow documents are opaque JSON to the store: their semantics belong to
// the device package. The store guarantees what only a transaction can: a
// shadow write happens only at the expected version, and its history entry
// is written with it or not at all.
//
// The store knows nothing of MQTT, HTTP or telemetry and imports only the
// standard library and bbolt.
package store
