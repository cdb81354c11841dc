// Package device is Hearth's device model: which MQTT topics a device may
// use, how its telemetry payloads are decoded and stored, the registry of
// devices with their credentials (secrets and client certificates issued by
// the CA in device/ca), and the shadow service that stores shadow updates
// with their history and publishes the AWS reply messages (semantics in
// device/shadow), and the device types whose settings it checks, with the
// built-in ones Hearth ships (builtin/*.json) for the equipment it is
// made for.
//
// The rules here are the ones the broker, the scheduler and the web pages
// all apply, so they live in one place. The names, topics and documents a
// device shares with Hearth (a thing name, the telemetry and events topics,
// a device event) are package protocol's, which the gateway agent and the
// simulator use too; this package applies them. The package keeps its
// records in store and knows nothing of MQTT sessions, HTTP or the
// time-series engine: it reaches them through small interfaces
// (ReadingWriter, LabelSource, ShadowStore, Publisher) and callbacks
// (Registry.OnChange).
package device
