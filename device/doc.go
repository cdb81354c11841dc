// Package device is Hearth's device model: which names a device may have,
// which MQTT topics it may use, how its telemetry payloads are decoded and
// stored, the registry of devices with their credentials (secrets and
// client certificates issued by the CA in device/ca), and the shadow
// service that stores shadow updates with their history and publishes the
// AWS reply messages (semantics in device/shadow).
//
// The rules here are the ones the broker, the scheduler and the web pages
// all apply, so they live in one place. The package keeps its records in
// store and knows nothing of MQTT sessions, HTTP or the time-series engine:
// it reaches them through small interfaces (ReadingWriter, LabelSource,
// ShadowStore, Publisher) and
// callbacks (Registry.OnChange).
package device
